"""Grading submitted notebooks: each in a kernel sealed off in its own sandbox, checked in the grader against a
reference the kernel cannot reach.

- ``spec``: ``Question``, ``Exercise`` and ``Marker`` (points and the reason for every lost point);
- ``files`` and ``submission``: every entry of a folder, read once into a private copy; which cell defines
  which name;
- ``sandbox``, ``limits`` and ``cgroups``: bubblewrap's view of the system, hard limits and an unprivileged
  user, a control group where one can be made; ``kernel``: a kernel so confined, run with timeouts, that
  survives anything its code does;
- ``transfer``: values in and out of the kernel as plain data, capped before they are read;
- ``runner``: one submission, start to end; ``worker``: the process that runs it for ``batch``, which grades
  a folder in parallel into a CSV (``report``) with a similarity column (``similarity``);
- ``gradescope``: the same results as Gradescope's ``results.json``.

The names below are imported on first use, so that ``limits`` (which starts every student kernel) loads neither
torch nor jupyter_client.
"""
import importlib

_EXPORTS = {"Exercise": "spec", "Marker": "spec", "Question": "spec", "compare": "spec", "load_exercise": "spec",
            "Result": "runner", "grade_submission": "runner"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"rnn_course_instructor.grading.{_EXPORTS[name]}"), name)
