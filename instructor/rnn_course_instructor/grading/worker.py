"""The batch grader's worker: ``python -P -m rnn_course_instructor.grading.worker`` grades one submission.

It reads its job (a JSON object) on standard input and writes the result (JSON) on standard output, a pipe no
kernel holds. It cannot be read or traced by processes of its user (``PR_SET_DUMPABLE``: its ``/proc`` files,
environment included, are closed to them), caps its own memory, and is the reaper of every process it starts
(``PR_SET_CHILD_SUBREAPER``): whatever is left of them when it ends is killed, with or without the sandbox.
SIGTERM (from the batch) and SIGINT unwind it, so the kernel's cleanup runs.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
from pathlib import Path

import torch

from rnn_course_instructor.grading.kernel import Confinement
from rnn_course_instructor.grading.runner import grade_submission
from rnn_course_instructor.grading.spec import load_exercise

MEMORY_MB = 6144  # the worker's own address space (torch alone reserves a few GiB of it)


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        pass


def kill_descendants() -> None:
    """Kill every process whose parent is this one (kernels, and orphans that came to this reaper), until none."""
    for _ in range(50):
        mine = []
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                    mine.append(int(entry))
        if not mine:
            return
        for pid in mine:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in mine:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass


def main() -> None:
    """The batch grader's worker: a job (JSON) on stdin, the result (JSON) on stdout."""
    _prctl(4, 0)  # PR_SET_DUMPABLE: processes of this user cannot read this one's /proc files or trace it
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans of the processes started here come back to this one
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:  # soft only: the kernels' own (hard) caps are set after this
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_MB * 2**20, hard))
    job = json.loads(sys.stdin.read())
    # Stopped by the batch grader: unwind, so that the kernel's cleanup runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    torch.set_num_threads(job["threads"])
    try:
        exercise = load_exercise(job["exercise"])
        confinement = Confinement(sealed=job["sealed"], uid=job["uid"],
                                  memory_mb=job.get("memory_mb") or exercise.memory_mb,
                                  private=tuple(job.get("private", ())))
        result = grade_submission(job["submission"], exercise, job["seed"], job["threads"], job.get("cell_timeout"),
                                  job.get("budget"), confinement, job["name"], job.get("workdir"))
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        sys.stdout.flush()
    finally:
        kill_descendants()


if __name__ == "__main__":
    main()
