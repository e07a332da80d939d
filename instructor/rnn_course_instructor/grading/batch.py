"""Grade a folder of submissions into one CSV: each submission in a worker process of its own, N at a time.

Nothing is lost: the CSV is rewritten atomically (a temporary file, then ``os.replace``) after every
submission, and a re-run skips the submissions it already holds (same file name and content hash) unless
``regrade`` is set. A worker that does not finish within the submission's budget plus a margin is stopped
and its row says so; the other submissions are not affected.
"""
from __future__ import annotations

import csv
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from rnn_course_instructor.grading.gradescope import write_results_json
from rnn_course_instructor.grading.runner import Result, zero_result
from rnn_course_instructor.grading.spec import Exercise, load_exercise
from rnn_course_instructor.grading.submission import file_sha256

HARD_MARGIN_S = 120.0  # a worker gets its submission's budget plus this before it is stopped
IGNORED = {"__MACOSX", ".ipynb_checkpoints"}


def find_submissions(path: str | Path) -> list[tuple[str, Path]]:
    """``(name, file)`` for every submission: a file, or every file in a folder (one level of sub-folders)."""
    path = Path(path)
    if path.is_file():
        return [(path.name, path)]
    if not path.is_dir():
        raise ValueError(f"{path} is neither a submission file nor a folder of submissions")
    found = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or entry.name in IGNORED:
            continue
        if entry.is_file():
            found.append((entry.name, entry))
        elif entry.is_dir():  # one folder per student, as some LMS exports have
            files = [f for f in sorted(entry.iterdir()) if f.is_file() and not f.name.startswith(".")]
            notebooks = [f for f in files if f.suffix == ".ipynb"] or files
            found += [(f"{entry.name}/{f.name}", f) for f in notebooks]
    return found


def columns(exercise: Exercise) -> list[str]:
    return (["submission", "status"] + [q.name for q in exercise.questions]
            + ["total", "max", "reasons", "incidents", "seconds", "seed", "sha256"])


def _num(x: float) -> str:
    return f"{x:g}"


def result_row(result: Result, exercise: Exercise) -> dict[str, str]:
    """One CSV row: points per question, total, and every lost point with its reason."""
    scores = {q.name: q.score for q in result.questions}
    reasons = [f"{q.name} -{_num(p)}: {why}" for q in result.questions for p, why in q.lost]
    if result.status != "graded":
        reasons = [result.message]
    row = {"submission": result.submission, "status": result.status, "total": _num(result.total),
           "max": _num(exercise.max_points), "reasons": " | ".join(reasons), "incidents": " | ".join(result.incidents),
           "seconds": f"{result.seconds:.1f}", "seed": str(result.seed), "sha256": result.sha256}
    row.update({q.name: _num(scores.get(q.name, 0.0)) for q in exercise.questions})
    return row


def read_csv(path: Path, exercise: Exercise) -> dict[str, dict[str, str]]:
    """Rows of an earlier run, by submission; ValueError if it was written for other questions."""
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != columns(exercise):
            raise ValueError(f"{path} has the columns {reader.fieldnames}, not those of exercise "
                             f"{exercise.name!r}: choose another --out")
        return {row["submission"]: row for row in reader}


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


@dataclass
class Summary:
    graded: list[Result] = field(default_factory=list)  # results of this run
    skipped: list[str] = field(default_factory=list)  # already in the CSV
    seconds: float = 0.0

    def text(self, exercise: Exercise, out: Path) -> str:
        by_status: dict[str, int] = {}
        for r in self.graded:
            by_status[r.status] = by_status.get(r.status, 0) + 1
        ok = by_status.pop("graded", 0)
        failures = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "none"
        incidents = sum(1 for r in self.graded if r.incidents)
        mean = (sum(r.total for r in self.graded if r.status == "graded") / ok) if ok else 0.0
        m, s = divmod(self.seconds, 60)
        return (f"graded {ok} of {len(self.graded)} submission(s) in {int(m)} min {s:.0f} s; "
                f"failures: {failures}; with incidents (timeouts, crashes): {incidents}; "
                f"mean total {mean:.2f} / {_num(exercise.max_points)}; "
                f"skipped {len(self.skipped)} already graded (--regrade to redo them). CSV: {out}")


class _Workers:
    """Runs ``python -m rnn_course_instructor.grading.runner`` per submission, and stops them all on request."""

    def __init__(self):
        self.procs: set[subprocess.Popen] = set()
        self.lock = threading.Lock()

    def run(self, cmd: list[str], hard_timeout: float) -> tuple[int | None, str]:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace")
        with self.lock:
            self.procs.add(proc)
        try:
            out, _ = proc.communicate(timeout=hard_timeout)
            return proc.returncode, out
        except subprocess.TimeoutExpired:
            self._stop(proc)
            return None, "worker stopped after its hard time limit"
        finally:
            with self.lock:
                self.procs.discard(proc)

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGTERM)  # the worker's cleanup kills its kernel
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()

    def stop_all(self) -> None:
        with self.lock:
            procs = list(self.procs)
        for proc in procs:
            if proc.poll() is None:
                self._stop(proc)


def _grade_one(workers: _Workers, name: str, path: Path, spec: str, exercise: Exercise, seed: int, threads: int,
               cell_timeout: float | None, budget: float | None, memory_mb: int | None) -> Result:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rnn-course-worker-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "rnn_course_instructor.grading.runner", str(path), str(out), "--exercise", spec,
               "--name", name, "--seed", str(seed), "--threads", str(threads)]
        for flag, value in (("--cell-timeout", cell_timeout), ("--budget", budget), ("--memory-mb", memory_mb)):
            if value is not None:
                cmd += [flag, str(value)]
        hard = (budget or exercise.budget) + HARD_MARGIN_S
        code, log = workers.run(cmd, hard)
        if code == 0 and out.exists():
            return Result.from_dict(json.loads(out.read_text()))
    tail = " ".join(log.strip().splitlines()[-3:])[-300:] if log else ""
    why = f"the grader's worker failed (exit {code}): {tail}" if code is not None else log
    try:
        sha = file_sha256(path)
    except OSError:
        sha = ""
    return zero_result(exercise, name, "grader error", why, sha, time.monotonic() - start, seed)


def grade_folder(submissions: str | Path, exercise: str, out: str | Path, jobs: int = 1, regrade: bool = False,
                 seed: int | None = None, cell_timeout: float | None = None, budget: float | None = None,
                 memory_mb: int | None = None, gradescope: str | Path | None = None, log=print) -> Summary:
    """Grade every submission under ``submissions`` into the CSV ``out`` (see the module docstring).

    ``exercise`` is a built-in exercise name or a path to a ``questions.py``. ``gradescope``: a ``.json`` path
    (exactly one submission) or a folder that gets ``<submission>/results.json`` per submission.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    spec = str(Path(exercise).resolve()) if exercise.endswith(".py") else exercise
    ex = load_exercise(spec)
    out = Path(out)
    outputs = [out.resolve()] + ([Path(gradescope).resolve()] if gradescope is not None else [])
    found = [(name, path) for name, path in find_submissions(submissions)  # not our own outputs
             if not any(path.resolve() == o or o in path.resolve().parents for o in outputs)]
    if gradescope is not None and str(gradescope).endswith(".json") and len(found) != 1:
        raise ValueError(f"--gradescope {gradescope} names one results.json, but there are {len(found)} submissions")
    rows = read_csv(out, ex)
    summary = Summary()
    todo = []
    for name, path in found:
        row = rows.get(name)
        if not regrade and row and row["status"] != "grader error" and row["sha256"] == file_sha256(path):
            summary.skipped.append(name)
        else:
            todo.append((name, path))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    start = time.monotonic()
    log(f"grading {len(todo)} submission(s) of exercise {ex.name!r} with {jobs} job(s), {threads} thread(s) "
        f"each; {len(summary.skipped)} already graded")
    workers = _Workers()
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(_grade_one, workers, name, path, spec, ex,
                               secrets.randbits(48) if seed is None else seed, threads, cell_timeout, budget,
                               memory_mb): name for name, path in todo}
        for done, fut in enumerate(as_completed(futures), 1):
            result = fut.result()
            summary.graded.append(result)
            rows[result.submission] = result_row(result, ex)
            write_csv_atomic(out, rows, ex)
            if gradescope is not None:
                gs = Path(gradescope)
                target = gs if gs.suffix == ".json" else gs / result.submission.replace("/", "__") / "results.json"
                write_results_json(result, ex, target)
            note = f" ({len(result.incidents)} incident(s))" if result.incidents else ""
            state = f"{_num(result.total)}/{_num(ex.max_points)}" if result.status == "graded" else result.status
            log(f"[{done}/{len(todo)}] {result.submission}: {state}{note}, {result.seconds:.1f} s")
    except KeyboardInterrupt:
        log("interrupted: stopping the workers; the CSV holds every submission graded so far")
        workers.stop_all()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        summary.seconds = time.monotonic() - start
    if not out.exists():
        write_csv_atomic(out, rows, ex)
    log(summary.text(ex, out))
    return summary
