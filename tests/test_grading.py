"""The grader: reading submissions, moving values out of a kernel safely, scoring, the CSV, and the fixtures.

The fixture submissions are graded end to end through ``rnn-course grade`` (two at a time) and must get
exactly their expected scores: the solution full marks, the student version zero, each failure mode losing
only the questions that depend on the broken cell, and each cheating attempt nothing. Two sets:

- a tiny stand-in exercise (``tests/fixtures/toy``, 6 points), one committed notebook per failure mode
  (``tests/fixtures/submissions/toy``, scores in ``toy_expected.json``; ``make_fixtures.py`` rebuilds them);
- the char-LM exercise (19 points), its fixtures made at test time from the committed solutions and student
  notebooks by the edits in ``tests/fixtures/submissions/charlm.json``, so they follow the master.
"""
from __future__ import annotations

import collections
import csv
import hashlib
import io
import json
import os
import shutil
import sys
import time
import types
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

from rnn_course import cli
from rnn_course_instructor.exercises.charlm import MASTER
from rnn_course_instructor.grading import Exercise, Marker, Question, compare, load_exercise, transfer
from rnn_course_instructor.grading.files import find_entries
from rnn_course_instructor.grading.gradescope import results_json
from rnn_course_instructor.grading.report import columns, read_csv, result_row, write_csv_atomic
from rnn_course_instructor.grading.runner import QuestionGrade, Result
from rnn_course_instructor.grading.submission import SubmissionError, defined_names, defining_cells, read_submission
from rnn_course_instructor.grading.transfer import (HARNESS_PRELOAD, check_plain, payload_for, probe_code,
                                                    read_result)

FIXTURES = Path(__file__).parent / "fixtures"
TOY = FIXTURES / "toy" / "questions.py"
SUBMISSIONS = FIXTURES / "submissions"


def write_nb(path: Path, *sources: str) -> Path:
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), str(path))
    return path


def toy_exercise() -> Exercise:
    return load_exercise(str(TOY))


# --- reading submissions -------------------------------------------------------------------------

def test_read_submission_labels_what_cannot_be_graded(tmp_path):
    cases = {
        "essay.txt": ("text", "not a notebook"),
        "cut.ipynb": ('{"cells": [', "malformed notebook"),
        "list.ipynb": ("[1, 2]", "malformed notebook"),
        "nocells.ipynb": ('{"metadata": {}}', "malformed notebook"),
        "badcell.ipynb": ('{"cells": [{"source": "x"}], "nbformat": 4}', "malformed notebook"),
        "v3.ipynb": ('{"cells": [], "nbformat": 3}', "malformed notebook"),
        "binary.ipynb": (b"\xff\xfe\x00garbage", "malformed notebook"),
    }
    for name, (content, status) in cases.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(SubmissionError) as err:
            read_submission(path)
        assert err.value.status == status, name
    nbformat.write(new_notebook(cells=[new_code_cell("  \n")]), str(tmp_path / "blank.ipynb"))
    with pytest.raises(SubmissionError, match="no code") as err:
        read_submission(tmp_path / "blank.ipynb")
    assert err.value.status == "empty notebook"
    with pytest.raises(SubmissionError, match="not a file"):
        read_submission(tmp_path / "missing.ipynb")


def test_read_submission_keeps_code_cells_in_order(tmp_path):
    sub = read_submission(write_nb(tmp_path / "a.ipynb", "x = 1", "", "y = x + 1"))
    assert sub.cells == ["x = 1", "y = x + 1"]
    assert len(sub.sha256) == 64 and sub.label(0) == "code cell 1"


def test_defined_names_sees_top_level_bindings_only():
    src = """\
%matplotlib inline
import torch.nn as nn, os
from math import pi as PI
!pip install nothing
files = !ls
a, (b, *c) = 1, (2, 3)
d: int = 4
for i, j in []:
    k = 0
with open("f") as (fh):
    pass
if True:
    e = 5
try:
    f = 6
except Exception:
    g = 7
def h():
    local = 1
    (w := 2)
class K:
    attr = 1
(n := 8)
"""
    assert defined_names(src) == {"nn", "os", "PI", "files", "a", "b", "c", "d", "i", "j", "k", "fh", "e", "f",
                                  "g", "h", "K", "n"}
    assert defined_names("def broken(:\n    pass") == set()
    assert defined_names("%%bash\necho hi") == set()
    assert defining_cells(["x = 1", "y = 2", "x = 3"]) == {"x": [0, 2], "y": [1]}


# --- values out of the kernel ----------------------------------------------------------------------

class Sneaky:
    """Claims to equal anything (a cheating attempt)."""

    def __eq__(self, other):
        return True


class LyingTensor(torch.Tensor):
    def __eq__(self, other):
        return True


def test_check_plain_accepts_only_exact_plain_types():
    value = {"a": [1, 2.0, True, None, "s", (torch.zeros(2),)], "b": {}}
    assert check_plain(value) is value
    for bad in [Sneaky(), {1: 2}, [Sneaky()], torch.zeros(1).as_subclass(LyingTensor), {"k": {1, 2}}]:
        with pytest.raises(TypeError):
            check_plain(bad)
    deep = []
    for _ in range(30):
        deep = [deep]
    with pytest.raises(TypeError, match="deep"):
        check_plain(deep)


def _saved(value) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def test_read_result_refuses_objects_and_oversized_data():
    out = read_result(_saved({"y": torch.nn.Parameter(torch.ones(2)), "n": 3,
                              "sd": collections.OrderedDict(w=torch.zeros(1)), "size": torch.Size([2, 3])}))
    assert type(out["y"]) is torch.Tensor and type(out["sd"]) is dict and out["size"] == (2, 3)
    for bad in [Sneaky(), torch.zeros(2).as_subclass(LyingTensor)]:
        with pytest.raises(ValueError, match="not plain data"):
            read_result(_saved(bad))
    with pytest.raises(ValueError, match="MiB allowed"):
        read_result(_saved(torch.zeros(300_000)), max_mb=1)  # 1.2 MB
    with pytest.raises(ValueError, match="not a torch.save archive"):
        read_result(b"not a torch file")


def _probe_for_test(ns, inputs):
    return ns["f"](inputs["x"])


def _kernel_side(code: str, ns: dict) -> list[str]:
    """Run probe code as a kernel would (the harness installed, IPython's publishing captured)."""
    import IPython.display

    published = []
    original = IPython.display.publish_display_data
    IPython.display.publish_display_data = lambda data, **kw: published.append(data[transfer.MIME])
    saved = sys.modules.get("_rnn_course_probe")
    try:
        exec(HARNESS_PRELOAD, {})
        harness = sys.modules["_rnn_course_probe"]
        harness.IPython = types.SimpleNamespace(get_ipython=lambda: types.SimpleNamespace(user_ns=ns),
                                                display=IPython.display)
        exec(code, ns)
    finally:
        IPython.display.publish_display_data = original
        if saved is None:
            sys.modules.pop("_rnn_course_probe", None)
    return published


def test_probe_code_runs_the_probe_in_a_harness_the_notebook_cannot_replace():
    code = probe_code(_probe_for_test, {"x": torch.ones(2)}, "t1")
    assert "def _probe_for_test(ns, inputs)" in code and "t1" in code
    compile(code, "<test>", "exec")  # valid Python
    # A namespace that lies about everything, and shadows the builtins the harness uses.
    ns = {"f": lambda x: [x * 2, Sneaky()], "exec": lambda *a: None, "compile": None, "isinstance": None}
    with pytest.raises(TypeError, match="cannot send back an object of type Sneaky"):
        _kernel_side(code, ns)
    ns = {"f": lambda x: (x * 2).as_subclass(LyingTensor)}
    data, _ = payload_for(_kernel_side(probe_code(_probe_for_test, {"x": torch.ones(2)}, "t2"), ns), "t2", 16)
    assert type(read_result(data)) is torch.Tensor  # sent back as a plain tensor: the subclass is gone
    ns = {"f": lambda x: {"y": torch.nn.Parameter(x * 2), "n": torch.tensor(1.5).numpy()}}
    sent = _kernel_side(probe_code(_probe_for_test, {"x": torch.ones(2)}, "t3"), ns)
    with pytest.raises(ValueError, match="returned nothing"):
        payload_for(sent, "another token", 16)
    out = read_result(payload_for(sent, "t3", 16)[0])
    assert type(out["y"]) is torch.Tensor and torch.equal(out["y"], torch.full((2,), 2.0)) and out["n"] == 1.5
    with pytest.raises(ValueError, match="must be a function"):
        probe_code("not a function", {}, "t4")
    with pytest.raises(TypeError):
        probe_code(_probe_for_test, {"x": Sneaky()}, "t5")


def _probe_modes(ns, inputs):
    import torch

    return {"grad": torch.is_grad_enabled(), "dtype": str(torch.get_default_dtype())}


def test_probes_run_with_gradients_whatever_a_later_cell_set():
    torch.set_grad_enabled(False)
    torch.set_default_dtype(torch.float64)
    try:
        sent = _kernel_side(probe_code(_probe_modes, {}, "g"), {})
    finally:
        torch.set_grad_enabled(True)
        torch.set_default_dtype(torch.float32)
    data, notes = payload_for(sent, "g", 16)
    assert read_result(data) == {"grad": True, "dtype": "torch.float32"}
    assert any("gradients were turned off" in n for n in notes) and any("float64" in n for n in notes)


# --- questions and scores ----------------------------------------------------------------------------

def test_marker_records_every_lost_point():
    mark = Marker(3)
    assert mark.expect(True, 1, "never shown")
    assert not mark.expect(False, 1, "first")
    assert not mark.expect("truthy", 1, "only a real True counts")
    assert not mark.expect(False, 5, "capped at what is left")
    assert mark.score == 0
    assert mark.lost == [(1, "first"), (1, "only a real True counts"), (1, "capped at what is left")]
    mark = Marker(2)
    mark.fail("all of it")
    mark.fail("nothing left to lose")
    assert mark.lost == [(2, "all of it")]


def test_compare_says_what_is_wrong():
    ref = torch.ones(2, 3)
    assert compare(ref.clone(), ref, "y") == (True, "")
    assert "got float" in compare(1.0, ref, "y")[1]
    assert "shape (3, 2)" in compare(torch.ones(3, 2), ref, "y")[1]
    assert "max abs error 1" in compare(torch.zeros(2, 3), ref, "y")[1]
    assert "NaN" in compare(torch.full((2, 3), float("nan")), ref, "y")[1]
    assert "dtype" in compare(torch.ones(2, 3, dtype=torch.complex64), ref, "y")[1]
    assert compare(torch.ones(2, 3, dtype=torch.float64) + 1e-7, ref, "y")[0]


def _probe_nothing(ns, inputs):
    return None


def test_question_and_exercise_validate_their_fields():
    probe, check = _probe_nothing, (lambda mark, out, inputs: None)
    with pytest.raises(ValueError, match="plain def"):
        Question("q", 1, "t", (), lambda ns, inputs: None, check)
    with pytest.raises(ValueError, match="identifier"):
        Question("two words", 1, "t", (), probe, check)
    with pytest.raises(ValueError, match="positive"):
        Question("q", 0, "t", (), probe, check)
    with pytest.raises(ValueError, match="tuple of names"):
        Question("q", 1, "t", "scale", probe, check)
    q = Question("q", 1, "t", (), probe, check)
    with pytest.raises(ValueError, match="repeat"):
        Exercise("e", (q, q))
    with pytest.raises(ValueError, match="no questions"):
        Exercise("e", ())
    with pytest.raises(ValueError, match="may not be"):
        Exercise("e", (Question("total", 1, "t", (), probe, check),))
    with pytest.raises(ValueError, match="no built-in exercise"):
        load_exercise("no_such_exercise")
    with pytest.raises(ValueError, match="built-in name"):
        load_exercise("../x")
    with pytest.raises(ValueError, match="does not exist"):
        load_exercise("/nonexistent/questions.py")


# --- the CSV and Gradescope -------------------------------------------------------------------------

def _result(name="a.ipynb", status="graded"):
    return Result(name, status, "ab" * 32,
                  [QuestionGrade("scale", 2, 2.0), QuestionGrade("model", 3, 1.0, [(2, "wrong output")]),
                   QuestionGrade("accuracy", 1, 0.0, [(1, "not defined")])],
                  ["code cell 3 timed out"], "", 12.34, 7)


def test_csv_rows_are_written_atomically_and_checked_on_reread(tmp_path):
    ex = toy_exercise()
    row = result_row(_result(), ex)
    assert row["total"] == "3" and row["max"] == "6" and row["model"] == "1"
    assert row["reasons"] == "model -2: wrong output | accuracy -1: not defined"
    out = tmp_path / "grades.csv"
    write_csv_atomic(out, {"b": {**row, "submission": "b"}, "a": row}, ex)
    assert [r["submission"] for r in csv.DictReader(out.open())] == ["a.ipynb", "b"]
    assert read_csv(out, ex)["a.ipynb"] == row
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]  # no temporary file left
    out.write_text("submission,status,other\n")
    with pytest.raises(ValueError, match="another --out"):
        read_csv(out, ex)
    assert columns(ex)[2:5] == ["scale", "model", "accuracy"]
    assert result_row(_result("=1+1.ipynb"), ex)["submission"] == "'=1+1.ipynb"  # never a formula
    assert result_row(_result("@x, -y, +z"), ex)["submission"] == "'@x, -y, +z"


def test_rubric_columns_are_left_to_a_person_and_kept_on_regrading(tmp_path, capsys):
    import dataclasses

    from rnn_course_instructor.grading.spec import Rubric

    with pytest.raises(ValueError, match="add up"):
        Rubric("essay", 3, ((1, "a"), (1, "b")))
    with pytest.raises(ValueError, match="identifier"):
        Rubric("two words", 1, ((1, "a"),))
    ex = dataclasses.replace(toy_exercise(), rubric=(Rubric("essay", 2, ((1, "a claim"), (1, "its evidence"))),))
    with pytest.raises(ValueError, match="rubric names"):
        dataclasses.replace(ex, rubric=(Rubric("scale", 1, ((1, "a"),)),))
    assert columns(ex)[columns(ex).index("max") + 1:][:2] == ["manual_essay", "manual_max"]
    row = result_row(_result(), ex)
    assert row["manual_essay"] == "" and row["manual_max"] == "2" and row["max"] == "6"  # automatic points apart
    filled = {**row, "manual_essay": "1.5"}  # what the instructor typed into the spreadsheet
    again = result_row(_result(), ex, filled)
    assert again["manual_essay"] == "1.5" and again["total"] == row["total"]
    out = tmp_path / "grades.csv"
    write_csv_atomic(out, {"a.ipynb": again}, ex)
    assert read_csv(out, ex)["a.ipynb"]["manual_essay"] == "1.5"
    assert "manual_essay" in ex.rubric_text() and "its evidence" in ex.rubric_text()
    assert cli.main(["rubric"]) == 0 and "manual_recommendation" in capsys.readouterr().out


def test_gradescope_results_have_one_test_per_question():
    ex = toy_exercise()
    res = results_json(_result(), ex)
    assert res["score"] == 3 and [t["max_score"] for t in res["tests"]] == [2, 3, 1]
    assert [t["status"] for t in res["tests"]] == ["passed", "failed", "failed"]
    assert res["tests"][1]["output"] == "-2: wrong output" and "timed out" in res["output"]
    json.dumps(res)


def test_find_entries_reads_files_and_student_folders(tmp_path):
    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / ".DS_Store").write_text("")
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "charlm.ipynb").write_text("{}")
    (tmp_path / "bob" / "notes.txt").write_text("")
    (tmp_path / "eve").mkdir()
    (tmp_path / "eve" / "answer.py").write_text("")
    assert [e.name for e in find_entries(tmp_path)] == ["a.ipynb", "bob/charlm.ipynb", "eve/answer.py"]
    assert [(e.name, e.path) for e in find_entries(tmp_path / "a.ipynb")] == [("a.ipynb", tmp_path / "a.ipynb")]
    with pytest.raises(ValueError, match="neither"):
        find_entries(tmp_path / "missing")


def test_grade_never_grades_its_own_outputs(tmp_path, capsys):
    (tmp_path / "essay.txt").write_text("no notebook")
    args = ["grade", str(tmp_path), "--exercise", str(TOY), "--out", str(tmp_path / "grades.csv"),
            "--gradescope", str(tmp_path / "gs")]
    assert cli.main(args) == 0 and cli.main(args) == 0
    rows = list(csv.DictReader((tmp_path / "grades.csv").open()))
    assert [(r["submission"], r["status"], r["total"]) for r in rows] == [("essay.txt", "not a notebook", "0")]
    assert "skipped 1 already graded" in capsys.readouterr().out
    result = json.loads((tmp_path / "gs" / "essay.txt" / "results.json").read_text())
    assert result["score"] == 0 and "not an .ipynb file" in result["output"]


# --- the command line -------------------------------------------------------------------------------

def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path), "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
    assert cli.main(["grade", str(tmp_path / "missing"), "--exercise", str(TOY), "--out",
                     str(tmp_path / "g.csv")]) == 2
    assert "neither a submission file nor a folder" in capsys.readouterr().err
    assert cli.main(["execute", str(tmp_path / "x.txt")]) == 2


def test_cli_assign_makes_the_student_and_solutions_notebooks(tmp_path, capsys):
    master = FIXTURES / "toy" / "master.ipynb"
    args = ["assign", "--master", str(master), "--out", str(tmp_path), "--name", "toy"]
    assert cli.main(args) == 0 and cli.main(args + ["--check"]) == 0
    for made, fixture in (("toy_exercise", "student"), ("toy_solutions", "solution")):
        code = [c.source for c in nbformat.read(str(tmp_path / f"{made}.ipynb"), 4).cells if c.cell_type == "code"]
        committed = nbformat.read(str(SUBMISSIONS / "toy" / f"{fixture}.ipynb"), 4)
        assert code == [c.source for c in committed.cells if c.cell_type == "code"], fixture
    assert "up to date" in capsys.readouterr().out


def test_cli_execute_rewrites_outputs_and_keeps_failing_notebooks(tmp_path, capsys):
    good = write_nb(tmp_path / "good.ipynb", "print(6 * 7)")
    bad = write_nb(tmp_path / "bad.ipynb", "x = 1", "1 / 0")
    before = bad.read_text()
    assert cli.main(["execute", str(good), str(bad), "--timeout", "120"]) == 1
    out = capsys.readouterr().out
    assert "good.ipynb  ok" in out and "bad.ipynb  FAILED, left unchanged" in out and "1 failed" in out
    cell = nbformat.read(str(good), as_version=4).cells[0]
    assert cell.outputs[0]["text"] == "42\n"
    assert bad.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ipynb", "good.ipynb", "run_times.json"]
    times = json.loads((tmp_path / "run_times.json").read_text())["notebooks"]
    assert list(times) == [f"{tmp_path.name}/good.ipynb"] and times[f"{tmp_path.name}/good.ipynb"]["seconds"] > 0


# --- the fixture submissions, graded end to end -------------------------------------------------------

def _grade_fixture_set(tmp_path_factory, exercise: str, folder: Path, expected: dict, jobs: int = 2,
                       seed: int | None = None):
    subs = tmp_path_factory.mktemp("submissions")
    for name in expected:
        shutil.copy(folder / name, subs / name)
    out = subs.parent / f"{subs.name}.csv"
    gs = subs.parent / f"{subs.name}-gradescope"
    start = time.monotonic()
    code = cli.main(["grade", str(subs), "--exercise", exercise, "--out", str(out), "--jobs", str(jobs),
                     "--gradescope", str(gs)] + ([] if seed is None else ["--seed", str(seed)]))
    seconds = time.monotonic() - start
    rows = {r["submission"]: r for r in csv.DictReader(out.open())}
    return code, rows, subs, out, gs, seconds


def assert_expected_rows(rows: dict, expected: dict) -> None:
    """Every graded row has its fixture's status, scores and incidents, and every lost point has its reason."""
    wrong = {}
    for name, spec in expected.items():
        row = rows[name]
        got = {q: float(row[q]) for q in spec["scores"]}
        missing = [text for text in spec.get("incidents", []) if text not in row["incidents"]]
        if row["status"] != spec["status"] or got != spec["scores"] or missing:
            wrong[name] = (row["status"], got, row["reasons"], row["incidents"])
    assert not wrong, wrong
    for name, row in rows.items():
        assert (float(row["total"]) == float(row["max"])) == (row["reasons"] == ""), name


@pytest.fixture(scope="module")
def toy_graded(tmp_path_factory):
    expected = json.loads((SUBMISSIONS / "toy_expected.json").read_text())
    return (expected, *_grade_fixture_set(tmp_path_factory, str(TOY), SUBMISSIONS / "toy", expected))


@pytest.mark.slow
def test_toy_fixtures_get_their_expected_scores(toy_graded):
    expected, code, rows, _, _, _, seconds = toy_graded
    print(f"graded {len(rows)} toy fixtures in {seconds:.1f} s")
    assert sorted(rows) == sorted(expected)
    assert_expected_rows(rows, expected)  # first: it shows the reasons of a row that went wrong
    assert code == 0


@pytest.mark.slow
def test_toy_reasons_name_the_broken_cell(toy_graded):
    rows = toy_graded[2]
    assert "os._exit" not in rows["os_exit.ipynb"]["reasons"]
    assert "code cell 3, which defines it, stopped the kernel (exit status 1)" in rows["os_exit.ipynb"]["reasons"]
    assert "SIGSEGV" in rows["crash.ipynb"]["incidents"]
    assert "kernel was killed" in rows["stubborn_loop.ipynb"]["reasons"]
    assert "MemoryError" in rows["memory_bomb.ipynb"]["reasons"]
    assert "exit() was called" in rows["exit.ipynb"]["reasons"]
    assert "cannot send back an object of type AlwaysEqual" in rows["cheat_equal.ipynb"]["reasons"]
    assert "NotImplementedError" in rows["cheat_print.ipynb"]["reasons"]


@pytest.mark.slow
def test_toy_rerun_skips_graded_and_regrades_on_request(toy_graded, capsys):
    _, _, rows, subs, out, gs, _ = toy_graded
    assert (gs / "partial.ipynb" / "results.json").exists()
    assert json.loads((gs / "solution.ipynb" / "results.json").read_text())["score"] == 6
    before = out.read_text()
    assert cli.main(["grade", str(subs), "--exercise", str(TOY), "--out", str(out)]) == 0
    assert out.read_text() == before
    assert f"skipped {len(rows)} already graded" in capsys.readouterr().out
    # A changed file is graded again, even without --regrade; --regrade grades everything again.
    shutil.copy(subs / "student.ipynb", subs / "solution.ipynb")
    for path in list(subs.iterdir()):
        if path.name not in ("solution.ipynb", "essay.txt"):
            path.unlink()
    assert cli.main(["grade", str(subs), "--exercise", str(TOY), "--out", str(out)]) == 0
    assert "grading 1 submission(s)" in capsys.readouterr().out
    new = read_csv(out, toy_exercise())
    assert new["solution.ipynb"]["total"] == "0" and new["partial.ipynb"] == rows["partial.ipynb"]
    (subs / "solution.ipynb").unlink()
    assert cli.main(["grade", str(subs), "--exercise", str(TOY), "--out", str(out), "--regrade"]) == 0
    assert "grading 1 submission(s)" in capsys.readouterr().out
    assert read_csv(out, toy_exercise())["essay.txt"]["seed"] != rows["essay.txt"]["seed"]


# --- the char-LM exercise --------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
CHARLM = json.loads((SUBMISSIONS / "charlm.json").read_text())["fixtures"]


def make_charlm_fixture(spec: dict, path: Path) -> Path:
    """A char-LM submission: the committed solutions or student notebook, with ``spec``'s edits."""
    base = {"solutions": "charlm_solutions.ipynb", "student": "charlm_exercise.ipynb"}[spec["base"]]
    nb = nbformat.read(str(ROOT / "book" / base), as_version=4)
    cells = {c.get("id"): c for c in nb.cells}
    for edit in spec["edits"]:
        if "new_cell" in edit:
            nb.cells.append(new_code_cell(edit["new_cell"]))
            continue
        cell = cells[edit["cell"]]
        if "replace" in edit:
            old, new = edit["replace"]
            assert old in cell.source, f"fixture edit no longer matches cell {edit['cell']!r}: {old!r}"
            cell.source = cell.source.replace(old, new)
        cell.source = edit.get("prepend", "") + cell.source + edit.get("append", "")
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def charlm_graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("charlm-fixtures")
    for name, spec in CHARLM.items():
        make_charlm_fixture(spec, folder / name)
    # Fixed test inputs: whether a flawed variant's flaw shows depends on the inputs drawn (the unfair sampler,
    # which drops the unknown character after the top-k cut, loses its point only when the k-th character is
    # likely enough to be missed), so each fixture's expected score is a fact of these inputs.
    return _grade_fixture_set(tmp_path_factory, "charlm", folder, CHARLM, seed=1)


def test_charlm_questions_cover_the_exercise():
    ex = load_exercise("charlm")
    assert ex.max_points == 19 and float(ex.env["RNN_COURSE_BUDGET_SCALE"]) <= 0.05
    needed = {n for q in ex.questions for n in q.needs}
    assert needed == {"CharModel", "n_parameters", "hidden_for_parameters", "train_step", "bits_per_char",
                      "bpc_after_reset", "sample", "suggest", "latency_per_char"}
    assert [r.column for r in ex.rubric] == ["manual_recommendation"]
    master = MASTER.read_text()
    assert all(f"`{name}`" in master for name in needed)  # the names the master tells learners to define
    for spec in CHARLM.values():
        assert set(spec["scores"]) == {q.name for q in ex.questions}


@pytest.mark.slow
def test_charlm_fixtures_get_their_expected_scores(charlm_graded):
    code, rows, _, _, gs, seconds = charlm_graded
    print(f"graded {len(rows)} char-LM fixtures in {seconds:.1f} s")
    assert sorted(rows) == sorted(CHARLM)
    assert_expected_rows(rows, CHARLM)  # first: it shows the reasons of a row that went wrong
    assert code == 0
    assert json.loads((gs / "solution.ipynb" / "results.json").read_text())["score"] == 19


def test_charlm_train_step_is_graded_at_the_exercises_clip():
    """A notebook that raises its own CLIP and does not clip must not get the clipping point."""
    import torch.nn as nn
    import torch.nn.functional as F

    from rnn_course_instructor.charlm import train_step as reference_step
    from rnn_course_instructor.exercises.charlm import questions as q

    def no_clip(model, optimizer, x, y, state=None):
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item(), tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()

    def clip_at_1(model, optimizer, x, y, state=None):
        return reference_step(model, optimizer, x, y, state, clip=1.0)

    inputs = q.train_step_inputs(torch.Generator().manual_seed(0))
    scores = {}
    for name, fn in (("no clip", no_clip), ("clip 1", clip_at_1)):
        mark = Marker(3)
        q.check_train_step(mark, q.probe_train_step({"train_step": fn, "CLIP": 1e9, "nn": nn}, inputs), inputs)
        scores[name] = mark.score
    assert scores["clip 1"] == 3
    assert scores["no clip"] < 3


# --- results built to exhaust the grader ----------------------------------------------------------------

def test_read_result_refuses_what_would_exhaust_the_grader():
    with pytest.raises(ValueError, match="more than 4,000,000 elements"):
        read_result(_saved(torch.zeros(1).expand(50_000, 50_000)))  # a few bytes that stand for 2.5e9 floats
    shared = [0.0] * 1000
    for _ in range(5):
        shared = [shared] * 1000
    with pytest.raises(ValueError, match="more than 200,000 values"):
        read_result(_saved(shared))
    plain = zipfile.ZipFile(io.BytesIO(_saved(torch.zeros(1000))))
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as z:
        for info in plain.infolist():
            z.writestr(info.filename, plain.read(info))
    with pytest.raises(ValueError, match="compressed"):
        read_result(deflated.getvalue())
    assert torch.equal(read_result(_saved(torch.zeros(1000))), torch.zeros(1000))
    with pytest.raises(ValueError, match="larger than"):
        payload_for(["x" * (2 * 2**20)], "t", 1)


# --- names, shapes and the similarity report ----------------------------------------------------------

def test_names_are_shown_as_printable_text_and_odd_files_never_block(tmp_path):
    from rnn_course_instructor.grading.files import display_name, snapshot

    assert display_name(os.fsdecode(b"caf\xe9.ipynb")) == "caf\\xe9.ipynb"
    assert display_name("new\nline.ipynb") == "new\\x0aline.ipynb" and display_name("été.ipynb") == "été.ipynb"
    os.mkfifo(tmp_path / "pipe.ipynb")
    (tmp_path / "link.ipynb").symlink_to("/etc/passwd")
    (tmp_path / "UPPER.IPYNB").write_text("{}")
    (tmp_path / "empty").mkdir()
    entries = {e.name: e for e in find_entries(tmp_path)}
    assert "FIFO" in entries["pipe.ipynb"].problem and "outside the folder" in entries["link.ipynb"].problem
    assert entries["empty/"].problem and not entries["UPPER.IPYNB"].problem
    snaps = tmp_path.parent / f"{tmp_path.name}-snaps"
    snaps.mkdir()
    copy = snapshot(entries["UPPER.IPYNB"], snaps, 0).copy
    assert copy.read_text() == "{}" and entries["UPPER.IPYNB"].sha256 == hashlib.sha256(b"{}").hexdigest()
    deep = tmp_path / "deep.ipynb"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SubmissionError, match="too deeply"):
        read_submission(deep)


def test_similarity_sees_renamed_copies_and_ignores_the_template():
    from rnn_course_instructor.grading.similarity import REFERENCE, closest

    template = ["import torch\n\ndef helper(x):\n    return x + 1\n" * 3]
    mine = ["def train(model, data, steps):\n    total = 0.0\n    for step in range(steps):\n"
            "        loss = model(data[step]).sum()\n        loss.backward()\n        total += loss.item()\n"
            "    return total / steps\n"]
    renamed = [mine[0].replace("total", "acc").replace("model", "net").replace("steps", "n")]
    other = ["def train(net, batches):\n    return sum(float(net(b).mean()) for b in batches) / len(batches)\n"
             "class Wrapper:\n    pass\n" * 2]
    result = closest({"a.ipynb": template + mine, "b.ipynb": template + renamed, "c.ipynb": template + other,
                      "stub.ipynb": template}, template=template, reference=template + renamed)
    assert result["a.ipynb"][1] == 1.0 and result["a.ipynb"][0] in ("b.ipynb", REFERENCE)
    assert result["c.ipynb"][1] < 0.5
    assert result["stub.ipynb"] == ("", 0.0)  # nothing of its own beyond the template
