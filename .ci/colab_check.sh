#!/usr/bin/env bash
# Colab-like check: run a chapter the way a learner runs it in Google Colab.
#
#   .ci/colab_check.sh [book/first_rnn.ipynb]
#
# A fresh virtual environment gets only torch and libraries Colab ships (numpy, pandas, matplotlib, seaborn,
# scikit-learn, tqdm, ipywidgets, and a kernel with nbclient to run the notebook), with what they depend on:
# no myst-nb, no jupyter-book, no nbval, not the course package. The chapter then runs top to bottom in a
# scratch folder (as in /content on Colab, so the checkout is not on the import path); its first cell installs
# the course package, redirected from the GitHub URL to a copy of this checkout by RNN_COURSE_FORCE_INSTALL=1
# and RNN_COURSE_INSTALL_SOURCE. A last cell, added for the check, asserts that `rnn_course` came from that
# install and that no website package is importable. Any error fails the check.
#
# How the environment gets its libraries (COLAB_CHECK_INSTALL):
#   link (default, when .venv holds torch 2.13.0, as after .ci/run's install step): hard-link those
#         distributions and their dependencies from .venv. Seconds; Colab too has them preinstalled. Hard
#         links, not symlinks, so that nothing done in the new environment can delete a file of .venv.
#   pip   pip-install them from the package index, requirements.txt as constraints. Minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NOTEBOOK=${1:-book/first_rnn.ipynb}
PYTHON=${PYTHON:-python3}
COLAB_LIBS="torch numpy pandas matplotlib seaborn scikit-learn tqdm ipywidgets ipykernel nbclient nbformat"
[ -f "$NOTEBOOK" ] || { echo "colab check: no notebook $NOTEBOOK" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/colab-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)

MODE=${COLAB_CHECK_INSTALL:-link}
if [ "$MODE" = link ] && ! .venv/bin/python -c \
    'import importlib.metadata as m, sys; sys.exit(m.version("torch").split("+")[0] != "2.13.0")' 2>/dev/null; then
  echo "colab check: .venv holds no torch 2.13.0, so the libraries come from pip"
  MODE=pip
fi
"$PYTHON" -m venv "$WORK/venv"
if [ "$MODE" = link ]; then
  SITE=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  .venv/bin/python - "$SITE" $COLAB_LIBS <<'PY_LINK'
"""Hard-link the named distributions of this environment, and all they depend on, into another site-packages."""
import importlib.metadata as md
import os
import shutil
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

target, wanted = Path(sys.argv[1]), sys.argv[2:]
dists, todo = {}, list(wanted)
while todo:
    name = canonicalize_name(todo.pop())
    if name in dists:
        continue
    dists[name] = md.distribution(name)
    for line in dists[name].requires or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            todo.append(req.name)


def link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copy2(src, dst)


for dist in dists.values():
    for top in sorted({Path(f).parts[0] for f in dist.files or [] if Path(f).parts[0] != ".."}):
        src, dst = Path(dist.locate_file(top)), target / top
        if dst.exists() or not src.exists():
            continue
        if src.is_dir():
            shutil.copytree(src, dst, copy_function=link_or_copy, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            link_or_copy(src, dst)
print(f"colab check: {len(dists)} distributions linked from .venv: {' '.join(sorted(dists))}")
PY_LINK
else
  # --no-compile: byte-compiling all of torch at install time takes minutes on 2 cores; imports compile lazily.
  grep -v -E '^\s*(-e|--editable)\b' requirements.txt > "$WORK/constraints.txt"
  "$WORK/venv/bin/pip" install -q --no-compile -c "$WORK/constraints.txt" $COLAB_LIBS
fi
echo "colab check: environment ready ($MODE) in $(($(date +%s) - t0)) s," \
  "$("$WORK/venv/bin/python" -c 'import torch; print("torch", torch.__version__)')"

# The install source: a copy of the checkout without its environment and build outputs, as `pip install git+URL`
# sees a clone (and so that building the package leaves nothing behind in the checkout).
mkdir "$WORK/src" "$WORK/content"
tar -C "$ROOT" --exclude=./.venv --exclude=./_build --exclude=./.git --exclude=./artifacts --exclude=./.hypothesis \
  --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -C "$WORK/src" -xf -

cat > "$WORK/run_notebook.py" <<'PY_RUN'
"""Execute one notebook in a scratch folder, with a closing cell that checks where rnn_course came from."""
import sys
import time

import nbclient
import nbformat

notebook, workdir = sys.argv[1], sys.argv[2]
nb = nbformat.read(notebook, as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(
    "import importlib.util, os, pathlib, sys\n"
    "import rnn_course\n"
    "assert pathlib.Path(sys.prefix).resolve() == pathlib.Path(os.environ['COLAB_CHECK_PREFIX']).resolve(), sys.prefix\n"
    "origin = pathlib.Path(rnn_course.__file__).resolve()\n"
    "assert 'site-packages' in origin.parts, f'rnn_course was imported from {origin}, not from the install'\n"
    "leaked = [m for m in ('myst_nb', 'jupyter_book', 'nbval', 'sphinx') if importlib.util.find_spec(m)]\n"
    "assert not leaked, f'the Colab-like environment holds website/test packages: {leaked}'\n"
    "print('rnn_course was installed by the first cell; no website or test package present')"
))
client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": workdir}})
t0 = time.monotonic()
try:
    client.execute()
except nbclient.exceptions.CellExecutionError as err:
    print(f"colab check: {notebook} FAILED\n{err}", file=sys.stderr)
    sys.exit(1)


def seconds(cell):
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    from datetime import datetime
    return (datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


code = [c for c in nb.cells if c.cell_type == "code"]
# Diagrams are drawn by code (rnn_course.diagrams): each must come out as an image here, where no myst-nb is.
diagrams = [c for c in code if any(t.startswith("diagram-") for t in c.get("metadata", {}).get("tags", []))]
blank = [c.metadata["tags"] for c in diagrams if not any("image/png" in o.get("data", {}) for o in c.outputs)]
if blank:
    print(f"colab check: diagram cells without an image: {blank}", file=sys.stderr)
    sys.exit(1)
import re  # noqa: E402
raw = [m.group(0) for c in nb.cells if c.cell_type == "markdown"
       for m in re.finditer(r"\{[a-z][a-z:-]*\}`[^`]*`", c.source)]
if raw:
    print(f"colab check: markdown shows raw MyST roles: {raw[:5]}", file=sys.stderr)
    sys.exit(1)
print(f"colab check: {len(diagrams)} diagrams drawn as images; the markdown holds no raw MyST role")
print(f"colab check: {notebook} ran in {time.monotonic() - t0:.1f} s ({len(code)} code cells;"
      f" the install cell {seconds(code[0]):.1f} s, the chapter {sum(seconds(c) for c in code[1:-1]):.1f} s)")
print("colab check:", "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip())
PY_RUN

# Fresh Jupyter and IPython folders too, so that no kernel spec of this machine (a user-level "python3") is used.
env -u PYTHONPATH -u MPLBACKEND -u VIRTUAL_ENV \
  JUPYTER_DATA_DIR="$WORK/jupyter/data" JUPYTER_CONFIG_DIR="$WORK/jupyter/config" IPYTHONDIR="$WORK/ipython" \
  COLAB_CHECK_PREFIX="$WORK/venv" RNN_COURSE_FORCE_INSTALL=1 RNN_COURSE_INSTALL_SOURCE="$WORK/src" \
  "$WORK/venv/bin/python" "$WORK/run_notebook.py" "$NOTEBOOK" "$WORK/content"
echo "colab check: passed in $(($(date +%s) - t0)) s"
