"""The robustness sweep: re-execute chapters under other seeds and thread counts, and tabulate their claims.

``rnn-course sweep book/memory_tasks.ipynb`` runs the chapter once per *variant* (a seed set and a number of
torch threads), each in a fresh kernel, with the chapter's claims (``rnn_course.claims``) recorded instead of
raised, and prints for every claim in how many runs it held and its worst margin. A variant's seeds are the
chapter's own defaults (read from its ``setup(seed=..., seeds=[...])`` call) shifted by an offset, so every
variant keeps the chapter's number of seeds; offset 0 is the chapter as committed. Runs are spread over the
CPU cores: a run on t threads takes t cores. ``--strict`` makes the exit status 1 when any claim failed or
any cell raised (what CI uses).
"""
from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rnn_course.claims import LOG_ENV, MODE_ENV
from rnn_course.device import SEED_ENV, SEEDS_ENV, THREADS_ENV


@dataclass(frozen=True)
class Variant:
    """One run of a chapter: its seeds shifted by ``offset`` (or given explicitly), on ``threads`` threads."""

    offset: int = 0
    threads: int = 1
    seeds: tuple[int, ...] | None = None  # explicit seeds (the first is also the main seed)

    def env(self, defaults: tuple[int, list[int]] | None) -> dict[str, str]:
        env = {THREADS_ENV: str(self.threads), "OMP_NUM_THREADS": str(self.threads),
               "MKL_NUM_THREADS": str(self.threads)}
        if self.threads > 1:  # idle threads sleep instead of spinning on a shared, loaded machine: the same sums
            env["OMP_WAIT_POLICY"] = "PASSIVE"
        if self.seeds is not None:
            env[SEED_ENV], env[SEEDS_ENV] = str(self.seeds[0]), ",".join(map(str, self.seeds))
        elif self.offset:
            if defaults is None:
                raise ValueError("shifted seeds need the chapter's defaults; pass explicit --seed-sets")
            seed, seeds = defaults
            env[SEED_ENV], env[SEEDS_ENV] = str(seed + self.offset), ",".join(str(s + self.offset) for s in seeds)
        return env

    def label(self, defaults: tuple[int, list[int]] | None = None) -> str:
        threads = f"{self.threads} thread{'s' if self.threads > 1 else ''}"
        if self.seeds is not None:
            return f"seeds {','.join(map(str, self.seeds))}, {threads}"
        if not self.offset:
            return f"default seeds, {threads}"
        if defaults is None:
            return f"seeds +{self.offset}, {threads}"
        return f"seeds {defaults[0] + self.offset}; {','.join(str(s + self.offset) for s in defaults[1])}, {threads}"


def chapter_defaults(path: Path) -> tuple[int, list[int]] | None:
    """(seed, seeds) of the first ``setup(...)`` call in the notebook's code, or None if there is none."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "setup":
                kw = {k.arg: k.value for k in node.keywords}
                try:
                    seed = ast.literal_eval(kw["seed"]) if "seed" in kw else 0
                    seeds = ast.literal_eval(kw["seeds"]) if "seeds" in kw else [0, 1, 2]
                except (ValueError, KeyError):
                    return None
                return int(seed), [int(s) for s in seeds]
    return None


@dataclass
class RunResult:
    notebook: str
    variant: Variant
    label: str  # the variant, with the seeds it ran
    seconds: float
    claims: list[dict] = field(default_factory=list)
    error: str = ""  # a cell that raised, a timeout, a dead kernel


def _execute_child(notebook: str, timeout: float, stop_after: list[str]) -> int:
    """In the child process: run the notebook in a kernel that inherits this environment."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(notebook).resolve()
    nb = nbformat.read(path, as_version=4)
    log = Path(os.environ[LOG_ENV])

    class Enough(Exception):
        pass

    def seen() -> set[str]:
        if not log.exists():
            return set()
        return {json.loads(line)["name"] for line in log.read_text(encoding="utf-8").splitlines() if line}

    def after_cell(cell=None, cell_index=None, execute_reply=None, **_):
        if stop_after and all(any(fnmatch.fnmatchcase(n, p) for n in seen()) for p in stop_after):
            raise Enough()

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", on_cell_executed=after_cell,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except Enough:
        return 0
    except Exception as err:  # noqa: BLE001 - a failing cell, a timeout or a dead kernel: report its last line
        lines = [line for line in str(err).strip().splitlines() if line.strip()]
        print((lines[-1] if lines else type(err).__name__)[:300], file=sys.stderr)
        return 1
    return 0


def run_one(path: Path, variant: Variant, timeout: float, stop_after: list[str]) -> RunResult:
    """Execute one notebook under one variant in a child process; collect its claims."""
    defaults = chapter_defaults(path)
    with tempfile.TemporaryDirectory(prefix="rnn-course-sweep-") as tmp:
        log = Path(tmp) / "claims.jsonl"
        env = {**os.environ, **variant.env(defaults), MODE_ENV: "record", LOG_ENV: str(log), "MPLBACKEND": "Agg"}
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "rnn_course.sweep", "--child", str(path),
                               "--timeout", str(timeout), *sum((["--stop-after", p] for p in stop_after), [])],
                              env=env, capture_output=True, text=True)
        seconds = time.monotonic() - start
        claims = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    error = "" if proc.returncode == 0 else (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    return RunResult(path.as_posix(), variant, variant.label(defaults), seconds, claims, error)


def run_all(jobs: list[tuple[Path, Variant]], cores: int, timeout: float, stop_after: list[str],
            progress=print) -> list[RunResult]:
    """Run every (notebook, variant), at most ``cores`` threads busy at once; longest first."""
    results: list[RunResult] = []
    free = [cores]
    lock = threading.Condition()

    def work(path: Path, variant: Variant) -> None:
        try:
            result = run_one(path, variant, timeout, stop_after)
        except Exception as err:  # noqa: BLE001 - reported as the run's error
            result = RunResult(path.as_posix(), variant, variant.label(), 0.0, [], f"{type(err).__name__}: {err}")
        with lock:
            results.append(result)
            free[0] += min(variant.threads, cores)
            lock.notify_all()
        held = sum(c["held"] for c in result.claims)
        progress(f"{result.seconds:7.1f} s  {result.notebook}  {result.label}: {held}/{len(result.claims)} "
                 f"claims held" + (f"; ERROR {result.error}" if result.error else ""))

    threads = []
    for path, variant in sorted(jobs, key=lambda j: -j[1].threads):
        need = min(variant.threads, cores)
        with lock:
            lock.wait_for(lambda: free[0] >= need)
            free[0] -= need
        t = threading.Thread(target=work, args=(path, variant), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return results


def claim_table(results: list[RunResult], patterns: list[str] | None = None) -> list[dict]:
    """One row per (notebook, claim): runs held / runs, worst margin and the variant it came from."""
    runs_per_notebook: dict[str, list[RunResult]] = {}
    for r in results:
        runs_per_notebook.setdefault(r.notebook, []).append(r)
    rows = []
    for notebook, runs in runs_per_notebook.items():
        names = list(dict.fromkeys(c["name"] for r in runs for c in r.claims))
        if patterns:
            names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
        for name in names:
            held, worst, worst_variant, log, op, threshold = 0, math.inf, "", False, "", None
            for r in runs:
                mine = [c for c in r.claims if c["name"] == name]
                if not mine:
                    worst, worst_variant = -math.inf, f"{r.label} (not reached)"
                    continue
                c = mine[-1]
                op, threshold, log = c["op"], c["threshold"], c["log"]
                held += bool(c["held"] and all(m["held"] for m in mine))
                margin = -math.inf if c["margin"] is None else min(m["margin"] if m["margin"] is not None
                                                                   else -math.inf for m in mine)
                if margin < worst:
                    worst, worst_variant = margin, r.label
            rows.append({"notebook": notebook, "claim": name, "test": f"{op} {threshold:g}", "held": held,
                         "runs": len(runs), "worst_margin": worst, "log": log, "worst_variant": worst_variant})
    return rows


def format_table(rows: list[dict], markdown: bool = False) -> str:
    def margin(row):
        m = row["worst_margin"]
        text = f"{m:.3g}" if math.isfinite(m) else str(m)
        return text + (" (log10)" if row["log"] and math.isfinite(m) else "")

    header = ["claim", "test", "held / runs", "worst margin", "worst run"]
    body = [[r["claim"], r["test"], f"{r['held']}/{r['runs']}", margin(r), r["worst_variant"]] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*b) for b in body])


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("notebooks", nargs="+", help="chapter notebooks, e.g. book/memory_tasks.ipynb")
    p.add_argument("--offsets", type=int, nargs="+", default=[0, 1000, 2000, 3000],
                   help="shift the chapter's default seeds by each of these (default: 0 1000 2000 3000)")
    p.add_argument("--seed-sets", nargs="+", default=None, metavar="S,S,...",
                   help="explicit seed sets instead of offsets, e.g. 5,6,7 8,9,10 (the first is the main seed)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts (default: 1 2)")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cores to use (default: all)")
    p.add_argument("--claims", nargs="+", default=None, metavar="PATTERN",
                   help="report only these claims (shell patterns); each run stops once all are checked")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per cell (default 1800)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write every run's claims to PATH")
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument("--strict", action="store_true", help="exit 1 if any claim failed or any run raised")


def variants_of(args) -> list[Variant]:
    for t in args.threads:
        if t < 1:
            raise ValueError(f"--threads must be >= 1, got {t}")
    if args.seed_sets:
        sets = []
        for spec in args.seed_sets:
            try:
                seeds = tuple(int(s) for s in spec.split(",") if s.strip())
            except ValueError:
                seeds = ()
            if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
                raise ValueError(f"a seed set is distinct non-negative integers separated by commas, got {spec!r}")
            sets.append(seeds)
        return [Variant(threads=t, seeds=s) for s in sets for t in args.threads]
    return [Variant(offset=o, threads=t) for o in args.offsets for t in args.threads]


def main_sweep(args) -> int:
    paths = [Path(n) for n in args.notebooks]
    for p in paths:
        if p.suffix != ".ipynb" or not p.is_file():
            print(f"rnn-course sweep: error: {p} is not a notebook file", file=sys.stderr)
            return 2
    try:
        variants = variants_of(args)
        for p in paths:
            if not args.seed_sets and any(v.offset for v in variants) and chapter_defaults(p) is None:
                raise ValueError(f"{p}: no setup(seed=..., seeds=[...]) call found; pass --seed-sets")
    except ValueError as err:
        print(f"rnn-course sweep: error: {err}", file=sys.stderr)
        return 2
    jobs = [(p, v) for p in paths for v in variants]
    print(f"{len(jobs)} runs: {len(paths)} notebook(s) x {len(variants)} variants, on {args.cores} cores", flush=True)
    start = time.monotonic()
    results = run_all(jobs, args.cores, args.timeout, args.claims or [],
                      progress=lambda line: print(line, flush=True))
    results.sort(key=lambda r: (r.notebook, r.variant.offset, r.variant.seeds or (), r.variant.threads))
    failed = False
    for notebook in dict.fromkeys(r.notebook for r in results):
        runs = [r for r in results if r.notebook == notebook]
        rows = claim_table(runs, args.claims)
        times = sorted(r.seconds for r in runs)
        print(f"\n{notebook}: {len(runs)} runs, {times[len(times) // 2]:.0f} s median ({times[0]:.0f}-{times[-1]:.0f} s)")
        print(format_table(rows, args.markdown) if rows else "(no claims)")
        for r in runs:
            if r.error:
                print(f"  ERROR in {r.label}: {r.error}")
        failed |= any(r.error for r in runs) or any(row["held"] < row["runs"] for row in rows)
    print(f"\n{time.monotonic() - start:.0f} s in all")
    if args.json:
        Path(args.json).write_text(json.dumps([{"notebook": r.notebook, "variant": r.label,
                                                "seconds": r.seconds, "error": r.error, "claims": r.claims}
                                               for r in results], indent=1) + "\n")
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m rnn_course.sweep")
    parser.add_argument("--child", required=True)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--stop-after", action="append", default=[])
    a = parser.parse_args()
    sys.exit(_execute_child(a.child, a.timeout, a.stop_after))
