"""Grade one submission: run its cells in a sealed kernel, then probe and check every question.

1. Every code cell runs in order, each under the exercise's per-cell timeout, all under the submission's
   time budget. A cell that errors is noted and the run goes on (as "Run all" with errors allowed would).
   A cell that stops the kernel, hits the memory cap, or has to be killed, costs a fresh kernel: the cells
   that ran before it are run again, and the run goes on after it, so only what depends on that cell is lost.
2. For every question: the names it needs must exist, its probe runs in the kernel (same recovery), and its
   check scores what came back, in this process.

``worker.py`` runs this for the batch grader, in a process of its own.
"""
from __future__ import annotations

import dataclasses
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from rnn_course_instructor.grading.kernel import Confinement, Kernel, Outcome
from rnn_course_instructor.grading.spec import Exercise, Marker, Question, master_path
from rnn_course_instructor.grading.submission import (Submission, SubmissionError, defining_cells, file_sha256,
                                                      read_submission)
from rnn_course_instructor.grading.transfer import payload_for, probe_code, probe_source, read_result

MAX_RESTARTS = 8  # fresh kernels per submission before the grader gives up on it
UNSEALED = ("unsealed: this notebook ran without the sandbox (--unsealed), with access to the grader's "
            "files and processes; check its grade by hand")


@dataclass
class QuestionGrade:
    name: str
    points: float
    score: float
    lost: list[tuple[float, str]] = field(default_factory=list)  # (points, reason)


@dataclass
class Result:
    """The grade of one submission; ``status`` is ``"graded"`` or why it could not be."""

    submission: str
    status: str
    sha256: str = ""
    questions: list[QuestionGrade] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)  # cells or probes that broke the kernel, timed out ...
    message: str = ""  # why a submission was not graded
    seconds: float = 0.0
    seed: int = 0

    @property
    def total(self) -> float:
        return sum(q.score for q in self.questions)

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        d = dict(d)
        d["questions"] = [QuestionGrade(**{**q, "lost": [tuple(x) for x in q["lost"]]}) for q in d["questions"]]
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


def zero_result(exercise: Exercise, name: str, status: str, message: str, sha256: str = "", seconds: float = 0.0,
                seed: int = 0) -> Result:
    """A row for a submission that was not graded: every question at zero, for ``message``."""
    qs = [QuestionGrade(q.name, q.points, 0.0, [(q.points, message)]) for q in exercise.questions]
    return Result(name, status, sha256, qs, [], message, seconds, seed)


def _memory_error(o: Outcome) -> bool:
    return o.status == "error" and (o.ename == "MemoryError" or "can't allocate memory" in o.evalue
                                    or "out of memory" in o.evalue.lower())


class _Grading:
    """The state of one submission's run (see the module docstring)."""

    def __init__(self, sub: Submission, exercise: Exercise, sandbox: Kernel, deadline: float,
                 cell_timeout: float):
        self.sub, self.ex, self.sb = sub, exercise, sandbox
        self.deadline, self.cell_timeout = deadline, cell_timeout
        self.outcomes: list[Outcome | None] = [None] * len(sub.cells)
        self.incidents: list[str] = []
        self.gave_up = ""  # set when the kernel cannot be kept running

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def _recover(self, o: Outcome, upto: int) -> None:
        """After an outcome that lost or poisoned the kernel: a fresh kernel with cells ``< upto`` re-run."""
        if _memory_error(o) and not o.restarted:
            self.sb.restart()
            o.restarted = True
        while o.restarted and not self.gave_up:
            if self.sb.restarts > MAX_RESTARTS:
                self.gave_up = f"the kernel was restarted {MAX_RESTARTS} times; grading stopped"
                return
            o = Outcome("ok", 0.0)
            for j in range(upto):
                prev = self.outcomes[j]
                if prev is None or prev.status not in ("ok", "error") or _memory_error(prev):
                    continue
                if self.left() <= 0:
                    return
                o = self.sb.run(self.sub.cells[j], timeout=min(self.cell_timeout, self.left()))
                if o.restarted or _memory_error(o):
                    self.outcomes[j] = o
                    self.incidents.append(f"{self.sub.label(j)} {o.describe()} when run again")
                    if not o.restarted:
                        self.sb.restart()
                        o.restarted = True
                    break

    def run_cells(self) -> None:
        for i, src in enumerate(self.sub.cells):
            if self.gave_up:
                return
            if self.left() <= 0:
                self.incidents.append(f"time budget used up before {self.sub.label(i)}; "
                                      f"{len(self.sub.cells) - i} cell(s) not run")
                return
            o = self.sb.run(src, timeout=min(self.cell_timeout, self.left()))
            self.outcomes[i] = o
            if o.status in ("timeout", "died") or _memory_error(o):
                self.incidents.append(f"{self.sub.label(i)} {o.describe()}")
            self._recover(o, upto=i)

    def _call(self, probe, inputs, timeout: float):
        """Run ``probe`` in the kernel; ``(result, "")`` or ``(None, reason)``."""
        token = secrets.token_hex(8)
        code = probe_code(probe, inputs, token, self.ex.helpers_source)
        o = self.sb.run(code, timeout=min(timeout, max(self.left(), 1.0)))
        if o.status != "ok":
            if o.status != "error":
                self.incidents.append(f"grading call {o.describe()}")
            self._recover(o, upto=len(self.sub.cells))
            return None, f"calling the notebook's code: it {o.describe()}"
        try:
            data, notes = payload_for(o.payloads, token, self.ex.max_result_mb)
            for note in notes:
                text = f"the grader's calls ran with gradients on, inference mode off, float32 and the CPU: {note}"
                if text not in self.incidents:
                    self.incidents.append(text)
            return read_result(data, self.ex.max_result_mb), ""
        except ValueError as err:
            return None, str(err)

    def _why_missing(self, name: str, where: dict[str, list[int]]) -> str:
        cells = where.get(name)
        if not cells:
            return f"`{name}` is not defined (no cell defines it)"
        i = cells[-1]
        o = self.outcomes[i]
        if o is None:
            return f"`{name}` is not defined ({self.sub.label(i)}, which defines it, did not run)"
        if o.status == "ok":
            return f"`{name}` is not defined (a later cell or a kernel restart removed it)"
        return f"`{name}` is not defined ({self.sub.label(i)}, which defines it, {o.describe()})"

    def grade(self, q: Question, gen: torch.Generator) -> QuestionGrade:
        mark = Marker(q.points)
        if self.gave_up:
            mark.fail(self.gave_up)
        elif self.left() <= 0:
            mark.fail(f"not graded: the submission used up its time budget ({self.ex.budget:.0f} s)")
        else:
            present, why = self._call(_NAMES_PROBE, {"names": list(q.needs)}, timeout=30.0)
            if present is None:
                mark.fail(why)
            elif missing := [n for n in q.needs if present.get(n) is not True]:
                where = defining_cells(self.sub.cells)
                mark.fail("; ".join(self._why_missing(n, where) for n in missing))
            else:
                inputs = q.inputs(gen)
                out, why = self._call(q.probe_source, inputs, q.timeout)
                if out is None:
                    mark.fail(why)
                else:
                    try:
                        q.check(mark, out, inputs)
                    except Exception as err:  # the result had a shape or type the check did not expect
                        mark.fail(f"unexpected result ({type(err).__name__}: {str(err)[:120]})")
        return QuestionGrade(q.name, q.points, mark.score, mark.lost)


def _names_probe(ns, inputs):
    return {name: name in ns for name in inputs["names"]}


_NAMES_PROBE = probe_source(_names_probe)


def grade_submission(path: str | Path, exercise: Exercise, seed: int | None = None, threads: int = 1,
                     cell_timeout: float | None = None, budget: float | None = None,
                     confinement: Confinement | None = None, name: str | None = None,
                     workdir: str | Path | None = None) -> Result:
    """Grade the notebook at ``path`` (see the module docstring); never raises for what the notebook does.

    ``confinement`` (default: sealed, the exercise's memory cap) says how the kernel is sealed off; ``workdir``
    is a private folder for the kernel's files (default: a fresh temporary folder).
    """
    start = time.monotonic()
    seed = secrets.randbits(48) if seed is None else int(seed)
    name = name or Path(path).name
    cell_timeout = cell_timeout or exercise.cell_timeout
    budget = budget or exercise.budget
    confinement = confinement or Confinement(memory_mb=exercise.memory_mb)
    try:
        sub = read_submission(path, name)
    except SubmissionError as err:
        sha = file_sha256(path) if Path(path).is_file() else ""
        return zero_result(exercise, name, err.status, str(err), sha, time.monotonic() - start, seed)
    private = [str(p) for p in (exercise.source, master_path(exercise)) if p is not None]
    confinement = dataclasses.replace(confinement, private=(*confinement.private, *private))
    home = Path(tempfile.mkdtemp(prefix="rnn-course-grade-", dir=workdir))
    try:
        kernel = Kernel(home, confinement, threads=threads, env=exercise.env, preload=exercise.preload,
                        notebook=sub.path)
        try:
            kernel.start()
            g = _Grading(sub, exercise, kernel, deadline=start + budget, cell_timeout=cell_timeout)
            if not confinement.sealed:
                g.incidents.append(UNSEALED)
            for pattern, note in exercise.flags:
                cells = [sub.label(i) for i, src in enumerate(sub.cells) if re.search(pattern, src)]
                if cells:
                    g.incidents.append(f"check by hand: {note} ({', '.join(cells)})")
            g.run_cells()
            grades = []
            for k, q in enumerate(exercise.questions):
                gen = torch.Generator().manual_seed((seed * 1_000_003 + k) % 2**63)
                grades.append(g.grade(q, gen))
        except RuntimeError as err:  # the first kernel or a fresh one did not start
            why = str(err) + ("" if confinement.sealed else f" ({UNSEALED})")
            return zero_result(exercise, name, "grader error", why, sub.sha256, time.monotonic() - start, seed)
        finally:
            kernel.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return Result(name, "graded", sub.sha256, grades, g.incidents, "", time.monotonic() - start, seed)
