"""What every task is: the interface ``rnn_course.train`` expects, and the parts tasks share.

A task draws batches from a ``torch.Generator`` on the generator's device: ``sample(batch_size, generator)
-> (x, y)`` (or ``(x, y, lengths)`` for variable-length sequences); a task whose batches continue one another
(a stream cut into chunks, for truncated backpropagation through time) also has ``batches(batch_size,
generator)``, an endless iterator. It scores predictions with ``loss(pred, y)`` (minimised) and ``metric(pred,
y)`` (reported), says whether a higher metric is better, which metric value counts as solved (``target``),
and documents its chance level as ``baseline_loss`` and ``baseline_metric``: the best a model can do without
remembering what the task asks it to remember. ``task.model(kind, hidden_size)`` builds a matching
``rnn_course.models.SequenceModel``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from rnn_course.checks import int_at_least
from rnn_course.models import SequenceModel

IGNORE = -100  # label of unscored steps (``F.cross_entropy``'s default ``ignore_index``)


def check_sample(batch_size, generator) -> torch.device:
    """The device of ``generator``, after checking the arguments of ``sample``."""
    int_at_least("batch_size", batch_size)
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
        return SequenceModel(kind, self.input_size, hidden_size, self.output_size, head=self.head, **kwargs)


