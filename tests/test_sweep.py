"""rnn-course sweep: a chapter re-executed under other seeds and threads, its claims tabulated; and a failing
claim in a real kernel: a notice in a learner's Jupyter, an error under the test suite."""
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from rnn_course import sweep
from rnn_course.cli import main

pytestmark = pytest.mark.slow  # kernels or subprocesses: not in the fast tier

CHAPTER = Path(__file__).parent / "fixtures" / "sweep" / "chapter.ipynb"


def test_chapter_defaults_are_read_from_the_setup_call():
    assert sweep.chapter_defaults(CHAPTER) == (3, [3, 4])


def test_variant_environment():
    defaults = (3, [3, 4])
    env = sweep.Variant(offset=1000, threads=2).env(defaults)
    assert env["RNN_COURSE_SEED"] == "1003" and env["RNN_COURSE_SEEDS"] == "1003,1004"
    assert env["RNN_COURSE_THREADS"] == env["OMP_NUM_THREADS"] == "2"
    assert "RNN_COURSE_SEEDS" not in sweep.Variant(offset=0).env(defaults)  # the chapter as committed
    assert sweep.Variant(seeds=(7, 8)).env(None)["RNN_COURSE_SEEDS"] == "7,8"


def test_sweep_tabulates_every_claim(tmp_path, capsys):
    out = tmp_path / "runs.json"
    code = main(["sweep", str(CHAPTER), "--offsets", "0", "1000", "--threads", "1", "2", "--json", str(out),
                 "--strict"])
    assert code == 1  # two claims fail in some runs
    text = capsys.readouterr().out
    runs = json.loads(out.read_text())
    assert len(runs) == 4 and not any(r["error"] for r in runs)
    rows = {r["claim"]: r for r in sweep.claim_table(
        [sweep.RunResult(r["notebook"], sweep.Variant(), r["variant"], r["seconds"], r["claims"]) for r in runs])}
    assert {k: (v["held"], v["runs"]) for k, v in rows.items()} == {
        "always": (4, 4), "main seed below 1000": (2, 4), "two threads": (2, 4), "seed count": (4, 4),
        "late": (4, 4)}
    assert rows["main seed below 1000"]["worst_margin"] == -3  # 1003 against < 1000
    assert "seeds 1003; 1003,1004, 1 thread" in text and "main seed below 1000" in text


def test_sweep_can_stop_after_the_named_claims(tmp_path, capsys):
    out = tmp_path / "runs.json"
    assert main(["sweep", str(CHAPTER), "--offsets", "0", "--threads", "1", "--claims", "always",
                 "--json", str(out), "--strict"]) == 0
    (run,) = json.loads(out.read_text())
    assert "late" not in {c["name"] for c in run["claims"]}  # the last cell never ran
    assert "late" not in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [(["--threads", "0"], "--threads must be >= 1"),
                                           (["--seed-sets", "1,x"], "a seed set is")])
def test_sweep_rejects_bad_arguments(argv, message, capsys):
    assert main(["sweep", str(CHAPTER), *argv]) == 2
    assert message in capsys.readouterr().err


def _run_failing_claim(tmp_path, monkeypatch, mode):
    path = tmp_path / "chapter.ipynb"
    shutil.copy(CHAPTER, path)
    monkeypatch.setenv("RNN_COURSE_CLAIMS", mode)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def test_a_learner_sees_a_notice_and_the_chapter_goes_on(tmp_path, monkeypatch):
    nb = _run_failing_claim(tmp_path, monkeypatch, "warn")  # "two threads" fails on one thread
    outputs = nb.cells[2].outputs
    html = [o["data"]["text/html"] for o in outputs if o.get("output_type") == "display_data"]
    assert len(html) == 1 and "did not hold in your run" in html[0] and "two threads" in html[0]
    assert nb.cells[3].outputs == [] and nb.cells[3].execution_count  # the next cell ran


def test_the_test_suite_fails_on_the_same_claim(tmp_path, monkeypatch):
    with pytest.raises(CellExecutionError, match="ClaimFailed"):
        _run_failing_claim(tmp_path, monkeypatch, "strict")
