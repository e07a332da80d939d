"""How an exercise describes its grading: questions with points, and a ``Marker`` that records every lost point.

A ``Question`` has two halves that never share a process:

- ``probe(ns, inputs)`` runs in the student's kernel. ``ns`` is the notebook's namespace (a dict) and
  ``inputs`` the plain data the grader drew for this submission. It calls the student's code and returns
  plain data: tensors, numbers, strings, lists, tuples, dicts. Write it self-contained (imports inside):
  it is sent to the kernel as source text and executed in a fresh scope, next to the exercise's ``helpers``
  (plain functions it may call). The kernel has the course package ``rnn_course`` but not this package: a
  probe cannot import the reference solution, and neither can the notebook.
- ``check(mark, out, inputs)`` runs in the grader, on ``out`` (what the probe returned, loaded back as plain
  data) and the same ``inputs``. It computes the expected values with the reference solution and calls
  ``mark.expect(...)`` / ``mark.close(...)``, each worth some of the question's points.

``inputs(gen)`` draws the question's inputs with a ``torch.Generator`` seeded afresh at grading time, so a
submission cannot know them in advance. An ``Exercise`` bundles the questions with the kernel's settings.
"""
from __future__ import annotations

import importlib
import math
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from rnn_course_instructor.grading.transfer import probe_source


# Heavy imports done once per kernel, so that the per-cell timeout measures the student's work: importing
# torch, and the first optimizer (which imports torch._dynamo, seconds on a busy machine).
PRELOAD = "import torch\ntorch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)\ndel torch"


@dataclass(frozen=True)
class Question:
    """One graded question; see the module docstring for ``probe``, ``check`` and ``inputs``."""

    name: str  # short id, the CSV column: letters, digits, underscores
    points: float  # full marks
    title: str  # one line for people (Gradescope shows it)
    needs: tuple[str, ...]  # names the notebook must define; a missing one costs the whole question
    probe: Callable[[dict, Any], Any]  # runs in the student's kernel (self-contained source)
    check: Callable[["Marker", Any, Any], None]  # runs in the grader
    inputs: Callable[[torch.Generator], Any] = lambda gen: {}  # plain data drawn at grading time
    timeout: float = 60.0  # seconds the probe may run

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"question name must be an identifier (a CSV column), got {self.name!r}")
        if not (self.points > 0 and math.isfinite(self.points)):
            raise ValueError(f"question {self.name}: points must be positive, got {self.points!r}")
        if self.timeout <= 0:
            raise ValueError(f"question {self.name}: timeout must be positive, got {self.timeout!r}")
        if isinstance(self.needs, str):
            raise ValueError(f"question {self.name}: needs must be a tuple of names, got the string {self.needs!r}")
        # Read the probe's source now: it is sent to kernels later, when its file may have changed on disk.
        object.__setattr__(self, "probe_source", probe_source(self.probe))


@dataclass(frozen=True)
class Rubric:
    """A part a person grades (a written answer): its CSV column stays empty for the instructor to fill."""

    name: str  # short id: the CSV column is ``manual_<name>``
    points: float  # full marks
    criteria: tuple[tuple[float, str], ...]  # (points, what earns them), the instructor's guide

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"rubric name must be an identifier (a CSV column), got {self.name!r}")
        if not (self.points > 0 and math.isfinite(self.points)):
            raise ValueError(f"rubric {self.name}: points must be positive, got {self.points!r}")
        if not self.criteria or sum(p for p, _ in self.criteria) != self.points:
            raise ValueError(f"rubric {self.name}: the criteria's points must add up to {self.points}, got "
                             f"{[p for p, _ in self.criteria]}")

    @property
    def column(self) -> str:
        return f"manual_{self.name}"


@dataclass(frozen=True)
class Exercise:
    """The questions of one exercise and how its submissions run."""

    name: str
    questions: tuple[Question, ...]
    env: dict[str, str] = field(default_factory=dict)  # set in the student's kernel (e.g. a small training budget)
    cell_timeout: float = 120.0  # seconds any one notebook cell may run
    budget: float = 900.0  # seconds for a whole submission: its cells, then every probe
    memory_mb: int = 4096  # address-space cap of the student's kernel
    max_result_mb: int = 16  # largest result a probe may send back
    helpers: tuple[Callable, ...] = ()  # plain functions sent to the kernel with every probe
    master: str | None = None  # the master notebook (for the similarity report: template and solution)
    preload: str = PRELOAD  # run in every fresh kernel before the notebook, not under the cell timeout
    flags: tuple[tuple[str, str], ...] = ()  # (regex, note): a code cell matching it puts the note in the report
    rubric: tuple[Rubric, ...] = ()  # parts graded by a person: empty CSV columns, kept when a submission is regraded

    def __post_init__(self):
        names = [q.name for q in self.questions]
        if not names:
            raise ValueError(f"exercise {self.name!r} has no questions")
        if len(set(names)) != len(names):
            raise ValueError(f"exercise {self.name!r}: question names repeat: {names}")
        reserved = {"submission", "status", "total", "max", "reasons", "incidents", "seconds", "seed", "sha256"}
        if reserved & set(names):
            raise ValueError(f"exercise {self.name!r}: question names may not be {sorted(reserved & set(names))}")
        for pattern, _ in self.flags:
            re.compile(pattern)
        manual = [r.name for r in self.rubric]
        if len(set(manual)) != len(manual) or set(manual) & set(names):
            raise ValueError(f"exercise {self.name!r}: rubric names must be unique and differ from the questions'")
        object.__setattr__(self, "helpers_source", "\n\n".join(probe_source(h)[1] for h in self.helpers))

    @property
    def max_points(self) -> float:
        """Full marks of the automatic questions (the rubric's points are counted apart: ``manual_max``)."""
        return sum(q.points for q in self.questions)

    @property
    def manual_max(self) -> float:
        return sum(r.points for r in self.rubric)

    def rubric_text(self) -> str:
        """The rubric as Markdown, for the instructor who fills in the ``manual_*`` columns."""
        lines = [f"# Rubric of {self.name}: {_num(self.manual_max)} points graded by a person", ""]
        for r in self.rubric:
            lines.append(f"## `{r.column}` ({_num(r.points)} points)")
            lines += [f"- {_num(p)}: {text}" for p, text in r.criteria] + [""]
        return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:g}"


class Marker:
    """Collects the points one question loses, each with its reason."""

    def __init__(self, points: float):
        self.points = points
        self.lost: list[tuple[float, str]] = []  # (points, reason)

    @property
    def score(self) -> float:
        return max(0.0, self.points - sum(p for p, _ in self.lost))

    def fail(self, reason: str) -> None:
        """Lose every point still left, for ``reason``."""
        if self.score > 0:
            self.lost.append((self.score, reason))

    def expect(self, ok: bool, points: float, reason: str) -> bool:
        """Lose ``points`` (at most what is left) for ``reason`` unless ``ok``. Returns ``ok``."""
        ok = ok is True  # only a real True counts
        if not ok:
            take = min(points, self.score)
            if take > 0:
                self.lost.append((take, reason))
        return ok

    def close(self, actual, expected: torch.Tensor, points: float, what: str,
              rtol: float = 1e-4, atol: float = 1e-5) -> bool:
        """Expect ``actual`` to be a tensor of ``expected``'s shape and values (within tolerance)."""
        ok, reason = compare(actual, expected, what, rtol, atol)
        return self.expect(ok, points, reason)


def compare(actual, expected: torch.Tensor, what: str, rtol: float = 1e-4, atol: float = 1e-5) -> tuple[bool, str]:
    """``(True, "")`` when ``actual`` is a plain tensor close to ``expected``, else ``(False, reason)``."""
    if type(actual) is not torch.Tensor:
        return False, f"{what}: expected a tensor of shape {tuple(expected.shape)}, got {type(actual).__name__}"
    if actual.shape != expected.shape:
        return False, f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
    if actual.is_complex():
        return False, f"{what}: dtype {actual.dtype} is not a real number type"
    a, e = actual.double(), expected.double()
    if not torch.equal(torch.isfinite(a), torch.isfinite(e)):
        return False, f"{what}: NaN or inf where the reference has finite values (or the other way round)"
    if torch.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True):
        return True, ""
    err = (a - e).abs().nan_to_num(nan=float("inf")).max().item()
    return False, f"{what}: values differ from the reference (max abs error {err:.3g})"


def load_exercise(spec: str) -> Exercise:
    """The ``EXERCISE`` of a built-in exercise (``"charlm"``) or of a ``questions.py`` file path."""
    if spec.endswith(".py"):
        path = Path(spec).resolve()
        if not path.is_file():
            raise ValueError(f"exercise file {spec!r} does not exist")
        # Compiled by hand, so that no __pycache__ is written next to the file.
        module = types.ModuleType(f"_rnn_course_exercise_{path.parent.name}")
        module.__file__ = str(path)
        sys.modules[module.__name__] = module
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    else:
        if not spec.isidentifier():
            raise ValueError(f"exercise must be a built-in name (e.g. 'charlm') or a path to questions.py, "
                             f"got {spec!r}")
        target = f"rnn_course_instructor.exercises.{spec}.questions"
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as err:
            if err.name and not target.startswith(err.name):
                raise  # the exercise exists but something it imports does not
            raise ValueError(f"no built-in exercise named {spec!r}") from err
    exercise = getattr(module, "EXERCISE", None)
    if not isinstance(exercise, Exercise):
        raise ValueError(f"{spec!r} defines no EXERCISE (an rnn_course_instructor.grading.Exercise)")
    object.__setattr__(exercise, "source", Path(module.__file__).resolve())  # questions.py: kept from kernels
    return exercise


def master_path(exercise: Exercise) -> Path | None:
    """The exercise's master notebook (``Exercise.master``, relative to its ``questions.py``), if it has one."""
    if exercise.master is None:
        return None
    return (exercise.source.parent / exercise.master).resolve()
