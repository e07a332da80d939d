"""Helpers of the char-LM exercise that are not part of what learners implement.

The exercise asks for the models, one training step, bits per character, sampling and latency; their
reference implementations stay with the instructors' package, out of reach of a graded notebook. What
learners get here: the perplexity of a score, the unigram baseline, an approximate validation score for
learning curves (``stream_bpc``), and the TBPTT loop that drives a learner's own ``train_step``.
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from rnn_course.text import tbptt_batches

RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
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
    by side in chunks of 256 with the state carried along each stream.

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


def train_tbptt(model: nn.Module, train_ids: torch.Tensor, steps: int, batch_size: int = 16, seq_len: int = 64,
                lr: float = 3e-3, step_fn=None, eval_ids: torch.Tensor | None = None, eval_every: int = 0,
                eval_fn=None, log=None) -> list[dict]:
    """Train for ``steps`` TBPTT steps with Adam, going round ``train_ids`` as often as needed.

    ``step_fn(model, optimizer, x, y, state) -> (loss, state)`` does one step (a learner's ``train_step``;
    required). Every ``eval_every`` steps (and at the end) the validation bpc of ``eval_ids`` is
    recorded, by ``eval_fn(model, ids)`` (default: ``stream_bpc``, 16 parallel streams, for speed).
    Returns the history: one dict per evaluation with step, train_bpc (mean since the last record), val_bpc
    and seconds of training so far (evaluation excluded). ``log(record)`` is called on each.
    """
    if step_fn is None:
        raise ValueError("step_fn is required: the function that does one training step (your train_step)")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    n_full = (len(train_ids) // batch_size - 1) // seq_len  # full (B, T) batches in one pass
    if n_full < 1:
        raise ValueError(f"train_ids has {len(train_ids):,} ids: too few for one batch of {batch_size} streams x "
                         f"{seq_len} steps (at least {batch_size * (seq_len + 1):,} ids needed)")
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history, state, losses, seconds, step = [], None, [], 0.0, 0
    while step < steps:
        state = None  # a new pass over the text starts from a zero state
        for x, y in tbptt_batches(train_ids, batch_size, seq_len):
            if x.size(1) < seq_len:
                break  # drop the short tail, so every step costs the same
            t0 = time.perf_counter()
            loss, state = step_fn(model, optimizer, x.to(device), y.to(device), state)
            seconds += time.perf_counter() - t0
            losses.append(loss)
            step += 1
            if (eval_every and step % eval_every == 0) or step == steps:
                record = {"step": step, "train_bpc": sum(losses) / len(losses) / math.log(2), "seconds": seconds}
                if eval_ids is not None:
                    record["val_bpc"] = (eval_fn or stream_bpc)(model, eval_ids)
                history.append(record)
                losses = []
                if log is not None:
                    log(record)
            if step == steps:
                break
    return history
