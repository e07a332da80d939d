"""rnn_course_instructor.release: the student notebook carries no solution; the site can leave the solutions out."""
import sys
import types
from pathlib import Path

import nbformat
import pytest
import yaml

from rnn_course_instructor import release
from rnn_course_instructor.exercises.charlm import MASTER

ROOT = Path(__file__).resolve().parents[1]


def test_release_writes_a_student_notebook_without_the_solution(tmp_path):
    path = release.release(tmp_path / "out")
    student = nbformat.read(path, as_version=4)
    assert release.leaks(student, nbformat.read(MASTER, as_version=4)) == []
    assert student.metadata["rnn_course"]["role"] == "student"
    with pytest.raises(ValueError, match="exists"):  # nothing is overwritten
        release.release(tmp_path / "out")


def test_leaks_finds_solution_code_answers_and_the_instructors_package():
    master = nbformat.read(MASTER, as_version=4)
    secret = release.solution_lines(master)
    assert secret and "self.rnn = recurrent[kind](embed_dim" in " ".join(secret)
    solutions = nbformat.read(ROOT / "book" / "charlm_solutions.ipynb", as_version=4)
    assert release.leaks(solutions, master)  # the solutions notebook is all leak
    student = nbformat.read(ROOT / "book" / "charlm_exercise.ipynb", as_version=4)
    assert release.leaks(student, master) == []
    line = sorted(secret)[0]
    student.cells.append(nbformat.v4.new_code_cell(f"x = 1\n    {line}\n"))
    student.cells.append(nbformat.v4.new_code_cell("import rnn_course_instructor"))
    found = release.leaks(student, master)
    assert any("a line of the solution" in f for f in found) and any("instructors' package" in f for f in found)


def test_the_site_without_solutions_drops_them_from_the_toc_and_the_build(tmp_path):
    config, toc, pages = release.student_site_files(ROOT, tmp_path)
    assert pages == ["book/charlm_solutions"]
    conf = yaml.safe_load(config.read_text())
    assert "book/charlm_solutions.ipynb" in conf["exclude_patterns"]
    assert conf["sphinx"]["config"]["rnn_course_withheld"] == ["charlm_solutions"]
    assert all(Path(p).is_absolute() for p in conf["sphinx"]["local_extensions"].values())
    text = toc.read_text()
    assert "charlm_solutions" not in text and "charlm_exercise" in text
    full = (ROOT / "_toc.yml").read_text()
    assert text.count("file:") == yaml.safe_dump(yaml.safe_load(full)).count("file:") - 1


def test_links_to_a_withheld_page_become_plain_text():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import withheld
    finally:
        sys.path.pop(0)
    app = types.SimpleNamespace(config=types.SimpleNamespace(rnn_course_withheld=["charlm_solutions"]))
    source = ["see {doc}`charlm_solutions`, {doc}`the answers <charlm_solutions>` and {doc}`charlm_exercise`"]
    withheld._rewrite(app, "intro", source)
    assert source[0] == ("see charlm_solutions (withheld on this site), the answers (withheld on this site) and "
                         "{doc}`charlm_exercise`")
    app.config.rnn_course_withheld = []
    kept = ["{doc}`charlm_solutions`"]
    withheld._rewrite(app, "intro", kept)
    assert kept == ["{doc}`charlm_solutions`"]
