"""The grader under attack: hostile submissions graded in one batch with their classmates, odd names and shapes,
interrupts, and the refusal to grade without the sandbox.

The attack notebooks (``tests/fixtures/submissions/toy_attacks``, code in ``tests/fixtures/toy/attacks.py``)
each try one way out of the sandbox from the issue that asked for it: forging a result, planting code, reaching
other kernels, the reference or the grader's secrets, killing or tampering with others, raising limits,
results that exhaust the grader, daemons. Each must get exactly its expected row (the untouched student
notebook's zero, unless it says otherwise), and every victim its full marks, from the file as it was handed in.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnn_course import cli
from rnn_course_instructor.grading import sandbox
from rnn_course_instructor.grading.batch import FIRST_UID

FIXTURES = Path(__file__).parent / "fixtures"
TOY = FIXTURES / "toy" / "questions.py"
SUBMISSIONS = FIXTURES / "submissions"
EXPECTED = json.loads((SUBMISSIONS / "toy_attacks_expected.json").read_text())
SOLUTION = SUBMISSIONS / "toy" / "solution.ipynb"
FULL = {"scale": 2, "model": 3, "accuracy": 1}
ZERO = {"scale": 0, "model": 0, "accuracy": 0}
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sandbox.bwrap() is None, reason="bubblewrap is not installed (apt install bubblewrap)")]

# Names and shapes, made at test time (some cannot be committed): each with the row it must get.
NAME_CASES = {
    os.fsdecode(b"caf\xe9.ipynb"): ("caf\\xe9.ipynb", "graded", FULL),  # not UTF-8
    "-rf.ipynb": ("-rf.ipynb", "graded", FULL),  # taken for an option, once
    "it's \"mine\", ok.ipynb": ("it's \"mine\", ok.ipynb", "graded", FULL),
    "=1+1.ipynb": ("=1+1.ipynb", "graded", FULL),  # a formula, unless escaped
    "SHOUT.IPYNB": ("SHOUT.IPYNB", "graded", FULL),
    "new\nline.ipynb": ("new\\x0aline.ipynb", "graded", FULL),
    "bob/notebook.ipynb": ("bob/notebook.ipynb", "graded", FULL),
    "bob/extra/": ("bob/extra/", "not a notebook", ZERO),
    "carol/": ("carol/", "not a notebook", ZERO),
    "pipe.ipynb": ("pipe.ipynb", "not a notebook", ZERO),  # a FIFO: opening it would block
    "link.ipynb": ("link.ipynb", "not a notebook", ZERO),  # a link out of the folder
    "deep.ipynb": ("deep.ipynb", "malformed notebook", ZERO),  # 100,000 nested lists
}
REASONS = {"pipe.ipynb": "FIFO", "link.ipynb": "symbolic link to a file outside the folder",
           "deep.ipynb": "nests its JSON too deeply", "carol/": "empty folder", "bob/extra/": "not searched"}


def make_names(folder: Path) -> None:
    for raw in NAME_CASES:
        path = folder / raw
        if raw.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        elif raw == "pipe.ipynb":
            os.mkfifo(path)
        elif raw == "link.ipynb":
            path.symlink_to("/etc/passwd")
        elif raw == "deep.ipynb":
            path.write_text("[" * 100_000 + "]" * 100_000)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(SOLUTION, path)


def kernel_processes() -> list[int]:
    """Processes of the kernels' users (as root, the grader runs them as FIRST_UID + job slot)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if FIRST_UID <= os.stat(f"/proc/{pid}").st_uid < FIRST_UID + 8:  # this batch's job slots
                found.append(int(pid))
        except OSError:
            pass
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and not p.is_fifo()}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    for name in EXPECTED:
        shutil.copy(SUBMISSIONS / "toy_attacks" / name, folder / name)
    make_names(folder)
    before = digests(folder)
    out = folder.parent / "grades.csv"
    os.environ["RNN_COURSE_TEST_SECRET"] = "hunter2"  # a secret in the grader's environment
    start = time.monotonic()
    try:
        code = cli.main(["grade", str(folder), "--exercise", str(TOY), "--out", str(out), "--jobs", "2"])
    finally:
        os.environ.pop("RNN_COURSE_TEST_SECRET")
    seconds = time.monotonic() - start
    right_after = out.read_bytes()
    alive = kernel_processes()
    time.sleep(3)  # long enough for a surviving daemon to act
    return {"code": code, "folder": folder, "out": out, "before": before, "right_after": right_after,
            "alive": alive, "seconds": seconds,
            "rows": {r["submission"]: r for r in csv.DictReader(out.open(newline="", encoding="utf-8"))}}


def test_every_attack_gets_its_row_and_no_victim_loses_a_point(attacked):
    rows = attacked["rows"]
    print(f"graded {len(rows)} attack and name fixtures in {attacked['seconds']:.1f} s")
    wrong = {}
    for name, spec in EXPECTED.items():
        row = rows.get(name)
        got = {q: float(row[q]) for q in FULL} if row else None
        if row is None or row["status"] != spec["status"] or got != spec["scores"]:
            wrong[name] = row and (row["status"], got, row["reasons"], row["incidents"])
    assert not wrong, wrong
    for name in ("victim_a.ipynb", "victim_b.ipynb", "victim_c.ipynb", "shadow_innocent.ipynb"):
        assert rows[name]["reasons"] == "" and rows[name]["total"] == "6", rows[name]
    assert attacked["code"] == 0


def test_the_victims_rows_are_of_their_files_as_handed_in(attacked):
    folder, rows = attacked["folder"], attacked["rows"]
    assert digests(folder) == attacked["before"]  # nothing deleted or rewritten
    for name in ("victim_a.ipynb", "victim_b.ipynb", "victim_c.ipynb"):
        assert rows[name]["sha256"] == hashlib.sha256((SUBMISSIONS / "toy_attacks" / name).read_bytes()).hexdigest()


def test_nothing_outlives_the_batch_and_the_csv_stays_as_written(attacked):
    assert attacked["alive"] == [] and kernel_processes() == []  # daemons died with their kernels
    assert attacked["out"].read_bytes() == attacked["right_after"]  # no daemon rewrote it afterwards
    planted = [p for p in [attacked["folder"], attacked["out"].parent, Path.cwd()]
               if "builtins.scale" in _read(p / "rnn_course" / "__init__.py")]
    assert planted == []
    assert not (attacked["folder"] / "result.json").exists()


def test_attacks_left_their_reasons(attacked):
    rows = attacked["rows"]
    reasons = rows["result_bombs.ipynb"]["reasons"]
    assert "more than 4,000,000 elements" in reasons  # the stride-0 tensor, refused before use
    assert "compressed" in reasons  # the deflate bomb, refused before it inflates
    assert "more than 200,000 values" in reasons  # the shared references, refused while walked
    assert "MemoryError" in rows["raise_limits.ipynb"]["reasons"]
    assert "stopped the kernel (exit status 1)" in rows["plant_module.ipynb"]["incidents"]


def test_every_name_and_shape_gets_a_row(attacked):
    rows = attacked["rows"]
    for raw, (shown, status, scores) in NAME_CASES.items():
        key = "'" + shown if shown.startswith(("=", "-")) else shown  # escaped against formulas
        row = rows[key]
        assert row["status"] == status and {q: float(row[q]) for q in FULL} == scores, (raw, row)
        if shown in REASONS:
            assert REASONS[shown] in row["reasons"], row["reasons"]
    assert len(rows) == len(EXPECTED) + len(NAME_CASES)


def test_a_rerun_skips_everything_it_graded(attacked, capsys):
    out = attacked["out"]
    assert cli.main(["grade", str(attacked["folder"]), "--exercise", str(TOY), "--out", str(out)]) == 0
    assert "grading 0 submission(s)" in capsys.readouterr().out


def _grade_in_background(folder: Path, out: Path, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.Popen([sys.executable, "-m", "rnn_course.cli", "grade", str(folder), "--exercise", str(TOY),
                             "--out", str(out), "--jobs", "2"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=tmp)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_stops_everything_at_once_and_leaves_a_whole_csv(tmp_path, sig):
    folder, tmp = tmp_path / "class", tmp_path / "tmp"
    folder.mkdir()
    tmp.mkdir()
    shutil.copy(SOLUTION, folder / "a_quick.ipynb")
    for i in range(4):  # cells that run until their timeout
        shutil.copy(SUBMISSIONS / "toy" / "infinite_loop.ipynb", folder / f"slow_{i}.ipynb")
    out = tmp_path / "grades.csv"
    proc = _grade_in_background(folder, out, tmp)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (out.exists() and "a_quick" in out.read_text()):
        time.sleep(0.5)
    assert out.exists(), proc.communicate(timeout=60)[0]
    time.sleep(2)  # the slow ones are running now
    proc.send_signal(sig)
    start = time.monotonic()
    log, _ = proc.communicate(timeout=60)
    assert time.monotonic() - start < 30, log  # at once, not after the running submissions finish
    assert proc.returncode == (130 if sig == signal.SIGINT else 143), log
    assert "Traceback" not in log, log
    rows = list(csv.DictReader(out.open()))
    assert "a_quick.ipynb" in [r["submission"] for r in rows] and all(r["status"] for r in rows)
    assert list(tmp.iterdir()) == []  # no temporary folder left
    time.sleep(1)
    assert kernel_processes() == []


def test_without_bubblewrap_the_grader_refuses_unless_unsealed(tmp_path, monkeypatch, capsys):
    shutil.copy(SOLUTION, tmp_path / "a.ipynb")
    monkeypatch.setattr(sandbox, "bwrap", lambda: None)
    args = ["grade", str(tmp_path), "--exercise", str(TOY), "--out", str(tmp_path / "g.csv")]
    assert cli.main(args) == 2
    assert "bubblewrap" in capsys.readouterr().err and not (tmp_path / "g.csv").exists()
    user = ["--user", "0"] if os.getuid() == 0 else []  # root's Python may not be readable by other users
    assert cli.main(args + ["--unsealed", *user]) == 0
    row = next(csv.DictReader((tmp_path / "g.csv").open()))
    assert row["total"] == "6" and "unsealed: this notebook ran without the sandbox" in row["incidents"]
