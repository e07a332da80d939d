"""The grade report: one CSV row per submission, written atomically, safe to open in a spreadsheet.

Every cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (OWASP's
advice against CSV formula injection), so a file named ``=HYPERLINK(...).ipynb``, or an error message a
notebook chose, is shown as text and never run by the spreadsheet. Rows are keyed by that shown name.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

from rnn_course_instructor.grading.runner import Result
from rnn_course_instructor.grading.spec import Exercise

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet will not evaluate."""
    return "'" + text if text.startswith(FORMULA_START) else text


def columns(exercise: Exercise) -> list[str]:
    """The report's columns: points per question, then one empty column per rubric item (``manual_<name>``) for
    the instructor, and ``manual_max``, their full marks."""
    manual = [r.column for r in exercise.rubric] + (["manual_max"] if exercise.rubric else [])
    return (["submission", "status"] + [q.name for q in exercise.questions] + ["total", "max"] + manual
            + ["reasons", "incidents", "similar_to", "similarity", "seconds", "seed", "sha256"])


def _num(x: float) -> str:
    return f"{x:g}"


def result_row(result: Result, exercise: Exercise, earlier: dict[str, str] | None = None) -> dict[str, str]:
    """One CSV row: points per question, total, and every lost point with its reason. The rubric's columns
    keep what a person entered in ``earlier`` (the submission's row before it was graded again)."""
    scores = {q.name: q.score for q in result.questions}
    reasons = [f"{q.name} -{_num(p)}: {why}" for q in result.questions for p, why in q.lost]
    if result.status != "graded":
        reasons = [result.message]
    row = {"submission": result.submission, "status": result.status, "total": _num(result.total),
           "max": _num(exercise.max_points), "reasons": " | ".join(reasons), "incidents": " | ".join(result.incidents),
           "similar_to": "", "similarity": "", "seconds": f"{result.seconds:.1f}", "seed": str(result.seed),
           "sha256": result.sha256}
    row.update({q.name: _num(scores.get(q.name, 0.0)) for q in exercise.questions})
    row = {k: cell(v) for k, v in row.items()}
    if exercise.rubric:
        row.update({r.column: (earlier or {}).get(r.column, "") for r in exercise.rubric})
        row["manual_max"] = _num(exercise.manual_max)
    return row


def read_csv(path: Path, exercise: Exercise) -> dict[str, dict[str, str]]:
    """Rows of an earlier run, by submission; ValueError if it was written for other questions."""
    if not path.exists():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != columns(exercise):
                raise ValueError(f"{path} has the columns {reader.fieldnames}, not those of exercise "
                                 f"{exercise.name!r}: choose another --out")
            return {row["submission"]: row for row in reader}
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{path} is not a grade report written by this grader ({err}): choose another --out") \
            from None


def write_csv_atomic(path: Path, rows: dict[str, dict[str, str]], exercise: Exercise) -> None:
    """Write all ``rows`` (sorted by submission) to ``path`` so that a reader never sees a partial file."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns(exercise), lineterminator="\n")
    writer.writeheader()
    for name in sorted(rows):
        writer.writerow(rows[name])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
