"""Reading a submitted file: is it a notebook, which code cells does it hold, which cell defines which name.

``read_submission`` raises ``SubmissionError`` with a short ``status`` (``"not a notebook"``,
``"malformed notebook"``, ``"empty notebook"``) for files the grader cannot run; the grade report gets a
row saying so. It checks only what the grader needs (JSON, a ``cells`` list, cells with a type and a
source), not the full nbformat schema, so notebooks saved by Colab or old Jupyter versions still run.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

MAX_NOTEBOOK_MB = 50
_MAGIC = re.compile(r"^(\s*)[%!].*$")  # an IPython magic or shell escape line
_MAGIC_ASSIGN = re.compile(r"^(\s*)(\w+)\s*=\s*[%!].*$")  # files = !ls


class SubmissionError(Exception):
    """A submission the grader cannot run; ``status`` is the short label for the report."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Submission:
    path: Path
    sha256: str
    cells: list[str]  # source of every non-empty code cell, in order

    def label(self, i: int) -> str:
        """How reports name code cell ``i`` (counting code cells from 1, as a reader would)."""
        return f"code cell {i + 1}"


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _source(cell) -> str:
    src = cell.get("source", "")
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    if isinstance(src, str):
        return src
    raise SubmissionError("malformed notebook", "a cell's source is neither text nor a list of lines")


def read_submission(path: str | Path, name: str | None = None) -> Submission:
    """Read ``path`` as a notebook; raise ``SubmissionError`` if it cannot be graded. ``name``: how messages
    name the file (default: its file name)."""
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise SubmissionError("not a notebook", f"{name} is not a file")
    if path.suffix.lower() != ".ipynb":
        raise SubmissionError("not a notebook", f"{name} is not an .ipynb file")
    if path.stat().st_size > MAX_NOTEBOOK_MB * 2**20:
        raise SubmissionError("malformed notebook", f"{name} is larger than {MAX_NOTEBOOK_MB} MiB")
    try:
        nb = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SubmissionError("malformed notebook", f"{name} is not valid JSON ({type(err).__name__})") from None
    except RecursionError:
        raise SubmissionError("malformed notebook", f"{name} nests its JSON too deeply to be a notebook") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SubmissionError("malformed notebook", f"{name} has no list of cells")
    if nb.get("nbformat", 4) != 4:
        raise SubmissionError("malformed notebook", f"{name} is nbformat {str(nb.get('nbformat'))[:20]}; expected 4")
    cells = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise SubmissionError("malformed notebook", f"{name} has a cell without a cell_type")
        if cell["cell_type"] == "code":
            src = _source(cell)
            if src.strip():
                cells.append(src)
    if not cells:
        raise SubmissionError("empty notebook", f"{name} has no code")
    return Submission(path=path, sha256=file_sha256(path), cells=cells)


def _python_only(source: str) -> str:
    """``source`` with IPython-only lines (magics, ``!shell``) blanked, so ``ast`` can read the rest."""
    if source.lstrip().startswith("%%"):
        return ""
    lines = []
    for line in source.split("\n"):
        line = _MAGIC_ASSIGN.sub(r"\1\2 = None", line)
        lines.append(_MAGIC.sub(r"\1pass", line))
    return "\n".join(lines)


def _targets(node) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.Tuple, ast.List)):
        return set().union(*(_targets(e) for e in node.elts)) if node.elts else set()
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    return set()


def defined_names(source: str) -> set[str]:
    """Names a cell binds at top level (def, class, assignment, import, for/with targets), best effort."""
    try:
        tree = ast.parse(_python_only(source))
    except SyntaxError:
        return set()
    names: set[str] = set()

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    names.update(_targets(t))
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                names.update(_targets(node.target))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                names.update(_targets(node.target))
                visit(node.body + node.orelse)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        names.update(_targets(item.optional_vars))
                visit(node.body)
            elif isinstance(node, (ast.If, ast.While)):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody)
                for handler in node.handlers:
                    visit(handler.body)
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.NamedExpr):
                        names.update(_targets(sub.target))

    visit(tree.body)
    return names


def defining_cells(cells: list[str]) -> dict[str, list[int]]:
    """For every name some cell binds: the indices of the cells that bind it, in order."""
    out: dict[str, list[int]] = {}
    for i, src in enumerate(cells):
        for name in defined_names(src):
            out.setdefault(name, []).append(i)
    return out
