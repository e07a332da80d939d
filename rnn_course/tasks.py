r"""Synthetic memory tasks, each drawn from a ``torch.Generator`` on the generator's device.

Every task has the interface ``rnn_course.train`` expects: ``sample(batch_size, generator) -> (x, y)``
with x (B, T, input_size) floats, ``loss(pred, y)``, ``metric(pred, y)``, ``higher_is_better``, ``target``,
``name``, ``metric_name``; and it documents its chance level as ``baseline_loss`` and ``baseline_metric``
(the best a model can do without remembering what the task asks it to remember).
``task.model(kind, hidden_size)`` builds a matching ``rnn_course.models.SequenceModel``.

=================  ====================================================  ==========  ====================
task               what must be remembered                               head        chance level
=================  ====================================================  ==========  ====================
``AddingProblem``  two marked values among T, to add at the end          last        MSE 1/6
``CopyMemory``     10 symbols, to repeat after T blank steps             every       CE 10 ln 8 / (T + 20)
``SequentialXOR``  the bit ``lag`` steps back, XOR-ed with the current   every       accuracy 1/2
``TemporalOrder``  the order of two X/Y symbols among distractors        last        accuracy 1/4
``TrendSineWalk``  trend / sine / random walk, then ``delay`` noise      last        accuracy 1/3
=================  ====================================================  ==========  ====================
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE = -100  # label of unscored steps (``F.cross_entropy``'s default ``ignore_index``)


def _int_at_least(name: str, value, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _check_sample(batch_size, generator) -> torch.device:
    _int_at_least("batch_size", batch_size, 1)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator (it also fixes the device), got "
                         f"{type(generator).__name__}")
    return generator.device


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    scored = y != IGNORE
    return float((logits.argmax(-1)[scored] == y[scored]).float().mean())


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE)


class Task:
    """Shared parts: a classification loss and metric, and ``model()``. Subclasses set the attributes."""

    name = "task"
    input_size = 1
    output_size = 1
    head = "last"  # the SequenceModel head this task needs
    metric_name = "accuracy"
    higher_is_better = True
    target: float | None = None  # metric value that counts as solved
    classes: tuple[str, ...] = ()  # class names, for confusion matrices

    def sample(self, batch_size: int, generator: torch.Generator):
        raise NotImplementedError

    def loss(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy over the scored labels: pred (B, C) or (B, T, C), y (B,) or (B, T)."""
        return _cross_entropy(pred, y)

    def metric(self, pred: torch.Tensor, y: torch.Tensor) -> float:
        """Accuracy over the scored labels."""
        return _accuracy(pred, y)

    def builders(self, kinds, hidden_size: int, **kwargs) -> dict:
        """``{kind: function building a fresh model}`` for ``rnn_course.train.compare``."""
        return {kind: (lambda kind=kind: self.model(kind, hidden_size, **kwargs)) for kind in kinds}

    def model(self, kind: str, hidden_size: int, **kwargs):
        """``SequenceModel(kind, input_size, hidden_size, output_size, head=...)`` sized for this task."""
        from rnn_course.models import SequenceModel

        return SequenceModel(kind, self.input_size, hidden_size, self.output_size, head=self.head, **kwargs)


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
        _int_at_least("T", self.T, 2)

    def sample(self, batch_size: int, generator: torch.Generator):
        device = _check_sample(batch_size, generator)
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
        _int_at_least("T", self.T, 1)
        _int_at_least("n_copy", self.n_copy, 1)
        _int_at_least("n_symbols", self.n_symbols, 2)

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
        device = _check_sample(batch_size, generator)
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
        _int_at_least("lag", self.lag, 1)
        _int_at_least("T", self.T, 1)
        if self.T <= self.lag:
            raise ValueError(f"T must be > lag so that some step is scored, got T={self.T}, lag={self.lag}")

    def sample(self, batch_size: int, generator: torch.Generator):
        device = _check_sample(batch_size, generator)
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
        _int_at_least("T", self.T, 20)

    def sample(self, batch_size: int, generator: torch.Generator):
        device = _check_sample(batch_size, generator)
        B, T, w = batch_size, self.T, self.T // 10
        ids = torch.randint(0, 4, (B, T), generator=generator, device=device)  # distractors a..d
        ids[:, 0], ids[:, -1] = 6, 7  # E ... B
        t1 = torch.randint(w, 2 * w, (B, 1), generator=generator, device=device)
        t2 = torch.randint(T // 2, T // 2 + w, (B, 1), generator=generator, device=device)
        xy = torch.randint(0, 2, (B, 2), generator=generator, device=device)  # 0: X, 1: Y
        ids.scatter_(1, torch.cat([t1, t2], 1), 4 + xy)
        return F.one_hot(ids, 8).float(), 2 * xy[:, 0] + xy[:, 1]  # (B, T, 8), (B,)


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
        _int_at_least("T", self.T, 2)
        _int_at_least("n_features", self.n_features, 1)
        _int_at_least("delay", self.delay, 0)

    @property
    def input_size(self) -> int:
        return self.n_features

    def sample(self, batch_size: int, generator: torch.Generator):
        device = _check_sample(batch_size, generator)
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


TASKS = {cls.name: cls for cls in (AddingProblem, CopyMemory, SequentialXOR, TemporalOrder, TrendSineWalk)}
