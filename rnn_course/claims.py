r"""Named claims: what a chapter says about its own run, checked with a margin that can be read.

A chapter states a result ("the GRU solved the adding problem on at least 4 of 5 seeds") and checks it with
one call, on a statistic that survives a bad seed (a median, a count of seeds, a gap against a spread)::

    claim("adding: gru solves", n_solved, ">=", 4)
    claim("gradient: gated vs rnn", ratio, ">", 1e6, log=True)   # margin in orders of magnitude
    verdict()                                                     # one line: which claims of the cell held

``margin`` is how far the measured value was from its threshold, positive when the claim held: the
difference, or with ``log=True`` the difference of the base-10 logarithms. What happens when a claim does
not hold depends on where the chapter runs, set by ``RNN_COURSE_CLAIMS``:

- ``strict`` (under the test suite, and wherever ``CI`` is set): ``ClaimFailed``, an ``AssertionError``;
- ``warn`` (the default: a learner in Jupyter or Colab): a clearly visible notice saying what was expected,
  what this run measured and that results vary with seed and hardware; the chapter goes on;
- ``record`` (the maintainers' sweep, ``rnn-course sweep``): nothing is shown.

With ``RNN_COURSE_CLAIMS_LOG`` set to a file, every claim is also appended to it as one JSON line.
"""
from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import asdict, dataclass

from rnn_course.nb import plain

MODE_ENV = "RNN_COURSE_CLAIMS"
LOG_ENV = "RNN_COURSE_CLAIMS_LOG"
MODES = ("strict", "warn", "record")
OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}

_pending: list["Claim"] = []  # claims made since the last verdict()


class ClaimFailed(AssertionError):
    """A chapter's claim did not hold in this run (raised in ``strict`` mode)."""


@dataclass(frozen=True)
class Claim:
    """One checked claim: ``measured op threshold``, and how much room it had."""

    name: str
    measured: float
    op: str
    threshold: float
    held: bool
    margin: float  # >= 0 when the claim held; NaN when the measurement is not a number
    log: bool  # margin in orders of magnitude (base-10 logarithms) rather than in the measured units

    def describe(self) -> str:
        unit = " orders of magnitude" if self.log else ""
        return (f"{self.name}: expected {self.op} {_fmt(self.threshold)}, measured {_fmt(self.measured)} "
                f"(margin {_fmt(self.margin)}{unit})")


def _fmt(x: float) -> str:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return str(x)
    if isinstance(x, int) or float(x).is_integer() and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.4g}"


def mode() -> str:
    """The claims mode of this process: ``RNN_COURSE_CLAIMS`` if set, else ``strict`` under ``CI``, else ``warn``."""
    value = os.environ.get(MODE_ENV, "").strip().lower()
    if value:
        if value not in MODES:
            raise ValueError(f"{MODE_ENV}={value!r}: expected one of {', '.join(MODES)}")
        return value
    ci = os.environ.get("CI", "").strip().lower()
    return "strict" if ci not in ("", "0", "false", "no") else "warn"


def _number(name: str, what: str, value) -> float:
    value = plain(value)  # NumPy scalars, one-element tensors
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"claim {name!r}: {what} must be a number, got {value!r} ({type(value).__name__})")
    return value


def margin_of(measured: float, op: str, threshold: float, log: bool = False) -> float:
    """How far ``measured`` is on the holding side of ``threshold`` (negative: on the failing side)."""
    if log:
        if measured <= 0 or threshold <= 0:
            return math.nan if measured != 0 else (-math.inf if op in (">", ">=") else math.inf)
        measured, threshold = math.log10(measured), math.log10(threshold)
    if math.isnan(measured):
        return math.nan
    return measured - threshold if op in (">", ">=") else threshold - measured


def claim(name: str, measured, op: str, threshold, *, log: bool = False) -> None:
    """Check ``measured op threshold`` (op one of ``> >= < <=``) under the claim's ``name``; see the module doc.

    A measured NaN (say, the median steps of runs that never solved) does not hold. Returns nothing, so a
    cell that ends with a claim shows no ``Out[]``; ``last()`` is the claim just made.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a claim needs a non-empty name, got {name!r}")
    if op not in OPS:
        raise ValueError(f"claim {name!r}: op must be one of {', '.join(OPS)}, got {op!r}")
    measured, threshold = _number(name, "measured", measured), _number(name, "threshold", threshold)
    if isinstance(threshold, float) and math.isnan(threshold):
        raise ValueError(f"claim {name!r}: the threshold is NaN")
    held = bool(not (isinstance(measured, float) and math.isnan(measured)) and OPS[op](measured, threshold))
    result = Claim(name, measured, op, threshold, held, margin_of(measured, op, threshold, log), log)
    _record(result)
    _pending.append(result)
    if not held:
        _failed(result)


def last() -> Claim:
    """The claim made most recently (since the last ``verdict()``)."""
    if not _pending:
        raise ValueError("no claim has been made since the last verdict()")
    return _pending[-1]


def _record(result: Claim) -> None:
    path = os.environ.get(LOG_ENV, "").strip()
    if path:
        row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(result).items()}
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


class _Notice:
    """A notice that renders as a coloured box in Jupyter and Colab, and as plain text elsewhere."""

    def __init__(self, result: Claim):
        self.result = result

    def text(self) -> str:
        return (f"NOTICE: a claim of this chapter did not hold in your run. {self.result.describe()}. Results vary "
                "with the seed, the hardware and the library versions; the chapter goes on, but read the text "
                "around this cell with this run's numbers in mind.")

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        import html

        r = self.result
        return ('<div style="border-left:6px solid #d9822b;background:#fff4e5;color:#222;padding:8px 12px;'
                'margin:6px 0;font-family:sans-serif">'
                f"<b>Notice: a claim of this chapter did not hold in your run.</b><br>"
                f"<code>{html.escape(r.name)}</code>: expected {html.escape(r.op)} {_fmt(r.threshold)}, "
                f"this run measured {_fmt(r.measured)}.<br>Results vary with the seed, the hardware and the "
                "library versions. The chapter goes on; read the text around this cell with this run's numbers "
                "in mind.</div>")


def _failed(result: Claim) -> None:
    current = mode()
    if current == "strict":
        raise ClaimFailed(result.describe())
    if current == "warn":
        try:
            from IPython import get_ipython
            from IPython.display import display

            if get_ipython() is not None:
                display(_Notice(result))
                return
        except ImportError:
            pass
        print(_Notice(result).text(), file=sys.stderr)


def verdict() -> None:
    """Print one line for the claims made since the last call: how many held, and their names."""
    done = list(_pending)
    _pending.clear()
    if not done:
        print("No claims checked.")
        return
    held = [c.name for c in done if c.held]
    failed = [c.name for c in done if not c.held]
    line = f"{len(held)} of {len(done)} claims held in this run"
    line += f": {', '.join(held)}" if held else ""
    line += f"; did not hold: {', '.join(failed)}" if failed else ""
    print(line + ".")
