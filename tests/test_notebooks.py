"""The course's promises about its committed notebooks (nbval executes them; these check what is committed)."""
import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from rnn_course.nb import install_cell
from rnn_course.prose import raw_roles, render_notebook

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files(node=TOC):
    """Every `file:` (and the root) named in _toc.yml, in reading order."""
    if isinstance(node, dict):
        out = [node["root"]] if "root" in node else []
        if "file" in node:
            out.append(node["file"])
        for value in node.values():
            if isinstance(value, (list, dict)):
                out += toc_files(value)
        return out
    if isinstance(node, list):
        return [f for item in node for f in toc_files(item)]
    return []


NOTEBOOKS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "book").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
MACHINE_PATH = re.compile(r"(/work/|/tmp/|/root/|/home/[a-z]|/Users/[A-Za-z]|[A-Z]:\\\\Users)")


def load(path):
    return json.loads((ROOT / path).read_text())


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_every_notebook_is_in_the_toc():
    # (tests/test_site.py checks the other direction: every page the toc lists exists)
    listed = toc_files()
    unlisted = [nb for nb in NOTEBOOKS if nb[: -len(".ipynb")] not in listed]
    assert not unlisted, f"notebooks under book/ missing from _toc.yml: {unlisted}"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_committed_with_outputs_and_no_errors(path):
    cells = code_cells(load(path))
    assert any(c.get("outputs") for c in cells), f"{path} is committed without outputs"
    for c in cells:
        for out in c.get("outputs", []):
            assert out["output_type"] != "error", f"{path}: a committed cell shows {out.get('ename')}"
            text = "".join(out.get("text", "")) if out["output_type"] == "stream" else ""
            assert "Traceback (most recent call last)" not in text, f"{path}: a traceback in a committed output"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_no_machine_paths(path):
    match = MACHINE_PATH.search((ROOT / path).read_text())
    assert match is None, f"{path} holds a path of the machine it ran on: ...{match.group(0)}..."


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_first_cell_installs_from_configured_repository(path):
    first = "".join(code_cells(load(path))[0]["source"])
    assert first == install_cell(CONFIG["repository"]["url"]), f"{path}: first code cell is not the install cell"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_second_cell_sets_up_device_threads_and_seeds(path):
    second = "".join(code_cells(load(path))[1]["source"])
    assert "setup(" in second, f"{path}: the second code cell must call rnn_course.device.setup"
    assert "set_num_threads" not in second, f"{path}: setup() sets the threads; the chapter must not"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_python3_kernel(path):
    assert load(path)["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_prose_reads_as_plain_markdown_with_the_runs_numbers(path):
    """Jupyter and Colab show the markdown as committed: no MyST role may be left raw, and every number the
    prose states is in place. Rendering the cells' MyST source again with the committed run's glued values
    changes nothing, so the prose is that of the committed run (run `rnn-course render` after editing it)."""
    nb = load(path)
    raw = {i: raw_roles("".join(c["source"])) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"}
    raw = {i: r for i, r in raw.items() if r}
    assert not raw, f"{path}: markdown cells show raw MyST in Jupyter and Colab: {raw}"
    again = copy.deepcopy(nb)
    render_notebook(again, ROOT / "book" / "references.bib", path)
    stale = [i for i, (a, b) in enumerate(zip(nb["cells"], again["cells"]))
             if a["cell_type"] == "markdown" and "".join(a["source"]) != "".join(b["source"])]
    assert not stale, f"{path}: markdown cells {stale} differ from their rendering; run rnn-course render {path}"


# The diagrams each page teaches with (rnn_course.diagrams): a page that loses one fails here.
DIAGRAMS = {
    "book/first_rnn.ipynb": {"unrolled", "bptt"},
    "book/anatomy.ipynb": {"stacked_bidirectional", "encoder_decoder"},
    "book/why_gating.ipynb": {"lstm_cell", "gru_cell"},
    "book/packing.ipynb": {"packed_sequence"},
    "book/linear_rnns.ipynb": {"doubling_scan"},
    "book/char_lm.ipynb": {"stream_batches", "tbptt_windows"},
}


def diagram_cells(nb):
    return {t[len("diagram-"):]: c for c in nb["cells"] for t in c.get("metadata", {}).get("tags", [])
            if t.startswith("diagram-")}


@pytest.mark.parametrize("path", sorted(DIAGRAMS))
def test_each_page_keeps_its_diagrams(path):
    missing = DIAGRAMS[path] - set(diagram_cells(load(path)))
    assert not missing, f"{path}: the diagram cell(s) {sorted(missing)} are gone (tag them diagram-NAME)"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_every_diagram_is_committed_as_an_image(path):
    """A diagram shows where the notebook does (the website, Colab, Jupyter) only as a committed PNG output."""
    for name, cell in diagram_cells(load(path)).items():
        assert cell["cell_type"] == "code", f"{path}: diagram-{name} tags a markdown cell"
        assert any("image/png" in out.get("data", {}) for out in cell.get("outputs", [])), \
            f"{path}: diagram-{name} has no PNG output; run rnn-course execute {path}"
