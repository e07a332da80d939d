"""The course's one training loop.

``train(model, task, TrainConfig(...), seed=0)`` runs Adam (or plain SGD) with gradient clipping for a fixed
number of steps on fresh batches from ``task.sample`` (or on consecutive chunks from ``task.batches``, or
for ``epochs`` over a fixed ``train_set``), evaluates on a held-out set every ``eval_every`` steps, and stops
early when the task's metric reaches ``target``. With ``carry_state`` it is truncated backpropagation
through time: each batch starts from the previous batch's final state, detached from its graph. It returns a
``TrainResult`` (losses, gradient norms, held-out curves, steps to target, times, parameter count) whose
``to_frame()`` is a tidy pandas DataFrame. The core of one step::

    pred, state = forward(model, x, state)         # state: None, or the last batch's (carry_state)
    loss = task.loss(pred, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()                                # backpropagation through time, within this batch
    grad_norm = nn.utils.clip_grad_norm_(model.parameters(), config.clip)
    optimizer.step()
    state = detach_state(state)                    # the next batch starts here, but no gradient flows back

``rnn_course.compare`` trains several models over several seeds with it.

A *task* is any object with
- ``sample(batch_size, generator) -> (x, y)`` or ``(x, y, lengths)``: a batch on ``generator.device``;
  optionally ``batches(batch_size, generator)``, an iterator of consecutive batches (it may yield ``None``
  where its streams start anew, which resets a carried state), and ``evaluate(model) -> (loss, metric)``,
  which then replaces the held-out set;
- ``loss(pred, y) -> tensor`` (what is minimised) and ``metric(pred, y) -> float`` (what is reported);
- ``higher_is_better`` (bool, for the metric), ``target`` (metric value that counts as solved, or None),
  ``name`` and ``metric_name`` (strings).
The tasks in ``rnn_course.tasks`` are such objects.

Determinism: training batches come from a ``torch.Generator`` seeded with ``2 * seed``, the held-out set from
one seeded with ``2 * seed + 1`` (so every model sees the same data for a given seed), and
``torch.manual_seed(seed)`` is set before training (dropout). Two runs with the same seed, device and thread count give identical losses.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import pandas as pd
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from rnn_course.checks import int_at_least, one_of
from rnn_course.models import count_params

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


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
    optimizer: str = "adam"  # "adam", or "sgd" (plain gradient descent, no momentum)
    carry_state: bool = False  # truncated BPTT: each batch starts from the last one's final state, detached
    progress: bool = True  # show a tqdm progress bar

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_every", "eval_size", "eval_batch"):
            int_at_least(f"TrainConfig.{name}", getattr(self, name))
        one_of("TrainConfig.optimizer", self.optimizer, tuple(OPTIMIZERS))
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
    grad_norms: list[float]  # global gradient norm before clipping at steps 1, 2, ... (NaN with a step_fn)
    eval_steps: list[int]  # steps at which the held-out set was evaluated (0 = before training)
    eval_losses: list[float]  # held-out loss at those steps
    eval_metrics: list[float]  # held-out metric at those steps
    eval_seconds: list[float]  # training seconds (evaluations excluded) elapsed at those steps
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


def detach_state(state):
    """Cut the autograd history of a recurrent state (a tensor, a tuple of tensors, or None), keeping its values.

    Carrying the detached state to the next batch gives the model context from earlier batches, while
    backpropagation stops at the batch boundary: truncated backpropagation through time. Without the
    detach, the next ``backward()`` would reach into a graph that the previous one already freed ("Trying to
    backward through the graph a second time").
    """
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise ValueError(f"state must be None, a tensor or a tuple of tensors, got {type(state).__name__}")


def _index(data, idx):
    return tuple(None if t is None else t[idx.to(t.device)] for t in data)


def _batches(task, config: TrainConfig, generator: torch.Generator, train_set):
    """The training batches: shuffled epochs over ``train_set``, ``task.batches``, or fresh ``task.sample``s."""
    if train_set is not None:
        n = train_set[0].shape[0]
        while True:
            order = torch.randperm(n, generator=generator, device=generator.device)
            for start in range(0, n, config.batch_size):
                yield _index(train_set, order[start:start + config.batch_size])
    elif hasattr(task, "batches"):
        yield from task.batches(config.batch_size, generator)
    else:
        while True:
            yield task.sample(config.batch_size, generator)


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
          tags: dict | None = None, train_set=None, eval_set=None, step_fn=None) -> TrainResult:
    """Train ``model`` on ``task`` (in place) and return a ``TrainResult``.

    Parameters
    ----------
    model : called as ``model(x)`` (or ``model(x, lengths)``), on the device its parameters are on; with
        ``config.carry_state``, as ``model(x, state=state, return_state=True) -> (prediction, state)``.
    task : see the module docstring. config : a ``TrainConfig`` (None: the defaults).
    seed : seeds the data generators and torch (see the module docstring). name : the model's label
        (default: its ``kind`` attribute or class name). tags : extra labels for the result's tables.
    train_set : optional fixed training data (x, y) or (x, y, lengths); batches are then drawn by shuffling
        it each epoch instead of calling ``task.sample``.
    eval_set : optional fixed held-out data; default ``task.evaluate`` if the task has it, else
        ``config.eval_size`` sequences from ``task.sample``.
    step_fn : optional ``step_fn(model, optimizer, x, y, state) -> (loss, state)`` that does one training step
        in place of the loop's own (a learner's, in the exercise); its state is carried with ``carry_state``.
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    int_at_least("seed", seed, 0)
    if step_fn is not None and not callable(step_fn):
        raise ValueError(f"step_fn must be a function (model, optimizer, x, y, state) -> (loss, state), got "
                         f"{type(step_fn).__name__}")
    start_wall = time.perf_counter()
    device = _model_device(model)
    name = name or getattr(model, "kind", type(model).__name__)
    target = task.target if config.target is None else config.target
    higher = bool(task.higher_is_better)
    data_gen = torch.Generator(device=device).manual_seed(2 * seed)
    if eval_set is None and hasattr(task, "evaluate"):
        evaluate_now = task.evaluate
    else:
        if eval_set is None:
            eval_set = task.sample(config.eval_size, torch.Generator(device=device).manual_seed(2 * seed + 1))
        _split(eval_set)
        evaluate_now = lambda m: evaluate(m, task, eval_set, config.eval_batch)  # noqa: E731
    steps = config.steps
    if train_set is not None:
        train_set = _split(train_set)
        if config.epochs is not None:
            steps = config.epochs * math.ceil(train_set[0].shape[0] / config.batch_size)
    elif config.epochs is not None:
        raise ValueError("TrainConfig.epochs needs a fixed train_set; use steps with sampled batches")
    torch.manual_seed(seed)
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    clip = math.inf if config.clip is None else config.clip

    loss0, metric0 = evaluate_now(model)
    losses, norms, eval_steps, eval_losses, eval_metrics, eval_seconds = [], [], [0], [loss0], [metric0], [0.0]
    steps_to_target = 0 if _reached(metric0, target, higher) else None
    train_seconds, train_cpu_seconds, state = 0.0, 0.0, None
    bar = tqdm(total=steps, desc=name, disable=not config.progress, leave=False)
    batches = _batches(task, config, data_gen, train_set)
    model.train()
    step = 0
    while step < steps and not (steps_to_target is not None and config.stop_at_target):
        _sync(device)
        tick, cpu_tick = time.perf_counter(), time.process_time()
        batch = next(batches)
        if batch is None:  # the task's streams start anew
            state = None
            continue
        x, y, lengths = _split(batch)
        if step_fn is not None:
            loss, state = step_fn(model, optimizer, x, y, state if config.carry_state else None)
            losses.append(float(loss))
            norms.append(math.nan)
        else:
            if config.carry_state:
                if lengths is not None:
                    raise ValueError("carry_state continues streams: its batches cannot have lengths")
                pred, state = model(x, state=state, return_state=True)
            else:
                pred = _forward(model, x, lengths)
            loss = task.loss(pred, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), clip)))
            optimizer.step()
            losses.append(loss.item())  # .item() also waits for the device
        state = detach_state(state) if config.carry_state else None
        train_seconds += time.perf_counter() - tick
        train_cpu_seconds += time.process_time() - cpu_tick
        step += 1
        bar.update(1)
        if step % config.eval_every == 0 or step == steps:
            eval_loss, metric = evaluate_now(model)
            model.train()
            eval_steps.append(step)
            eval_losses.append(eval_loss)
            eval_metrics.append(metric)
            eval_seconds.append(train_seconds)
            if steps_to_target is None and _reached(metric, target, higher):
                steps_to_target = step
            bar.set_postfix(loss=f"{losses[-1]:.4f}", **{task.metric_name: f"{metric:.4f}"})
    bar.close()
    return TrainResult(name=name, seed=seed, task=task.name, metric_name=task.metric_name,
                       n_params=count_params(model), losses=losses, grad_norms=norms, eval_steps=eval_steps,
                       eval_losses=eval_losses, eval_metrics=eval_metrics, eval_seconds=eval_seconds,
                       target=target, steps_to_target=steps_to_target, steps_run=step,
                       train_seconds=train_seconds, train_cpu_seconds=train_cpu_seconds,
                       wall_seconds=time.perf_counter() - start_wall, tags=dict(tags or {}), model=model)
