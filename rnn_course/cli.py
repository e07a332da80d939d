"""The ``rnn-course`` command: ``assign``, ``grade`` and ``execute``.

- ``rnn-course execute NOTEBOOK...``: run notebooks in place to regenerate their committed outputs;
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


def execute_notebook(path: Path, timeout: float, kernel: str = "python3") -> None:
    """Run every cell of ``path`` in a fresh kernel (in its folder) and write it back with its outputs.

    The file is replaced atomically and only when every cell ran, so a failure leaves it as it was.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name=kernel,
                   resources={"metadata": {"path": str(path.parent.resolve())}}).execute()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
            status = "ok"
        except Exception as err:  # a failing cell (CellExecutionError), a timeout, a dead kernel
            failed.append(name)
            first = (str(err).strip().splitlines() or [type(err).__name__])[-1][:200]
            status = f"FAILED, left unchanged: {first}"
        print(f"{time.monotonic() - start:8.1f} s  {name}  {status}", flush=True)
    print(f"{time.monotonic() - total:8.1f} s  in all; {len(failed)} failed")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnn-course", description="Tools of the course 'Recurrent Networks "
                                     "in PyTorch': exercises, grading, notebooks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    if _instructor is not None:
        _instructor.add_commands(sub)
    else:
        for name, what in (("assign", "master notebook -> student and solutions notebooks"),
                           ("grade", "grade a folder of submitted notebooks into a CSV")):
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
