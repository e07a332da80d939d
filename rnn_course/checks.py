"""Argument checks: one place for "an int >= 1" and its kin, each failure a ``ValueError`` that says what was
expected and what came."""
from __future__ import annotations


def int_at_least(name: str, value, low: int = 1) -> int:
    """``value`` if it is an int (not a bool) >= ``low``; else ``ValueError``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def positive(name: str, value) -> float:
    """``value`` if it is a number > 0 (not a bool); else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return value


def one_of(name: str, value, options) -> str:
    """``value`` if it is one of ``options``; else ``ValueError`` listing them."""
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def flag(name: str, value) -> bool:
    """``value`` if it is True or False; else ``ValueError``."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value
