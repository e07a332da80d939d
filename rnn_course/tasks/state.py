r"""State tracking: a task whose answer is a state that every input may change, at every step.

``ParityStream``: the running parity of a stream of bits. Each 1 flips the answer and each 0 keeps it, so a
model must hold one bit exactly, however long the stream, and flip it on cue. Trained on short streams and
tested on longer ones, it separates a model that tracks the state from one that fits the lengths it saw.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from rnn_course.checks import int_at_least
from rnn_course.tasks.base import Task, check_sample


@dataclass(frozen=True)
class ParityStream(Task):
    r"""The running parity of a bit stream: :math:`y_t = x_1 \oplus x_2 \oplus \dots \oplus x_t`.

    Input (B, T, 1): bits 0.0 / 1.0, each 1 with probability 1/2; target (B, T): the parity of the bits so
    far (class 1: odd), scored at every step. A model that sees only the current bit is right at step 1 and
    at a coin flip after it: chance accuracy :math:`(T + 1) / 2T`, cross-entropy about ln 2.
    ``ParityStream(T=4 * T_train)`` is the longer test of a model trained on ``T_train``.
    """

    T: int = 16  # stream length, >= 1
    target: float | None = 0.99  # accuracy over every step that counts as solved

    name = "parity_stream"
    input_size, output_size, head = 1, 2, "every"

    def __post_init__(self):
        int_at_least("T", self.T)

    @property
    def baseline_metric(self) -> float:
        return (self.T + 1) / (2 * self.T)

    @property
    def baseline_loss(self) -> float:
        return (self.T - 1) / self.T * 0.6931471805599453  # ln 2 after the first step

    def sample(self, batch_size: int, generator: torch.Generator):
        device = check_sample(batch_size, generator)
        bits = torch.randint(0, 2, (batch_size, self.T), generator=generator, device=device)  # B, T
        y = bits.cumsum(1) % 2  # B, T: 1 after an odd number of ones
        return bits.unsqueeze(-1).float(), y  # (B, T, 1), (B, T)
