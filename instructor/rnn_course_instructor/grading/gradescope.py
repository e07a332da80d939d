"""A grade as Gradescope's autograder ``results.json``: one test per question, with its reasons.

On Gradescope, ``run_autograder`` grades ``/autograder/submission`` and must leave
``/autograder/results/results.json``; ``rnn-course grade ... --gradescope /autograder/results/results.json``
writes it (see the "For instructors" page of the course).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from rnn_course_instructor.grading.runner import Result
from rnn_course_instructor.grading.spec import Exercise


def results_json(result: Result, exercise: Exercise) -> dict:
    """The Gradescope results for one graded (or ungradable) submission."""
    titles = {q.name: q.title for q in exercise.questions}
    tests = []
    for number, q in enumerate(result.questions, 1):
        reasons = "\n".join(f"-{p:g}: {why}" for p, why in q.lost)
        tests.append({
            "name": f"{q.name}: {titles.get(q.name, '')}".rstrip(": "),
            "number": str(number),
            "score": round(q.score, 4),
            "max_score": q.points,
            "status": "passed" if q.score >= q.points else "failed",
            "output": reasons or "All points.",
            "visibility": "visible",
        })
    lines = [f"Status: {result.status}." + (f" {result.message}" if result.message else "")]
    lines += [f"Incident: {text}" for text in result.incidents]
    return {
        "score": round(result.total, 4),
        "execution_time": round(result.seconds),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_results_json(result: Result, exercise: Exercise, path: str | Path) -> None:
    """Write ``results_json`` to ``path`` atomically (a temporary file, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(results_json(result, exercise), f, indent=1)
    os.replace(tmp, path)
