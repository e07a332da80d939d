"""Test-suite settings: seeded unit tests, and per-notebook run times recorded for the website.

Every notebook listed in ``_toc.yml`` is executed by nbval (``--nbval-lax``); the time each one takes is
summed from its cells, printed at the end of the run and written to ``artifacts/notebook_times.json``,
which the website's "Run times" page reads.
"""
from __future__ import annotations

import collections
import datetime
import json
import os
import platform
import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
TIMES_FILE = ROOT / "artifacts" / "notebook_times.json"

# Notebooks under tests/fixtures are grader inputs (some broken on purpose), not chapters.
collect_ignore_glob = ["tests/fixtures/*"]

_cell_times: dict[str, float] = collections.defaultdict(float)
_cell_counts: dict[str, int] = collections.defaultdict(int)
_failed: set[str] = set()


def pytest_configure(config):
    # Every chapter's claims (rnn_course.claims) fail the test run when they do not hold; a learner's Jupyter
    # shows a notice instead. Kernels inherit this environment.
    os.environ["RNN_COURSE_CLAIMS"] = "strict"
    # Under pytest-xdist, several notebook kernels run side by side: one torch thread each, so they do not
    # fight over the cores. Kernels inherit the worker's environment.
    workerinput = getattr(config, "workerinput", None)
    if workerinput and int(workerinput.get("workercount", 1)) > 1:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")


# Whole files of kernel-driven tests (the grader's): marked slow, so that `pytest tests -m "not slow"` is the
# fast tier of unit tests.
SLOW_FILES = ("test_grading.py", "test_assign.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_FILES or item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _seed_everything(request):
    """Seed Python, NumPy and torch and use one torch thread in every unit test (notebooks set their own)."""
    if request.node.nodeid.endswith(".ipynb") or ".ipynb::" in request.node.nodeid:
        yield
        return
    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same float path on every machine, and no fight over the cores
    yield
    torch.set_num_threads(threads)


def pytest_runtest_logreport(report):
    # Runs in the controller for every test, also under pytest-xdist.
    path = report.nodeid.split("::", 1)[0]
    if not path.endswith(".ipynb"):
        return
    _cell_times[path] += report.duration
    if report.when == "call":
        _cell_counts[path] += 1
    if report.failed:
        _failed.add(path)


def pytest_terminal_summary(terminalreporter):
    if not _cell_times or hasattr(terminalreporter.config, "workerinput"):
        return
    terminalreporter.section("notebook execution times")
    for path in sorted(_cell_times):
        status = "FAILED" if path in _failed else "ok"
        terminalreporter.write_line(f"{_cell_times[path]:8.1f} s  {path}  ({_cell_counts[path]} cells, {status})")
    terminalreporter.write_line(f"{sum(_cell_times.values()):8.1f} s  in all")
    record = {
        "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
        "notebooks": {
            path: {"seconds": round(_cell_times[path], 1), "cells": _cell_counts[path], "passed": path not in _failed}
            for path in sorted(_cell_times)
        },
    }
    try:
        import torch

        record["machine"] += f", torch {torch.__version__}, " + ("CUDA" if torch.cuda.is_available() else "CPU only")
    except ImportError:
        pass
    TIMES_FILE.parent.mkdir(exist_ok=True)
    TIMES_FILE.write_text(json.dumps(record, indent=2) + "\n")
