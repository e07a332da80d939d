r"""Initialisations that matter for memory: gate biases and the scale of the recurrent weights.

- ``set_gate_bias(module, "f", 1.0)`` sets the bias of one gate, wherever the module holds it: an ``nn.LSTM``,
  ``nn.GRU``, ``nn.LSTMCell``, the course's cells and layers (variants included) or a model around them. The
  ``bias_ih`` block becomes the value and the ``bias_hh`` block 0, so their sum, the bias the gate sees, is
  the value.
- ``set_forget_bias`` is that for an LSTM's forget gate (Gers et al. 2000; Jozefowicz et al. 2015 use 1);
  ``set_keep_bias`` for the gate that keeps the old state: an LSTM's ``f``, a GRU's ``z``.
- ``set_recurrent_spectral_norm`` makes every gate block of ``W_hh`` a multiple of a random orthogonal matrix.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from rnn_course.checks import positive
from rnn_course.kinds import GATES

_TORCH_CELLS = {nn.RNNCell: "rnn", nn.LSTMCell: "lstm", nn.GRUCell: "gru"}


def _bias_blocks(module: nn.Module):
    """(bias_ih, bias_hh, gate names of the blocks, hidden size) for every recurrent layer inside ``module``."""
    for m in module.modules():
        if isinstance(m, nn.RNNBase):
            gates = GATES[{"RNN_TANH": "rnn", "RNN_RELU": "rnn", "LSTM": "lstm", "GRU": "gru"}[m.mode]]
            for name, p in m.named_parameters(recurse=False):
                if name.startswith("bias_ih"):
                    yield p, getattr(m, "bias_hh" + name[len("bias_ih"):]), gates, m.hidden_size
        elif type(m) in _TORCH_CELLS or hasattr(m, "learned_gates"):
            gates = GATES[_TORCH_CELLS[type(m)]] if type(m) in _TORCH_CELLS else m.learned_gates
            if getattr(m, "bias_ih", None) is not None:
                yield m.bias_ih, m.bias_hh, gates, m.hidden_size


@torch.no_grad()
def set_gate_bias(module: nn.Module, gate: str, value: float) -> nn.Module:
    """Set the bias of ``gate`` (``"i"``, ``"f"``, ``"o"``, ``"r"``, ``"z"``, ...) in every layer of ``module``
    that learns that gate; ``ValueError`` if none does. Returns the module."""
    found = False
    for bias_ih, bias_hh, gates, H in _bias_blocks(module):
        if gate in gates:
            k = gates.index(gate)
            bias_ih[k * H:(k + 1) * H] = value
            bias_hh[k * H:(k + 1) * H] = 0.0
            found = True
    if not found:
        raise ValueError(f"{type(module).__name__} has no learned gate {gate!r} with a bias (an LSTM learns "
                         f"i, f, g, o; a GRU r, z, n)")
    return module


def set_forget_bias(module: nn.Module, value: float) -> nn.Module:
    """Set an LSTM's forget-gate bias to ``value``; see ``set_gate_bias``."""
    return set_gate_bias(module, "f", value)


def set_keep_bias(module: nn.Module, value: float) -> nn.Module:
    """Set the bias of the gate that keeps the old state: an LSTM's forget gate ``f``, a GRU's update gate ``z``.

    The gate then starts at :math:`\\sigma(\\text{value})` when its weighted inputs are small.
    """
    gates = {g for _, _, names, _ in _bias_blocks(module) for g in names}
    if not gates & {"f", "z"}:
        raise ValueError(f"{type(module).__name__} has no keep gate: expected an LSTM (f) or a GRU (z) with biases")
    for gate in ("f", "z"):
        if gate in gates:
            set_gate_bias(module, gate, value)
    return module


@torch.no_grad()
def set_recurrent_spectral_norm(rnn: nn.Module, value: float, generator: torch.Generator | None = None) -> nn.Module:
    """Set every gate block of every ``weight_hh*`` to ``value`` times a random orthogonal matrix.

    All singular values of each block are then ``value``; for the plain RNN, :math:`\\lVert W_{hh} \\rVert_2`
    is exactly ``value``. ``generator`` (a CPU generator) makes the draw repeatable. Returns the module.
    """
    positive("value", value)
    found = False
    for m in rnn.modules():
        for name, w in m.named_parameters(recurse=False):
            if name.startswith("weight_hh"):
                H = w.shape[1]
                if w.shape[0] % H:
                    raise ValueError(f"{name} of shape {tuple(w.shape)} is not made of square gate blocks")
                for k in range(w.shape[0] // H):
                    q, r = torch.linalg.qr(torch.randn(H, H, generator=generator, dtype=torch.float64))
                    q = q * torch.sign(torch.diagonal(r))  # uniformly distributed over the orthogonal matrices
                    w[k * H:(k + 1) * H] = value * q.to(w)
                found = True
    if not found:
        raise ValueError(f"{type(rnn).__name__} has no recurrent weights (weight_hh*)")
    return rnn
