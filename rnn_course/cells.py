r"""Recurrent cells written gate by gate, equal to PyTorch's.

``RNNCell``, ``LSTMCell`` and ``GRUCell`` hold exactly the parameters of ``nn.RNNCell``, ``nn.LSTMCell`` and
``nn.GRUCell`` (names, shapes, gate order), so ``load_state_dict`` works both ways. Every cell splits a step
in two: ``project_input(x)`` (the input-to-hidden product, computed for all time steps in one matrix
multiply) and ``step(xw_t, state)`` (the recurrent part, one time step). ``learned_gates`` names the gate
blocks its weights hold, in PyTorch's order. ``rnn_course.layer.RecurrentLayer`` runs a cell over a
sequence; ``rnn_course.variants`` changes the gated cells (a gate held at a constant, ...).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from rnn_course.checks import int_at_least
from rnn_course.kinds import GATES


class _Cell(nn.Module):
    """Parameters shared by the cells: ``n_gates`` blocks of ``hidden_size`` rows, PyTorch's init."""

    gate_names: tuple[str, ...] = ()  # what ``step`` records when tracing
    learned_gates: tuple[str, ...] = ()  # the gate blocks of the weights, in PyTorch's order

    def __init__(self, input_size: int, hidden_size: int, n_gates: int, bias: bool = True):
        super().__init__()
        int_at_least("input_size", input_size)
        int_at_least("hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = nn.Parameter(torch.empty(n_gates * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(n_gates * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(n_gates * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(n_gates * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's init: every parameter uniform in (-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def project_input(self, x: torch.Tensor) -> torch.Tensor:
        """W_ih x + b_ih + b_hh for every row of x: (..., input_size) -> (..., n_gates * hidden_size)."""
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.linear(x, self.weight_ih, bias)

    def initial_state(self, batch: int, like: torch.Tensor):
        return like.new_zeros(batch, self.hidden_size)

    def forward(self, x: torch.Tensor, state=None):
        """One step from scratch: x (B, input_size), state as ``nn.*Cell`` takes it (None: zeros)."""
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"expected x of shape (batch, input_size) = (B, {self.input_size}), got {tuple(x.shape)}")
        state = self.initial_state(x.shape[0], x) if state is None else state
        for s in (state if isinstance(state, tuple) else (state,)):
            if tuple(s.shape) != (x.shape[0], self.hidden_size):
                raise ValueError(f"expected a state of shape (batch, hidden_size) = {(x.shape[0], self.hidden_size)}, "
                                 f"got {tuple(s.shape)}")
        return self.step(self.project_input(x), state)


class RNNCell(_Cell):
    r"""One Elman RNN step.

    .. math::
        h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})

    ``nonlinearity="relu"`` uses ReLU instead of tanh. Same parameter names and shapes as ``nn.RNNCell``.
    Shapes: x (B, input_size), h (B, hidden_size) -> h' (B, hidden_size).
    """

    learned_gates = GATES["rnn"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, 1, bias)
        self.nonlinearity = nonlinearity
        self._act = torch.tanh if nonlinearity == "tanh" else torch.relu

    def step(self, xw: torch.Tensor, h: torch.Tensor, trace: list | None = None) -> torch.Tensor:
        return self._act(torch.addmm(xw, h, self.weight_hh.t()))  # B, H


class LSTMCell(_Cell):
    r"""One LSTM step, gate by gate.

    .. math::
        i = \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) \\
        f = \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf}) \\
        g = \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \\
        o = \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho}) \\
        c' = f \odot c + i \odot g \\
        h' = o \odot \tanh(c')

    :math:`i, f, o` are the input, forget and output gates, :math:`g` the candidate cell state.
    Same parameter names, shapes and (i|f|g|o) order as ``nn.LSTMCell``.
    Shapes: x (B, input_size), (h, c) each (B, hidden_size) -> (h', c') each (B, hidden_size).
    """

    gate_names = ("i", "f", "g", "o", "c")
    learned_gates = GATES["lstm"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__(input_size, hidden_size, 4, bias)

    def initial_state(self, batch, like):
        zeros = like.new_zeros(batch, self.hidden_size)
        return zeros, zeros

    def step(self, xw: torch.Tensor, state: tuple, trace: list | None = None) -> tuple:
        h, c = state
        gates = torch.addmm(xw, h, self.weight_hh.t())  # B, 4H
        i, f, g, o = gates.chunk(4, 1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        if trace is not None:
            trace.append((i, f, g, o, c))
        return h, c


class GRUCell(_Cell):
    r"""One GRU step, gate by gate, in PyTorch's form.

    .. math::
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \\
        h' = (1 - z) \odot n + z \odot h

    :math:`r` is the reset gate, :math:`z` the update gate, :math:`n` the new state. The reset gate acts on
    :math:`W_{hn} h + b_{hn}`, not on :math:`h`. Same parameter names, shapes and (r|z|n) order as
    ``nn.GRUCell``. Shapes: x (B, input_size), h (B, hidden_size) -> h' (B, hidden_size).
    """

    gate_names = ("r", "z", "n")
    learned_gates = GATES["gru"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__(input_size, hidden_size, 3, bias)

    def project_input(self, x):
        return F.linear(x, self.weight_ih, self.bias_ih)  # b_hn sits inside r * (...), so b_hh stays out

    def step(self, xw: torch.Tensor, h: torch.Tensor, trace: list | None = None) -> torch.Tensor:
        H = self.hidden_size
        gh = F.linear(h, self.weight_hh, self.bias_hh)  # B, 3H
        r, z = (xw[:, : 2 * H] + gh[:, : 2 * H]).sigmoid().chunk(2, 1)
        n = torch.addcmul(xw[:, 2 * H:], r, gh[:, 2 * H:]).tanh()
        if trace is not None:
            trace.append((r, z, n))
        return n + z * (h - n)  # (1 - z) n + z h


CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
