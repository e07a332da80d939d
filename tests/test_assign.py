"""rnn_course_instructor.assign: master notebook -> student and solutions notebooks, and the up-to-date check."""
import ast
import importlib.resources
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from rnn_course_instructor import assign
from rnn_course_instructor.exercises.charlm import MASTER

ROOT = Path(__file__).resolve().parents[1]

CODE = '''import torch


class Model:
    """A model."""

    def __init__(self, n):
        self.n = n
        # BEGIN SOLUTION
        self.w = torch.zeros(n)
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION
        return x * 2
        # END SOLUTION


@torch.no_grad()
def score(model,
          data):
    if data is None:
        return 0.0
    # BEGIN SOLUTION
    return float(model.forward(data).sum())
    # END SOLUTION

VALUE = 3'''


def master_nb():
    cells = [new_markdown_cell("# Title", id="title"),
             new_code_cell(CODE, id="code"),
             new_markdown_cell("The answer is 42.", id="answer-md"),
             new_code_cell("assert VALUE == 3", id="claims"),
             new_code_cell("print(VALUE)", id="plain")]
    cells[2].metadata["tags"] = ["solution"]
    cells[3].metadata["tags"] = ["solutions-only"]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_student_code_replaces_blocks_by_stubs_at_their_indentation():
    student = assign.student_code(CODE)
    assert "BEGIN SOLUTION" not in student and "torch.zeros" not in student and "x * 2" not in student
    assert '        # TODO: implement Model.__init__ (see the instructions above)\n' \
           '        raise NotImplementedError("implement Model.__init__")' in student
    assert '        raise NotImplementedError("implement Model.forward")' in student
    assert '    raise NotImplementedError("implement score")' in student
    assert "self.n = n" in student and "return 0.0" in student and "VALUE = 3" in student


def test_student_stubs_do_not_raise_until_called():
    ns = {}
    exec(compile(assign.student_code(CODE), "student", "exec"), ns)  # defining the stubs is harmless
    assert ns["VALUE"] == 3
    assert ns["score"](None, None) == 0.0  # code outside the blocks still runs
    with pytest.raises(NotImplementedError, match="implement Model.__init__"):
        ns["Model"](3)
    with pytest.raises(NotImplementedError, match="implement score"):
        ns["score"](object(), 1)


def test_solution_code_keeps_solutions_and_drops_markers():
    solution = assign.solution_code(CODE)
    assert "SOLUTION" not in solution
    ns = {}
    exec(compile(solution, "solution", "exec"), ns)
    import torch

    assert ns["score"](ns["Model"](2), torch.ones(3)) == 6.0
    assert len(solution.split("\n")) == len(CODE.split("\n")) - 6


@pytest.mark.parametrize("source, message", [
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n", "never closed"),
    ("def f():\n    return 1\n    # END SOLUTION\n", "without a # BEGIN SOLUTION"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n", "inside another"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n# END SOLUTION\n", "not indented like"),
    ("x = 1  # BEGIN SOLUTION\n", "stand alone"),
    ("x = 1\n# BEGIN SOLUTION\ny = 2\n# END SOLUTION\n", "inside a function body"),
    ("class A:\n    # BEGIN SOLUTION\n    y = 2\n    # END SOLUTION\n", "inside a function body"),
    ("def f(:\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n", "valid Python"),
])
def test_bad_markup_is_refused(source, message):
    with pytest.raises(ValueError, match=message):
        assign.student_code(source, "cell 7")


def test_make_versions():
    student, solutions = assign.make_versions(master_nb(), "exercise/master.ipynb")
    assert [c.id for c in solutions.cells] == ["title", "code", "answer-md", "claims", "plain"]
    assert [c.id for c in student.cells] == ["title", "code", "answer-md", "plain"]  # solutions-only left out
    answer = student.cells[2]
    assert answer.cell_type == "markdown" and answer.metadata["tags"] == ["answer"] and "42" not in answer.source
    assert solutions.cells[2].source == "The answer is 42."
    assert "NotImplementedError" in student.cells[1].source and "SOLUTION" not in solutions.cells[1].source
    assert student.metadata["rnn_course"] == {"role": "student", "master": "exercise/master.ipynb"}
    assert solutions.metadata["rnn_course"]["role"] == "solutions"
    for nb in (student, solutions):
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                ast.parse(cell.source)


def test_make_versions_refuses_bad_cells():
    nb = master_nb()
    nb.cells[4].metadata["tags"] = ["solution"]
    with pytest.raises(ValueError, match="for markdown cells"):
        assign.make_versions(nb)
    nb = master_nb()
    nb.cells[0].source = "# BEGIN SOLUTION\n# END SOLUTION"
    with pytest.raises(ValueError, match="belong in code cells"):
        assign.make_versions(nb)


def test_generate_check_and_main(tmp_path, capsys):
    master = tmp_path / "master.ipynb"
    nbformat.write(master_nb(), master)
    out = tmp_path / "book"
    assert len(assign.check(master, out, "ex")) == 2  # both missing
    written = assign.generate(master, out, "ex")
    assert written == [out / "ex_exercise.ipynb", out / "ex_solutions.ipynb"]
    assert assign.check(master, out, "ex") == []
    # outputs and execution metadata do not make a notebook out of date, and are kept by a regeneration
    nb = nbformat.read(out / "ex_exercise.ipynb", as_version=4)
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", text="3\n")]
    nb.cells[3].metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    nbformat.write(nb, out / "ex_exercise.ipynb")
    assert assign.check(master, out, "ex") == [] and assign.generate(master, out, "ex") == []
    assert nbformat.read(out / "ex_exercise.ipynb", as_version=4).cells[3].outputs
    # a change in the master makes both stale
    changed = master_nb()
    changed.cells[4].source = "print(VALUE + 1)"
    nbformat.write(changed, master)
    problems = assign.check(master, out, "ex")
    assert len(problems) == 2 and all("out of date" in p for p in problems)
    assert "first difference: cell 3" in problems[0] and "first difference: cell 4" in problems[1]
    args = ["--master", str(master), "--out", str(out), "--name", "ex"]
    assert assign.main(args + ["--check"]) == 1
    assert assign.main(args) == 0
    assert assign.main(args + ["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_master_ships_with_the_package():
    resource = importlib.resources.files("rnn_course_instructor.exercises.charlm").joinpath("master.ipynb")
    assert resource.is_file() and Path(str(resource)) == MASTER


def test_committed_notebooks_are_up_to_date():
    problems = assign.check(MASTER, ROOT / "book", "charlm")
    assert problems == [], "regenerate with `python -m rnn_course_instructor.assign --execute`: " + "; ".join(problems)


def test_charlm_student_notebook_has_only_stubs():
    student = nbformat.read(ROOT / "book" / "charlm_exercise.ipynb", as_version=4)
    source = "\n".join(c.source for c in student.cells)
    assert "SOLUTION" not in source and "recurrent[kind](embed_dim" not in source
    for name in ("CharModel.__init__", "CharModel.forward", "n_parameters", "hidden_for_parameters", "train_step",
                 "bits_per_char", "bpc_after_reset", "sample", "suggest", "latency_per_char"):
        assert f'raise NotImplementedError("implement {name}")' in source
    assert [c.metadata.get("tags") for c in student.cells if c.cell_type == "markdown"].count(["answer"]) == 1


def test_the_solutions_page_has_a_title_of_its_own():
    student = nbformat.read(ROOT / "book" / "charlm_exercise.ipynb", as_version=4)
    solutions = nbformat.read(ROOT / "book" / "charlm_solutions.ipynb", as_version=4)
    title = lambda nb: nb.cells[0].source.splitlines()[0]
    assert title(student).startswith("# Exercise:") and title(solutions).startswith("# Solutions:")
    assert title(student)[len("# Exercise:"):] == title(solutions)[len("# Solutions:"):]
