"""The sandbox around a student kernel: hard limits, bubblewrap's view, the kernel's channel, its lifetime.

Each test that starts a kernel asks the kernel itself what it can see and do (the code raises when it can do
something it must not), so a hole in the sandbox fails a test here before any fixture submission exploits it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from rnn_course_instructor.grading import cgroups, kernel, sandbox
from rnn_course_instructor.grading.batch import FIRST_UID
from rnn_course_instructor.grading.kernel import Confinement, Kernel
from rnn_course_instructor.grading.runner import grade_submission
from rnn_course_instructor.grading.spec import load_exercise

FIXTURES = Path(__file__).parent / "fixtures"
TOY = FIXTURES / "toy" / "questions.py"
UID = FIRST_UID + 90 if os.getuid() == 0 else None  # a user of the tests' own, when they run as root
SEALED = Confinement(uid=UID, memory_mb=2048)
needs_bwrap = pytest.mark.skipif(sandbox.bwrap() is None, reason="bubblewrap is not installed (apt install bubblewrap)")
LIMITS = [sys.executable, "-I", "-m", "rnn_course_instructor.grading.limits"]


def test_limits_are_hard_and_cap_memory_files_and_cores(tmp_path):
    run = LIMITS + ["--memory-mb", "400", "--file-mb", "1", "--"]
    bomb = subprocess.run(run + [sys.executable, "-c", "x = bytearray(800 * 2**20)"], capture_output=True, text=True)
    assert bomb.returncode != 0 and "MemoryError" in bomb.stderr
    disk = subprocess.run(run + [sys.executable, "-c", f"open({str(tmp_path / 'f')!r}, 'wb').write(b'0' * 2**21)"],
                          capture_output=True, text=True)
    assert disk.returncode != 0 and "File too large" in disk.stderr
    raise_it = ("import resource\nfor r in (resource.RLIMIT_AS, resource.RLIMIT_FSIZE, resource.RLIMIT_CORE):\n"
                "    soft, hard = resource.getrlimit(r)\n    assert soft == hard, (r, soft, hard)\n"
                "    try:\n        resource.setrlimit(r, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
                "    except (ValueError, OSError):\n        pass\n    else:\n        raise SystemExit('raised')\n"
                "print('held')")
    held = subprocess.run(run + [sys.executable, "-c", raise_it], capture_output=True, text=True)
    if os.getuid() != 0 or not _has_sys_resource():  # root with CAP_SYS_RESOURCE may raise: kernels never are
        assert held.returncode == 0 and held.stdout.strip() == "held", held.stderr
    ok = subprocess.run(run + [sys.executable, "-c", "print(len(bytearray(10 * 2**20)))"], capture_output=True,
                        text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == str(10 * 2**20)
    bad = subprocess.run(LIMITS + ["--memory-mb", "0", "--", "true"], capture_output=True, text=True)
    assert bad.returncode != 0 and "positive" in bad.stderr


def _has_sys_resource() -> bool:
    caps = [line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("CapEff")]
    return bool(caps) and bool(int(caps[0].split()[1], 16) & (1 << 24))


SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")  # one that any user may run


@pytest.mark.skipif(os.getuid() != 0 or SYSTEM_PYTHON is None, reason="switching user needs root")
def test_limits_switch_to_the_kernel_user_and_cap_its_processes():
    code = "import os, sys\nn = 0\ntry:\n    while n < 500:\n        if os.fork() == 0:\n            import time; " \
           "time.sleep(3); os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(os.getuid(), n)"
    run = subprocess.run(LIMITS + ["--nproc", "40", "--uid", str(UID), "--", SYSTEM_PYTHON, "-I", "-c", code],
                         capture_output=True, text=True, cwd="/")
    uid, forked = run.stdout.split()
    assert int(uid) == UID and int(forked) < 40, run.stderr


# What a sealed kernel must not see or do: each line raises if it can.
SEALED_VIEW = r'''
import importlib, os, pathlib, socket, sys
assert os.getuid() != 0 and os.getuid() == os.geteuid()
pids = [p for p in os.listdir("/proc") if p.isdigit()]
assert len(pids) < 10, pids  # its own processes only: not the grader, not another kernel
assert os.getppid() in (0, 1) or int(os.getppid()) < 10
IPYKERNEL_SETS = {"CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "PAGER", "GIT_PAGER", "TERM", "JPY_SESSION_NAME", "PWD",
                  "PYDEVD_USE_FRAME_EVAL"}
assert not [k for k in os.environ if k in GRADER_ENV and k not in IPYKERNEL_SETS], sorted(os.environ)
assert "hunter2" not in os.environ.values()  # nothing of the grader's
assert pathlib.Path.cwd() == pathlib.Path.home() == pathlib.Path("/home/student")
assert [f for f in sorted(os.listdir(".")) if not f.startswith(".")] == [NOTEBOOK], os.listdir(".")
for path in GRADER_PATHS:
    assert not os.path.exists(path), path
try:
    importlib.import_module("rnn_course_instructor.charlm")
except ImportError:
    pass
else:
    raise AssertionError("the reference solution is importable")
import rnn_course.text  # the course package is there
for path in ("/usr/x", sys.prefix + "/x", os.path.dirname(rnn_course.text.__file__) + "/x"):
    try:
        open(path, "w")
    except OSError:
        pass
    else:
        raise AssertionError(f"wrote {path}")
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
except OSError:
    pass
else:
    raise AssertionError("the network is reachable")
open("/tmp/scratch", "w").write("fine")
'''


@needs_bwrap
def test_a_sealed_kernel_sees_only_its_own_world(tmp_path, monkeypatch):
    notebook = tmp_path / "mine.ipynb"
    notebook.write_text("{}")
    grader_paths = [str(notebook), str(TOY), kernel.__file__, str(Path(__file__)), str(tmp_path / "home" / "x")]
    monkeypatch.setenv("RNN_COURSE_TEST_SECRET", "hunter2")
    grader_env = sorted(set(os.environ) - set(sandbox.sandbox_env({}, 1)))
    with Kernel(tmp_path / "home", SEALED, notebook=notebook) as k:
        (tmp_path / "home" / "x").write_text("the grader's")
        grader_paths += [str(k.dir / "kernel.log"), str(k.dir / "etc" / "passwd")]
        o = k.run(f"GRADER_ENV = {grader_env!r}\nNOTEBOOK = 'mine.ipynb'\nGRADER_PATHS = {grader_paths!r}\n"
                  + SEALED_VIEW, timeout=60)
        assert o.ok, o.describe()
        assert k.ipc_dir.stat().st_uid == (UID if UID is not None else os.getuid())
        folder = k.dir
    assert not folder.exists()


@needs_bwrap
def test_a_daemon_dies_with_its_kernel(tmp_path):
    daemon = ("import os, subprocess, sys\n"
              "subprocess.Popen([sys.executable, '-c', 'import os, time\\nos.setsid()\\n"
              "if os.fork() == 0:\\n    time.sleep(120)'], start_new_session=True)")
    with Kernel(tmp_path / "home", SEALED) as k:
        assert k.run(daemon, timeout=60).ok
        time.sleep(1)
        if UID is not None:
            assert _processes_of(UID) >= 2
    time.sleep(1)
    if UID is not None:
        assert _processes_of(UID) == 0


def _processes_of(uid: int) -> int:
    n = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            n += os.stat(f"/proc/{pid}").st_uid == uid
        except OSError:
            pass
    return n


@needs_bwrap
def test_a_kernel_talks_over_its_own_unix_sockets_and_restarts_in_a_fresh_sandbox(tmp_path):
    with Kernel(tmp_path / "home", SEALED) as k:
        assert k._km.transport == "ipc"
        folder = k.dir
        assert k.run("open('/tmp/left', 'w').write('x')", timeout=30).ok and any(k.ipc_dir.iterdir())
        o = k.run("import os; os._exit(3)", timeout=30)
        assert o.status == "died" and "exit status 3" in o.evalue  # restarted, in a new folder and sandbox
        assert not folder.exists() and k.run("import os; assert not os.path.exists('/tmp/left')", timeout=30).ok
        o = k.run("import ctypes; ctypes.string_at(0)", timeout=30)
        assert o.status == "died" and "SIGSEGV" in o.evalue
        folder = k.dir
    assert not folder.exists()


def _stuck_kernel_cmd(stuck_starts: int):
    """A kernel command that, for its first ``stuck_starts`` launches, prints and hangs instead."""
    real = kernel._KernelManager.format_kernel_cmd
    launches = []

    def cmd(self, extra_arguments=None):
        launches.append(1)
        if len(launches) <= stuck_starts:
            return [sys.executable, "-c", "import time; print('stuck before binding', flush=True); time.sleep(600)"]
        return real(self, extra_arguments)

    return cmd, launches


@needs_bwrap
def test_kernel_start_retries_a_kernel_that_hangs(tmp_path, monkeypatch):
    cmd, launches = _stuck_kernel_cmd(stuck_starts=1)
    monkeypatch.setattr(kernel._KernelManager, "format_kernel_cmd", cmd)
    with Kernel(tmp_path / "home", SEALED, startup_timeout=5) as k:
        assert k.run("x = 40 + 2", timeout=30).ok and len(launches) == 2


def test_kernel_start_gives_up_with_the_kernels_log(tmp_path, monkeypatch):
    cmd, launches = _stuck_kernel_cmd(stuck_starts=kernel.START_ATTEMPTS)
    monkeypatch.setattr(kernel._KernelManager, "format_kernel_cmd", cmd)
    k = Kernel(tmp_path / "home", SEALED, startup_timeout=2)
    with pytest.raises(RuntimeError, match="did not start.*its log ends: .*stuck before binding"):
        k.start()
    assert len(launches) == kernel.START_ATTEMPTS and k._km is None and not k.alive


def test_a_kernel_that_cannot_be_launched_is_a_grader_error_that_leaves_nothing(tmp_path, monkeypatch):
    def missing(self, extra_arguments=None):
        missing.launches += 1
        return [str(tmp_path / "no-such-python")]

    missing.launches = 0
    monkeypatch.setattr(kernel._KernelManager, "format_kernel_cmd", missing)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the grader's folders would stay
    (tmp_path / "tmp").mkdir()
    result = grade_submission(FIXTURES / "submissions" / "toy" / "solution.ipynb", load_exercise(str(TOY)), seed=1,
                              confinement=SEALED)
    assert result.status == "grader error" and "did not start" in result.message and "no-such-python" in result.message
    assert missing.launches == kernel.START_ATTEMPTS and not any((tmp_path / "tmp").iterdir())


@needs_bwrap
def test_sandbox_check_says_when_it_works(tmp_path):
    assert sandbox.check(UID, 2048, tmp_path / "check") == ""


@needs_bwrap
@pytest.mark.skipif(UID is None or not cgroups.available(), reason="no cgroup can be made here (needs root)")
def test_a_kernels_processes_together_are_held_to_its_cap_by_a_cgroup(tmp_path):
    """Six processes of 700 MB each, every one within its own limit, together past the kernel's cap."""
    code = ("import os, time\npids = []\nfor i in range(6):\n    pid = os.fork()\n    if pid == 0:\n        try:\n"
            "            x = bytearray(700 * 2**20)\n            for j in range(0, len(x), 4096):\n                x[j] = 1\n"
            "            time.sleep(3)\n        finally:\n            os._exit(0)\n    pids.append(pid)\n"
            "killed = [os.waitpid(p, 0)[1] == 9 for p in pids]\nassert any(killed), killed")
    with Kernel(tmp_path / "home", Confinement(uid=UID, memory_mb=3000, tmp_mb=64)) as k:
        groups = list(k._group.dirs)
        o = k.run(code, timeout=120)
        assert o.ok, o.describe()
    assert not any(d.exists() for d in groups)  # removed with the kernel
