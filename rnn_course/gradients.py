r"""How much gradient reaches step :math:`t` of a sequence from a loss at its last step, and what sets it.

The measure is :math:`\lVert \partial L / \partial x_t \rVert`, the norm of the gradient of a last-step loss
with respect to the input at step :math:`t`, averaged over a batch and indexed by the distance
:math:`T - 1 - t` (0 is the last step). It works for any model that maps (B, T, I) to a last-step prediction
(``rnn_course.models.SequenceModel`` around ``nn.RNN``/``nn.LSTM``/``nn.GRU`` or the course's own
``RecurrentLayer``) and runs in float64, so values far below float32's range stay visible::

    task = FirstSign(T=50)                                                     # rnn_course.tasks
    profile = gradient_profile("lstm", task, seeds=[0, 1, 2], keep_bias=3.0)   # tidy DataFrame

The task ``FirstSign`` is in ``rnn_course.tasks``; the initialisations the profiles compare
(``set_keep_bias``, ``set_recurrent_spectral_norm``) are in ``rnn_course.init``.
"""
from __future__ import annotations

import pandas as pd
import torch
import torch.nn as nn

from rnn_course.checks import int_at_least
from rnn_course.device import set_seed
from rnn_course.init import set_keep_bias, set_recurrent_spectral_norm


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
    int_at_least("batch", batch)
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
