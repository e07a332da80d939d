"""Steps and CPU time for a GRU and an LSTM to solve the adding problem, as LSTM / GRU ratios, in one run.

Run ``python benchmarks/tasks.py`` (``--help`` for the settings). For each sequence length and
seed, both models train with ``rnn_course.train`` (hidden 64, batch 128, Adam 1e-2, clip 1, one CPU thread by
default) until the held-out MSE is below 0.01 or ``--max-steps`` is reached; "CPU s" is the process CPU time
spent in training steps (evaluations excluded). The models alternate (GRU, LSTM, GRU, ...) so that a change of
load on the machine hits both. Ratios are of medians over the seeds that solved the task.
"""
from __future__ import annotations

import argparse
import statistics

import pandas as pd
import torch

from rnn_course.compare import compare
from rnn_course.tasks import AddingProblem
from rnn_course.train import TrainConfig


def run(lengths=(50, 100), seeds=(0, 1, 2), hidden_size: int = 64, batch_size: int = 128, lr: float = 1e-2,
        max_steps: int = 2000, eval_every: int = 25, threads: int = 1, forget_bias: float | None = None,
        device: str = "cpu") -> pd.DataFrame:
    """One row per (T, model, seed): steps to target (None if not solved), CPU seconds, seconds per step."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        config = TrainConfig(steps=max_steps, batch_size=batch_size, lr=lr, clip=1.0, eval_every=eval_every,
                             eval_size=1000, target=0.01, progress=False)
        rows = []
        for T in lengths:
            task = AddingProblem(T=T)
            models = {"gru": lambda: task.model("gru", hidden_size),
                      "lstm": lambda: task.model("lstm", hidden_size, forget_bias=forget_bias)}
            for seed in seeds:
                comparison = compare(models, task, config, seeds=[seed], device=torch.device(device),
                                     tags={"T": T})
                rows += [r.summary() for r in comparison.results]
    finally:
        torch.set_num_threads(previous)
    table = pd.DataFrame(rows)
    table["cpu_per_step_ms"] = 1000 * table.train_cpu_seconds / table.steps_run
    return table


def ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Per T: median steps and CPU seconds to solve for each model, and LSTM / GRU ratios."""
    out = []
    for T, part in table.groupby("T"):
        row = {"T": T}
        for kind in ("gru", "lstm"):
            runs = part[part.model == kind]
            solved = runs[runs.solved]
            row[f"{kind}_solved"] = f"{len(solved)}/{len(runs)}"
            row[f"{kind}_steps"] = statistics.median(solved.steps_to_target) if len(solved) else float("nan")
            row[f"{kind}_cpu_s"] = statistics.median(solved.train_cpu_seconds) if len(solved) else float("nan")
            row[f"{kind}_ms_per_step"] = statistics.median(runs.cpu_per_step_ms)
        row["steps_ratio"] = row["lstm_steps"] / row["gru_steps"]
        row["cpu_ratio"] = row["lstm_cpu_s"] / row["gru_cpu_s"]
        row["step_cost_ratio"] = row["lstm_ms_per_step"] / row["gru_ms_per_step"]
        out.append(row)
    return pd.DataFrame(out)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[50, 100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--forget-bias", type=float, default=None, help="LSTM forget-gate bias (default: PyTorch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    table = run(args.lengths, args.seeds, args.hidden_size, args.batch_size, args.lr, args.max_steps,
                threads=args.threads, forget_bias=args.forget_bias, device=args.device)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table[["T", "model", "seed", "steps_to_target", "final_metric", "train_cpu_seconds",
                     "cpu_per_step_ms"]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print()
        print(ratios(table).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"\nadding problem, hidden {args.hidden_size}, batch {args.batch_size}, Adam {args.lr}, clip 1, "
          f"target test MSE < 0.01, at most {args.max_steps} steps, {args.threads} thread(s), {args.device}")
    return table


if __name__ == "__main__":
    main()
