r"""Linear recurrences :math:`h_t = a_t \odot h_{t-1} + b_t`: minGRU, minLSTM, and the scans that run them.

When the gates see only :math:`x_t`, every :math:`a_t` and :math:`b_t` is known before the recurrence starts,
and the recurrence is linear in :math:`h`. Then it need not run step by step: the map
:math:`h \mapsto a h + b` composes as :math:`(a, b) \circ (a', b') = (a a', a' b + b')`, an associative
operation, so a scan computes every :math:`h_t` in :math:`\lceil \log_2 T \rceil` rounds. Three ways, equal up
to rounding::

    h = scan_loop(a, b, h0)                 # T steps, the definition
    h = scan_doubling(a, b, h0)             # log2(T) rounds over the whole sequence (Hillis and Steele), any sign
    h = scan_log(log_a, log_b, log_h0)      # Heinsen (2023): cumsum and logcumsumexp, a and b positive

``MinGRU`` and ``MinLSTM`` are the layers of Feng et al. (2024) in the form of their Appendix B (the candidate
passed through ``g`` so that it stays positive and the log-space scan applies); ``MinGRU(negative=True)``
stretches its transition from [0, 1] to [-1, 1] (Grazzi et al. 2025), which the log-space scan cannot take.
Shapes: a, b (B, T, H); h0 (B, H); out (B, T, H).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from rnn_course.checks import flag, int_at_least, one_of

SCANS = ("log", "doubling", "loop")


def _check(a: torch.Tensor, b: torch.Tensor, h0, names=("a", "b", "h0")) -> None:
    for name, t in zip(names[:2], (a, b)):
        if not isinstance(t, torch.Tensor) or t.dim() != 3 or not t.is_floating_point():
            got = f"{tuple(t.shape)} {t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{name} must be a floating-point tensor of shape (batch, time, hidden), got {got}")
    if a.shape != b.shape or a.dtype != b.dtype:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape and dtype, got "
                         f"{tuple(a.shape)} {a.dtype} and {tuple(b.shape)} {b.dtype}")
    if h0 is not None and (not isinstance(h0, torch.Tensor) or h0.shape != (a.shape[0], a.shape[2])
                           or h0.dtype != a.dtype):
        got = f"{tuple(h0.shape)} {h0.dtype}" if isinstance(h0, torch.Tensor) else type(h0).__name__
        raise ValueError(f"{names[2]} must have shape (batch, hidden) = {(a.shape[0], a.shape[2])} and dtype "
                         f"{a.dtype}, got {got}")


def scan_loop(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Every :math:`h_t = a_t h_{t-1} + b_t`, one step at a time (h0: zeros when None)."""
    _check(a, b, h0)
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0  # B, H
    out = []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1)):
        h = a_t * h + b_t
        out.append(h)
    return torch.stack(out, 1)  # B, T, H


def scan_doubling(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    r"""The same, in :math:`\lceil \log_2 T \rceil` rounds: after the round with offset d, (a_t, b_t) maps
    :math:`h_{t-2d}` to :math:`h_t`. Any sign of a and b."""
    _check(a, b, h0)
    if h0 is not None:  # fold h0 into the first step: h_1 = a_1 h0 + b_1
        b = torch.cat([a[:, :1] * h0[:, None] + b[:, :1], b[:, 1:]], 1)
    d, T = 1, a.shape[1]
    while d < T:  # compose every step with the one d before it; the first d steps are already complete
        b = torch.cat([b[:, :d], a[:, d:] * b[:, :-d] + b[:, d:]], 1)
        a = torch.cat([a[:, :d], a[:, d:] * a[:, :-d]], 1)
        d *= 2
    return b


def scan_log(log_a: torch.Tensor, log_b: torch.Tensor, log_h0: torch.Tensor | None = None) -> torch.Tensor:
    r"""The same for positive a, b (and h0), from their logarithms (Heinsen 2023):
    :math:`\log h_t = a^*_t + \log \sum_{s \le t} e^{\log b_s - a^*_s}` with :math:`a^*_t = \sum_{r \le t} \log a_r`."""
    _check(log_a, log_b, log_h0, ("log_a", "log_b", "log_h0"))
    if log_h0 is not None:  # h0 is one more value, at a step with log a = 0
        log_a = F.pad(log_a, (0, 0, 1, 0))
        log_b = torch.cat([log_h0[:, None], log_b], 1)
    a_star = log_a.cumsum(1)  # B, T, H
    h = (a_star + (log_b - a_star).logcumsumexp(1)).exp()
    return h if log_h0 is None else h[:, 1:]  # the step of h0 is not an output


def g(x: torch.Tensor) -> torch.Tensor:
    """Feng et al.'s activation for the candidate: x + 1/2 for x >= 0, sigmoid(x) below; always positive."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """log g(x), computed without forming g(x)."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


class _LinearRecurrence(nn.Module):
    """Shared parts: the checks of x and h0, and the state as ``nn.GRU`` returns it."""

    def __init__(self, input_size: int, hidden_size: int, blocks: int, scan: str, batch_first: bool):
        super().__init__()
        int_at_least("input_size", input_size)
        int_at_least("hidden_size", hidden_size)
        one_of("scan", scan, SCANS)
        if not batch_first:
            raise ValueError("the linear recurrences take batch_first input (batch, time, features) only")
        self.input_size, self.hidden_size, self.scan, self.batch_first = input_size, hidden_size, scan, True
        self.linear = nn.Linear(input_size, blocks * hidden_size)  # the gates and the candidate, from x_t alone

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None):
        """x (B, T, input_size), state (1, B, H) or None -> (out (B, T, H), h_T (1, B, H)), as ``nn.GRU``."""
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or not x.is_floating_point():
            got = f"{tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"expected x, a floating-point tensor (batch, time, {self.input_size}), got {got}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"expected x with {self.input_size} features, got shape {tuple(x.shape)}")
        h0 = None
        if state is not None:
            if not isinstance(state, torch.Tensor) or state.shape != (1, x.shape[0], self.hidden_size):
                got = tuple(state.shape) if isinstance(state, torch.Tensor) else type(state).__name__
                raise ValueError(f"expected state of shape (1, batch, hidden) = "
                                 f"{(1, x.shape[0], self.hidden_size)}, got {got}")
            h0 = state[0]
            if self.scan == "log" and not bool((h0 > 0).all()):
                raise ValueError("the log-space scan needs a positive initial state; use scan='doubling' or 'loop'")
        out = self.recur(self.linear(x), h0)  # B, T, H
        return out, out[:, -1][None]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, scan={self.scan!r}"


class MinGRU(_LinearRecurrence):
    r"""minGRU (Feng et al. 2024, Appendix B): a GRU whose gate and candidate see only :math:`x_t`.

    .. math::
        z_t = \sigma(W_z x_t + b_z), \quad \tilde h_t = g(W_h x_t + b_h) \\
        h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t

    With ``negative=True`` the transition :math:`1 - z_t` becomes :math:`1 - 2 z_t`, in [-1, 1]; the
    log-space scan then does not apply. ``linear`` holds :math:`W_z | W_h`. Shapes as ``nn.GRU`` (batch first).
    """

    def __init__(self, input_size: int, hidden_size: int, scan: str = "log", negative: bool = False,
                 batch_first: bool = True):
        super().__init__(input_size, hidden_size, 2, scan, batch_first)
        self.negative = flag("negative", negative)
        if negative and scan == "log":
            raise ValueError("negative transitions have no logarithm: use scan='doubling' or 'loop'")

    def recur(self, gates: torch.Tensor, h0):
        k, h_raw = gates.chunk(2, dim=-1)  # B, T, H each
        if self.scan == "log":
            log_z, log_a = -F.softplus(-k), -F.softplus(k)  # log z and log(1 - z)
            return scan_log(log_a, log_z + log_g(h_raw), None if h0 is None else torch.log(h0))
        z = torch.sigmoid(k)
        a = 1 - 2 * z if self.negative else 1 - z
        return (scan_loop if self.scan == "loop" else scan_doubling)(a, z * g(h_raw), h0)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", negative=True" if self.negative else "")


class MinLSTM(_LinearRecurrence):
    r"""minLSTM (Feng et al. 2024, Appendix B): forget and input gates from :math:`x_t` alone, normalised to sum to 1.

    .. math::
        f_t = \sigma(W_f x_t + b_f), \quad i_t = \sigma(W_i x_t + b_i), \quad \tilde h_t = g(W_h x_t + b_h) \\
        f'_t = \frac{f_t}{f_t + i_t}, \quad i'_t = \frac{i_t}{f_t + i_t}, \quad
        h_t = f'_t \odot h_{t-1} + i'_t \odot \tilde h_t

    No output gate and no cell state apart from h. ``linear`` holds :math:`W_f | W_i | W_h`.
    """

    def __init__(self, input_size: int, hidden_size: int, scan: str = "log", batch_first: bool = True):
        super().__init__(input_size, hidden_size, 3, scan, batch_first)

    def recur(self, gates: torch.Tensor, h0):
        kf, ki, h_raw = gates.chunk(3, dim=-1)  # B, T, H each
        if self.scan == "log":
            diff = F.softplus(-kf) - F.softplus(-ki)  # log(i / f)
            log_f, log_i = -F.softplus(diff), -F.softplus(-diff)  # log f', log i'
            return scan_log(log_f, log_i + log_g(h_raw), None if h0 is None else torch.log(h0))
        f, i = torch.sigmoid(kf), torch.sigmoid(ki)
        a, b = f / (f + i), i / (f + i) * g(h_raw)
        return (scan_loop if self.scan == "loop" else scan_doubling)(a, b, h0)
