r"""Memory tasks: each asks a model to carry something across many steps, and has a known chance level.

=================  ====================================================  ==========  ====================
task               what must be remembered                               head        chance level
=================  ====================================================  ==========  ====================
``AddingProblem``  two marked values among T, to add at the end          last        MSE 1/6
``CopyMemory``     n symbols, to repeat after T blank steps              every       CE n ln k / (T + 2n)
``DelayedEcho``    the bit ``delay`` steps back, to repeat now            every       accuracy 1/2
``SequentialXOR``  the bit ``lag`` steps back, XOR-ed with the current   every       accuracy 1/2
``TemporalOrder``  the order of two X/Y symbols among distractors        last        accuracy 1/4
``FirstSign``      the sign of the first of T standard-normal inputs     last        accuracy 1/2
=================  ====================================================  ==========  ====================
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rnn_course.checks import int_at_least
from rnn_course.tasks.base import IGNORE, Task, check_sample

@dataclass(frozen=True)
class AddingProblem(Task):
    r"""The adding problem (Hochreiter & Schmidhuber 1997): add the two marked values of a sequence.

    Input (B, T, 2): channel 0 holds values uniform in [0, 1), channel 1 a marker that is 1 at one step in
    the first half and one step in the second half. Target (B, 1): the sum of the two marked values.
    Predicting 1, the mean, gives the MSE baseline :math:`\mathrm{Var}(u_1 + u_2) = 2/12 = 1/6`.
    """

    T: int = 50  # sequence length, >= 2
    target: float | None = 0.01  # test MSE that counts as solved

    name = "adding"
    input_size, output_size, head = 2, 1, "last"
    metric_name, higher_is_better = "mse", False
    baseline_loss = baseline_metric = 1 / 6

    def __post_init__(self):
        int_at_least("T", self.T, 2)

    def sample(self, batch_size: int, generator: torch.Generator):
        device = check_sample(batch_size, generator)
        B, T, half = batch_size, self.T, self.T // 2
        values = torch.rand(B, T, generator=generator, device=device)  # B, T
        first = torch.randint(0, half, (B, 1), generator=generator, device=device)
        second = torch.randint(half, T, (B, 1), generator=generator, device=device)
        marker = torch.zeros(B, T, device=device).scatter_(1, torch.cat([first, second], 1), 1.0)  # B, T
        x = torch.stack([values, marker], dim=-1)  # B, T, 2
        y = (values * marker).sum(1, keepdim=True)  # B, 1
        return x, y

    def loss(self, pred, y):
        return F.mse_loss(pred, y)

    def metric(self, pred, y):
        return float(F.mse_loss(pred.detach(), y))


@dataclass(frozen=True)
class CopyMemory(Task):
    r"""Copy memory in the format of Arjovsky et al. (2016): read symbols, wait T steps, write them back.

    A sequence has T + 2 * n_copy steps: ``n_copy`` symbols from {1..n_symbols}, T - 1 blanks (0), a
    delimiter (n_symbols + 1), then ``n_copy`` blanks during which the model must output the symbols; the
    target is blank everywhere else. Inputs are one-hot (B, T + 2 n_copy, n_symbols + 2); targets (B, T + 2
    n_copy) in {0..n_symbols}. A memoryless model outputs blank until the delimiter and a uniform guess
    after it, a cross-entropy per step of

    .. math::
        \frac{n_{copy} \ln n_{symbols}}{T + 2 n_{copy}} \quad (= 10 \ln 8 / (T + 20) \text{ by default}).

    The metric is the accuracy on the ``n_copy`` recalled symbols (chance 1 / n_symbols).
    """

    T: int = 20  # blank steps between the symbols and the delimiter, plus one; >= 1
    n_copy: int = 10  # symbols to remember
    n_symbols: int = 8  # alphabet size
    target: float | None = 0.99  # recall accuracy that counts as solved

    name = "copy"
    head = "every"
    metric_name, higher_is_better = "recall_accuracy", True

    def __post_init__(self):
        int_at_least("T", self.T)
        int_at_least("n_copy", self.n_copy)
        int_at_least("n_symbols", self.n_symbols, 2)

    @property
    def input_size(self) -> int:
        return self.n_symbols + 2

    @property
    def output_size(self) -> int:
        return self.n_symbols + 1

    @property
    def length(self) -> int:
        """Steps per sequence, T + 2 n_copy."""
        return self.T + 2 * self.n_copy

    @property
    def baseline_loss(self) -> float:
        return self.n_copy * math.log(self.n_symbols) / self.length

    @property
    def baseline_metric(self) -> float:
        return 1 / self.n_symbols

    def sample(self, batch_size: int, generator: torch.Generator):
        device = check_sample(batch_size, generator)
        B, K, L = batch_size, self.n_copy, self.length
        symbols = torch.randint(1, self.n_symbols + 1, (B, K), generator=generator, device=device)  # B, K
        ids = torch.zeros(B, L, dtype=torch.long, device=device)
        ids[:, :K] = symbols
        ids[:, self.T + K - 1] = self.n_symbols + 1  # the delimiter
        y = torch.zeros(B, L, dtype=torch.long, device=device)
        y[:, -K:] = symbols
        return F.one_hot(ids, self.input_size).float(), y  # (B, L, n_symbols + 2), (B, L)

    def metric(self, pred, y):
        K = self.n_copy
        return float((pred[:, -K:].argmax(-1) == y[:, -K:]).float().mean())


@dataclass(frozen=True)
class DelayedEcho(Task):
    r"""Repeat the input of ``delay`` steps ago: the first chapter's task, a memory of the last few steps.

    Input (B, T, 1) random bits; target (B, T) with :math:`y_t = x_{t - delay}` for t >= delay and ``IGNORE``
    (unscored) before. A model that does not hold the last ``delay`` bits is at a coin flip: accuracy 1/2,
    cross-entropy ln 2.
    """

    T: int = 30  # sequence length, > delay
    delay: int = 3  # how far back the bit to repeat is, >= 1
    target: float | None = 0.99  # accuracy that counts as solved

    name = "echo"
    input_size, output_size, head = 1, 2, "every"
    baseline_loss, baseline_metric = math.log(2), 0.5

    def __post_init__(self):
        int_at_least("delay", self.delay)
        int_at_least("T", self.T, self.delay + 1)

    def sample(self, batch_size: int, generator: torch.Generator):
        device = check_sample(batch_size, generator)
        bits = torch.randint(0, 2, (batch_size, self.T), generator=generator, device=device)  # B, T
        y = torch.full_like(bits, IGNORE)
        y[:, self.delay:] = bits[:, :-self.delay]
        return bits.unsqueeze(-1).float(), y  # (B, T, 1), (B, T)


@dataclass(frozen=True)
class SequentialXOR(Task):
    r"""At every step, the XOR of the current bit and the bit ``lag`` steps back.

    Input (B, T, 1) random bits; target (B, T) with :math:`y_t = x_t \oplus x_{t - lag}` for t >= lag and
    ``IGNORE`` (unscored) before. Without memory of :math:`x_{t-lag}` the target is a fair coin: accuracy
    1/2, cross-entropy ln 2. ``lag=1`` is the task of the source notebook; a larger lag needs a shift
    register of ``lag`` bits.
    """

    T: int = 40  # sequence length, > lag
    lag: int = 1  # how far back the second bit is, >= 1
    target: float | None = 0.99  # accuracy that counts as solved

    name = "xor"
    input_size, output_size, head = 1, 2, "every"
    baseline_loss, baseline_metric = math.log(2), 0.5

    def __post_init__(self):
        int_at_least("lag", self.lag)
        int_at_least("T", self.T)
        if self.T <= self.lag:
            raise ValueError(f"T must be > lag so that some step is scored, got T={self.T}, lag={self.lag}")

    def sample(self, batch_size: int, generator: torch.Generator):
        device = check_sample(batch_size, generator)
        bits = torch.randint(0, 2, (batch_size, self.T), generator=generator, device=device)  # B, T
        y = torch.full_like(bits, IGNORE)
        y[:, self.lag:] = bits[:, self.lag:] ^ bits[:, :-self.lag]
        return bits.unsqueeze(-1).float(), y  # (B, T, 1), (B, T)


@dataclass(frozen=True)
class TemporalOrder(Task):
    r"""The temporal-order task (Hochreiter & Schmidhuber 1997, experiment 6a): XX, XY, YX or YY?

    A sequence of T symbols: a start marker E, distractors from {a, b, c, d}, one X-or-Y at a random step in
    [T/10, 2T/10) and another in [T/2, 6T/10), an end marker B. The class is the order of the two
    (XX, XY, YX, YY). Inputs one-hot (B, T, 8), labels (B,). Chance: accuracy 1/4, cross-entropy ln 4.
    """

    T: int = 50  # sequence length, >= 20
    target: float | None = 0.99

    name = "temporal_order"
    input_size, output_size, head = 8, 4, "last"
    baseline_loss, baseline_metric = math.log(4), 0.25
    classes = ("XX", "XY", "YX", "YY")
    symbols = ("a", "b", "c", "d", "X", "Y", "E", "B")

    def __post_init__(self):
        int_at_least("T", self.T, 20)

    def sample(self, batch_size: int, generator: torch.Generator):
        device = check_sample(batch_size, generator)
        B, T, w = batch_size, self.T, self.T // 10
        ids = torch.randint(0, 4, (B, T), generator=generator, device=device)  # distractors a..d
        ids[:, 0], ids[:, -1] = 6, 7  # E ... B
        t1 = torch.randint(w, 2 * w, (B, 1), generator=generator, device=device)
        t2 = torch.randint(T // 2, T // 2 + w, (B, 1), generator=generator, device=device)
        xy = torch.randint(0, 2, (B, 2), generator=generator, device=device)  # 0: X, 1: Y
        ids.scatter_(1, torch.cat([t1, t2], 1), 4 + xy)
        return F.one_hot(ids, 8).float(), 2 * xy[:, 0] + xy[:, 1]  # (B, T, 8), (B,)


@dataclass(frozen=True)
class FirstSign(Task):
    """Seed 001's memory task: remember the sign of the first of T standard-normal inputs.

    Input (B, T, 1), every step drawn from N(0, 1); label (B,) 1 where the first input is positive, else 0.
    Later inputs come from the same distribution and carry no information about the label, so a model that
    does not remember step 0 is at chance: accuracy 1/2, cross-entropy ln 2.
    """

    T: int = 50  # sequence length, >= 1
    target: float | None = 0.95  # test accuracy that counts as solved

    name = "first_sign"
    input_size, output_size, head = 1, 2, "last"
    baseline_metric, baseline_loss = 0.5, math.log(2)

    def __post_init__(self):
        int_at_least("T", self.T)

    def sample(self, batch_size: int, generator: torch.Generator):
        device = check_sample(batch_size, generator)
        x = torch.randn(batch_size, self.T, 1, generator=generator, device=device)  # B, T, 1
        return x, (x[:, 0, 0] > 0).long()  # B
