"""rnn_course.prose: MyST prose rendered as plain markdown with the run's numbers, and the MyST source kept."""
import json

import pytest

from rnn_course.prose import (KEY, format_plain_text, glued_values, myst_notebook, raw_roles, render_notebook)

BIB = """@article{hochreiter1997long, author = {Hochreiter, Sepp and Schmidhuber, J{\\"u}rgen}, title = {Long
short-term memory}, year = {1997}}
@inproceedings{greff2017lstm, author = {Greff, Klaus and Srivastava, Rupesh and Koutnik, Jan}, title = {LSTM},
year = {2017}}
"""


def glue_output(name, text):
    return {"output_type": "display_data", "data": {"application/papermill.record/text/plain": text},
            "metadata": {"scrapbook": {"mime_prefix": "application/papermill.record/", "name": name}}}


def notebook(*markdown, outputs=()):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": m} for m in markdown]
    cells.append({"cell_type": "code", "metadata": {}, "source": "", "outputs": list(outputs), "execution_count": 1})
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def bib(tmp_path):
    path = tmp_path / "references.bib"
    path.write_text(BIB)
    return path


def test_numbers_citations_and_equations_become_plain_markdown(bib):
    nb = notebook("The GRU solved it in {glue:text}`steps` steps, a loss of {glue:text}`loss:.3f` "
                  "({glue:text}`share:.0%` of chance), as {cite:t}`hochreiter1997long` predicted "
                  "{cite:p}`hochreiter1997long,greff2017lstm`.",
                  "$$\na = b\n$$ (first)\n\nand\n\n$$\nc = d\n$$ (second)\n\nby {eq}`second` and {eq}`first`.",
                  outputs=[glue_output("steps", "250"), glue_output("loss", "0.012345"),
                           glue_output("share", "0.07")])
    assert render_notebook(nb, bib) == 2
    first, second = nb["cells"][0]["source"], nb["cells"][1]["source"]
    assert first == ("The GRU solved it in 250 steps, a loss of 0.012 (7% of chance), as Hochreiter and "
                     "Schmidhuber (1997) predicted (Hochreiter and Schmidhuber, 1997; Greff et al., 2017).")
    assert second == "$$\na = b\n\\tag{1}\n$$\n\nand\n\n$$\nc = d\n\\tag{2}\n$$\n\nby (2) and (1)."
    assert raw_roles(first + second) == []
    assert nb["cells"][0]["metadata"][KEY]["myst"].startswith("The GRU solved it in {glue:text}`steps`")


def test_rendering_again_uses_the_stored_source_and_new_numbers(bib):
    nb = notebook("x = {glue:text}`x`", outputs=[glue_output("x", "1")])
    render_notebook(nb, bib)
    nb["cells"][1]["outputs"] = [glue_output("x", "2")]  # the next run
    render_notebook(nb, bib)
    assert nb["cells"][0]["source"] == "x = 2"
    nb["cells"][0]["source"] = "x is now {glue:text}`x:.1f`"  # an author edits the prose
    render_notebook(nb, bib)
    assert nb["cells"][0]["source"] == "x is now 2.0" and nb["cells"][0]["metadata"][KEY]["myst"].endswith(":.1f`")
    assert myst_notebook(nb) == 1 and nb["cells"][0]["source"] == "x is now {glue:text}`x:.1f`"


def test_plain_cells_are_left_alone(bib):
    nb = notebook("Nothing to fill in: `code` and $x^2$.")
    assert render_notebook(nb, bib) == 0
    assert nb["cells"][0]["source"] == "Nothing to fill in: `code` and $x^2$." and KEY not in nb["cells"][0]["metadata"]


@pytest.mark.parametrize("markdown, message", [
    ("{glue:text}`missing`", "names no glued value"), ("{cite:t}`nobody2020`", "not in the bibliography"),
    ("{eq}`nowhere`", "refers to no labelled equation"), ("{numref}`fig-1`", "has no plain rendering")])
def test_what_cannot_be_rendered_is_an_error(bib, markdown, message):
    with pytest.raises(ValueError, match=message):
        render_notebook(notebook(markdown), bib, "chapter.ipynb")


def test_a_citation_needs_the_bibliography(tmp_path):
    with pytest.raises(ValueError, match="the bibliography .* is missing"):
        render_notebook(notebook("{cite:p}`a`"), tmp_path / "none.bib")


@pytest.mark.parametrize("text, spec", [("0.123456", ".2f"), ("7", ""), ("'GRU'", ""), ("0.07", ".0%"),
                                        ("12345.6", ",.0f"), ("3", "d"), ("'a b'", "s"), ("2.5e-19", ".1e")])
def test_formats_as_myst_nb_does(text, spec):
    myst_nb_variables = pytest.importorskip("myst_nb.core.variables")
    assert format_plain_text(text, spec) == myst_nb_variables.format_plain_text(text, spec)


def test_glued_values_are_read_from_the_outputs():
    nb = json.loads(json.dumps(notebook("", outputs=[glue_output("a", "1.5"), {"output_type": "stream",
                                                                               "name": "stdout", "text": "x"}])))
    assert glued_values(nb) == {"a": "1.5"}


def test_a_page_is_named_by_its_title(tmp_path, bib):
    (tmp_path / "other.md").write_text("# The other chapter\n\ntext\n")
    nb = notebook("See {doc}`other` and {doc}`its neighbour <other>`.")
    render_notebook(nb, bib, folder=tmp_path)
    assert nb["cells"][0]["source"] == "See *The other chapter* and *its neighbour*."
    with pytest.raises(ValueError, match="names no page"):
        render_notebook(notebook("{doc}`nowhere`"), bib, folder=tmp_path)
