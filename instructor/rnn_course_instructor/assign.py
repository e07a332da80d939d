"""Make an exercise's student notebook and solutions notebook from its one master notebook.

``rnn-course assign`` (or ``python -m rnn_course_instructor.assign``) regenerates ``book/charlm_exercise.ipynb``
(student) and ``book/charlm_solutions.ipynb`` from ``instructor/rnn_course_instructor/exercises/charlm/master.ipynb``;
``--check`` only says whether the committed ones are out of date (exit status 1 if so); ``--execute`` runs what
it rewrote. ``--help`` for other masters and folders.

Markup of a master notebook
---------------------------
- **Solution code.** In a code cell, solution lines sit between a line ``# BEGIN SOLUTION`` and a line
  ``# END SOLUTION`` (nothing else on those lines; indentation allowed, the same for both). The solutions
  notebook keeps the lines between them and drops the two markers. The student notebook replaces the block
  by two lines at the marker's indentation::

      # TODO: implement CharModel.__init__ (see the instructions above)
      raise NotImplementedError("implement CharModel.__init__")

  where ``CharModel.__init__`` is the function the block sits in. A block must sit inside a function or method
  body (checked), so a stub raises only when it is called, never when its cell runs.
- **Written answers.** A markdown cell tagged ``solution`` becomes, in the student notebook, a markdown cell
  tagged ``answer`` that asks for the answer there.
- **Solutions only.** A cell (code or markdown) tagged ``solutions-only`` is left out of the student notebook
  (e.g. the assertions that the reference solution's results must satisfy).
- Everything else goes to both, outputs cleared. Cells keep their ids (an ``answer`` cell takes the id of the
  ``solution`` cell it replaces), and both notebooks record in their metadata ``rnn_course.role``
  (``"student"`` or ``"solutions"``) and ``rnn_course.master``.

``check()`` compares what the master would produce with the committed notebooks, cell by cell (type, id,
source, tags), ignoring outputs and execution metadata.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
from pathlib import Path

import nbformat

from rnn_course.prose import markdown_source

from rnn_course_instructor.exercises.charlm import MASTER as CHARLM_MASTER

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
SOLUTION_TAG, ANSWER_TAG, SOLUTIONS_ONLY_TAG = "solution", "answer", "solutions-only"
ANSWER_TEXT = "**Your answer:** _write it here, in place of this line._"
STUB_TODO = "# TODO: implement {name} (see the instructions above)"
STUB_RAISE = 'raise NotImplementedError("implement {name}")'
_MARKER = re.compile(r"^(?P<indent>[ \t]*)# (?P<kind>BEGIN|END) SOLUTION[ \t]*$")
_REPOSITORY = Path(__file__).resolve().parents[2]  # a checkout: notebooks record the master relative to it


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _blocks(source: str, where: str) -> list[tuple[int, int, str]]:
    """The solution blocks of a code cell: (line of BEGIN, line of END, indentation), lines counted from 0."""
    blocks, start = [], None
    for i, line in enumerate(source.split("\n")):
        if BEGIN not in line and END not in line:
            continue
        match = _MARKER.match(line)
        if match is None:
            raise ValueError(f"{where}, line {i + 1}: a solution marker must stand alone on its line, got {line!r}")
        if match["kind"] == "BEGIN":
            if start is not None:
                raise ValueError(f"{where}, line {i + 1}: {BEGIN} inside another solution block (line {start[0] + 1})")
            start = (i, match["indent"])
        else:
            if start is None:
                raise ValueError(f"{where}, line {i + 1}: {END} without a {BEGIN} before it")
            if match["indent"] != start[1]:
                raise ValueError(f"{where}, line {i + 1}: {END} is not indented like its {BEGIN} (line {start[0] + 1})")
            blocks.append((start[0], i, start[1]))
            start = None
    if start is not None:
        raise ValueError(f"{where}, line {start[0] + 1}: {BEGIN} is never closed by {END}")
    return blocks


def _functions(source: str, where: str) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function in ``source``, lines counted from 0."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"{where}: a cell with solution blocks must be valid Python: {err}") from err
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found.append((child.lineno - 1, child.end_lineno - 1, name))  # the `def` line on
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    lines = source.split("\n")
    extended = []
    for first, last, name in found:  # a trailing comment (# END SOLUTION) still belongs to the function
        indent = len(lines[first]) - len(lines[first].lstrip())
        while last + 1 < len(lines):
            nxt = lines[last + 1]
            if nxt.strip() and not (nxt.lstrip().startswith("#") and len(nxt) - len(nxt.lstrip()) > indent):
                break
            last += 1
        extended.append((first, last, name))
    return extended


def student_code(source: str, where: str = "cell") -> str:
    """A master code cell as the student sees it: each solution block replaced by a TODO and a raise."""
    blocks = _blocks(source, where)
    if not blocks:
        return source
    functions = _functions(source, where)
    lines = source.split("\n")
    out, last = [], 0
    for begin, end, indent in blocks:
        inside = [f for f in functions if f[0] < begin and end <= f[1]]
        if not inside:
            raise ValueError(f"{where}, line {begin + 1}: a solution block must sit inside a function body, "
                             "so that its stub raises only when called")
        name = max(inside, key=lambda f: f[0])[2]  # the innermost function
        out += lines[last:begin]
        out += [indent + STUB_TODO.format(name=name), indent + STUB_RAISE.format(name=name)]
        last = end + 1
    out += lines[last:]
    return "\n".join(out)


def solution_code(source: str, where: str = "cell") -> str:
    """A master code cell as the solutions show it: the marker lines removed, the solution lines kept."""
    blocks = _blocks(source, where)
    drop = {i for begin, end, _ in blocks for i in (begin, end)}
    return "\n".join(line for i, line in enumerate(source.split("\n")) if i not in drop)


def _clean(cell):
    cell = copy.deepcopy(cell)
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None
    cell.get("metadata", {}).pop("execution", None)
    return cell


def make_versions(master, master_name: str = "master.ipynb"):
    """``(student, solutions)`` notebooks from a master notebook (an ``nbformat`` notebook node)."""
    student, solutions = copy.deepcopy(master), copy.deepcopy(master)
    student.cells, solutions.cells = [], []
    ids = [c.get("id") for c in master.cells]
    if None in ids or len(set(ids)) != len(ids):
        raise ValueError("every master cell needs a unique id (nbformat >= 4.5); run nbformat.validator.normalize")
    for n, cell in enumerate(master.cells):
        where, tags = f"master cell {n} (id {cell['id']})", _tags(cell)
        if cell["cell_type"] == "code":
            if SOLUTION_TAG in tags:
                raise ValueError(f"{where}: the tag {SOLUTION_TAG!r} is for markdown cells; mark solution code with "
                                 f"{BEGIN} / {END}, or tag the cell {SOLUTIONS_ONLY_TAG!r}")
            sol, stu = _clean(cell), _clean(cell)
            sol["source"] = solution_code(cell["source"], where)
            stu["source"] = student_code(cell["source"], where)
        else:
            if BEGIN in cell["source"] or END in cell["source"]:
                raise ValueError(f"{where}: solution markers belong in code cells; tag a markdown cell {SOLUTION_TAG!r}")
            sol, stu = _clean(cell), _clean(cell)
            if SOLUTION_TAG in tags:
                stu = nbformat.v4.new_markdown_cell(ANSWER_TEXT, id=cell["id"])
                stu["metadata"]["tags"] = [t if t != SOLUTION_TAG else ANSWER_TAG for t in tags]
        solutions.cells.append(sol)
        if SOLUTIONS_ONLY_TAG not in tags:
            student.cells.append(stu)
    _title_solutions(solutions)
    for nb, role in ((student, "student"), (solutions, "solutions")):
        nb.metadata["rnn_course"] = {"role": role, "master": master_name}
    return student, solutions


def _title_solutions(nb) -> None:
    """The solutions page's title says so: "# Exercise: X" becomes "# Solutions: X" (any other first heading
    gains " (solutions)"), so the website's table of contents and a browser tab tell the two pages apart."""
    first = next((c for c in nb.cells if c["cell_type"] == "markdown"), None)
    if first is None or not first["source"].startswith("# "):
        return
    title, _, rest = first["source"].partition("\n")
    if title.startswith("# Exercise:"):
        title = "# Solutions:" + title[len("# Exercise:"):]
    else:
        title += " (solutions)"
    first["source"] = title + ("\n" + rest if rest else "")


def _master_name(master: Path) -> str:
    master = Path(master).resolve()
    try:
        return master.relative_to(_REPOSITORY).as_posix()
    except ValueError:
        return master.name


def _signature(nb) -> list[tuple]:
    """What ``check`` compares: per cell its type, id, source and tags; plus the course metadata. A markdown
    cell's source is its MyST (``rnn_course.prose``): a notebook whose prose was rendered after its run is
    still up to date with the master it came from."""
    cells = [(c["cell_type"], c.get("id"), markdown_source(c) if c["cell_type"] == "markdown" else c["source"],
              tuple(_tags(c))) for c in nb.cells]
    meta = json.dumps([nb.metadata.get("rnn_course"), nb.metadata.get("kernelspec")], sort_keys=True)
    return [("metadata", meta)] + cells


def _paths(out_dir, name) -> dict[str, Path]:
    out_dir = Path(out_dir)
    return {"student": out_dir / f"{name}_exercise.ipynb", "solutions": out_dir / f"{name}_solutions.ipynb"}


def _generated(master) -> dict:
    nb = nbformat.read(Path(master), as_version=4)
    student, solutions = make_versions(nb, _master_name(master))
    return {"student": student, "solutions": solutions}


def check(master=CHARLM_MASTER, out_dir="book", name: str = "charlm") -> list[str]:
    """Problems with the committed notebooks: ``[]`` when both match what ``master`` produces."""
    problems = []
    for role, nb in _generated(master).items():
        path = _paths(out_dir, name)[role]
        if not path.is_file():
            problems.append(f"{path} is missing")
            continue
        committed = _signature(nbformat.read(path, as_version=4))
        expected = _signature(nb)
        if committed != expected:
            first = next((i for i, (a, b) in enumerate(zip(committed, expected)) if a != b),
                         min(len(committed), len(expected)))
            what = "metadata" if first == 0 else f"cell {first - 1}"
            problems.append(f"{path} is out of date with {_master_name(master)} (first difference: {what})")
    return problems


def execute(path: Path, timeout: int = 900) -> None:
    """Run a notebook in place, in its own folder, and render its prose with the run's numbers (as
    ``rnn-course execute`` does for a chapter)."""
    from rnn_course.cli import execute_notebook

    execute_notebook(Path(path), timeout)


def generate(master=CHARLM_MASTER, out_dir="book", name: str = "charlm", force: bool = False,
             run: bool = False, timeout: int = 900) -> list[Path]:
    """Write the student and solutions notebooks; return the paths written.

    A notebook already up to date is left alone (its outputs kept) unless ``force``. With ``run``, each
    notebook written is executed in place.
    """
    written = []
    for role, nb in _generated(master).items():
        path = _paths(out_dir, name)[role]
        if not force and path.is_file() and _signature(nbformat.read(path, as_version=4)) == _signature(nb):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.validate(nb)
        nbformat.write(nb, path)
        written.append(path)
        if run:
            execute(path, timeout)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``assign`` (shared with the ``rnn-course assign`` command)."""
    parser.add_argument("--master", type=Path, default=CHARLM_MASTER, help="master notebook (default: char-LM)")
    parser.add_argument("--out", type=Path, default=Path("book"), help="folder of the two notebooks (default: book)")
    parser.add_argument("--name", default="charlm", help="writes NAME_exercise.ipynb and NAME_solutions.ipynb")
    parser.add_argument("--check", action="store_true", help="only report whether they are out of date")
    parser.add_argument("--force", action="store_true", help="rewrite even when up to date (drops outputs)")
    parser.add_argument("--execute", action="store_true", help="run each notebook written, in place")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell with --execute")


def run(args: argparse.Namespace) -> int:
    """Carry out parsed ``assign`` options; return the exit status."""
    if args.check:
        problems = check(args.master, args.out, args.name)
        for p in problems:
            print(p)
        if not problems:
            print("student and solutions notebooks are up to date")
        return 1 if problems else 0
    written = generate(args.master, args.out, args.name, force=args.force, run=args.execute, timeout=args.timeout)
    for path in written:
        print(f"wrote {path}" + (" (executed)" if args.execute else " (not executed: run it, or use --execute)"))
    if not written:
        print("student and solutions notebooks are up to date; nothing written")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnn_course_instructor.assign", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
