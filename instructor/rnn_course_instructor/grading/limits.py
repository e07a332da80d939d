"""Start a command under hard resource limits, as another user: ``python -I -m ...grading.limits [opts] -- CMD``.

The grader launches every student kernel through this module (run with ``-I``, so nothing in the working
directory is imported). It sets each limit with the soft value equal to the hard one, drops to an unprivileged
user when asked (``--uid``, from root), then ``exec``\\ s the command: the command and everything it starts
inherit limits they cannot raise, since raising a hard limit needs ``CAP_SYS_RESOURCE``.

- address space (``RLIMIT_AS``): a memory bomb gets ``MemoryError`` (or its allocation fails);
- size of any one file written (``RLIMIT_FSIZE``): a disk bomb gets ``OSError`` (Python ignores ``SIGXFSZ``);
- core dumps (``RLIMIT_CORE = 0``): a crashing kernel leaves no core file;
- processes and threads of the user (``RLIMIT_NPROC``): a fork bomb stops there. The count is per user, so
  the grader gives every kernel that runs at the same time a user id of its own;
- open files (``RLIMIT_NOFILE``).

In the sandbox this module runs as the command bwrap starts (its source passed with ``python -I -c``, since the
instructors' package is not mounted there): the limits and the switch of user then apply to the kernel and all
it starts, while bubblewrap itself, which needs the grader's rights to mount what the kernel sees, is not bound
by them.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
from pathlib import Path

MiB = 1 << 20
NOFILE = 1024  # open files per kernel process


def apply_limits(memory_mb: int | None, file_mb: int | None, nproc: int | None = None,
                 nofile: int | None = NOFILE) -> None:
    """Set this process's limits, soft = hard: address space and file size in MiB, processes, open files."""
    wanted = [("RLIMIT_AS", resource.RLIMIT_AS, memory_mb and memory_mb * MiB),
              ("RLIMIT_FSIZE", resource.RLIMIT_FSIZE, file_mb and file_mb * MiB),
              ("RLIMIT_NPROC", getattr(resource, "RLIMIT_NPROC", None), nproc),
              ("RLIMIT_NOFILE", resource.RLIMIT_NOFILE, nofile),
              ("RLIMIT_CORE", resource.RLIMIT_CORE, 0)]
    for name, limit, value in wanted:
        if value is None or limit is None:
            continue
        if value < 0 or (value == 0 and name != "RLIMIT_CORE"):
            raise ValueError(f"{name} must be positive, got {value}")
        _, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no supplementary groups (from root); a no-op if already that user."""
    if os.getuid() == uid and os.getgid() == gid:
        return
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise RuntimeError(f"could not become user {uid}")


def wrap(cmd: list[str], memory_mb: int | None, file_mb: int | None, nproc: int | None = None,
         uid: int | None = None, inline: bool = False) -> list[str]:
    """The command line that runs ``cmd`` under these limits (as ``uid``, when given). ``inline``: the module's
    source goes on the command line (``python -I -c``), for a sandbox where the package is not mounted."""
    if inline:
        out = [sys.executable, "-I", "-c", Path(__file__).read_text(encoding="utf-8")]
    else:
        out = [sys.executable, "-I", "-m", "rnn_course_instructor.grading.limits"]
    for flag, value in (("--memory-mb", memory_mb), ("--file-mb", file_mb), ("--nproc", nproc), ("--uid", uid)):
        if value is not None:
            out += [flag, str(int(value))]
    return out + ["--", *cmd]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -I -m rnn_course_instructor.grading.limits",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--memory-mb", type=int, default=None, help="address-space limit in MiB")
    parser.add_argument("--file-mb", type=int, default=None, help="largest file the command may write, MiB")
    parser.add_argument("--nproc", type=int, default=None, help="processes and threads of the user")
    parser.add_argument("--uid", type=int, default=None, help="run as this user id (and group id)")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command given (put it after --)")
    try:
        apply_limits(args.memory_mb, args.file_mb, args.nproc)
        if args.uid is not None:
            drop_privileges(args.uid, args.uid)
    except (ValueError, OSError, RuntimeError) as err:
        parser.error(str(err))
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
