"""Finding submissions in a folder, and taking a private copy of each before any student code runs.

Every entry of the folder gets a row, whatever its name or kind: ``find_entries`` lists regular files, one level
of student folders, and everything else (a FIFO, a socket, a symbolic link, a folder inside a student's folder,
an empty folder) as an entry with the reason it cannot be graded. Hidden files (a leading dot) and the
``__MACOSX`` and ``.ipynb_checkpoints`` folders that archives and Jupyter leave behind are skipped.

Names are shown as text that any CSV, terminal or file system takes: bytes that are not UTF-8 become
``\\xNN``, control characters ``\\xNN`` too (``display_name``); two entries that would show the same get a
``#2``. Files are opened without following links and without blocking (a FIFO never hangs the grader), read
once up to ``MAX_BYTES``, hashed, and copied into the grader's private folder (``snapshot``): the grade and the
``sha256`` are those of that copy, whatever happens to the original later.
"""
from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

IGNORED = {"__MACOSX", ".ipynb_checkpoints"}
MAX_BYTES = 50 * 2**20  # larger files are refused unread (a notebook is a few MB at most)


@dataclass
class Entry:
    """One row of the report: a file to grade, or why there is none."""

    name: str  # as the report shows it
    path: Path
    problem: str = ""  # why it cannot be graded ("" if it can be read)
    status: str = "not a notebook"  # the row's status when ``problem`` is set
    sha256: str = ""
    copy: Path | None = None  # the private copy, once ``snapshot`` has taken it


def display_name(raw: str) -> str:
    """``raw`` (a file name as Python got it from the OS) as plain, printable text."""
    text = os.fsencode(raw).decode("utf-8", errors="backslashreplace")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
                   for c in text)


def _kind(st: os.stat_result) -> str:
    for test, what in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(st.st_mode):
            return what
    return "not a regular file"


def _classify(path: Path, name: str, root: Path) -> Entry:
    try:
        st = path.lstat()
    except OSError as err:
        return Entry(name, path, f"{name} cannot be read ({err.strerror})", "unreadable file")
    if stat.S_ISLNK(st.st_mode):
        try:
            target = path.resolve(strict=True)
            where = "inside" if root in target.parents else "outside"
        except (OSError, RuntimeError):
            where = "nowhere (broken)"
        return Entry(name, path, f"{name} is a symbolic link to a file {where} the folder; submit the file itself")
    if not stat.S_ISREG(st.st_mode):
        return Entry(name, path, f"{name} is {_kind(st)}, not a notebook file")
    return Entry(name, path)


def find_entries(path: str | Path) -> list[Entry]:
    """Every submission under ``path``: a file, or every entry of a folder (one level of student folders)."""
    path = Path(path)
    if path.is_file() and not path.is_dir():  # a single file given by the instructor: links followed
        return [_classify(path.resolve(), display_name(path.name), path.resolve().parent)]
    if not path.is_dir():
        if path.exists():
            return [_classify(path, display_name(path.name), path.parent)]
        raise ValueError(f"{path} is neither a submission file nor a folder of submissions")
    root = path.resolve()
    found: list[Entry] = []
    for entry in sorted(root.iterdir(), key=lambda p: os.fsencode(p.name)):
        if entry.name.startswith(".") or entry.name in IGNORED:
            continue
        name = display_name(entry.name)
        if entry.is_dir() and not entry.is_symlink():  # one folder per student, as some LMS exports have
            inner = [e for e in sorted(entry.iterdir(), key=lambda p: os.fsencode(p.name))
                     if not e.name.startswith(".") and e.name not in IGNORED]
            if not inner:
                found.append(Entry(f"{name}/", entry, f"{name}/ is an empty folder"))
                continue
            files = []
            for e in inner:
                inner_name = f"{name}/{display_name(e.name)}"
                if e.is_dir() and not e.is_symlink():
                    files.append(Entry(f"{inner_name}/", e, f"{inner_name}/ is a folder inside a student's folder "
                                                            "(not searched)"))
                else:
                    files.append(_classify(e, inner_name, root))
            notebooks = [f for f in files if not f.problem and f.path.suffix.lower() == ".ipynb"]
            # With a notebook in the folder, its other plain files are attachments; anything odd gets a row.
            found += notebooks + [f for f in files if f.problem] if notebooks else files
        else:
            found.append(_classify(entry, name, root))
    seen: dict[str, int] = {}
    for e in found:  # names that show the same (two encodings of one name) get #2, #3 ...
        seen[e.name] = seen.get(e.name, 0) + 1
        if seen[e.name] > 1:
            e.name = f"{e.name}#{seen[e.name]}"
    return found


def snapshot(entry: Entry, folder: Path, number: int) -> Entry:
    """Read ``entry`` once (no links followed, never blocking), hash it and copy it into ``folder``."""
    if entry.problem:
        return entry
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(entry.path, flags)
    except OSError as err:
        entry.problem, entry.status = f"{entry.name} cannot be read ({err.strerror})", "unreadable file"
        return entry
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):  # swapped for something else since it was listed
            entry.problem = f"{entry.name} is {_kind(st)}, not a notebook file"
            return entry
        data = f.read(MAX_BYTES + 1)
    entry.sha256 = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_BYTES:
        entry.problem, entry.status = f"{entry.name} is larger than {MAX_BYTES >> 20} MiB", "malformed notebook"
        return entry
    if entry.path.suffix.lower() != ".ipynb":
        entry.problem = f"{entry.name} is not an .ipynb file"
        return entry
    entry.copy = folder / f"{number:05d}.ipynb"
    fd = os.open(entry.copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return entry
