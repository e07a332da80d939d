"""A layer that runs the course's cells over a sequence: a drop-in for ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU``.

``RecurrentLayer(kind, input_size, hidden_size, num_layers)`` returns what PyTorch's modules return, holds
the same parameters (``weight_ih_l0`` there is ``cells[0].weight_ih`` here), and can trace every gate's
activation. ``from_torch(module)`` copies an existing module, ``to_torch()`` goes back. The loop over time
is written out, so it is the place to read what a recurrent module does::

    for xw in cell.project_input(x).unbind(1):   # T tensors (B, gates * H): W_ih x_t for every t at once
        state = cell.step(xw, state)              # the recurrence: one step
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from rnn_course.cells import CELLS
from rnn_course.checks import int_at_least
from rnn_course.kinds import TORCH_MODULES, check_kind, kind_of
from rnn_course.variants import get_variant, variant_cell


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
        kind = check_kind(kind)
        int_at_least("num_layers", num_layers)
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
        kind = kind_of(module)
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
            raise ValueError(f"variant {self.variant.key!r} computes something no PyTorch module does")
        extra = {"nonlinearity": self.nonlinearity} if self.kind == "rnn" else {}
        module = TORCH_MODULES[self.kind](self.input_size, self.hidden_size, self.num_layers, bias=self.bias,
                                          batch_first=self.batch_first, dropout=self.dropout, **extra)
        p = next(self.parameters())
        module.to(device=p.device, dtype=p.dtype)
        module.load_state_dict({f"{name}_l{k}": t for k, cell in enumerate(self.cells)
                                for name, t in cell.state_dict().items()})
        return module.train(self.training)
