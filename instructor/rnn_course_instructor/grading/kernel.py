"""One student kernel, sealed in its sandbox, run one piece of code at a time with a timeout.

``Kernel.run(code, timeout)`` never raises for anything the code does: it returns an ``Outcome`` whose
``status`` says what happened:

- ``"ok"`` / ``"error"``: the code finished (``error`` carries the exception's name and message; a
  ``SystemExit`` from ``sys.exit()`` is an ordinary error, the kernel survives it);
- ``"timeout"``: it ran past ``timeout``; the kernel was interrupted, and if it did not stop within a few seconds
  (a loop that swallows ``KeyboardInterrupt``), killed, and ``restarted`` is true;
- ``"died"``: the kernel process ended (``os._exit()``, a segfault, the memory cap ...) or is about to
  (``exit()``, ``quit()``: ipykernel ends the process once the cell is done); ``restarted`` is true.

After ``restarted`` the kernel is a fresh one with an empty namespace and a fresh sandbox: the caller decides
what to re-run. ``Outcome.payloads`` holds what the grader's probe harness sent back during the run.

How the kernel is started (``_KernelManager.format_kernel_cmd``): sealed, ``bwrap`` (``sandbox.py``) runs
``limits.py`` (hard limits, the switch to the kernel's user), which runs ``python -I -m ipykernel_launcher``;
unsealed, the same without bubblewrap. The kernel talks to the grader over Unix sockets in a folder of its own,
with its connection file (the key that signs its messages) readable by its user alone; the grader's sockets
refuse any message larger than ``max_message_mb`` (ZeroMQ drops the connection before reading it), and a
message that does not parse is dropped, so a kernel cannot exhaust the grader's memory through its channels.
A kernel that does not come up is started once more before ``start`` gives up, with the end of its log in the
error. Interrupts go as a Jupyter ``interrupt_request`` message: the kernel runs in a session and PID
namespace of its own, which no signal from here reaches.
"""
from __future__ import annotations

import os
import queue
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from jupyter_client import KernelManager
from jupyter_client.blocking import BlockingKernelClient

from rnn_course_instructor.grading import cgroups, sandbox
from rnn_course_instructor.grading.limits import wrap
from rnn_course_instructor.grading.transfer import HARNESS_PRELOAD, MIME

GRACE_S = 3.0  # how long an interrupted cell may take to stop before the kernel is killed
IDLE_WAIT_S = 5.0  # after the reply, how long outputs may still arrive
START_ATTEMPTS = 2  # fresh kernels tried by one ``start`` before it gives up
NPROC = 256  # processes and threads of one kernel's user
LOG_TAIL = 4096  # bytes of the kernel's log read back for an error message


@dataclass
class Outcome:
    """What happened to one piece of code run in the kernel."""

    status: str  # "ok", "error", "timeout" or "died"
    seconds: float
    ename: str = ""  # exception class name when status == "error" (or a timeout that was interrupted)
    evalue: str = ""  # its message, shortened
    restarted: bool = False  # the kernel was replaced by a fresh one: all state is lost
    payloads: list[str] = field(default_factory=list)  # what the probe harness published (see transfer.py)

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


@dataclass(frozen=True)
class Confinement:
    """How a kernel is sealed off: sandboxed or not, as which user, under which limits."""

    sealed: bool = True
    uid: int | None = None  # the kernel's user (and group) id; None: the grader's own
    memory_mb: int | None = 4096  # address space of every kernel process
    file_mb: int | None = 512  # largest file it may write
    tmp_mb: int = 512  # size of each of its private tmpfs (home, /tmp, /dev/shm)
    nproc: int | None = NPROC  # processes and threads of its user (only when it has a user of its own)
    private: tuple[str, ...] = ()  # paths that must stay hidden from it even inside mounted trees
    max_message_mb: int = 64  # largest message the grader accepts from it
    cgroup: bool = True  # also a control group for all its processes, where one can be made (cgroups.py)


class _KernelManager(KernelManager):
    """A ``KernelManager`` whose kernel starts confined (see the module docstring)."""

    kernel: "Kernel"

    def format_kernel_cmd(self, extra_arguments=None):
        k, c = self.kernel, self.kernel.confinement
        cmd = [sys.executable, "-I", "-m", "ipykernel_launcher", "-f", self.connection_file]
        own_user = c.uid is not None and c.uid != os.getuid()
        nproc = c.nproc if own_user else None  # a shared user's count would include the grader's processes
        if not c.sealed:
            return wrap(cmd, c.memory_mb, c.file_mb, nproc, c.uid if own_user else None)
        inner = wrap(cmd, c.memory_mb, c.file_mb, nproc, c.uid if own_user else None, inline=True)
        return sandbox.bwrap_command(inner, ipc_dir=k.ipc_dir, etc_dir=k.dir / "etc", notebook=k.notebook_copy,
                                     env=k.env, private=[Path(p) for p in c.private], tmp_mb=c.tmp_mb)

    def interrupt_kernel(self) -> None:
        # As a message on the control channel: no signal reaches the kernel's session and PID namespace.
        msg = self.session.msg("interrupt_request", content={})
        self._connect_control_socket()
        self.session.send(self._control_socket, msg)


def _short(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


class Kernel:
    """A Python kernel for one submission: ``with Kernel(home, Confinement()) as k: k.run("x = 1", timeout=5)``.

    ``home`` is a folder private to the grader (each start makes a fresh folder in it for the kernel's
    sockets, log and, unsealed, working directory); ``notebook``, if given, is copied read-only into the
    kernel's home.
    """

    def __init__(self, home: str | Path, confinement: Confinement = Confinement(), threads: int = 1,
                 env: dict[str, str] | None = None, startup_timeout: float = 120.0, preload: str = "",
                 notebook: str | Path | None = None):
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.home, self.confinement = Path(home), confinement
        self.threads, self.extra_env = threads, dict(env or {})
        self.startup_timeout = startup_timeout
        self.preload = preload  # run after every (re)start, before any student code (e.g. "import torch")
        self.notebook = Path(notebook) if notebook is not None else None
        self.restarts = 0
        self.dir: Path | None = None
        self._km = self._kc = self._log = self._ctx = self._group = None

    # -- lifetime ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start a fresh kernel (raises RuntimeError if it does not come up, after a second try)."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once()
                break
            except Exception as err:  # a hung or dead kernel, or one that could not be launched at all
                why = f"the grading kernel did not start ({_short(err, 300)}); its log ends: {self._log_tail()}"
                self.close()
                if attempt == START_ATTEMPTS:
                    raise RuntimeError(why) from err
        o = self.run(HARNESS_PRELOAD + "\n" + self.preload, timeout=self.startup_timeout, _recover=False)
        if not o.ok:
            self.close()
            raise RuntimeError(f"the grading kernel's preload {o.describe()}")

    def _own(self, path: Path, mode: int) -> None:
        uid = self.confinement.uid
        if uid is not None and os.getuid() == 0:
            os.chown(path, uid, uid)
        os.chmod(path, mode)

    def _start_once(self) -> None:
        c = self.confinement
        self.home.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="kernel-", dir=self.home))
        self.ipc_dir = self.dir / "ipc"
        self.ipc_dir.mkdir()
        self._own(self.ipc_dir, 0o700)
        uid = os.getuid() if c.uid is None else c.uid
        sandbox.passwd_files(self.dir / "etc", uid, uid)
        self.notebook_copy = None
        if self.notebook is not None:
            self.notebook_copy = self.dir / "notebook" / self.notebook.name
            self.notebook_copy.parent.mkdir()
            shutil.copyfile(self.notebook, self.notebook_copy)
            self._own(self.notebook_copy, 0o400)
        if c.sealed:
            self.env, cwd = sandbox.sandbox_env(self.extra_env, self.threads), self.dir
        else:
            work = self.dir / "work"
            work.mkdir()
            self._own(work, 0o700)
            self.env = sandbox.sandbox_env({**self.extra_env, "HOME": str(work), "TMPDIR": str(work)}, self.threads)
            cwd = work
        self._ctx = zmq.Context()
        self._ctx.setsockopt(zmq.MAXMSGSIZE, c.max_message_mb * 2**20)
        km = _KernelManager(kernel_name="python3", transport="ipc", context=self._ctx)
        km.kernel = self
        km.ip = str(self.ipc_dir / "kernel")
        km.connection_file = str(self.ipc_dir / "kernel.json")
        km.write_connection_file()
        self._own(Path(km.connection_file), 0o600)
        self._log = open(self.dir / "kernel.log", "ab")
        self._km = km
        km.start_kernel(env=self.env, cwd=str(cwd), stdout=self._log, stderr=self._log)
        if c.cgroup and c.uid is not None and c.uid != os.getuid() and c.memory_mb:
            # All its processes together: the memory cap and its three tmpfs; before any student code runs.
            self._group = cgroups.make((c.memory_mb + 3 * c.tmp_mb) * 2**20, c.nproc or NPROC)
            if self._group is not None:
                self._group.adopt(km.provisioner.process.pid)
        kc = BlockingKernelClient(context=self._ctx, connection_file=km.connection_file, parent=km,
                                  **km.get_connection_info(session=True))
        kc.start_channels()
        self._kc = kc
        kc.wait_for_ready(timeout=self.startup_timeout)

    def _log_tail(self, n: int = 300) -> str:
        try:
            with open(self.dir / "kernel.log", "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - LOG_TAIL))
                text = f.read().decode("utf-8", errors="replace")
        except (OSError, TypeError):
            return "(no log)"
        text = " ".join(text.split())
        return ("..." + text[-n:] if len(text) > n else text) or "(empty)"

    def close(self) -> None:
        """Kill the kernel (and with it its sandbox) and release its channels and folder."""
        if self._kc is not None:
            self._kc.stop_channels()
        if self._km is not None:
            try:
                if self._km.has_kernel:
                    self._km.shutdown_kernel(now=True)
            except Exception:  # a kernel that is already gone
                pass
            self._km.cleanup_resources()
        if self._group is not None:
            self._group.remove()
        if self._log is not None:
            self._log.close()
        if self._ctx is not None:
            self._ctx.destroy(linger=0)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        self._km = self._kc = self._log = self._ctx = self._group = self.dir = None

    def restart(self) -> None:
        """Replace the kernel by a fresh one."""
        self.close()
        self.restarts += 1
        self.start()

    def __enter__(self) -> "Kernel":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._km is not None and self._km.is_alive()

    # -- running code -----------------------------------------------------------------------------
    def _iopub(self, msg_id: str, payloads: list[str]) -> bool:
        """Read every waiting output message (outputs are not kept, so memory stays flat when a submission
        prints without end); keep the harness's payloads for ``msg_id``. True once that run went idle."""
        idle = False
        while True:
            try:
                msg = self._kc.get_iopub_msg(timeout=0)
            except queue.Empty:
                return idle
            except Exception:  # a message that does not parse: dropped
                continue
            if not isinstance(msg, dict) or msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            content = msg.get("content") or {}
            if msg.get("msg_type") == "display_data" and isinstance(content.get("data"), dict):
                value = content["data"].get(MIME)
                if isinstance(value, str):
                    payloads.append(value)
            elif msg.get("msg_type") == "status" and content.get("execution_state") == "idle":
                idle = True

    def run(self, code: str, timeout: float, _recover: bool = True) -> Outcome:
        """Run ``code`` in the kernel's namespace, for at most ``timeout`` seconds (see the module doc)."""
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if self._km is None:
            self.start()
        start = time.monotonic()
        msg_id = self._kc.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline, interrupted, payloads, idle = start + timeout, False, [], False
        while True:
            idle = self._iopub(msg_id, payloads) or idle
            try:
                msg = self._kc.get_shell_msg(timeout=0.05)
            except queue.Empty:
                msg = None
            except Exception:  # a message that does not parse: dropped
                msg = None
            if isinstance(msg, dict) and msg.get("parent_header", {}).get("msg_id") == msg_id \
                    and msg.get("msg_type") == "execute_reply" and isinstance(msg.get("content"), dict):
                break
            elapsed = time.monotonic() - start
            if not self._km.is_alive():
                code_ = getattr(getattr(self._km.provisioner, "process", None), "returncode", None)
                if _recover:
                    self.restart()
                return Outcome("died", elapsed, evalue=_exit_text(code_, self.confinement.sealed),
                               restarted=_recover)
            if not interrupted and time.monotonic() > deadline:
                self._km.interrupt_kernel()
                interrupted, deadline = True, time.monotonic() + GRACE_S
            elif interrupted and time.monotonic() > deadline:
                if _recover:
                    self.restart()
                return Outcome("timeout", timeout, restarted=_recover)
        elapsed = time.monotonic() - start
        until = time.monotonic() + IDLE_WAIT_S
        while not idle and time.monotonic() < until and self._km.is_alive():
            idle = self._iopub(msg_id, payloads)
            if not idle:
                time.sleep(0.01)
        content = msg["content"]
        if interrupted:
            return Outcome("timeout", timeout, ename=_short(content.get("ename", ""), 60))
        if any(isinstance(p, dict) and p.get("source") == "ask_exit" and not p.get("keepkernel")
               for p in content.get("payload") or []):
            # exit() / quit(): ipykernel finishes the cell, then stops its event loop and the process ends.
            if _recover:
                self.restart()
            return Outcome("died", elapsed, evalue="exit() was called", restarted=_recover)
        if content.get("status") == "ok":
            return Outcome("ok", elapsed, payloads=payloads)
        return Outcome("error", elapsed, ename=_short(content.get("ename", "Error"), 60),
                       evalue=_short(content.get("evalue", "")), payloads=payloads)


def _exit_text(returncode: int | None, sealed: bool) -> str:
    if returncode is None:
        return "the process ended"
    if sealed and returncode > 128:  # bubblewrap exits with 128 + the signal that ended the kernel
        returncode = 128 - returncode
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    return f"exit status {returncode}"
