r"""Recurrent cells written gate by gate, equal to PyTorch's, and a layer that runs them over a sequence.

``RNNCell``, ``LSTMCell`` and ``GRUCell`` hold exactly the parameters of ``nn.RNNCell``, ``nn.LSTMCell`` and
``nn.GRUCell`` (names, shapes, gate order), so ``load_state_dict`` works both ways. ``RecurrentLayer`` runs
one of them over a batch-first sequence, ``num_layers`` deep, and returns what ``nn.RNN``, ``nn.LSTM`` or
``nn.GRU`` return; ``RecurrentLayer.from_torch(module)`` copies an existing module, ``to_torch()`` goes back.
Named variants of the gated cells (a gate held at a constant, coupled input-forget gates, ...) are in
``rnn_course.variants``.

Every cell splits a step in two: ``project_input(x)`` (the input-to-hidden product, computed for all time
steps in one matrix multiply) and ``step(xw_t, state)`` (the recurrent part, one time step).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

KINDS = ("rnn", "lstm", "gru")


class _Cell(nn.Module):
    """Parameters shared by the cells: ``n_gates`` blocks of ``hidden_size`` rows, PyTorch's init."""

    gate_names: tuple[str, ...] = ()  # what ``step`` records when tracing

    def __init__(self, input_size: int, hidden_size: int, n_gates: int, bias: bool = True):
        super().__init__()
        for name, value in [("input_size", input_size), ("hidden_size", hidden_size)]:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
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
TORCH_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentLayer(nn.Module):
    """``num_layers`` from-scratch cells run over a sequence: a drop-in for ``nn.RNN``/``nn.LSTM``/``nn.GRU``.

    ``kind`` is ``"rnn"``, ``"lstm"`` or ``"gru"``; ``variant`` (a name or a ``CellVariant`` from
    ``rnn_course.variants``) changes the gated cells. Input (B, T, input_size) (``batch_first``, the
    default) and an optional initial state (L, B, H) (a tuple ``(h0, c0)`` for an LSTM); returns
    ``(output, h_n)`` or ``(output, (h_n, c_n))`` with output (B, T, H), as PyTorch's modules do.
    ``forward(x, state, return_gates=True)`` also returns one dict per layer of gate activations, each
    (B, T, H): LSTM ``i, f, g, o, c``; GRU ``r, z, n``; nothing for the plain RNN.
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, nonlinearity: str = "tanh", variant=None):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"num_layers must be an int >= 1, got {num_layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if nonlinearity != "tanh" and kind != "rnn":
            raise ValueError(f"nonlinearity applies to kind 'rnn' only, got {nonlinearity!r} for {kind!r}")
        self.kind, self.input_size, self.hidden_size, self.num_layers = kind, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.nonlinearity = bias, batch_first, dropout, nonlinearity
        extra = {"nonlinearity": nonlinearity} if kind == "rnn" else {}
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        if variant is None:
            self.variant = None
            self.cells = nn.ModuleList(CELLS[kind](size, hidden_size, bias, **extra) for size in sizes)
        else:
            from rnn_course.variants import get_variant, variant_cell  # variants builds on this module

            self.variant = get_variant(kind, variant)
            self.cells = nn.ModuleList(variant_cell(kind, size, hidden_size, self.variant, bias) for size in sizes)

    def _initial_states(self, x: torch.Tensor, state) -> list:
        B, L, H = x.shape[0], self.num_layers, self.hidden_size
        if state is None:
            return [cell.initial_state(B, x) for cell in self.cells]
        names, tensors = (("h0", "c0"), state) if self.kind == "lstm" else (("h0",), (state,))
        if self.kind == "lstm" and not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise ValueError("an LSTM's initial state must be a tuple (h0, c0), each of shape (num_layers, batch, "
                             f"hidden_size) = {(L, B, H)}")
        for name, s in zip(names, tensors):
            if not isinstance(s, torch.Tensor) or tuple(s.shape) != (L, B, H):
                got = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
                raise ValueError(f"{name} must have shape (num_layers, batch, hidden_size) = {(L, B, H)}, got {got}")
        if self.kind == "lstm":
            return list(zip(state[0].unbind(0), state[1].unbind(0)))
        return list(state.unbind(0))

    def forward(self, x: torch.Tensor, state=None, return_gates: bool = False):
        shape = "(batch, time, input_size)" if self.batch_first else "(time, batch, input_size)"
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"expected input of shape {shape} with input_size = {self.input_size}, "
                             f"got {tuple(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[1] == 0:
            raise ValueError("expected a sequence of at least one time step, got time = 0")
        states, lstm = self._initial_states(x, state), self.kind == "lstm"
        finals, gates = [], []
        for k, cell in enumerate(self.cells):
            if k and self.dropout and self.training:
                x = F.dropout(x, self.dropout, training=True)
            s, outputs, trace = states[k], [], ([] if return_gates else None)
            for xw in cell.project_input(x).unbind(1):  # T tensors (B, gates * H), no slicing in the loop
                s = cell.step(xw, s, trace)
                outputs.append(s[0] if lstm else s)
            x = torch.stack(outputs, 1)  # B, T, H
            finals.append(s)
            if return_gates:
                gates.append({name: torch.stack(v, 1) for name, v in zip(cell.gate_names, zip(*trace))})
        output = x if self.batch_first else x.transpose(0, 1)
        if lstm:
            final = (torch.stack([s[0] for s in finals]), torch.stack([s[1] for s in finals]))  # L, B, H each
        else:
            final = torch.stack(finals)  # L, B, H
        return (output, final, gates) if return_gates else (output, final)

    @classmethod
    def from_torch(cls, module: nn.Module) -> "RecurrentLayer":
        """A ``RecurrentLayer`` with the configuration and a copy of the weights of an ``nn.RNN/LSTM/GRU``."""
        kind = next((k for k, m in TORCH_MODULES.items() if type(module) is m), None)
        if kind is None:
            raise ValueError(f"expected an nn.RNN, nn.LSTM or nn.GRU, got {type(module).__name__}")
        if module.bidirectional or getattr(module, "proj_size", 0):
            raise ValueError("bidirectional modules and LSTMs with proj_size > 0 are not supported")
        extra = {"nonlinearity": module.nonlinearity} if kind == "rnn" else {}
        layer = cls(kind, module.input_size, module.hidden_size, module.num_layers, bias=module.bias,
                    batch_first=module.batch_first, dropout=module.dropout, **extra)
        p = next(module.parameters())
        layer.to(device=p.device, dtype=p.dtype)
        for k, cell in enumerate(layer.cells):
            cell.load_state_dict({name: getattr(module, f"{name}_l{k}") for name, _ in cell.named_parameters()})
        return layer.train(module.training)

    def to_torch(self) -> nn.Module:
        """The ``nn.RNN``/``nn.LSTM``/``nn.GRU`` with this layer's configuration and a copy of its weights."""
        if self.variant is not None and not self.variant.same_as_torch:
            raise ValueError(f"variant {self.variant.name!r} computes something no PyTorch module does")
        extra = {"nonlinearity": self.nonlinearity} if self.kind == "rnn" else {}
        module = TORCH_MODULES[self.kind](self.input_size, self.hidden_size, self.num_layers, bias=self.bias,
                                          batch_first=self.batch_first, dropout=self.dropout, **extra)
        p = next(self.parameters())
        module.to(device=p.device, dtype=p.dtype)
        module.load_state_dict({f"{name}_l{k}": t for k, cell in enumerate(self.cells)
                                for name, t in cell.state_dict().items()})
        return module.train(self.training)
