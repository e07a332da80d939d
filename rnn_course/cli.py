"""The ``rnn-course`` command: ``execute``, ``render``, ``sweep``, and the instructors' ``assign`` and ``grade``.

- ``rnn-course execute NOTEBOOK...``: run notebooks in place to regenerate their committed outputs, and render
  their prose with the run's numbers (``rnn-course render NOTEBOOK...`` renders only);
- ``rnn-course sweep NOTEBOOK...``: re-execute chapters under other seeds and thread counts and tabulate, for
  every claim, in how many runs it held and its worst margin (``rnn_course.sweep``);
- ``rnn-course assign`` and ``rnn-course grade``: the instructors' commands (``rnn_course_instructor.cli``),
  there when the instructors' package is installed.

``rnn-course COMMAND --help`` lists each command's options.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

try:  # assign and grade come with the instructors' package, which learners do not install
    from rnn_course_instructor import cli as _instructor
except ModuleNotFoundError as _err:
    if _err.name != "rnn_course_instructor":
        raise
    _instructor = None

INSTRUCTOR_INSTALL = ('pip install "git+https://github.com/rnn-course/rnn-course.git#subdirectory=instructor" '
                      "(or, in a checkout, pip install -e ./instructor)")


def _needs_instructor(args) -> int:
    print(f"rnn-course {args.command}: error: this command comes with the instructors' package: "
          f"{INSTRUCTOR_INSTALL}", file=sys.stderr)
    return 2


def bibliography_of(path: Path) -> Path:
    """The BibTeX file a chapter cites from: ``references.bib`` beside it."""
    return path.parent / "references.bib"


def execute_notebook(path: Path, timeout: float, kernel: str = "python3") -> None:
    """Run every cell of ``path`` in a fresh kernel (in its folder), render its prose with the run's numbers
    (``rnn_course.prose``) and write it back with its outputs.

    The file is replaced atomically and only when every cell ran, so a failure leaves it as it was.
    """
    import nbformat
    from nbclient import NotebookClient

    from rnn_course.prose import render_notebook

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name=kernel,
                   resources={"metadata": {"path": str(path.parent.resolve())}}).execute()
    render_notebook(nb, bibliography_of(path), path.name)
    _write_atomically(nb, path)


def _write_atomically(nb, path: Path) -> None:
    import nbformat

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


RUN_TIMES = "run_times.json"  # beside the notebooks: how long the run that produced their outputs took


def record_run_time(path: Path, seconds: float) -> None:
    """Note in ``run_times.json`` beside the notebook how long its execution took, and where."""
    import datetime
    import json
    import platform

    import torch

    record_path = path.parent / RUN_TIMES
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        record = {}
    notebooks = record.setdefault("notebooks", {})
    machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, torch "
               f"{torch.__version__}, " + ("CUDA" if torch.cuda.is_available() else "CPU only"))
    notebooks[f"{path.parent.name}/{path.name}"] = {
        "seconds": round(seconds, 1), "passed": True, "machine": machine,
        "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    record["notebooks"] = dict(sorted(notebooks.items()))
    record_path.write_text(json.dumps(record, indent=2) + "\n")


def _execute(args) -> int:
    failed = []
    total = time.monotonic()
    for name in args.notebooks:
        path = Path(name)
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"rnn-course execute: error: {name} is not a notebook file", file=sys.stderr)
            return 2
    for name in args.notebooks:
        start = time.monotonic()
        try:
            execute_notebook(Path(name), args.timeout, args.kernel)
            record_run_time(Path(name), time.monotonic() - start)
            status = "ok"
        except Exception as err:  # a failing cell (CellExecutionError), a timeout, a dead kernel
            failed.append(name)
            first = (str(err).strip().splitlines() or [type(err).__name__])[-1][:200]
            status = f"FAILED, left unchanged: {first}"
        print(f"{time.monotonic() - start:8.1f} s  {name}  {status}", flush=True)
    print(f"{time.monotonic() - total:8.1f} s  in all; {len(failed)} failed")
    return 1 if failed else 0


def _render(args) -> int:
    import nbformat

    from rnn_course.prose import render_notebook

    for name in args.notebooks:
        path = Path(name)
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"rnn-course render: error: {name} is not a notebook file", file=sys.stderr)
            return 2
        nb = nbformat.read(path, as_version=4)
        try:
            count = render_notebook(nb, bibliography_of(path), path.name)
        except ValueError as err:
            print(f"rnn-course render: error: {err}", file=sys.stderr)
            return 1
        _write_atomically(nb, path)
        print(f"{name}: {count} markdown cells rendered")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnn-course", description="Tools of the course 'Recurrent Networks "
                                     "in PyTorch': exercises, grading, notebooks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    if _instructor is not None:
        _instructor.add_commands(sub)
    else:
        for name, what in (("assign", "master notebook -> student and solutions notebooks"),
                           ("grade", "grade a folder of submitted notebooks into a CSV"),
                           ("rubric", "print the rubric of the parts a person grades"),
                           ("release", "write an exercise's student notebook, checked to carry no solution"),
                           ("site", "build the website without the exercise solutions")):
            p = sub.add_parser(name, help=f"{what} (instructors' package)", add_help=False)
            p.add_argument("rest", nargs=argparse.REMAINDER)
            p.set_defaults(func=_needs_instructor)

    p = sub.add_parser("execute", help="run notebooks in place to regenerate their outputs",
                       description="Run every cell of each notebook in a fresh kernel and save it with its "
                                   "outputs; print each notebook's wall time. A notebook that fails is left as "
                                   "it was.")
    p.add_argument("notebooks", nargs="+", help="notebook files, e.g. book/*.ipynb")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per cell (default 1800)")
    p.add_argument("--kernel", default="python3", help="kernel name (default python3)")
    p.set_defaults(func=_execute)

    p = sub.add_parser("render", help="render the prose of executed notebooks with their numbers",
                       description="Write every markdown cell that holds MyST roles (glue, cite, eq) as plain "
                                   "markdown with the numbers the notebook's last run glued, keeping the MyST "
                                   "source in the cell's metadata (rnn_course.prose). `execute` does this too; "
                                   "use `render` after editing only prose.")
    p.add_argument("notebooks", nargs="+", help="notebook files, e.g. book/*.ipynb")
    p.set_defaults(func=_render)

    from rnn_course import sweep

    p = sub.add_parser("sweep", help="re-run chapters under other seeds and threads; tabulate their claims",
                       description="Execute each notebook once per variant (its default seeds shifted by each "
                                   "offset, or explicit seed sets, times each thread count), the claims recorded "
                                   "instead of raised, and print for every claim how many runs it held in and "
                                   "its worst margin. Notebooks are not modified.")
    sweep.add_arguments(p)
    p.set_defaults(func=sweep.main_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
