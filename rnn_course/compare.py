"""Multi-seed comparisons on the one training loop: several models, several seeds, two tidy tables.

``compare({"gru": make_gru, ...}, task, config, seeds=[0, 1, 2])`` trains each model with each seed through
``rnn_course.train.train`` and returns a ``Comparison`` with ``curves`` (one row per model, seed and
evaluation) and ``summary`` (one row per model and seed); ``summary_table`` condenses the summary to one row
per model (solved runs, median steps, final metric over seeds). ``compare`` seeds torch before building each
model, so the initial weights depend on the seed only, and every model of a seed sees the same data.

A small sweep of one setting (say, each model's learning rate) is runs tagged with the setting's value;
``rank_settings`` ranks the values per model by the median steps to target (a run that never reached it counts as
never) and ``best_settings`` returns the winner of each model::

    runs = sum((compare(models, task, config.replace(lr=lr), seeds, tags={"lr": lr}) for lr in LRS), Comparison([]))
    best = best_settings(runs.summary, "lr")        # {"gru": 0.03, "lstm": 0.03, ...}
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import pandas as pd
import torch.nn as nn

from rnn_course.device import set_seed
from rnn_course.nb import plain
from rnn_course.train import TrainConfig, TrainResult, train


@dataclass
class Comparison:
    """Runs of several models over several seeds, as two tidy tables."""

    results: list[TrainResult]

    @property
    def curves(self) -> pd.DataFrame:
        """One row per model, seed and evaluation (see ``TrainResult.to_frame``)."""
        return pd.concat([r.to_frame() for r in self.results], ignore_index=True)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per model and seed (see ``TrainResult.summary``)."""
        return pd.DataFrame([r.summary() for r in self.results])

    def table(self, by=("model",)) -> pd.DataFrame:
        """Per group (default: per model), see ``summary_table``."""
        return summary_table(self.summary, by)

    def __add__(self, other: "Comparison") -> "Comparison":
        return Comparison(self.results + other.results)


NOT_SOLVED = "not solved"  # the median steps of a group in which no run reached the target


def summary_table(summary: pd.DataFrame, by=("model",)) -> pd.DataFrame:
    """One row per group of runs: how many solved, median steps to target (over the solved runs; ``NOT_SOLVED``
    when none did, never a NaN a reader has to decode), the final metric (mean, min, max over seeds), median
    milliseconds per training step, and parameters."""
    by = list(by)
    rows = []
    for key, runs in summary.groupby(by, sort=False):
        solved = runs[runs.solved]
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                     "solved": f"{len(solved)}/{len(runs)}",
                     "median_steps_to_target": solved.steps_to_target.median() if len(solved) else NOT_SOLVED,
                     "final_mean": runs.final_metric.mean(), "final_min": runs.final_metric.min(),
                     "final_max": runs.final_metric.max(), "ms_per_step": 1000 * runs.seconds_per_step.median(),
                     "n_params": int(runs.n_params.iloc[0])})
    return pd.DataFrame(rows)


def compare(models: Mapping[str, Callable[[], nn.Module]], task,
            config: TrainConfig | Mapping[str, TrainConfig] | None = None,
            seeds: Sequence[int] = (0, 1, 2), *, device=None, tags: dict | None = None, train_set=None,
            eval_set=None) -> Comparison:
    """Train every model with every seed on ``task``; return a ``Comparison``.

    ``models`` maps a label to a function that builds a fresh model (called after ``set_seed(seed)``, so the
    initial weights depend on the seed only); the model is moved to ``device`` (default: where it was
    built). ``config`` is one ``TrainConfig`` for every model, or ``{label: TrainConfig}``, one per model (for
    instance each model's own learning rate). A fixed ``train_set``/``eval_set`` may be a tensor tuple or a
    function ``seed -> tuple``.
    """
    if not models:
        raise ValueError("models is empty: expected {label: function returning a model}")
    if len(seeds) == 0:
        raise ValueError("seeds is empty: expected at least one seed")
    if isinstance(config, Mapping):
        if set(config) != set(models):
            raise ValueError(f"config has settings for {sorted(config)}, expected one for each model: "
                             f"{sorted(models)}")
        configs = dict(config)
    else:
        configs = {label: config for label in models}
    results = []
    for seed in seeds:
        for label, build in models.items():
            if isinstance(build, nn.Module) or not callable(build):
                raise ValueError(f"models[{label!r}] must be a function that returns a model, got "
                                 f"{type(build).__name__}")
            set_seed(seed)
            model = build()
            if device is not None:
                model = model.to(device)
            results.append(train(model, task, configs[label], seed=seed, name=label, tags=tags,
                                 train_set=train_set(seed) if callable(train_set) else train_set,
                                 eval_set=eval_set(seed) if callable(eval_set) else eval_set))
    return Comparison(results)


def rank_settings(summary: pd.DataFrame, setting: str = "lr", by=("model",)) -> pd.DataFrame:
    """How each value of a swept ``setting`` did, per group (default: per model), best first.

    One row per group and setting: solved runs, the median steps to target over *all* seeds (a run that never
    reached the target counts as infinitely many, so a setting that solved fewer than half of its seeds has
    an infinite median), and the median final loss, which breaks ties. ``rank`` is 1 for the best setting of
    each group. Robust to one bad seed: a median, not a mean, and no seed dropped.
    """
    by = list(by)
    missing = [c for c in by + [setting, "steps_to_target", "final_loss", "solved"] if c not in summary.columns]
    if missing:
        raise ValueError(f"summary lacks the columns {missing}: expected Comparison.summary with a {setting!r} tag")
    if summary.empty:
        raise ValueError("summary is empty: nothing to rank")
    rows = []
    for key, runs in summary.groupby(by + [setting], sort=False):
        steps = runs.steps_to_target.astype(float).fillna(math.inf)
        rows.append({**dict(zip(by + [setting], key)), "solved": f"{int(runs.solved.sum())}/{len(runs)}",
                     "median_steps_to_target": float(steps.median()),
                     "median_final_loss": float(runs.final_loss.median())})
    table = pd.DataFrame(rows)
    first_seen = table.groupby(by, sort=False).ngroup()  # groups stay in the order they were run
    table = table.assign(_group=first_seen).sort_values(["_group", "median_steps_to_target", "median_final_loss"],
                                                        kind="stable")
    table["rank"] = table.groupby("_group").cumcount() + 1
    return table.drop(columns="_group").reset_index(drop=True)


def best_settings(summary: pd.DataFrame, setting: str = "lr", by: str = "model") -> dict:
    """``{group: the best value of setting}``, by ``rank_settings`` (median steps to target, then loss)."""
    table = rank_settings(summary, setting, (by,))
    best = table[table["rank"] == 1]
    return {row[by]: plain(row[setting]) for _, row in best.iterrows()}
