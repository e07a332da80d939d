r"""A classification task that needs no long memory, unless asked to: trend, sine or random walk.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnn_course.checks import int_at_least
from rnn_course.tasks.base import Task, check_sample

@dataclass(frozen=True)
class TrendSineWalk(Task):
    r"""The source notebook's 3-class task (trend / sine / random walk), with an optional memory delay.

    Each of ``n_features`` channels carries one class pattern over T steps plus Gaussian noise:
    class 0 a linear trend from 0 to 1 (noise sd 0.1), class 1 two periods of a sine (noise sd 0.1),
    class 2 a random walk with steps of sd 0.1 (noise sd 0.05). Then come ``delay`` steps of pure noise
    (sd 0.1), the same for every class, so the label must be carried across them. Input (B, T + delay,
    n_features), labels (B,). Chance: accuracy 1/3, cross-entropy ln 3. ``delay=0`` is the source's task,
    which every model, the vanilla RNN included, learns to near 100%.
    """

    T: int = 50  # steps carrying the pattern, >= 2
    n_features: int = 20
    delay: int = 0  # noise steps after the pattern, >= 0
    target: float | None = 0.99

    name = "trend_sine_walk"
    output_size, head = 3, "last"
    baseline_loss, baseline_metric = math.log(3), 1 / 3
    classes = ("trend", "sine", "random walk")

    def __post_init__(self):
        int_at_least("T", self.T, 2)
        int_at_least("n_features", self.n_features)
        int_at_least("delay", self.delay, 0)

    @property
    def input_size(self) -> int:
        return self.n_features

    def sample(self, batch_size: int, generator: torch.Generator):
        device = check_sample(batch_size, generator)
        B, T, Fn = batch_size, self.T, self.n_features
        labels = torch.randint(0, 3, (B,), generator=generator, device=device)
        t = torch.linspace(0, 1, T, device=device)  # T
        trend = t.expand(B, T)
        sine = torch.sin(4 * math.pi * t).expand(B, T)
        walk = torch.cumsum(0.1 * torch.randn(B, T, generator=generator, device=device), dim=1)
        base = torch.where(labels[:, None] == 0, trend, torch.where(labels[:, None] == 1, sine, walk))  # B, T
        sd = torch.where(labels == 2, 0.05, 0.1).view(B, 1, 1)
        x = base.unsqueeze(-1) + sd * torch.randn(B, T, Fn, generator=generator, device=device)  # B, T, F
        if self.delay:
            noise = 0.1 * torch.randn(B, self.delay, Fn, generator=generator, device=device)
            x = torch.cat([x, noise], dim=1)  # B, T + delay, F
        return x, labels
