"""A variable-length task: name the last token of each sequence of a padded batch.

The label sits at each sequence's own last step, so a model that reads ``output[:, -1]`` of a padded batch
reads padding for every sequence shorter than the batch's longest one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnn_course.checks import int_at_least
from rnn_course.tasks.base import Task, check_sample

@dataclass(frozen=True)
class LastToken(Task):
    """Name the last token of a variable-length sequence: a task where reading the right position matters.

    Sequences of ids from {1..vocab-1}, lengths uniform in [min_len, max_len], padded with id 0 to
    ``max_len``. The label is the last real token (class ``token - 1``). ``sample`` returns
    ``(ids, y, lengths)``, or ``(ids, y)`` with ``with_lengths=False``: the same data for a model that is not
    told where each sequence ends. Chance: accuracy 1 / (vocab - 1), cross-entropy ln(vocab - 1).
    """

    max_len: int = 40  # padded length T
    min_len: int = 1  # shortest sequence
    vocab: int = 10  # ids 0 (padding) .. vocab - 1
    embed_dim: int = 8  # the model's embedding size (its input_size)
    with_lengths: bool = True  # return the lengths with every batch
    target: float | None = 0.99  # accuracy that counts as solved

    name = "last_token"
    head = "last"

    def __post_init__(self):
        int_at_least("min_len", self.min_len)
        int_at_least("max_len", self.max_len, self.min_len)
        int_at_least("vocab", self.vocab, 3)
        int_at_least("embed_dim", self.embed_dim)

    @property
    def input_size(self) -> int:
        return self.embed_dim

    @property
    def output_size(self) -> int:
        return self.vocab - 1

    @property
    def baseline_metric(self) -> float:
        return 1 / (self.vocab - 1)

    @property
    def baseline_loss(self) -> float:
        return math.log(self.vocab - 1)

    def sample(self, batch_size: int, generator: torch.Generator):
        device = check_sample(batch_size, generator)
        B, T = batch_size, self.max_len
        lengths = torch.randint(self.min_len, T + 1, (B,), generator=generator, device=device)  # B
        ids = torch.randint(1, self.vocab, (B, T), generator=generator, device=device)  # B, T
        ids = ids.masked_fill(torch.arange(T, device=device) >= lengths[:, None], 0)  # padding: id 0
        y = ids.gather(1, (lengths - 1)[:, None]).squeeze(1) - 1  # B, classes 0..vocab-2
        return (ids, y, lengths) if self.with_lengths else (ids, y)

    def model(self, kind: str, hidden_size: int, **kwargs):
        """A ``SequenceModel`` that embeds the ids (``vocab_size=vocab``), sized for this task."""
        return super().model(kind, hidden_size, vocab_size=self.vocab, **kwargs)
