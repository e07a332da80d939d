"""The website's promises that can be checked without building it: table of contents, configuration, launch
and download buttons, offline MathJax, citations, widgets, and the run-times page (tested on a tiny Sphinx
project, with and without a recorded test run).

Notebook content (outputs, errors, machine paths, the install cell) is checked in ``test_notebooks.py``; the
built site is opened in a browser by ``.ci/browser_check.py``.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def toc_entries(node=TOC) -> list[str]:
    """The root and every ``file:`` of ``_toc.yml``, in reading order."""
    if isinstance(node, dict):
        out = [node["root"]] if "root" in node else []
        out += [node["file"]] if "file" in node else []
        for value in node.values():
            if isinstance(value, (list, dict)):
                out += toc_entries(value)
        return out
    if isinstance(node, list):
        return [f for item in node for f in toc_entries(item)]
    return []


def source_of(entry: str) -> Path | None:
    for ext in (".md", ".ipynb"):
        if (ROOT / f"{entry}{ext}").exists():
            return ROOT / f"{entry}{ext}"
    return None


NOTEBOOKS = [e for e in toc_entries() if (ROOT / f"{e}.ipynb").exists()]


def markdown_texts():
    """(where, text) for every markdown page in the toc and every markdown cell of its notebooks."""
    for entry in toc_entries():
        src = source_of(entry)
        if src is None:
            continue
        if src.suffix == ".md":
            yield src.name, src.read_text()
        else:
            for i, cell in enumerate(json.loads(src.read_text())["cells"]):
                if cell["cell_type"] == "markdown":
                    yield f"{src.name} cell {i}", "".join(cell["source"])


# ---- table of contents ---------------------------------------------------------------------------------

def test_every_toc_page_exists_once():
    entries = toc_entries()
    missing = [e for e in entries if source_of(e) is None]
    assert not missing, f"_toc.yml lists pages that do not exist: {missing}"
    twice = sorted({e for e in entries if entries.count(e) > 1})
    assert not twice, f"_toc.yml lists pages more than once: {twice}"


def test_toc_has_intro_references_and_run_times():
    entries = toc_entries()
    assert TOC["root"] == "book/intro"
    for page in ("book/references", "book/run_times"):
        assert page in entries, f"_toc.yml must list {page}"


def test_chapters_are_numbered():
    chapter_parts = [p for p in TOC["parts"] if any((ROOT / f"{c['file']}.ipynb").exists() for c in p["chapters"])]
    assert chapter_parts, "no part of _toc.yml holds a notebook"
    for part in chapter_parts:
        assert part.get("numbered") is True, f"part {part.get('caption')!r} holds chapters but is not numbered"


def test_intro_links_every_chapter():
    intro = (ROOT / "book" / "intro.md").read_text()
    linked = set(re.findall(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`", intro))
    unlinked = [c for c in NOTEBOOKS if Path(c).name not in linked and c not in linked]
    assert not unlinked, f"book/intro.md does not list these chapters: {unlinked}"


def test_intro_names_the_configured_repository():
    intro = (ROOT / "book" / "intro.md").read_text()
    urls = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", intro))
    assert urls <= {CONFIG["repository"]["url"]}, f"book/intro.md names another repository: {urls}"


# ---- configuration: repository, launch and download buttons, offline math ---------------------------------

def test_repository_and_launch_buttons():
    repo = CONFIG["repository"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repo["url"]), repo["url"]
    assert repo.get("branch"), "repository.branch is needed for the Colab links"
    assert (ROOT / (repo.get("path_to_book") or ".") / "_toc.yml").exists(), "repository.path_to_book must be the book root"
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    html = CONFIG["html"]
    assert html.get("use_download_button") is True, "notebook pages need a download button"
    assert html.get("use_repository_button") is True


def test_site_shows_committed_outputs_and_only_toc_pages():
    assert CONFIG["execute"]["execute_notebooks"] == "off", "the build must not run the notebooks a second time"
    assert CONFIG.get("only_build_toc_files") is True


def test_mathjax_is_bundled():
    sphinx = CONFIG["sphinx"]
    assert "sphinx-mathjax-offline" in sphinx["extra_extensions"]
    assert "mathjax_path" not in sphinx.get("config", {}), "mathjax_path would override the bundled MathJax"
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    assert spec is not None, "sphinx-mathjax-offline is not installed"
    assert (Path(spec.origin).parent / "static" / "mathjax" / "tex-chtml.js").exists()


def test_no_scripts_from_the_network():
    config = CONFIG["sphinx"].get("config", {})
    assert config.get("nb_ipywidgets_js") == {}, (
        "set sphinx.config.nb_ipywidgets_js: {} so that no page loads require.js and the widget manager from a CDN")
    for key in ("html_js_files", "html_css_files"):
        remote = [f for f in config.get(key, []) if "://" in str(f)]
        assert not remote, f"{key} loads from the network: {remote}"


def test_local_extensions_exist():
    for name, folder in CONFIG["sphinx"].get("local_extensions", {}).items():
        assert (ROOT / folder / f"{name}.py").exists(), f"local extension {name} not found in {folder}"
    assert "run_times" in CONFIG["sphinx"]["local_extensions"], "the run-times page needs the run_times extension"


# ---- citations ---------------------------------------------------------------------------------------------

def bib_keys() -> list[str]:
    keys = []
    for bib in CONFIG["bibtex_bibfiles"]:
        keys += re.findall(r"^@\w+\s*\{\s*([^,\s]+)\s*,", (ROOT / bib).read_text(), flags=re.MULTILINE)
    return keys


def test_bibliography_parses_without_duplicates():
    from pybtex.database import parse_file

    keys = bib_keys()
    assert len(keys) == len(set(keys)), f"duplicate keys: {sorted({k for k in keys if keys.count(k) > 1})}"
    for bib in CONFIG["bibtex_bibfiles"]:
        data = parse_file(str(ROOT / bib))
        for key, entry in data.entries.items():
            assert entry.fields.get("year") and entry.fields.get("title"), f"{key} needs a title and a year"
            assert entry.persons.get("author"), f"{key} needs authors"


def test_every_citation_is_in_the_bibliography():
    keys = set(bib_keys())
    unknown = []
    for where, text in markdown_texts():
        for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", text):
            unknown += [f"{where}: {k.strip()}" for k in group.split(",") if k.strip() not in keys]
    assert not unknown, f"citations missing from references.bib: {unknown}"


def test_references_page_has_a_bibliography():
    assert re.search(r"^```\{bibliography\}", (ROOT / "book" / "references.md").read_text(), flags=re.MULTILINE)


# ---- widgets: the site shows a static figure instead ---------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS)
def test_widget_outputs_are_removed_from_the_site(path):
    """An ipywidgets view cannot work on a static, offline page: its cell must be tagged remove-output
    (or remove-cell), and the chapter draws a static figure in another cell."""
    cells = json.loads((ROOT / f"{path}.ipynb").read_text())["cells"]
    shown = [i for i, c in enumerate(cells) if c["cell_type"] == "code"
             and any(WIDGET_VIEW in o.get("data", {}) for o in c.get("outputs", []))
             and not {"remove-output", "remove-cell"} & set(c.get("metadata", {}).get("tags", []))]
    assert not shown, f"{path}: cells {shown} show an ipywidgets output on the site; tag them 'remove-output'"


# ---- the run-times page ------------------------------------------------------------------------------------

def build_tiny_site(tmp_path: Path, times: dict | None, executed: dict | None = None) -> str:
    """Build a two-page Sphinx project that uses the run-times directive; return the page's HTML."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    src = tmp_path / "src"
    (src / "book").mkdir(parents=True)
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / CONFIG['sphinx']['local_extensions']['run_times'])!r})\n"
        "extensions = ['run_times']\nnitpicky = True\n")
    (src / "index.rst").write_text("Site\n====\n\n.. toctree::\n\n   book/anatomy\n   book/run_times\n")
    (src / "book" / "anatomy.rst").write_text("Anatomy of a chapter\n====================\n\nText.\n")
    (src / "book" / "run_times.rst").write_text("Run times\n=========\n\n.. run-times::\n")
    (src / "_toc.yml").write_text("root: index\nchapters:\n- file: book/anatomy\n- file: book/run_times\n")
    if times is not None:
        (src / "artifacts").mkdir()
        (src / "artifacts" / "notebook_times.json").write_text(json.dumps(times))
    if executed is not None:
        (src / "book" / "run_times.json").write_text(json.dumps(executed))
    out = tmp_path / "out"
    with docutils_namespace():  # several Sphinx apps in one process must not share docutils' registries
        app = Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees"), "html",
                     status=None, warning=None, freshenv=True, warningiserror=True)
        app.build()
    assert app.statuscode == 0
    return (out / "book" / "run_times.html").read_text()


def test_run_times_page_without_a_test_run(tmp_path):
    html = build_tiny_site(tmp_path, None)
    assert "No run times were recorded" in html


def test_run_times_page_before_any_test_run_shows_the_committed_runs(tmp_path):
    executed = {"notebooks": {"book/anatomy.ipynb": {"seconds": 21.5, "passed": True, "machine": "laptop, 4 CPU cores",
                                                     "measured": "2030-02-02 10:00 UTC"}}}
    html = build_tiny_site(tmp_path, None, executed)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "wall-clock time of rnn-course execute" in text and "laptop, 4 CPU cores" in text and "21.5" in text
    assert "No run times were recorded" not in html


def test_run_times_page_from_the_test_run(tmp_path):
    times = {"measured": "2030-01-01 00:00 UTC", "machine": "test machine, 2 CPU cores",
             "notebooks": {"book/anatomy.ipynb": {"seconds": 12.34, "cells": 20, "passed": True},
                           "tests/fixtures/x.ipynb": {"seconds": 1.0, "cells": 2, "passed": False}}}
    html = build_tiny_site(tmp_path, times)
    assert "test machine, 2 CPU cores" in html and "2030-01-01" in html
    assert "Anatomy of a chapter" in html, "the row should link to the chapter by its title"
    assert "12.3" in html and "13.3" in html  # one row and the total
    assert "FAILED" in html and "tests/fixtures/x.ipynb" in html


# ---- chapters' prose: MyST on the site, plain markdown in the committed notebook ----------------------------

def test_the_site_reads_each_chapters_myst_source(tmp_path):
    """book/_ext/myst_source puts the MyST source kept in a cell's metadata back before MyST-NB reads it."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / CONFIG['sphinx']['local_extensions']['myst_source'])!r})\n"
        "extensions = ['myst_nb', 'myst_source']\nnb_execution_mode = 'off'\nnitpicky = True\n")
    (src / "index.md").write_text("# Site\n\n```{toctree}\nchapter\n```\n")
    glued = {"output_type": "display_data", "data": {"application/papermill.record/text/plain": "0.125"},
             "metadata": {"scrapbook": {"mime_prefix": "application/papermill.record/", "name": "loss"}}}
    nb = {"cells": [{"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# A chapter"},
                    {"cell_type": "markdown", "id": "text", "source": "Colab text: the loss was 0.12.",
                     "metadata": {"rnn_course": {"myst": "Site text: the loss was {glue:text}`loss:.2f`.",
                                                 "rendered": "Colab text: the loss was 0.12."}}},
                    {"cell_type": "code", "id": "glue", "metadata": {}, "source": "", "outputs": [glued],
                     "execution_count": 1}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (src / "chapter.ipynb").write_text(json.dumps(nb))
    out = tmp_path / "out"
    with docutils_namespace():
        app = Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees"), "html",
                     status=None, warning=None, freshenv=True, warningiserror=True)
        app.build()
    html = (out / "chapter.html").read_text()
    assert "Site text: the loss was" in html and "0.12" in html and "Colab text" not in html
