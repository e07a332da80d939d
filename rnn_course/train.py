"""The course's one training loop, and multi-seed comparisons built on it.

``train(model, task, TrainConfig(...), seed=0)`` runs Adam with gradient clipping for a fixed number of
steps on fresh batches from ``task.sample`` (or for ``epochs`` over a fixed ``train_set``), evaluates on a
held-out set every ``eval_every`` steps, and stops early when the task's metric reaches ``target``. It
returns a ``TrainResult`` (losses, held-out curves, steps to target, times, parameter count) whose
``to_frame()`` is a tidy pandas DataFrame. ``compare({"gru": make_gru, ...}, task, config, seeds=[0, 1, 2])``
trains each model with each seed and returns a ``Comparison`` with two tidy tables, ``curves`` (one row per
model, seed and evaluation) and ``summary`` (one row per model and seed).

A *task* is any object with
- ``sample(batch_size, generator) -> (x, y)`` or ``(x, y, lengths)``: a batch on ``generator.device``;
- ``loss(pred, y) -> tensor`` (what is minimised) and ``metric(pred, y) -> float`` (what is reported);
- ``higher_is_better`` (bool, for the metric), ``target`` (metric value that counts as solved, or None),
  ``name`` and ``metric_name`` (strings).
The tasks in ``rnn_course.tasks`` are such objects.

Determinism: training batches come from a ``torch.Generator`` seeded with ``2 * seed``, the held-out set from
one seeded with ``2 * seed + 1`` (so every model sees the same data for a given seed), and
``torch.manual_seed(seed)`` is set before training (dropout). ``compare`` also seeds before building each
model. Two runs with the same seed, device and thread count give identical losses.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import pandas as pd
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from rnn_course.device import set_seed
from rnn_course.models import count_params


@dataclass
class TrainConfig:
    """Settings of one training run (every field has a default)."""

    steps: int = 1000  # optimizer steps at most (ignored when ``epochs`` is set with a fixed train set)
    batch_size: int = 128  # sequences per step
    lr: float = 1e-3  # Adam's learning rate
    clip: float | None = 1.0  # largest global gradient norm; None: no clipping
    weight_decay: float = 0.0  # Adam's (L2) weight decay
    eval_every: int = 50  # evaluate on the held-out set every this many steps (and at step 0 and at the end)
    eval_size: int = 1024  # held-out sequences, drawn once per seed (ignored when ``eval_set`` is given)
    eval_batch: int = 1024  # the held-out set is evaluated in chunks of this many sequences
    target: float | None = None  # metric value that counts as solved; None: the task's own ``target``
    stop_at_target: bool = True  # stop training at the first evaluation that reaches the target
    epochs: int | None = None  # with ``train_set``: passes over it (steps = epochs * batches per epoch)
    progress: bool = True  # show a tqdm progress bar

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_every", "eval_size", "eval_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be an int >= 1, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if self.clip is not None and not self.clip > 0:
            raise ValueError(f"TrainConfig.clip must be > 0 or None, got {self.clip!r}")
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise ValueError(f"TrainConfig.epochs must be an int >= 1 or None, got {self.epochs!r}")

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed: ``config.replace(steps=200)``."""
        return dataclasses.replace(self, **changes)


@dataclass
class TrainResult:
    """What one run produced. ``to_frame()`` gives the held-out curve as a tidy DataFrame."""

    name: str  # the model's label
    seed: int
    task: str  # the task's name
    metric_name: str  # e.g. "mse" or "accuracy"
    n_params: int  # trainable parameters
    losses: list[float]  # training loss at steps 1, 2, ..., steps_run
    eval_steps: list[int]  # steps at which the held-out set was evaluated (0 = before training)
    eval_losses: list[float]  # held-out loss at those steps
    eval_metrics: list[float]  # held-out metric at those steps
    target: float | None  # the target used
    steps_to_target: int | None  # first evaluated step that reached the target; None: never
    steps_run: int  # optimizer steps taken
    train_seconds: float  # wall-clock time in training steps only (evaluations excluded)
    train_cpu_seconds: float  # CPU time of this process (all its threads) in training steps only
    wall_seconds: float  # the whole call
    tags: dict = field(default_factory=dict)  # extra labels (e.g. {"T": 50}), copied into every table row
    model: nn.Module | None = field(default=None, repr=False, compare=False)  # the trained model itself

    @property
    def final_metric(self) -> float:
        return self.eval_metrics[-1]

    @property
    def final_loss(self) -> float:
        return self.eval_losses[-1]

    @property
    def solved(self) -> bool:
        return self.steps_to_target is not None

    @property
    def seconds_per_step(self) -> float:
        return self.train_seconds / max(self.steps_run, 1)

    def to_frame(self) -> pd.DataFrame:
        """One row per evaluation: model, seed, task, step, eval_loss, metric, train_loss, plus the tags.

        ``train_loss`` is the mean training loss over the steps since the previous evaluation (NaN at step 0).
        """
        rows, previous = [], 0
        for step, loss, metric in zip(self.eval_steps, self.eval_losses, self.eval_metrics):
            window = self.losses[previous:step]
            train_loss = sum(window) / len(window) if window else math.nan
            rows.append({"model": self.name, "seed": self.seed, "task": self.task, "step": step,
                         "eval_loss": loss, "metric": metric, "train_loss": train_loss, **self.tags})
            previous = step
        return pd.DataFrame(rows)

    def summary(self) -> dict:
        """One row: final metric and loss, steps to target, times, parameters, plus the tags."""
        return {"model": self.name, "seed": self.seed, "task": self.task, "metric_name": self.metric_name,
                "final_metric": self.final_metric, "final_loss": self.final_loss, "target": self.target,
                "solved": self.solved, "steps_to_target": self.steps_to_target, "steps_run": self.steps_run,
                "train_seconds": self.train_seconds, "train_cpu_seconds": self.train_cpu_seconds,
                "seconds_per_step": self.seconds_per_step,
                "wall_seconds": self.wall_seconds, "n_params": self.n_params, **self.tags}


def _reached(metric: float, target: float | None, higher_is_better: bool) -> bool:
    if target is None:
        return False
    return metric >= target if higher_is_better else metric <= target


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    if p is None:
        raise ValueError("the model has no parameters to train")
    return p.device


def _split(batch):
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise ValueError("a batch must be (x, y) or (x, y, lengths)")
    return (batch[0], batch[1], batch[2] if len(batch) == 3 else None)


def _forward(model: nn.Module, x, lengths):
    return model(x) if lengths is None else model(x, lengths)


def _index(data, idx):
    return tuple(None if t is None else t[idx.to(t.device)] for t in data)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, lengths=None, batch_size: int = 1024) -> torch.Tensor:
    """The model's outputs for all of ``x`` in eval mode, ``batch_size`` sequences at a time (no gradients)."""
    was_training = model.training
    model.eval()
    try:
        parts = []
        for start in range(0, x.shape[0], batch_size):
            chunk = slice(start, start + batch_size)
            parts.append(_forward(model, x[chunk], None if lengths is None else lengths[chunk]))
        return torch.cat(parts)
    finally:
        model.train(was_training)


def evaluate(model: nn.Module, task, data, batch_size: int = 1024) -> tuple[float, float]:
    """(loss, metric) of ``model`` on the held-out ``data`` = (x, y) or (x, y, lengths)."""
    x, y, lengths = _split(data)
    pred = predict(model, x, lengths, batch_size)
    return float(task.loss(pred, y)), float(task.metric(pred, y))


def train(model: nn.Module, task, config: TrainConfig | None = None, *, seed: int = 0, name: str | None = None,
          tags: dict | None = None, train_set=None, eval_set=None) -> TrainResult:
    """Train ``model`` on ``task`` (in place) and return a ``TrainResult``.

    Parameters
    ----------
    model : called as ``model(x)`` (or ``model(x, lengths)``), on the device its parameters are on.
    task : see the module docstring. config : a ``TrainConfig`` (None: the defaults).
    seed : seeds the data generators and torch (see the module docstring). name : the model's label
        (default: its ``kind`` attribute or class name). tags : extra labels for the result's tables.
    train_set : optional fixed training data (x, y) or (x, y, lengths); batches are then drawn by shuffling
        it each epoch instead of calling ``task.sample``.
    eval_set : optional fixed held-out data; default ``config.eval_size`` sequences from ``task.sample``.
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    start_wall = time.perf_counter()
    device = _model_device(model)
    name = name or getattr(model, "kind", type(model).__name__)
    target = task.target if config.target is None else config.target
    higher = bool(task.higher_is_better)
    data_gen = torch.Generator(device=device).manual_seed(2 * seed)
    if eval_set is None:
        eval_set = task.sample(config.eval_size, torch.Generator(device=device).manual_seed(2 * seed + 1))
    _split(eval_set)
    steps, epoch_batches = config.steps, None
    if train_set is not None:
        train_set = _split(train_set)
        n = train_set[0].shape[0]
        epoch_batches = math.ceil(n / config.batch_size)
        if config.epochs is not None:
            steps = config.epochs * epoch_batches
    elif config.epochs is not None:
        raise ValueError("TrainConfig.epochs needs a fixed train_set; use steps with sampled batches")
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    loss0, metric0 = evaluate(model, task, eval_set, config.eval_batch)
    losses, eval_steps, eval_losses, eval_metrics = [], [0], [loss0], [metric0]
    steps_to_target = 0 if _reached(metric0, target, higher) else None
    train_seconds, train_cpu_seconds, order = 0.0, 0.0, None
    bar = tqdm(total=steps, desc=name, disable=not config.progress, leave=False)
    model.train()
    step = 0
    while step < steps and not (steps_to_target is not None and config.stop_at_target):
        _sync(device)
        tick, cpu_tick = time.perf_counter(), time.process_time()
        if train_set is None:
            x, y, lengths = _split(task.sample(config.batch_size, data_gen))
        else:
            k = step % epoch_batches
            if k == 0:
                order = torch.randperm(n, generator=data_gen, device=device)
            x, y, lengths = _index(train_set, order[k * config.batch_size:(k + 1) * config.batch_size])
        loss = task.loss(_forward(model, x, lengths), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        losses.append(loss.item())  # .item() also waits for the device
        train_seconds += time.perf_counter() - tick
        train_cpu_seconds += time.process_time() - cpu_tick
        step += 1
        bar.update(1)
        if step % config.eval_every == 0 or step == steps:
            eval_loss, metric = evaluate(model, task, eval_set, config.eval_batch)
            eval_steps.append(step)
            eval_losses.append(eval_loss)
            eval_metrics.append(metric)
            if steps_to_target is None and _reached(metric, target, higher):
                steps_to_target = step
            bar.set_postfix(loss=f"{losses[-1]:.4f}", **{task.metric_name: f"{metric:.4f}"})
    bar.close()
    return TrainResult(name=name, seed=seed, task=task.name, metric_name=task.metric_name,
                       n_params=count_params(model), losses=losses, eval_steps=eval_steps,
                       eval_losses=eval_losses, eval_metrics=eval_metrics, target=target,
                       steps_to_target=steps_to_target, steps_run=step, train_seconds=train_seconds,
                       train_cpu_seconds=train_cpu_seconds,
                       wall_seconds=time.perf_counter() - start_wall, tags=dict(tags or {}), model=model)


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


def summary_table(summary: pd.DataFrame, by=("model",)) -> pd.DataFrame:
    """One row per group of runs: how many solved, median steps to target (over the solved runs), the final
    metric (mean, min, max over seeds), median milliseconds per training step, and parameters."""
    by = list(by)
    rows = []
    for key, runs in summary.groupby(by, sort=False):
        solved = runs[runs.solved]
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                     "solved": f"{len(solved)}/{len(runs)}",
                     "median_steps_to_target": solved.steps_to_target.median() if len(solved) else math.nan,
                     "final_mean": runs.final_metric.mean(), "final_min": runs.final_metric.min(),
                     "final_max": runs.final_metric.max(), "ms_per_step": 1000 * runs.seconds_per_step.median(),
                     "n_params": int(runs.n_params.iloc[0])})
    return pd.DataFrame(rows)


def compare(models: Mapping[str, Callable[[], nn.Module]], task, config: TrainConfig | None = None,
            seeds: Sequence[int] = (0, 1, 2), *, device=None, tags: dict | None = None, train_set=None,
            eval_set=None) -> Comparison:
    """Train every model with every seed on ``task``; return a ``Comparison``.

    ``models`` maps a label to a function that builds a fresh model (called after ``set_seed(seed)``, so the
    initial weights depend on the seed only); the model is moved to ``device`` (default: where it was
    built). A fixed ``train_set``/``eval_set`` may be a tensor tuple or a function ``seed -> tuple``.
    """
    if not models:
        raise ValueError("models is empty: expected {label: function returning a model}")
    if len(seeds) == 0:
        raise ValueError("seeds is empty: expected at least one seed")
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
            results.append(train(model, task, config, seed=seed, name=label, tags=tags,
                                 train_set=train_set(seed) if callable(train_set) else train_set,
                                 eval_set=eval_set(seed) if callable(eval_set) else eval_set))
    return Comparison(results)
