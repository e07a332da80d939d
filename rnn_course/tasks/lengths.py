"""Variable-length tasks: padded batches of token ids, where it matters at which step a model reads its answer.

``LastToken``: name the last token of each sequence. The label sits at each sequence's own last step, so a model
that reads ``output[:, -1]`` of a padded batch reads padding for every sequence shorter than the batch's longest.
``ParityOfSum``: the parity of the sum of a sequence's tokens (seed 001's classifier task), padded on the right
or on the left, with or without the lengths.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnn_course.checks import int_at_least, one_of
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


PADDINGS = ("right", "left")


@dataclass(frozen=True)
class ParityOfSum(Task):
    """Is the sum of a sequence's tokens odd? Seed 001's sequence classifier, on variable-length sequences.

    Token ids from {1..vocab-1}, lengths uniform in [min_len, max_len], padded with id 0 to ``max_len``: after the
    tokens (``padding="right"``) or before them (``"left"``). Id 0 is even, so padding never changes the label:
    class 1 when the sum is odd (when an odd number of the tokens are odd). ``sample`` returns
    ``(ids, y, lengths)``, or ``(ids, y)`` with ``with_lengths=False``; the same generator gives the same tokens
    and lengths for either padding. Parity is learnt from the short sequences first: with ``vocab=10`` a
    one-token sequence is odd with probability 5/9 (an answer that ignores the input scores that on them);
    over all lengths the classes are close to balanced. Chance: accuracy 1/2, cross-entropy ln 2.
    """

    max_len: int = 10  # padded length T
    min_len: int = 1  # shortest sequence
    vocab: int = 10  # ids 0 (padding) .. vocab - 1
    embed_dim: int = 8  # the model's embedding size (its input_size)
    padding: str = "right"  # where the padding goes: "right" (after the tokens) or "left" (before them)
    with_lengths: bool = True  # return the lengths with every batch
    target: float | None = 0.95  # accuracy that counts as solved

    name = "parity_of_sum"
    head = "last"
    output_size = 2
    baseline_metric, baseline_loss = 0.5, math.log(2)

    def __post_init__(self):
        int_at_least("min_len", self.min_len)
        int_at_least("max_len", self.max_len, self.min_len)
        int_at_least("vocab", self.vocab, 3)
        int_at_least("embed_dim", self.embed_dim)
        one_of("padding", self.padding, PADDINGS)

    @property
    def input_size(self) -> int:
        return self.embed_dim

    def sample(self, batch_size: int, generator: torch.Generator):
        device = check_sample(batch_size, generator)
        B, T = batch_size, self.max_len
        lengths = torch.randint(self.min_len, T + 1, (B,), generator=generator, device=device)  # B
        ids = torch.randint(1, self.vocab, (B, T), generator=generator, device=device)  # B, T
        steps = torch.arange(T, device=device)
        ids = ids.masked_fill(steps >= lengths[:, None], 0)  # right padding: id 0 after each sequence
        y = ids.sum(1) % 2  # B: 1 when the sum is odd
        if self.padding == "left":  # the same tokens, moved to the end of the row
            ids = ids.gather(1, (steps[None, :] - (T - lengths)[:, None]) % T)
        return (ids, y, lengths) if self.with_lengths else (ids, y)

    def model(self, kind: str, hidden_size: int, **kwargs):
        """A ``SequenceModel`` that embeds the ids (``vocab_size=vocab``, id 0 held at a zero vector)."""
        kwargs.setdefault("padding_idx", 0)
        return super().model(kind, hidden_size, vocab_size=self.vocab, **kwargs)
