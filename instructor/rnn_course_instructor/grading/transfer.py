"""Moving values between the grader and a student's kernel as plain data, never as objects.

The grader writes a probe's inputs to a file with ``torch.save`` and runs ``probe_code(...)`` in the kernel:
it loads the inputs, calls the probe, turns the result into plain data (tensors, numbers, strings, lists,
tuples, dicts with string keys) and saves it. The grader reads the file back with ``read_result``: a size
cap, ``torch.load(weights_only=True)`` (which builds no arbitrary objects and runs no code), then a check
that every value is of an exact plain type. An object that claims equality with anything, a tensor subclass
with a lying ``__eq__``, a patched ``torch.save``: none of it survives the trip, and every comparison then
runs in the grader against values the student never saw.
"""
from __future__ import annotations

import inspect
import os
import re
import secrets
import textwrap
from pathlib import Path

import torch

MAX_DEPTH = 12
PLAIN_SCALARS = (bool, int, float, str, type(None))

# Runs in the student's kernel. ``{...}`` fields are filled by ``probe_code``; the probe runs in a fresh
# scope of its own, so names the student (re)defined do not leak into it.
_HARNESS = '''\
def {fn}():
    import builtins as _b
    import numpy as _np
    import torch as _t

    def _plain(x, depth=0):
        if depth > {max_depth}:
            raise TypeError("the result is nested too deeply")
        if isinstance(x, _t.Tensor):
            return x.detach().cpu().clone()
        if isinstance(x, _np.ndarray):
            return _t.from_numpy(_np.array(x))
        if isinstance(x, _np.generic):
            return x.item()
        if x is None or type(x) in (_b.bool, _b.int, _b.float, _b.str):
            return x
        if isinstance(x, _b.bool):
            return _b.bool(x)
        if isinstance(x, _b.int):
            return _b.int(x)
        if isinstance(x, _b.float):
            return _b.float(x)
        if isinstance(x, (_b.list, _b.tuple)):
            out = [_plain(v, depth + 1) for v in x]
            return out if isinstance(x, _b.list) else _b.tuple(out)
        if isinstance(x, _b.dict):
            return {{_b.str(k): _plain(v, depth + 1) for k, v in x.items()}}
        raise TypeError("cannot send back an object of type " + _b.type(x).__name__)

    scope = {{"__name__": "grader_probe"}}
    exec(compile({source!r}, "<grader probe>", "exec"), scope)
    inputs = _t.load({inputs!r}, weights_only=True)
    result = scope[{name!r}](globals(), inputs)
    _t.save(_plain(result), {result!r})
try:
    {fn}()
finally:
    del {fn}
'''


def probe_source(probe) -> tuple[str, str]:
    """``(name, source)`` of a probe function, checked to be a plain top-level ``def``."""
    if not inspect.isfunction(probe):
        raise ValueError(f"a probe must be a function, got {type(probe).__name__}")
    source = textwrap.dedent(inspect.getsource(probe))
    if not source.startswith("def "):
        raise ValueError(f"probe {probe.__name__} must be a plain def (no decorator, no lambda)")
    return probe.__name__, source


def probe_code(probe, inputs, workdir: str | Path) -> tuple[str, Path]:
    """Save ``inputs`` under ``workdir``; return the kernel code that runs ``probe`` and the result's path.

    ``probe`` is a function, or its ``(name, source)`` as ``probe_source`` gives them.
    """
    name, source = probe if isinstance(probe, tuple) else probe_source(probe)
    token = secrets.token_hex(8)
    workdir = Path(workdir)
    in_path, out_path = workdir / f".grader_in_{token}.pt", workdir / f".grader_out_{token}.pt"
    check_plain(inputs)
    torch.save(inputs, in_path)
    code = _HARNESS.format(fn=f"_grader_call_{token}", max_depth=MAX_DEPTH, source=source, name=name,
                           inputs=str(in_path), result=str(out_path))
    return code, out_path


def check_plain(value, depth: int = 0):
    """Return ``value`` if it is plain data (exact types, str keys, finite nesting); else raise TypeError."""
    if depth > MAX_DEPTH:
        raise TypeError("nested too deeply")
    kind = type(value)
    if kind is torch.Tensor:
        return value
    if kind in PLAIN_SCALARS:
        return value
    if kind in (list, tuple):
        for v in value:
            check_plain(v, depth + 1)
        return value
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError(f"dict key of type {type(k).__name__}")
            check_plain(v, depth + 1)
        return value
    raise TypeError(f"object of type {kind.__name__}")


def _normalise(value, depth: int = 0):
    """Plain containers from what ``weights_only`` loading may build (OrderedDict, Parameter, torch.Size)."""
    if depth > MAX_DEPTH:
        raise TypeError("nested too deeply")
    if isinstance(value, torch.Tensor):
        return value.detach().as_subclass(torch.Tensor) if type(value) is torch.nn.Parameter else value
    if isinstance(value, dict):
        return {k: _normalise(v, depth + 1) for k, v in value.items()}
    if type(value) is torch.Size:
        return tuple(value)
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(_normalise(v, depth + 1) for v in value)
    return value


def read_result(path: str | Path, max_mb: float = 64):
    """Load what a probe sent back, as plain data; raise ValueError saying why it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise ValueError("the probe returned nothing (its result file is missing)")
    size = path.stat().st_size
    if size > max_mb * 2**20:
        raise ValueError(f"the result is {size / 2**20:.0f} MiB, more than the {max_mb} MiB allowed")
    try:
        value = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # any unpickling failure: the file is not plain data
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        what = f"an object of class {found.group(1)}" if found else f"unreadable data ({type(err).__name__})"
        raise ValueError(f"the result is not plain data: it holds {what}") from None
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    try:
        return check_plain(_normalise(value))
    except TypeError as err:
        raise ValueError(f"the result holds something that is not plain data ({err})") from None
