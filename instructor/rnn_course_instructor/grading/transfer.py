"""Moving values between the grader and a student's kernel as plain data, never as objects.

Into the kernel: ``HARNESS_PRELOAD`` runs in every fresh kernel before any student code. It builds a module of
its own, ``_rnn_course_probe``, whose functions hold the real builtins and torch, so a notebook's globals (a
function named ``exec``, ``compile`` or ``isinstance``) cannot change what the grader's calls do. Each probe is
then one line (``probe_code``) that hands the module the probe's source, the exercise's helper functions and the
inputs (``torch.save``, base64). The probe runs in a fresh scope, with gradients on, inference mode off and the
default dtype float32 whatever a later cell set (``notes`` says what it had to undo), and its result, turned
into plain data (tensors, numbers, strings, lists, tuples, dicts with string keys), goes back as a Jupyter
``display_data`` message of the grader's own type: over the kernel's channel to the grader's process, never
through a file the kernel could swap.

Out of the kernel: ``read_result`` takes those bytes and refuses what could exhaust the grader: more than
``max_mb``, a zip member that is compressed (``torch.save`` never compresses, so nothing inflates), a tensor of
more elements than ``MAX_ELEMENTS`` (a stride-0 tensor is small on disk and huge once used), more than
``MAX_NODES`` values visited in all (a list that refers to itself or shares its items many times over), or
nesting deeper than ``MAX_DEPTH``. Then ``torch.load(weights_only=True)`` (which builds no arbitrary objects
and runs no code), and a check that every value is of an exact plain type. An object that claims equality with
anything, a tensor subclass with a lying ``__eq__``: none of it survives the trip, and every comparison then runs
in the grader against values the student never saw.
"""
from __future__ import annotations

import base64
import binascii
import collections
import inspect
import io
import json
import re
import textwrap
import zipfile

import torch

MIME = "application/x-rnn-course-probe"
MAX_DEPTH = 12
MAX_NODES = 200_000  # values visited in one result
MAX_ELEMENTS = 4_000_000  # elements of one tensor, and of all tensors of a result
MAX_MEMBERS = 10_000  # zip members of one result
PLAIN_SCALARS = (bool, int, float, str, type(None))
REAL_DTYPES = {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8, torch.int8, torch.int16,
               torch.int32, torch.int64, torch.bool}

# Runs in every fresh kernel, before the notebook; ``{...}`` fields are filled below.
_HARNESS = '''\
def _plain(x, depth=0):
    if depth > {max_depth}:
        raise TypeError("the result is nested too deeply")
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().clone().contiguous().as_subclass(torch.Tensor)
    if isinstance(x, numpy.ndarray):
        return torch.from_numpy(numpy.array(x))
    if isinstance(x, numpy.generic):
        return x.item()
    if x is None or type(x) in (bool, int, float, str):
        return x
    for kind in (bool, int, float, str):
        if isinstance(x, kind):
            return kind(x)
    if isinstance(x, (list, tuple)):
        out = [_plain(v, depth + 1) for v in x]
        return out if isinstance(x, list) else tuple(out)
    if isinstance(x, dict):
        return {{str(k): _plain(v, depth + 1) for k, v in x.items()}}
    raise TypeError("cannot send back an object of type " + type(x).__name__)


def _modes():
    """Undo what a cell may have set for the whole kernel; say what was undone."""
    notes, undo = [], []
    if not torch.is_grad_enabled():
        notes.append("gradients were turned off (torch.set_grad_enabled(False) or torch.no_grad())")
    if torch.is_inference_mode_enabled():
        notes.append("inference mode was on")
    dtype = torch.get_default_dtype()
    if dtype != torch.float32:
        notes.append(f"the default dtype was {{dtype}}")
        torch.set_default_dtype(torch.float32)
        undo.append(lambda: torch.set_default_dtype(dtype))
    getter = getattr(torch, "get_default_device", None)
    if getter is not None and getter() != torch.device("cpu"):
        device = getter()
        notes.append(f"the default device was {{device}}")
        torch.set_default_device("cpu")
        undo.append(lambda: torch.set_default_device(device))
    return notes, undo


def call(token, name, source, inputs):
    ns = IPython.get_ipython().user_ns
    scope = {{"__name__": "grader_probe", "__builtins__": builtins}}
    exec(compile(source, "<grader probe>", "exec"), scope)
    inputs = torch.load(io.BytesIO(base64.b64decode(inputs)), weights_only=True)
    notes, undo = _modes()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            result = scope[name](ns, inputs)
    finally:
        for f in undo:
            f()
    buffer = io.BytesIO()
    torch.save(_plain(result), buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    IPython.display.publish_display_data({{{mime!r}: json.dumps({{"token": token, "data": data, "notes": notes}})}})
'''
HARNESS_PRELOAD = f'''\
def _rnn_course_install_probe():
    import base64, builtins, io, json, sys, types
    import IPython, IPython.display, numpy, torch
    module = types.ModuleType("_rnn_course_probe")
    module.__dict__.update(base64=base64, builtins=builtins, io=io, json=json, IPython=IPython, numpy=numpy,
                           torch=torch)
    exec(compile({_HARNESS.format(max_depth=MAX_DEPTH, mime=MIME)!r}, "<grader harness>", "exec"), module.__dict__)
    sys.modules["_rnn_course_probe"] = module
_rnn_course_install_probe()
del _rnn_course_install_probe
'''


def probe_source(probe) -> tuple[str, str]:
    """``(name, source)`` of a probe or helper function, checked to be a plain top-level ``def``."""
    if not inspect.isfunction(probe):
        raise ValueError(f"a probe must be a function, got {type(probe).__name__}")
    source = textwrap.dedent(inspect.getsource(probe))
    if not source.startswith("def "):
        raise ValueError(f"probe {probe.__name__} must be a plain def (no decorator, no lambda)")
    return probe.__name__, source


def encode_inputs(inputs) -> str:
    """``inputs`` (plain data) as the base64 text of its ``torch.save``."""
    check_plain(inputs)
    buffer = io.BytesIO()
    torch.save(inputs, buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def probe_code(probe, inputs, token: str, helpers: str = "") -> str:
    """The kernel code that runs ``probe`` (a function, or its ``(name, source)``) on ``inputs``; its result
    comes back as the payload marked ``token``. ``helpers``: source of functions the probe may call."""
    name, source = probe if isinstance(probe, tuple) else probe_source(probe)
    return (f"import _rnn_course_probe\n"
            f"_rnn_course_probe.call({token!r}, {name!r}, {helpers + chr(10) + source!r}, {encode_inputs(inputs)!r})\n"
            f"del _rnn_course_probe")


def payload_for(payloads: list[str], token: str, max_mb: float) -> tuple[bytes, list[str]]:
    """The result bytes marked ``token`` among what a probe published, and its notes; ValueError if none."""
    for text in payloads:
        if len(text) > (max_mb * 2**20) * 4 / 3 + 1024:
            raise ValueError(f"the result is larger than the {max_mb:g} MiB allowed")
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            continue
        if not isinstance(message, dict) or message.get("token") != token or not isinstance(message.get("data"), str):
            continue
        notes = message.get("notes")
        notes = [str(n)[:200] for n in notes[:10]] if isinstance(notes, list) else []
        try:
            return base64.b64decode(message["data"], validate=True), notes
        except (binascii.Error, ValueError):
            raise ValueError("the result is not plain data: it is not valid base64") from None
    raise ValueError("the probe returned nothing")


class _Budget:
    def __init__(self):
        self.nodes = self.elements = 0

    def visit(self):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise TypeError(f"more than {MAX_NODES:,} values (a list that repeats or contains itself?)")


def plain_copy(value, depth: int = 0, budget: _Budget | None = None):
    """Plain containers from what ``weights_only`` loading may build (OrderedDict, Parameter, torch.Size),
    checked on the way: exact plain types, string keys, depth, size (see the module docstring)."""
    budget = budget or _Budget()
    budget.visit()
    if depth > MAX_DEPTH:
        raise TypeError("nested too deeply")
    if isinstance(value, torch.Tensor):
        if type(value) not in (torch.Tensor, torch.nn.Parameter):
            raise TypeError(f"a tensor of type {type(value).__name__}")
        if value.layout != torch.strided or value.is_quantized or value.device.type != "cpu":
            raise TypeError(f"a {value.layout} tensor on {value.device}")
        n = 1
        for d in value.shape:
            n *= int(d)
        budget.elements += n
        if n > MAX_ELEMENTS or budget.elements > MAX_ELEMENTS:
            raise TypeError(f"tensors of more than {MAX_ELEMENTS:,} elements (shape {tuple(value.shape)})")
        if value.dtype not in REAL_DTYPES and not value.is_complex():
            raise TypeError(f"a tensor of dtype {value.dtype}")
        return value.detach().as_subclass(torch.Tensor)
    if type(value) is torch.Size:
        return tuple(int(d) for d in value)
    if isinstance(value, dict):
        if type(value) not in (dict, collections.OrderedDict):
            raise TypeError(f"object of type {type(value).__name__}")
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError(f"dict key of type {type(k).__name__}")
            out[k] = plain_copy(v, depth + 1, budget)
        return out
    if type(value) in (list, tuple):
        return type(value)(plain_copy(v, depth + 1, budget) for v in value)
    if type(value) in PLAIN_SCALARS:
        return value
    raise TypeError(f"object of type {type(value).__name__}")


def check_plain(value):
    """Return ``value`` if it is plain data (exact types, str keys, finite nesting and size); else TypeError."""
    plain_copy(value)
    return value


def read_result(data: bytes, max_mb: float = 16):
    """Load what a probe sent back, as plain data; raise ValueError saying why it cannot be used."""
    if len(data) > max_mb * 2**20:
        raise ValueError(f"the result is {len(data) / 2**20:.1f} MiB, more than the {max_mb:g} MiB allowed")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise ValueError(f"the result holds {len(members)} files")
            if any(m.compress_type != zipfile.ZIP_STORED or m.file_size != m.compress_size for m in members):
                raise ValueError("the result is compressed (torch.save writes it uncompressed)")
    except zipfile.BadZipFile:
        raise ValueError("the result is not plain data: it is not a torch.save archive") from None
    try:
        value = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as err:  # any unpickling failure: the data is not plain
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        what = f"an object of class {found.group(1)}" if found else f"unreadable data ({type(err).__name__})"
        raise ValueError(f"the result is not plain data: it holds {what}") from None
    try:
        return plain_copy(value)
    except (TypeError, RecursionError) as err:
        raise ValueError(f"the result holds something that is not plain data ({err})") from None
