"""What an instructor hands out: the exercise without its solution, and the website without the solutions page.

- ``rnn-course release DIR`` writes the student notebook of an exercise (made from its master, as ``assign``
  makes it) into ``DIR``, after checking that it carries no solution: no line of a ``# BEGIN SOLUTION`` block,
  no ``solutions-only`` cell, no written answer of a ``solution`` cell, no import of the instructors' package.
- ``rnn-course site --without-solutions`` builds the course's website with every solutions notebook left out
  (its page, its entry in the table of contents and its download), into ``_build/students/html`` by default:
  the site an instructor publishes while an exercise is open. The configuration and table of contents it
  builds with are the repository's, rewritten into the build folder, so they never drift from the full site's.
"""
from __future__ import annotations

import argparse
import copy
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

from rnn_course_instructor.assign import (BEGIN, END, SOLUTION_TAG, SOLUTIONS_ONLY_TAG, _master_name, _tags,
                                          make_versions)
from rnn_course_instructor.exercises.charlm import MASTER as CHARLM_MASTER

_REPOSITORY = Path(__file__).resolve().parents[2]
_TRIVIAL = re.compile(r"^\s*(#.*|pass|return|[)\]}]+,?|else:|try:|\"\"\".*|)\s*$")  # lines too common to be a leak


def solution_lines(master) -> set[str]:
    """The distinctive lines of ``master``'s solutions: code between the markers, solutions-only cells and
    written answers (stripped; blank lines, comments and one-word lines such as ``return`` left out)."""
    lines: set[str] = set()
    for cell in master.cells:
        tags = _tags(cell)
        if cell["cell_type"] == "code" and SOLUTIONS_ONLY_TAG not in tags:
            inside = False
            for line in cell["source"].splitlines():
                if line.strip() == BEGIN:
                    inside = True
                elif line.strip() == END:
                    inside = False
                elif inside and not _TRIVIAL.match(line):
                    lines.add(line.strip())
        elif SOLUTIONS_ONLY_TAG in tags or SOLUTION_TAG in tags:
            lines |= {line.strip() for line in cell["source"].splitlines() if len(line.strip()) > 20}
    return lines


def leaks(notebook, master) -> list[str]:
    """What of ``master``'s solutions ``notebook`` carries (sources and outputs), one description each."""
    secret = solution_lines(master)
    found = []
    for n, cell in enumerate(notebook.cells):
        text = [cell["source"]]
        for out in cell.get("outputs", []):
            text.append(out.get("text", "") if isinstance(out.get("text", ""), str) else "".join(out["text"]))
            text += [v for v in out.get("data", {}).values() if isinstance(v, str)]
        for line in "\n".join(text).splitlines():
            if line.strip() in secret:
                found.append(f"cell {n}: a line of the solution: {line.strip()[:80]!r}")
        if "rnn_course_instructor" in cell["source"]:
            found.append(f"cell {n}: imports the instructors' package")
        if SOLUTIONS_ONLY_TAG in _tags(cell) or SOLUTION_TAG in _tags(cell):
            found.append(f"cell {n}: a cell tagged {', '.join(_tags(cell))}")
    return found


def release(out_dir, master=CHARLM_MASTER, name: str = "charlm") -> Path:
    """Write ``NAME_exercise.ipynb`` (no outputs) into ``out_dir`` and return its path; ``ValueError`` if the
    student notebook would carry any of the solution (``leaks``) or ``out_dir`` already holds that file."""
    master_nb = nbformat.read(Path(master), as_version=4)
    student, _ = make_versions(master_nb, _master_name(master))
    found = leaks(student, master_nb)
    if found:
        raise ValueError("the student notebook would carry the solution: " + "; ".join(found))
    out_dir = Path(out_dir)
    path = out_dir / f"{name}_exercise.ipynb"
    if path.exists():
        raise ValueError(f"{path} exists: release into an empty folder (nothing is overwritten)")
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.validate(student)
    nbformat.write(student, path)
    return path


def solutions_pages(root: Path) -> list[str]:
    """The toc entries (``book/x``) of the notebooks whose metadata marks them as an exercise's solutions."""
    pages = []
    for nb_path in sorted((root / "book").glob("*.ipynb")):
        meta = nbformat.read(nb_path, as_version=4).metadata.get("rnn_course", {})
        if meta.get("role") == "solutions":
            pages.append(nb_path.relative_to(root).with_suffix("").as_posix())
    return pages


def _drop(node, pages: set[str]):
    """The toc ``node`` without the entries whose ``file`` is in ``pages`` (and without parts left empty)."""
    if isinstance(node, list):
        kept = [_drop(item, pages) for item in node if not (isinstance(item, dict) and item.get("file") in pages)]
        return [k for k in kept if not (isinstance(k, dict) and "chapters" in k and not k["chapters"])]
    if isinstance(node, dict):
        return {k: _drop(v, pages) if isinstance(v, (list, dict)) else v for k, v in node.items()}
    return node


def student_site_files(root: Path, folder: Path) -> tuple[Path, Path, list[str]]:
    """Write the configuration and table of contents of the site without solutions into ``folder``; return
    their paths and the pages left out."""
    pages = solutions_pages(root)
    if not pages:
        raise ValueError(f"no solutions notebook under {root / 'book'}: nothing to leave out")
    config = yaml.safe_load((root / "_config.yml").read_text())
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    config = copy.deepcopy(config)
    config["exclude_patterns"] = list(config.get("exclude_patterns", [])) + [f"{p}.ipynb" for p in pages]
    config["title"] = f"{config.get('title', 'Course')} (exercise solutions withheld)"
    # links to a withheld page become plain text (book/_ext/withheld.py)
    config.setdefault("sphinx", {}).setdefault("config", {})["rnn_course_withheld"] = [Path(p).name for p in pages]
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, path in local.items():  # read relative to the configuration file, which now lives elsewhere
        local[name] = str((root / path).resolve())
    folder.mkdir(parents=True, exist_ok=True)
    config_path, toc_path = folder / "_config.yml", folder / "_toc.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    toc_path.write_text(yaml.safe_dump(_drop(toc, set(pages)), sort_keys=False))
    return config_path, toc_path, pages


def build_student_site(root: Path = _REPOSITORY, out: Path | None = None) -> Path:
    """Build the website without the solutions pages (``jupyter-book build -W -n --keep-going``); return the
    HTML folder. ``RuntimeError`` if the build fails or a solutions page made it into the site."""
    root = Path(root).resolve()
    out = Path(out) if out is not None else root / "_build" / "students"
    config, toc, pages = student_site_files(root, out / "config")
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(root), "--config", str(config), "--toc", str(toc),
           "--path-output", str(out), "-W", "-n", "--keep-going"]
    done = subprocess.run(cmd)
    html = out / "_build" / "html"
    if done.returncode != 0:
        raise RuntimeError(f"the build failed (exit status {done.returncode}): {' '.join(cmd)}")
    present = [p for p in pages if (html / f"{p}.html").exists() or (html / "_sources" / f"{p}.ipynb").exists()]
    if present:
        raise RuntimeError(f"solutions pages in the built site: {present}")
    return html


def add_commands(sub) -> None:
    p = sub.add_parser("release", help="write an exercise's student notebook, checked to carry no solution",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("out", type=Path, help="an empty (or new) folder")
    p.add_argument("--master", type=Path, default=CHARLM_MASTER, help="master notebook (default: char-LM)")
    p.add_argument("--name", default="charlm", help="writes NAME_exercise.ipynb")
    p.set_defaults(func=_release)
    p = sub.add_parser("site", help="build the website without the exercise solutions",
                       description="Build the course's website with every solutions notebook left out, for an "
                                   "instructor to publish while an exercise is open.")
    p.add_argument("--without-solutions", action="store_true", required=True,
                   help="leave out every notebook whose metadata marks it as solutions (the only mode)")
    p.add_argument("--out", type=Path, default=None, help="build folder (default: _build/students)")
    p.set_defaults(func=_site)


def _release(args: argparse.Namespace) -> int:
    try:
        path = release(args.out, args.master, args.name)
    except ValueError as err:
        print(f"rnn-course release: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}: the student notebook, no solution in it")
    return 0


def _site(args: argparse.Namespace) -> int:
    try:
        html = build_student_site(out=args.out)
    except (ValueError, RuntimeError) as err:
        print(f"rnn-course site: error: {err}", file=sys.stderr)
        return 1
    print(f"built the site without solutions: {html / 'index.html'}")
    return 0
