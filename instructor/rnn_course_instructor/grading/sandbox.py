"""The sandbox a student kernel runs in: bubblewrap, the unprivileged sandbox Flatpak uses (Debian's ``bubblewrap``).

``bwrap_command`` wraps the kernel's command line so that the kernel

- runs in new PID, mount, IPC, network, UTS and cgroup namespaces: it sees no other process (not the grader,
  not another kernel, so it can signal none of them and read none of their ``/proc`` files), and has no
  network. A grader run by root starts bubblewrap as root (it mounts what the kernel's user could not reach by
  name, such as a Python under ``/root``), keeps only the two capabilities that switching user needs, and the
  first command inside switches to the kernel's unprivileged user; a grader run by another user starts it
  unprivileged, in a new user namespace as well, in which no further user namespace may be made;
- sees a file system made for it: the operating system (``/usr`` and the dynamic linker's files), Python and
  its packages, and the course package ``rnn_course``, all read-only; the instructors' package (reference
  solution, master notebooks, grader) is never mounted, and where it sits inside a mounted tree an empty folder
  hides it; a private home with a read-only copy of its own notebook, a private ``/tmp`` and ``/dev/shm``
  (size-capped tmpfs, gone with the kernel); and the one folder of its own connection file and sockets.
  Not the submissions, the grades, the grader's files or other kernels;
- starts with an empty environment plus what the grader sets (``--clearenv``);
- dies with the grader's worker (``--die-with-parent``), and every process it started dies with it: when the
  kernel ends, the namespace's init process ends and the kernel (Linux) kills everything left in the namespace;
- runs in a session of its own (``--new-session``), so it cannot push input into the grader's terminal.

The first command inside is ``limits.py`` (hard limits, then the switch of user), so the limits apply to the
kernel and everything it starts and cannot be raised from inside. ``check`` tries the real thing once before a
batch.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

HOME = "/home/student"  # the kernel's home and working directory inside the sandbox
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives")
INSTALL_HINT = "install bubblewrap (Debian and Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"


def bwrap() -> str | None:
    """The ``bwrap`` executable, or None."""
    return shutil.which("bwrap")


def _package_dirs(name: str) -> list[Path]:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    locations = list(spec.submodule_search_locations or [])
    if not locations and spec.origin:
        locations = [str(Path(spec.origin).parent)]
    return [Path(p).resolve() for p in locations]


def python_trees() -> list[Path]:
    """The folders the kernel needs read-only: Python's prefixes, its site-packages, the course package."""
    trees = [Path(sys.base_prefix), Path(sys.prefix), *map(Path, site.getsitepackages())]
    trees += _package_dirs("rnn_course")
    out: list[Path] = []
    for tree in sorted({t.resolve() for t in trees if t.exists()}, key=lambda p: len(p.parts)):
        if not any(parent == tree or parent in tree.parents for parent in out):  # already inside a tree
            out.append(tree)
    return out


def hidden_inside(trees: list[Path], private: list[Path]) -> list[Path]:
    """The paths of ``private`` (and the instructors' package) that lie inside a mounted tree: to be masked."""
    candidates = [p.resolve() for p in private] + _package_dirs("rnn_course_instructor")
    return sorted({p for p in candidates if any(t == p or t in p.parents for t in trees)})


def _parents(paths: list[Path], trees: list[Path]) -> list[str]:
    """``--dir`` options that make the folders above ``paths`` traversable by the kernel's user (privileged
    bubblewrap would make them 0700)."""
    parents = {a for p in paths for a in Path(p).parents if str(a) not in ("/", "/tmp", *SYSTEM_DIRS)}
    out = []
    for parent in sorted(parents, key=lambda a: len(a.parts)):
        if not any(parent == t or t in parent.parents for t in trees):
            out += ["--perms", "0755", "--dir", str(parent)]
    return out


def bwrap_command(cmd: list[str], *, ipc_dir: Path, etc_dir: Path, notebook: Path | None, env: dict[str, str],
                  private: list[Path], tmp_mb: int) -> list[str]:
    """``cmd`` wrapped in bubblewrap (see the module docstring); ``cmd`` starts with ``limits.py`` inline
    (``limits.wrap(..., inline=True)``). ``ipc_dir`` is bound read-write at its own
    path (connection file and sockets); ``etc_dir`` holds the sandbox's ``passwd`` and ``group``; ``private``
    are paths that must stay hidden even where a mounted tree contains them (submissions, grades, ...)."""
    exe = bwrap()
    if exe is None:
        raise RuntimeError(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}")
    if os.geteuid() == 0:  # privileged bubblewrap; limits.py switches to the kernel's user inside
        args = [exe, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args = [exe, "--unshare-all", "--unshare-user", "--disable-userns"]
    args += ["--die-with-parent", "--new-session", "--clearenv", "--hostname", "grader", "--proc", "/proc",
             "--dev", "/dev"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in ETC_FILES:
        args += ["--ro-bind-try", f, f]
    args += ["--ro-bind", str(etc_dir / "passwd"), "/etc/passwd", "--ro-bind", str(etc_dir / "group"), "/etc/group"]
    trees = python_trees()
    args += _parents(trees, trees)
    for tree in trees:
        args += ["--ro-bind", str(tree), str(tree)]
    for path in hidden_inside(trees, private):
        if path.is_dir():
            args += ["--tmpfs", str(path), "--remount-ro", str(path)]
        else:
            args += ["--ro-bind", "/dev/null", str(path)]
    size = str(tmp_mb * 2**20)
    for d in ("/tmp", "/dev/shm", HOME):
        args += ["--size", size, "--perms", "1777", "--tmpfs", d]  # privileged bwrap makes tmpfs root-owned
    if notebook is not None:
        args += ["--ro-bind", str(notebook), f"{HOME}/{notebook.name}"]
    args += _parents([ipc_dir], trees) + ["--bind", str(ipc_dir), str(ipc_dir), "--chdir", HOME]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + ["--", *cmd]


def sandbox_env(extra: dict[str, str], threads: int, user: str = "student") -> dict[str, str]:
    """The kernel's whole environment inside the sandbox: nothing of the grader's, only this."""
    env = {"PATH": f"{Path(sys.prefix) / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": HOME, "TMPDIR": "/tmp",
           "USER": user, "LOGNAME": user, "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "MALLOC_ARENA_MAX": "2"}
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env.update(extra)
    return env


def passwd_files(etc_dir: Path, uid: int, gid: int, user: str = "student") -> None:
    """Write the sandbox's ``/etc/passwd`` and ``/etc/group``: the kernel's user and nobody else."""
    etc_dir.mkdir(parents=True, exist_ok=True)
    (etc_dir / "passwd").write_text(f"{user}:x:{uid}:{gid}:{user}:{HOME}:/usr/sbin/nologin\n")
    (etc_dir / "group").write_text(f"{user}:x:{gid}:\n")
    for name in ("passwd", "group"):
        os.chmod(etc_dir / name, 0o644)


def check(uid: int | None, memory_mb: int, scratch: Path, sealed: bool = True) -> str:
    """Start Python in the sandbox once (``sealed``; else without it), as the kernels will run; ``""`` if it
    works, else why not."""
    from rnn_course_instructor.grading.limits import wrap

    if sealed and bwrap() is None:
        return f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
    scratch.mkdir(parents=True, exist_ok=True)
    ipc = scratch / "ipc"
    ipc.mkdir(exist_ok=True)
    uid_ = os.getuid() if uid is None else uid
    passwd_files(scratch / "etc", uid_, uid_)
    if uid is not None and os.getuid() == 0:
        os.chown(ipc, uid, uid)
    probe = ("import ipykernel, rnn_course, torch, importlib\n"
             "try:\n    importlib.import_module('rnn_course_instructor.charlm')\n    print('reference visible')\n"
             "except ImportError:\n    print('ok')")
    inner = wrap([sys.executable, "-I", "-c", probe], memory_mb, None, None, uid, inline=sealed)
    cmd = inner if not sealed else bwrap_command(inner, ipc_dir=ipc, etc_dir=scratch / "etc", notebook=None,
                                                 env=sandbox_env({}, 1), private=[], tmp_mb=64)
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=scratch)
    except subprocess.TimeoutExpired:
        return "starting Python in the sandbox took more than 120 s"
    out = (run.stdout + run.stderr).strip()
    if not sealed and out.splitlines()[-1:] == ["reference visible"]:
        return ""  # unsealed, a kernel reaches everything the grader's user can: each row says so
    if run.returncode != 0 or out.splitlines()[-1:] != ["ok"]:
        where = "in the sandbox" if sealed else f"as user {uid_}"
        return f"Python does not start {where} (exit {run.returncode}): {out[-400:] or 'no output'}"
    return ""
