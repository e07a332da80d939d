"""Helpers of character language models that are not part of what the exercise asks learners to write.

The exercise asks for the models, one training step, bits per character, sampling and latency; their
reference implementations stay with the instructors' package, out of reach of a graded notebook. Here: the
perplexity of a score, the unigram baseline, an approximate validation score for learning curves
(``stream_bpc``), ``CharStream`` (a text as a task for the course's one training loop,
``rnn_course.train.train`` with ``carry_state``: truncated BPTT) and ``train_tbptt``, which runs that loop
with a learner's own ``train_step``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from rnn_course.checks import int_at_least
from rnn_course.kinds import TORCH_MODULES
from rnn_course.text import tbptt_batches
from rnn_course.train import TrainConfig, train

RECURRENT = TORCH_MODULES  # kind -> PyTorch module, as the exercise names it
STREAMS = 16  # parallel streams of ``stream_bpc``


def perplexity(bpc: float) -> float:
    """Per-character perplexity from bits per character: ``2 ** bpc``."""
    return 2.0 ** bpc


def unigram_bpc(train_ids: torch.Tensor, eval_ids: torch.Tensor, vocab_size: int) -> float:
    """Bits per character of ``eval_ids`` under the character frequencies of ``train_ids`` (add-one smoothed):
    the baseline any model that reads context must beat."""
    counts = torch.bincount(train_ids, minlength=vocab_size).double() + 1  # (V,)
    logp = (counts / counts.sum()).log2()
    return float(-logp[eval_ids].mean())


@torch.no_grad()
def stream_bpc(model: nn.Module, ids: torch.Tensor) -> float:
    """An approximate validation score for learning curves: ``ids`` cut into 16 contiguous streams, scored side
    by side in chunks of 256 with the state carried along each stream (``model(x, state) -> (logits, state)``).

    Faster than scoring the text as one stream, and close to it, but not the exercise's exact score: each
    stream starts from a zero state, and up to 15 trailing characters are left out.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count, state = 0.0, 0, None
    for x, y in tbptt_batches(ids, STREAMS, 256):
        logits, state = model(x.to(device), state)
        total += F.cross_entropy(logits.flatten(0, 1), y.to(device).flatten(), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / count / math.log(2)


@dataclass(frozen=True)
class CharStream:
    """A text as a task for ``rnn_course.train.train``: next-character prediction, truncated BPTT.

    ``batches`` walks ``train_ids`` as ``batch_size`` contiguous streams, ``seq_len`` characters at a time
    (``rnn_course.text.tbptt_batches``), round and round; each pass starts anew (the loop resets a carried
    state there) and drops the short tail, so every step costs the same. The loss is the mean cross-entropy
    over every position (nats); ``evaluate(model)`` gives the loss and the bits per character of ``eval_ids``
    (``eval_fn``, default ``stream_bpc``: 16 parallel streams, for speed).
    """

    train_ids: torch.Tensor = field(repr=False)
    seq_len: int = 64
    eval_ids: torch.Tensor | None = field(default=None, repr=False)
    eval_fn: object = None  # (model, ids) -> bpc

    name = "char_lm"
    metric_name, higher_is_better, target = "bpc", False, None

    def __post_init__(self):
        int_at_least("seq_len", self.seq_len)
        if not isinstance(self.train_ids, torch.Tensor) or self.train_ids.dim() != 1:
            raise ValueError("train_ids must be a 1-D LongTensor of character ids")

    def batches(self, batch_size: int, generator: torch.Generator):
        n_full = (len(self.train_ids) // batch_size - 1) // self.seq_len  # full (B, T) batches in one pass
        if n_full < 1:
            raise ValueError(f"train_ids has {len(self.train_ids):,} ids: too few for one batch of {batch_size} "
                             f"streams x {self.seq_len} steps (at least {batch_size * (self.seq_len + 1):,} ids)")
        device = generator.device
        while True:
            yield None  # a new pass over the text: a zero state
            for x, y in tbptt_batches(self.train_ids, batch_size, self.seq_len):
                if x.size(1) < self.seq_len:
                    break
                yield x.to(device), y.to(device)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.flatten(0, 1), y.flatten())

    def evaluate(self, model: nn.Module) -> tuple[float, float]:
        if self.eval_ids is None:
            return math.nan, math.nan
        bpc = (self.eval_fn or stream_bpc)(model, self.eval_ids)
        return bpc * math.log(2), bpc


def train_tbptt(model: nn.Module, train_ids: torch.Tensor, steps: int, batch_size: int = 16, seq_len: int = 64,
                lr: float = 3e-3, step_fn=None, eval_ids: torch.Tensor | None = None, eval_every: int = 0,
                eval_fn=None, log=None) -> list[dict]:
    """Train for ``steps`` TBPTT steps with Adam, going round ``train_ids`` as often as needed.

    The course's training loop (``rnn_course.train.train``) on a ``CharStream``, with the state carried from
    batch to batch. ``step_fn(model, optimizer, x, y, state) -> (loss, state)`` does one step (a learner's
    ``train_step``; required: the exercise asks for it, and the loop's own step needs a model called as
    ``model(x, state=..., return_state=True)``). Every ``eval_every``
    steps (and at the end) the validation bpc of ``eval_ids`` is recorded. Returns the history: one dict per
    evaluation with step, train_bpc (mean since the last record), val_bpc and seconds of training so far
    (evaluation excluded). ``log(record)`` is called on each.
    """
    if step_fn is None:
        raise ValueError("step_fn is required: the function that does one training step (your train_step)")
    int_at_least("steps", steps)
    task = CharStream(train_ids, seq_len, eval_ids, eval_fn)
    every = eval_every if eval_every else steps
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, clip=1.0, eval_every=every, carry_state=True,
                         progress=False)
    result = train(model, task, config, step_fn=step_fn, name=getattr(model, "kind", None))
    history, previous = [], 0
    for step, metric, seconds in zip(result.eval_steps[1:], result.eval_metrics[1:], result.eval_seconds[1:]):
        window = result.losses[previous:step]
        record = {"step": step, "train_bpc": sum(window) / len(window) / math.log(2), "seconds": seconds}
        if eval_ids is not None:
            record["val_bpc"] = metric
        history.append(record)
        previous = step
        if log is not None:
            log(record)
    return history
