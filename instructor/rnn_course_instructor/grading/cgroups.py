"""A control group per kernel, where the machine lets the grader make one: all of a kernel's processes together
held to one memory cap and one process count.

Resource limits (``limits.py``) bound each process; a kernel that starts many processes could still use many
times its cap. When the grader runs as root and finds a cgroup hierarchy it may write (cgroup v2 with the
``memory`` and ``pids`` controllers enabled at its root, or v1's ``memory`` and ``pids`` hierarchies), each
kernel gets a group of its own: ``Group.adopt`` moves the kernel's process and everything under it into the
group right after launch, before any student code runs (whatever it starts later is born inside), and
``Group.remove`` deletes the group once the kernel is gone. Elsewhere (an ordinary user, most containers)
``make`` returns None and the resource limits stand alone.
"""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (by parent id, read from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Group:
    """One kernel's control group(s): ``dirs`` (one for v2, two for v1), each with a ``cgroup.procs``."""

    def __init__(self, dirs: list[Path]):
        self.dirs = dirs

    def adopt(self, pid: int) -> None:
        """Move ``pid`` and all its descendants in, again until none is left outside (one may fork meanwhile)."""
        for _ in range(100):
            outside = [p for p in [pid, *_children(pid)] if not self._holds(p)]
            if not outside:
                return
            for pid_ in outside:
                for d in self.dirs:
                    try:
                        (d / "cgroup.procs").write_text(str(pid_))
                    except OSError:  # a process that is already gone
                        pass

    def _holds(self, pid: int) -> bool:
        try:
            return all(d.name in Path(f"/proc/{pid}/cgroup").read_text() for d in self.dirs)
        except OSError:
            return True  # gone

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(50):  # the kernel's processes may take a moment to be reaped
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    for pid in (d / "cgroup.procs").read_text().split() if (d / "cgroup.procs").exists() else []:
                        try:
                            os.kill(int(pid), 9)
                        except OSError:
                            pass
                    time.sleep(0.1)


def make(memory_bytes: int, pids: int) -> Group | None:
    """A new group capped at ``memory_bytes`` and ``pids`` processes, or None where none can be made."""
    if os.geteuid() != 0:
        return None
    name = f"rnn-course-kernel-{secrets.token_hex(6)}"
    controllers = ROOT / "cgroup.subtree_control"
    made: list[Path] = []
    try:
        if controllers.exists() and {"memory", "pids"} <= set(controllers.read_text().split()) and _writable(ROOT):
            d = ROOT / name
            d.mkdir()
            made.append(d)
            (d / "memory.max").write_text(str(memory_bytes))
            if (d / "memory.swap.max").exists():
                (d / "memory.swap.max").write_text("0")
            (d / "pids.max").write_text(str(pids))
            return Group(made)
        if _writable(ROOT / "memory") and _writable(ROOT / "pids"):
            for hierarchy, setting, value in (("memory", "memory.limit_in_bytes", memory_bytes),
                                              ("pids", "pids.max", pids)):
                d = ROOT / hierarchy / name
                d.mkdir()
                made.append(d)
                (d / setting).write_text(str(value))
            return Group(made)
    except OSError:
        Group(made).remove()
    return None


def available() -> bool:
    """Whether a group can be made here (made and removed at once)."""
    group = make(2**30, 64)
    if group is None:
        return False
    group.remove()
    return True
