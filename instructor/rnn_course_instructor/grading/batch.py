"""Grade a folder of submissions into one CSV: each submission in a worker process of its own, N at a time.

1. Before anything runs, every entry of the folder is listed (``files.py``: every name and kind gets a row) and
   read once into the grader's private folder, so what is graded and hashed is that copy.
2. Each copy is graded by a worker (``python -P -m rnn_course_instructor.grading.worker``: no working
   directory on ``sys.path``, started in an empty private folder), whose kernel runs sealed in bubblewrap as an
   unprivileged user of its own: one user id per job slot, so no two kernels share a process count. Without
   bubblewrap the grader refuses, unless ``unsealed`` is set, and then every row says so.
3. The CSV is rewritten atomically (a temporary file, then ``os.replace``) after every submission, and a re-run
   skips the submissions it already holds (same name and hash) unless ``regrade`` is set. A worker that does
   not finish within its budget plus a margin is stopped and its row says so.
4. SIGINT or SIGTERM stops every worker at once (and with each its kernel and everything the kernel started),
   leaves the CSV as it was after the last submission graded, and removes the private folder.
5. At the end, the similarity columns name each submission's closest match (``similarity.py``).
"""
from __future__ import annotations

import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from rnn_course_instructor.grading import cgroups, sandbox, similarity
from rnn_course_instructor.grading.files import Entry, find_entries, snapshot
from rnn_course_instructor.grading.gradescope import write_results_json
from rnn_course_instructor.grading.report import _num, cell, read_csv, result_row, write_csv_atomic
from rnn_course_instructor.grading.runner import Result, zero_result
from rnn_course_instructor.grading.spec import Exercise, load_exercise, master_path
from rnn_course_instructor.grading.submission import SubmissionError, read_submission

HARD_MARGIN_S = 120.0  # a worker gets its submission's budget plus this before it is stopped
STOP_GRACE_S = 10.0  # after SIGTERM, how long workers may take to clean up before they are killed
FIRST_UID = 2_000_000_000  # kernels' user ids when the grader runs as root: FIRST_UID + job slot
SAFE_PATH = ["-P"] if sys.version_info >= (3, 11) else ["-I"]  # no working directory on a worker's sys.path


class Stopped(KeyboardInterrupt):
    """The batch was asked to stop (SIGTERM)."""


def _stop(*_) -> None:
    raise Stopped()


@dataclass
class Summary:
    graded: list[Result] = field(default_factory=list)  # results of this run
    skipped: list[str] = field(default_factory=list)  # already in the CSV
    seconds: float = 0.0

    def text(self, exercise: Exercise, out: Path) -> str:
        by_status: dict[str, int] = {}
        for r in self.graded:
            by_status[r.status] = by_status.get(r.status, 0) + 1
        ok = by_status.pop("graded", 0)
        failures = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "none"
        incidents = sum(1 for r in self.graded if r.incidents)
        mean = (sum(r.total for r in self.graded if r.status == "graded") / ok) if ok else 0.0
        m, s = divmod(self.seconds, 60)
        return (f"graded {ok} of {len(self.graded)} submission(s) in {int(m)} min {s:.0f} s; "
                f"failures: {failures}; with incidents (timeouts, crashes): {incidents}; "
                f"mean total {mean:.2f} / {_num(exercise.max_points)}; "
                f"skipped {len(self.skipped)} already graded (--regrade to redo them). CSV: {out}")


class _Workers:
    """Runs one worker per submission, and stops them all on request (never reading their pipes itself)."""

    def __init__(self):
        self.procs: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopping = False

    def run(self, cmd: list[str], job: dict, cwd: Path, hard_timeout: float) -> tuple[int | None, str, str]:
        with self.lock:
            if self.stopping:
                return None, "", "the batch was stopped"
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, errors="replace", cwd=cwd, start_new_session=True)
            self.procs.add(proc)
        try:
            out, err = proc.communicate(json.dumps(job), timeout=hard_timeout)
            return proc.returncode, out, err
        except subprocess.TimeoutExpired:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.communicate(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.communicate()
            return None, "", "worker stopped after its hard time limit"
        finally:
            with self.lock:
                self.procs.discard(proc)

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)  # the worker leads a session of its own
        except OSError:
            pass

    def stop_all(self) -> None:
        """SIGTERM to every worker (each kills its kernel), SIGKILL to those still there after a grace."""
        with self.lock:
            self.stopping = True
            procs = list(self.procs)
        for proc in procs:
            self._signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.05)
        for proc in procs:
            if proc.poll() is None:
                self._signal(proc, signal.SIGKILL)


def _grade_one(workers: _Workers, entry: Entry, job: dict, exercise: Exercise, scratch: Path) -> Result:
    start = time.monotonic()
    cwd = Path(tempfile.mkdtemp(prefix="worker-", dir=scratch))
    try:
        cmd = [sys.executable, *SAFE_PATH, "-m", "rnn_course_instructor.grading.worker"]
        code, out, err = workers.run(cmd, {**job, "workdir": str(cwd)}, cwd, (job["budget"] or exercise.budget)
                                     + HARD_MARGIN_S)
        if code == 0:
            try:
                result = Result.from_dict(json.loads(out.strip().splitlines()[-1]))
                result.submission, result.sha256 = entry.name, entry.sha256
                return result
            except (ValueError, TypeError, KeyError, IndexError):
                err = f"unreadable result: {out[-200:]} {err}"
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    tail = " ".join((err or "").strip().splitlines()[-3:])[-300:]
    why = f"the grader's worker failed (exit {code}): {tail}" if code is not None else err
    return zero_result(exercise, entry.name, "grader error", why, entry.sha256, time.monotonic() - start, job["seed"])


def _kernel_users(jobs: int, user: int | None) -> list[int | None]:
    if os.getuid() != 0:
        if user is not None and user != os.getuid():
            raise ValueError("--user needs the grader to run as root (it switches the kernels to that user)")
        return [None] * jobs
    if user == 0:  # root kernels: only for a machine that is itself thrown away after grading
        return [0] * jobs
    first = FIRST_UID if user is None else user
    return [first + i for i in range(jobs)]


def _similarity(entries: list[Entry], exercise: Exercise, rows: dict[str, dict[str, str]]) -> None:
    cells = {}
    for e in entries:
        if e.copy is not None:
            try:
                cells[e.name] = read_submission(e.copy, e.name).cells
            except SubmissionError:
                pass
    template = reference = None
    master = master_path(exercise)
    if master is not None and master.is_file():
        import nbformat

        from rnn_course_instructor.assign import make_versions

        student, solutions = make_versions(nbformat.read(master, as_version=4))
        template = [c.source for c in student.cells if c.cell_type == "code"]
        reference = [c.source for c in solutions.cells if c.cell_type == "code"]
    for name, (other, share) in similarity.closest(cells, template, reference).items():
        row = rows.get(cell(name))
        if row is not None:
            row["similar_to"], row["similarity"] = cell(other), (f"{100 * share:.0f}%" if other else "")


def _gradescope_path(gradescope: Path, name: str) -> Path:
    if gradescope.suffix == ".json":
        return gradescope
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name.replace("/", "__")).lstrip(".") or "_"
    return gradescope / safe / "results.json"


def grade_folder(submissions: str | Path, exercise: str, out: str | Path, jobs: int = 1, regrade: bool = False,
                 seed: int | None = None, cell_timeout: float | None = None, budget: float | None = None,
                 memory_mb: int | None = None, gradescope: str | Path | None = None, unsealed: bool = False,
                 user: int | None = None, log=print) -> Summary:
    """Grade every submission under ``submissions`` into the CSV ``out`` (see the module docstring).

    ``exercise`` is a built-in exercise name or a path to a ``questions.py``. ``gradescope``: a ``.json`` path
    (exactly one submission) or a folder that gets ``<submission>/results.json`` per submission. ``unsealed``:
    run kernels without bubblewrap (every row then carries a warning). ``user``: the first kernel user id.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    spec = str(Path(exercise).resolve()) if exercise.endswith(".py") else exercise
    ex = load_exercise(spec)
    out = Path(out).resolve()
    gs = Path(gradescope).resolve() if gradescope is not None else None
    outputs = [out] + ([gs] if gs is not None else [])
    entries = [e for e in find_entries(submissions)  # not our own outputs
               if not any(e.path.resolve() == o or o in e.path.resolve().parents for o in outputs)]
    if gs is not None and gs.suffix == ".json" and len(entries) != 1:
        raise ValueError(f"--gradescope {gradescope} names one results.json, but there are {len(entries)} submissions")
    rows = read_csv(out, ex)
    users = _kernel_users(jobs, user)
    scratch = Path(tempfile.mkdtemp(prefix="rnn-course-batch-"))  # 0700: the grader's alone
    previous = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    if previous is not None:
        signal.signal(signal.SIGTERM, _stop)
    workers, pool, summary = _Workers(), None, Summary()
    start = time.monotonic()
    try:
        problem = sandbox.check(users[0], ex.memory_mb, scratch / "check", sealed=not unsealed)
        if problem and not unsealed:
            raise ValueError(f"the sandbox does not work here: {problem}. Install bubblewrap, or pass "
                             "--unsealed to grade without it (each row then says so)")
        if problem:
            raise ValueError(f"the kernels cannot start: {problem}")
        snaps = scratch / "submissions"
        snaps.mkdir()
        todo, done = [], []
        seeds = {e.name: int.from_bytes(os.urandom(6), "big") if seed is None else seed for e in entries}
        for number, entry in enumerate(entries):
            snapshot(entry, snaps, number)
            row = rows.get(cell(entry.name))
            if not regrade and row and row["status"] != "grader error" and row["sha256"] == entry.sha256:
                summary.skipped.append(entry.name)
            elif entry.problem:
                done.append(zero_result(ex, entry.name, entry.status, entry.problem, entry.sha256,
                                        seed=seeds[entry.name]))
            else:
                todo.append(entry)
        threads = max(1, (os.cpu_count() or 1) // jobs)
        limits = "hard limits and a cgroup" if users[0] not in (None, 0) and cgroups.available() else "hard limits"
        log(f"grading {len(todo) + len(done)} submission(s) of exercise {ex.name!r} with {jobs} job(s), {threads} "
            f"thread(s) each, {'UNSEALED (no sandbox)' if unsealed else 'each in its sandbox'}, {limits} per kernel; "
            f"{len(summary.skipped)} already graded")
        slots: queue.Queue = queue.Queue()
        for uid in users:
            slots.put(uid)
        private = [str(p) for p in (Path(submissions).resolve(), *outputs, scratch)]

        def grade(entry: Entry) -> Result:
            uid = slots.get()
            try:
                job = {"submission": str(entry.copy), "name": entry.name, "exercise": spec,
                       "seed": seeds[entry.name], "threads": threads, "cell_timeout": cell_timeout, "budget": budget,
                       "memory_mb": memory_mb, "sealed": not unsealed, "uid": uid, "private": private}
                return _grade_one(workers, entry, job, ex, scratch)
            finally:
                slots.put(uid)

        pool = ThreadPoolExecutor(max_workers=jobs)
        futures = [pool.submit(grade, entry) for entry in todo]
        total = len(done) + len(futures)
        results = itertools.chain(done, (f.result() for f in as_completed(futures)))
        for n, result in enumerate(results, 1):
            summary.graded.append(result)
            key = cell(result.submission)
            rows[key] = result_row(result, ex, rows.get(key))
            write_csv_atomic(out, rows, ex)
            if gs is not None:
                write_results_json(result, ex, _gradescope_path(gs, result.submission))
            note = f" ({len(result.incidents)} incident(s))" if result.incidents else ""
            state = f"{_num(result.total)}/{_num(ex.max_points)}" if result.status == "graded" else result.status
            log(f"[{n}/{total}] {result.submission}: {state}{note}, {result.seconds:.1f} s")
        _similarity(entries, ex, rows)
        write_csv_atomic(out, rows, ex)
    except KeyboardInterrupt:
        log("interrupted: stopping every worker and kernel; the CSV holds every submission graded so far")
        workers.stop_all()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(scratch, ignore_errors=True)
        summary.seconds = time.monotonic() - start
    log(summary.text(ex, out))
    return summary
