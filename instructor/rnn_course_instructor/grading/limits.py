"""Start a command under resource limits: ``python -m rnn_course_instructor.grading.limits [options] -- CMD ...``.

The grader launches every student kernel through this module. It sets the limits on its own process,
then ``exec``\\ s the kernel, so the kernel (same process id) and anything it starts inherit them:

- address space (``RLIMIT_AS``): a memory bomb gets ``MemoryError`` (or its allocation fails) instead of
  exhausting the machine;
- size of any one file written (``RLIMIT_FSIZE``): a disk bomb gets ``OSError`` (Python ignores ``SIGXFSZ``);
- core dumps (``RLIMIT_CORE = 0``): a crashing kernel leaves no multi-GB core file.

Linux and macOS only (``resource`` is POSIX); macOS does not enforce ``RLIMIT_AS``.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys

MiB = 1 << 20


def apply_limits(memory_mb: int | None, file_mb: int | None) -> None:
    """Lower this process's limits: address space ``memory_mb``, file size ``file_mb`` (None: unchanged)."""
    for name, limit, mb in [("RLIMIT_AS", resource.RLIMIT_AS, memory_mb),
                            ("RLIMIT_FSIZE", resource.RLIMIT_FSIZE, file_mb)]:
        if mb is None:
            continue
        if mb <= 0:
            raise ValueError(f"{name} must be a positive number of MiB, got {mb}")
        _, hard = resource.getrlimit(limit)
        value = mb * MiB if hard == resource.RLIM_INFINITY else min(mb * MiB, hard)
        resource.setrlimit(limit, (value, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))


def wrap(cmd: list[str], memory_mb: int | None, file_mb: int | None) -> list[str]:
    """The command line that runs ``cmd`` under these limits."""
    out = [sys.executable, "-m", "rnn_course_instructor.grading.limits"]
    if memory_mb is not None:
        out += ["--memory-mb", str(int(memory_mb))]
    if file_mb is not None:
        out += ["--file-mb", str(int(file_mb))]
    return out + ["--", *cmd]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rnn_course_instructor.grading.limits", description=__doc__.split("\n")[0])
    parser.add_argument("--memory-mb", type=int, default=None, help="address-space limit in MiB")
    parser.add_argument("--file-mb", type=int, default=None, help="largest file the command may write, MiB")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command given (put it after --)")
    apply_limits(args.memory_mb, args.file_mb)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
