"""Grading submitted notebooks: each in its own sandboxed kernel, checked in the grader against a reference.

- ``spec``: ``Question``, ``Exercise`` and ``Marker`` (points and the reason for every lost point);
- ``submission``: reading a submitted file, and which cell defines which name;
- ``limits`` and ``kernel``: a kernel under memory and file-size caps, run with timeouts, that survives
  anything its code does;
- ``transfer``: values in and out of the kernel as plain data (``torch.load(weights_only=True)``);
- ``runner``: one submission, start to end; ``batch``: a folder of them in parallel, into a CSV;
- ``gradescope``: the same results as Gradescope's ``results.json``.

The names below are imported on first use, so that ``python -m rnn_course_instructor.grading.limits`` (which starts
every student kernel) loads neither torch nor jupyter_client.
"""
import importlib

_EXPORTS = {"Exercise": "spec", "Marker": "spec", "Question": "spec", "compare": "spec", "load_exercise": "spec",
            "Result": "runner", "grade_submission": "runner"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"rnn_course_instructor.grading.{_EXPORTS[name]}"), name)
