r"""How much gradient reaches step :math:`t` of a sequence from a loss at its last step, and what sets it.

The measure is :math:`\lVert \partial L / \partial x_t \rVert`, the norm of the gradient of a last-step loss
with respect to the input at step :math:`t`, averaged over a batch and indexed by the distance
:math:`T - 1 - t` (0 is the last step). It works for any model that maps (B, T, I) to a last-step prediction
(``rnn_course.models.SequenceModel`` around ``nn.RNN``/``nn.LSTM``/``nn.GRU`` or the course's own
``RecurrentLayer``) and runs in float64, so values far below float32's range stay visible::

    task = FirstSign(T=50)
    profile = gradient_profile("lstm", task, seeds=[0, 1, 2], keep_bias=3.0)   # tidy DataFrame

Also here: seed 001's memory task ``FirstSign``, ``set_keep_bias`` (forget gate of an LSTM, update gate of a
GRU), ``set_recurrent_spectral_norm`` for the :math:`W_{hh}` sweep, and ``sgd_run``, a plain SGD loop for the
gradient-clipping demonstration.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn as nn

from rnn_course.tasks import Task


@dataclass(frozen=True)
class FirstSign(Task):
    """Seed 001's memory task: remember the sign of the first of T standard-normal inputs.

    Input (B, T, 1), every step drawn from N(0, 1); label (B,) 1 where the first input is positive, else 0.
    Later inputs come from the same distribution and carry no information about the label, so a model that
    does not remember step 0 is at chance: accuracy 1/2, cross-entropy ln 2.
    """

    T: int = 50  # sequence length, >= 1
    target: float | None = 0.95  # test accuracy that counts as solved

    name = "first sign"
    input_size, output_size, head = 1, 2, "last"
    baseline_metric, baseline_loss = 0.5, 0.6931471805599453  # ln 2

    def __post_init__(self):
        if not isinstance(self.T, int) or isinstance(self.T, bool) or self.T < 1:
            raise ValueError(f"T must be an int >= 1, got {self.T!r}")

    def sample(self, batch_size: int, generator: torch.Generator):
        if not isinstance(batch_size, int) or batch_size < 1 or not isinstance(generator, torch.Generator):
            raise ValueError(f"expected batch_size >= 1 and a torch.Generator, got {batch_size!r}, {generator!r}")
        x = torch.randn(batch_size, self.T, 1, generator=generator, device=generator.device)  # B, T, 1
        return x, (x[:, 0, 0] > 0).long()  # B


@torch.no_grad()
def set_keep_bias(rnn: nn.Module, value: float) -> nn.Module:
    """Set the bias of the gate that keeps the old state: an LSTM's forget gate ``f``, a GRU's update gate ``z``.

    Both are the second block of the packed gates (LSTM ``i|f|g|o``, GRU ``r|z|n``). Every ``bias_ih*``
    block becomes ``value`` and the matching ``bias_hh*`` block 0, so the gate starts at
    :math:`\\sigma(\\text{value})` when its weighted inputs are small. Works on ``nn.LSTM``/``nn.GRU`` and
    ``RecurrentLayer``; returns the module.
    """
    H, found = rnn.hidden_size, False
    for name, p in rnn.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf.startswith(("bias_ih", "bias_hh")):
            if p.shape[0] not in (3 * H, 4 * H):
                raise ValueError(f"{name} has {p.shape[0]} rows; expected the 3 or 4 gate blocks of a GRU or LSTM")
            p[H:2 * H] = value if leaf.startswith("bias_ih") else 0.0
            found = True
    if not found:
        raise ValueError(f"{type(rnn).__name__} has no gate biases: expected an LSTM or a GRU with bias=True")
    return rnn


@torch.no_grad()
def set_recurrent_spectral_norm(rnn: nn.Module, value: float, generator: torch.Generator | None = None) -> nn.Module:
    """Set every gate block of every ``weight_hh*`` to ``value`` times a random orthogonal matrix.

    All singular values of each block are then ``value``; for the plain RNN, :math:`\\lVert W_{hh} \\rVert_2`
    is exactly ``value``. ``generator`` (a CPU generator) makes the draw repeatable. Returns the module.
    """
    if not value > 0:
        raise ValueError(f"value must be > 0, got {value!r}")
    H = rnn.hidden_size
    for name, w in rnn.named_parameters():
        if name.rsplit(".", 1)[-1].startswith("weight_hh"):
            for k in range(w.shape[0] // H):
                q, r = torch.linalg.qr(torch.randn(H, H, generator=generator, dtype=torch.float64))
                q = q * torch.sign(torch.diagonal(r))  # uniformly distributed over the orthogonal matrices
                w[k * H:(k + 1) * H] = value * q.to(w)
    return rnn


def input_gradient_norms(model: nn.Module, task, x: torch.Tensor, y: torch.Tensor,
                         dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""Mean over the batch of :math:`\lVert \partial L / \partial x_t \rVert`, by distance from the last step.

    ``model`` maps x (B, T, I) to a last-step prediction; L is ``task.loss`` times B, the sum of the
    per-sequence losses, so each sequence's gradient is its own. The model runs in ``dtype`` (float64 by
    default; use float32 on Apple's MPS) and is put back in its own dtype. Returns (T,): entry d is step
    t = T - 1 - d.
    """
    if x.dim() != 3:
        raise ValueError(f"expected x of shape (batch, time, features), got {tuple(x.shape)}")
    own = next(model.parameters()).dtype
    model.to(dtype)
    try:
        x = x.detach().to(dtype).requires_grad_()
        loss = task.loss(model(x), y) * x.shape[0]
        (grad,) = torch.autograd.grad(loss, x)  # B, T, I
    finally:
        model.to(own)
    return grad.norm(dim=2).mean(0).flip(0).cpu()  # T, by distance


def gradient_profile(kind: str, task, seeds=(0,), hidden_size: int = 32, batch: int = 64,
                     keep_bias: float | None = None, weight_scale: float | None = None, device=None,
                     dtype: torch.dtype = torch.float64, label: str | None = None) -> pd.DataFrame:
    """Gradient norm by distance for freshly initialised ``task.model(kind, hidden_size)``, one per seed.

    For each seed: ``set_seed(seed)``, build the model (PyTorch's init), then optionally ``set_keep_bias``
    and ``set_recurrent_spectral_norm(weight_scale)``; draw ``batch`` sequences and measure
    ``input_gradient_norms``. Returns a tidy DataFrame: model, seed, distance, grad_norm.
    """
    from rnn_course.device import set_seed

    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    device = torch.device("cpu") if device is None else torch.device(device)
    frames = []
    for seed in seeds:
        set_seed(seed)
        model = task.model(kind, hidden_size)
        if keep_bias is not None:
            set_keep_bias(model.rnn, keep_bias)
        if weight_scale is not None:
            set_recurrent_spectral_norm(model.rnn, weight_scale, torch.Generator().manual_seed(seed))
        model.to(device)
        x, y = task.sample(batch, torch.Generator(device=device).manual_seed(10_000 + seed))
        norms = input_gradient_norms(model, task, x, y, dtype)
        frames.append(pd.DataFrame({"model": label or kind, "seed": seed, "distance": range(len(norms)),
                                    "grad_norm": norms.numpy()}))
    return pd.concat(frames, ignore_index=True)


def sgd_run(model: nn.Module, task, steps: int, lr: float, clip: float | None = None, batch: int = 64,
            seed: int = 0) -> pd.DataFrame:
    """Plain SGD on ``task`` with optional gradient clipping; one row per step: step, loss, grad_norm.

    The course's ``rnn_course.train.train`` uses Adam, whose per-parameter scaling already shrinks a
    huge gradient to a step of about ``lr``; the exploding-gradient problem and clipping's cure
    (Pascanu et al. 2013) show in their original setting, SGD, so this loop exists for that one
    demonstration. ``grad_norm`` is the global norm before clipping; batches come from a generator
    seeded with ``seed`` on the model's device.
    """
    if steps < 1 or not lr > 0:
        raise ValueError(f"steps must be >= 1 and lr > 0, got {steps} and {lr}")
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    rows = []
    model.train()
    for step in range(1, steps + 1):
        x, y = task.sample(batch, generator)
        loss = task.loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), float("inf") if clip is None else clip)
        optimizer.step()
        rows.append({"step": step, "loss": loss.item(), "grad_norm": norm.item()})
    return pd.DataFrame(rows)
