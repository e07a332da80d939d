"""One student kernel in its own process, run one piece of code at a time with a timeout.

``Sandbox.run(code, timeout)`` never raises for anything the code does: it returns an ``Outcome`` whose
``status`` says what happened:

- ``"ok"`` / ``"error"``: the code finished (``error`` carries the exception's name and message; a
  ``SystemExit`` from ``sys.exit()`` is an ordinary error, the kernel survives it);
- ``"timeout"``: it ran past ``timeout``; the kernel was interrupted (SIGINT), and if it did not stop within
  a few seconds (a loop that swallows ``KeyboardInterrupt``), killed, and ``restarted`` is true;
- ``"died"``: the kernel process ended (``os._exit()``, a segfault, the memory cap ...) or is about to
  (``exit()``, ``quit()``: ipykernel ends the process once the cell is done); ``restarted`` is true.

After ``restarted`` the kernel is a fresh one with an empty namespace: the caller decides what to re-run.
The kernel runs in its own session (process group), under the limits of ``limits.py``, with its working
directory, environment and standard streams (a log file) chosen by the grader.

On Linux and macOS the kernel talks to the grader over Unix sockets in a folder of its own, not TCP ports:
jupyter_client picks free TCP ports and the kernel binds them later, so with other kernels starting at the
same time (parallel grading, a test run) a port can be taken in between. A kernel whose IOPub port was taken
stays alive without ever answering, which cost a submission its whole start-up timeout. A kernel that still
does not come up is started once more before ``start`` gives up, with the end of its log in the error.
"""
from __future__ import annotations

import os
import queue
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from jupyter_client import KernelManager

from rnn_course_instructor.grading.limits import wrap

GRACE_S = 3.0  # how long an interrupted cell may take to stop before the kernel is killed
START_ATTEMPTS = 2  # fresh kernels tried by one ``start`` before it gives up
TRANSPORT = "ipc" if os.name == "posix" else "tcp"  # see the module docstring
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "API_KEY", "ACCESS_KEY", "PRIVATE")


@dataclass
class Outcome:
    """What happened to one piece of code run in the kernel."""

    status: str  # "ok", "error", "timeout" or "died"
    seconds: float
    ename: str = ""  # exception class name when status == "error" (or a timeout that was interrupted)
    evalue: str = ""  # its message, shortened
    restarted: bool = False  # the kernel was replaced by a fresh one: all state is lost

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        """A short phrase for a grade report, e.g. ``raised ValueError: bad shape``."""
        if self.status == "ok":
            return "ran"
        if self.status == "error":
            if self.ename == "NotImplementedError":
                return "raised NotImplementedError (not implemented yet)"
            return f"raised {self.ename}: {self.evalue}" if self.evalue else f"raised {self.ename}"
        if self.status == "timeout":
            how = "the kernel was killed" if self.restarted else "it was interrupted"
            return f"timed out after {self.seconds:.0f} s ({how})"
        return f"stopped the kernel ({self.evalue or 'the process ended'})"


def kernel_env(extra: dict[str, str], threads: int) -> dict[str, str]:
    """The grader's environment minus anything that looks like a secret, plus ``extra`` and thread caps."""
    env = {k: v for k, v in os.environ.items() if not any(w in k.upper() for w in SECRET_WORDS)}
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env["MPLBACKEND"] = "Agg"
    env["MALLOC_ARENA_MAX"] = "2"  # glibc reserves 64 MiB of address space per thread arena otherwise
    env.pop("JPY_PARENT_PID", None)
    env.update(extra)
    return env


class _LimitedKernelManager(KernelManager):
    """A ``KernelManager`` whose kernel command starts under ``limits.py``."""

    memory_mb: int | None = None
    file_mb: int | None = None

    def format_kernel_cmd(self, extra_arguments=None):
        return wrap(super().format_kernel_cmd(extra_arguments), self.memory_mb, self.file_mb)


def _short(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


class Sandbox:
    """A Python kernel for one submission: ``with Sandbox(workdir) as sb: sb.run("x = 1", timeout=5)``."""

    def __init__(self, workdir: str | Path, memory_mb: int | None = 4096, file_mb: int | None = 512,
                 threads: int = 1, env: dict[str, str] | None = None, startup_timeout: float = 120.0,
                 preload: str = ""):
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.workdir = Path(workdir)
        self.memory_mb, self.file_mb = memory_mb, file_mb
        self.env = kernel_env(env or {}, threads)
        self.startup_timeout = startup_timeout
        self.preload = preload  # run after every (re)start, before any student code (e.g. "import torch")
        self.restarts = 0
        self._km = None
        self._kc = None
        self._log = None
        self._ipc_dir: str | None = None

    # -- lifetime ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start a fresh kernel (raises RuntimeError if it does not come up, after a second try)."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once()
                break
            except Exception as err:  # a hung or dead kernel, or one that could not be launched at all
                why = f"the grading kernel did not start ({err}); its log ends: {self._log_tail()}"
                self.close()
                if attempt == START_ATTEMPTS:
                    raise RuntimeError(why) from err
        if self.preload:
            o = self.run(self.preload, timeout=self.startup_timeout, _recover=False)
            if not o.ok:
                self.close()
                raise RuntimeError(f"the grading kernel's preload {o.describe()}")

    def _start_once(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        km = _LimitedKernelManager(kernel_name="python3", transport=TRANSPORT)
        if TRANSPORT == "ipc":
            self._ipc_dir = tempfile.mkdtemp(prefix="rnn-course-ipc-")
            km.ip = os.path.join(self._ipc_dir, "kernel")
        km.memory_mb, km.file_mb = self.memory_mb, self.file_mb
        self._log = open(self.workdir / "kernel.log", "ab")
        self._km = km
        km.start_kernel(env=self.env, cwd=str(self.workdir), stdout=self._log, stderr=self._log)
        kc = km.blocking_client()
        kc.start_channels()
        self._kc = kc
        kc.wait_for_ready(timeout=self.startup_timeout)

    def _log_tail(self, n: int = 300) -> str:
        try:
            text = (self.workdir / "kernel.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        text = " ".join(text.split())
        return ("..." + text[-n:] if len(text) > n else text) or "(empty)"

    def close(self) -> None:
        """Kill the kernel (and its process group) and release its channels."""
        if self._kc is not None:
            self._kc.stop_channels()
        if self._km is not None:
            try:
                if self._km.has_kernel:
                    self._km.shutdown_kernel(now=True)
            except Exception:  # a kernel that is already gone
                pass
            self._km.cleanup_resources()
        if self._log is not None:
            self._log.close()
        if self._ipc_dir is not None:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
        self._km = self._kc = self._log = self._ipc_dir = None

    def restart(self) -> None:
        """Replace the kernel by a fresh one."""
        self.close()
        self.restarts += 1
        self.start()

    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._km is not None and self._km.is_alive()

    # -- running code -----------------------------------------------------------------------------
    def _drain_iopub(self) -> None:
        # Outputs are not kept (the reply says whether the code failed); reading them keeps memory flat
        # when a submission prints without end.
        while True:
            try:
                self._kc.get_iopub_msg(timeout=0)
            except queue.Empty:
                return

    def run(self, code: str, timeout: float, _recover: bool = True) -> Outcome:
        """Run ``code`` in the kernel's namespace, for at most ``timeout`` seconds (see the module doc)."""
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if self._km is None:
            self.start()
        start = time.monotonic()
        msg_id = self._kc.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline, interrupted = start + timeout, False
        while True:
            self._drain_iopub()
            try:
                msg = self._kc.get_shell_msg(timeout=0.05)
            except queue.Empty:
                msg = None
            if msg is not None and msg.get("parent_header", {}).get("msg_id") == msg_id \
                    and msg.get("msg_type") == "execute_reply":
                break
            elapsed = time.monotonic() - start
            if not self._km.is_alive():
                code_ = getattr(getattr(self._km.provisioner, "process", None), "returncode", None)
                if _recover:
                    self.restart()
                return Outcome("died", elapsed, evalue=_exit_text(code_), restarted=_recover)
            if not interrupted and time.monotonic() > deadline:
                self._km.interrupt_kernel()
                interrupted, deadline = True, time.monotonic() + GRACE_S
            elif interrupted and time.monotonic() > deadline:
                if _recover:
                    self.restart()
                return Outcome("timeout", timeout, restarted=_recover)
        elapsed = time.monotonic() - start
        content = msg["content"]
        if interrupted:
            return Outcome("timeout", timeout, ename=content.get("ename", ""))
        if any(p.get("source") == "ask_exit" and not p.get("keepkernel") for p in content.get("payload") or []):
            # exit() / quit(): ipykernel finishes the cell, then stops its event loop and the process ends.
            if _recover:
                self.restart()
            return Outcome("died", elapsed, evalue="exit() was called", restarted=_recover)
        if content.get("status") == "ok":
            return Outcome("ok", elapsed)
        return Outcome("error", elapsed, ename=_short(content.get("ename", "Error"), 60),
                       evalue=_short(content.get("evalue", "")))


def _exit_text(returncode: int | None) -> str:
    if returncode is None:
        return "the process ended"
    if returncode < 0:
        import signal

        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    return f"exit status {returncode}"
