r"""Exact parameter counts of ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU``.

A layer of a recurrent module with :math:`G` gate blocks (RNN 1, GRU 3 ``r|z|n``, LSTM 4 ``i|f|g|o``),
hidden size :math:`H`, layer input size :math:`I_\ell` and recurrent size :math:`R` (:math:`H`, or the
projection size :math:`P` of an LSTM with ``proj_size > 0``) holds, per direction,

.. math::
    G H I_\ell \;+\; G H R \;+\; 2 G H \,[\text{bias}] \;+\; P H \,[\text{proj\_size} > 0]

parameters. Layer 0 reads ``input_size`` features; layer :math:`\ell > 0` reads the previous layer's
output, :math:`D R` features for :math:`D` directions.
"""
from __future__ import annotations

from dataclasses import dataclass

from rnn_course.checks import flag, int_at_least
from rnn_course.kinds import GATES, check_kind


@dataclass(frozen=True)
class ParamTensor:
    """One parameter tensor of a recurrent module: its name, shape and gate blocks along dim 0."""

    name: str  # e.g. "weight_ih_l1_reverse", as in module.named_parameters()
    shape: tuple[int, ...]
    gates: dict[str, slice]  # gate name -> rows of dim 0 (empty for weight_hr, the projection)

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def _check(kind, input_size, hidden_size, num_layers, bias, bidirectional, proj_size) -> str:
    kind = check_kind(kind)
    for name, value, least in [("input_size", input_size, 1), ("hidden_size", hidden_size, 1),
                               ("num_layers", num_layers, 1), ("proj_size", proj_size, 0)]:
        int_at_least(name, value, least)
    flag("bias", bias)
    flag("bidirectional", bidirectional)
    if proj_size and kind != "lstm":
        raise ValueError(f"proj_size is only defined for an LSTM, got proj_size={proj_size} for kind {kind!r}")
    if proj_size >= hidden_size:
        raise ValueError(f"proj_size must be smaller than hidden_size ({hidden_size}), got {proj_size}")
    return kind


def parameter_breakdown(kind: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                        bidirectional: bool = False, proj_size: int = 0) -> list[ParamTensor]:
    """Every parameter tensor of ``nn.<KIND>(input_size, hidden_size, ...)``, in ``named_parameters()`` order.

    Raises ``ValueError`` for sizes below 1, an unknown kind, or a ``proj_size`` that is not
    ``0 <= proj_size < hidden_size`` on an LSTM.
    """
    kind = _check(kind, input_size, hidden_size, num_layers, bias, bidirectional, proj_size)
    gates = GATES[kind]
    H, P, D = hidden_size, proj_size, 2 if bidirectional else 1
    R = P or H  # size of the recurrent state h (and of each direction's output)
    blocks = {g: slice(k * H, (k + 1) * H) for k, g in enumerate(gates)}
    G = len(gates)
    out = []
    for layer in range(num_layers):
        layer_in = input_size if layer == 0 else D * R
        for suffix in ([""] + (["_reverse"] if bidirectional else [])):
            tag = f"_l{layer}{suffix}"
            out.append(ParamTensor(f"weight_ih{tag}", (G * H, layer_in), blocks))
            out.append(ParamTensor(f"weight_hh{tag}", (G * H, R), blocks))
            if bias:
                out.append(ParamTensor(f"bias_ih{tag}", (G * H,), blocks))
                out.append(ParamTensor(f"bias_hh{tag}", (G * H,), blocks))
            if P:
                out.append(ParamTensor(f"weight_hr{tag}", (P, H), {}))
    return out


def count_parameters(kind: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                     bidirectional: bool = False, proj_size: int = 0) -> int:
    """The exact number of parameters of ``nn.<KIND>(input_size, hidden_size, ...)``.

    >>> count_parameters("lstm", 10, 20, num_layers=2)
    5920
    """
    tensors = parameter_breakdown(kind, input_size, hidden_size, num_layers, bias, bidirectional, proj_size)
    return sum(t.numel for t in tensors)


def module_parameters(module) -> int:
    """``sum(p.numel())`` over a module's parameters: what the formulas are checked against."""
    return sum(p.numel() for p in module.parameters())


def matching_hidden_size(kind: str, input_size: int, n_params: int, **kwargs) -> int:
    """The hidden size at which ``nn.<KIND>(input_size, hidden_size, **kwargs)`` has the parameter count closest
    to ``n_params`` (the smaller size on a tie): how to compare two kinds at equal parameters.

    >>> matching_hidden_size("lstm", 2, count_parameters("gru", 2, 64))
    55
    """
    int_at_least("n_params", n_params)
    best, best_gap, hidden = 1, None, 1
    while True:
        gap = abs(count_parameters(kind, input_size, hidden, **kwargs) - n_params)
        if best_gap is not None and gap > best_gap:
            return best  # the count grows with the hidden size: past the closest, it only moves away
        if best_gap is None or gap < best_gap:
            best, best_gap = hidden, gap
        hidden += 1
