r"""Variants of the course's LSTM and GRU cells, for ablation studies: one registry, ``VARIANTS``.

A ``CellVariant`` is a small frozen description of one change to ``LSTMCell`` or ``GRUCell``, with the name
tables and plots use; ``VARIANTS`` names the standard ones (after Greff et al. 2017 and Jozefowicz et al.
2015), keyed by a short unique key::

    RecurrentLayer("lstm", 1, 32, variant="cifg")      # or variant=CellVariant("mine", "lstm", ...)

A gate held at a constant is not computed at all: its rows are absent from ``weight_ih``, ``weight_hh`` and
the biases, so a variant holds exactly the parameters it uses (the remaining gates keep PyTorch's order), and
a layer with ``G`` learned gate blocks has :math:`G H (I + H + 2)` parameters. The full cells (``"lstm"``,
``"forget_bias_1"``, ``"forget_bias_0"``, ``"gru"``) are the plain ``LSTMCell`` and ``GRUCell``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rnn_course.cells import CELLS, GRUCell, LSTMCell
from rnn_course.checks import int_at_least
from rnn_course.init import set_gate_bias
from rnn_course.kinds import GATES

HOLDABLE = {"lstm": ("i", "f", "o"), "gru": ("r", "z")}


@dataclass(frozen=True)
class CellVariant:
    """One change to a gated cell; every mechanical field at its default is the plain cell."""

    key: str  # unique short name, e.g. "no_forget"
    kind: str  # "lstm" or "gru"
    label: str = ""  # what tables and plots show
    change: str = ""  # the equation that changes, in words
    greff: str = ""  # Greff et al. (2017)'s abbreviation, where they studied it
    held: tuple[tuple[str, float], ...] = ()  # gates held at a constant, e.g. (("f", 1.0),)
    coupled: bool = False  # LSTM: the input gate is tied to the forget gate, i = 1 - f ("CIFG")
    output_activation: bool = True  # LSTM: h = o * tanh(c); False gives h = o * c
    forget_bias: float | None = None  # LSTM: initial b_if (b_hf starts at 0); None keeps PyTorch's init
    reset_before: bool = False  # GRU: n = tanh(W_in x + b_in + W_hn (r * h) + b_hn), as in Cho et al. (2014)

    def __post_init__(self):
        if self.kind not in HOLDABLE:
            raise ValueError(f"variants exist for kind 'lstm' or 'gru', got {self.kind!r}")
        held = dict(self.held)
        if len(held) != len(self.held) or any(g not in HOLDABLE[self.kind] for g in held):
            raise ValueError(f"held must name distinct gates among {HOLDABLE[self.kind]}, got {self.held!r}")
        lstm_only = self.coupled or not self.output_activation or self.forget_bias is not None
        if (self.kind == "gru" and lstm_only) or (self.kind == "lstm" and self.reset_before):
            raise ValueError(f"{self.key!r}: coupled, output_activation and forget_bias apply to an LSTM, "
                             f"reset_before to a GRU; got kind {self.kind!r}")
        if self.coupled and ("i" in held or "f" in held):
            raise ValueError(f"{self.key!r}: a coupled input-forget gate cannot also hold i or f")
        if self.forget_bias is not None and "f" in held:
            raise ValueError(f"{self.key!r}: forget_bias needs a learned forget gate, but f is held")

    @property
    def learned_gates(self) -> tuple[str, ...]:
        """The gate blocks the variant's weights hold, in PyTorch's order."""
        held = dict(self.held)
        return tuple(g for g in GATES[self.kind] if g not in held and not (self.coupled and g == "i"))

    @property
    def same_as_torch(self) -> bool:
        """True when the variant computes what ``nn.LSTM``/``nn.GRU`` compute (it may differ in init)."""
        return not (self.held or self.coupled or self.reset_before) and self.output_activation

    def num_parameters(self, input_size: int, hidden_size: int) -> int:
        """Parameters of one layer: G H (I + H + 2) for the G learned gate blocks."""
        int_at_least("input_size", input_size)
        int_at_least("hidden_size", hidden_size)
        return len(self.learned_gates) * hidden_size * (input_size + hidden_size + 2)


VARIANTS: dict[str, CellVariant] = {v.key: v for v in [
    CellVariant("lstm", "lstm", "LSTM", "none: PyTorch's LSTM, PyTorch's init", "V"),
    CellVariant("no_forget", "lstm", "LSTM, no forget gate (f=1)", "c' = c + i g (the 1997 LSTM)", "NFG",
                held=(("f", 1.0),)),
    CellVariant("no_input", "lstm", "LSTM, no input gate (i=1)", "c' = f c + g", "NIG", held=(("i", 1.0),)),
    CellVariant("no_output", "lstm", "LSTM, no output gate (o=1)", "h' = tanh(c')", "NOG", held=(("o", 1.0),)),
    CellVariant("cifg", "lstm", "LSTM, coupled gates (i=1-f)", "c' = f c + (1 - f) g", "CIFG", coupled=True),
    CellVariant("no_output_act", "lstm", "LSTM, no output activation", "h' = o c'", "NOAF",
                output_activation=False),
    CellVariant("forget_bias_1", "lstm", "LSTM, forget bias 1", "init only: b_f = 1", forget_bias=1.0),
    CellVariant("forget_bias_0", "lstm", "LSTM, forget bias 0", "init only: b_f = 0", forget_bias=0.0),
    CellVariant("gru", "gru", "GRU", "none: PyTorch's GRU, PyTorch's init"),
    CellVariant("gru_no_reset", "gru", "GRU, no reset gate (r=1)", "n = tanh(W_in x + b_in + W_hn h + b_hn)",
                held=(("r", 1.0),)),
    CellVariant("gru_no_update", "gru", "GRU, no update gate (z=0)", "h' = n: the new state replaces the old",
                held=(("z", 0.0),)),
    CellVariant("gru_reset_before", "gru", "GRU, reset before W_hn (Cho et al.)",
                "n = tanh(W_in x + b_in + W_hn (r h) + b_hn)", reset_before=True),
]}


def get_variant(kind: str, variant) -> CellVariant:
    """``variant`` as a ``CellVariant`` of ``kind``: a key of ``VARIANTS`` or a ``CellVariant``."""
    if kind not in HOLDABLE:
        raise ValueError(f"variants exist for kind 'lstm' or 'gru', got {kind!r}")
    if not isinstance(variant, CellVariant):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of "
                             f"{sorted(k for k, v in VARIANTS.items() if v.kind == kind)}")
        variant = VARIANTS[variant]
    if variant.kind != kind:
        raise ValueError(f"variant {variant.key!r} is for kind {variant.kind!r}, not {kind!r}")
    return variant


def _constant(value, like: torch.Tensor) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else like.new_full(like.shape, value)


class VariantLSTMCell(LSTMCell):
    """An ``LSTMCell`` with held gates, a coupled input-forget gate or no output activation.

    Same equations as ``LSTMCell`` with the variant's changes; only ``variant.learned_gates`` have weights.
    """

    def __init__(self, input_size: int, hidden_size: int, variant: CellVariant, bias: bool = True):
        super(LSTMCell, self).__init__(input_size, hidden_size, len(variant.learned_gates), bias)
        self.variant, self.held, self.learned_gates = variant, dict(variant.held), variant.learned_gates

    def step(self, xw, state, trace=None):
        h, c = state
        pre = torch.addmm(xw, h, self.weight_hh.t()).chunk(len(self.variant.learned_gates), 1)
        a = {g: (p.tanh() if g == "g" else p.sigmoid()) for g, p in zip(self.variant.learned_gates, pre)}
        a.update(self.held)  # python floats
        if self.variant.coupled:
            a["i"] = 1 - a["f"]
        c = a["f"] * c + a["i"] * a["g"]
        h = a["o"] * (c.tanh() if self.variant.output_activation else c)
        if trace is not None:
            trace.append(tuple(_constant(a[g], c) for g in "ifgo") + (c,))
        return h, c


class VariantGRUCell(GRUCell):
    """A ``GRUCell`` with held gates, or with the reset gate applied before ``W_hn`` (``reset_before``)."""

    def __init__(self, input_size: int, hidden_size: int, variant: CellVariant, bias: bool = True):
        super(GRUCell, self).__init__(input_size, hidden_size, len(variant.learned_gates), bias)
        self.variant, self.held, self.learned_gates = variant, dict(variant.held), variant.learned_gates

    def step(self, xw, h, trace=None):
        H, gates = self.hidden_size, self.variant.learned_gates
        m = (len(gates) - 1) * H  # rows of the gates before n
        w, b = self.weight_hh, self.bias_hh
        xs = xw.split(H, 1)  # one (B, H) block per learned gate, n last
        if self.variant.reset_before:
            gh = F.linear(h, w[:m], None if b is None else b[:m]).split(H, 1)
        else:
            gh = F.linear(h, w, b).split(H, 1)
        a = {g: (xs[k] + gh[k]).sigmoid() for k, g in enumerate(gates[:-1])}
        a.update(self.held)
        if self.variant.reset_before:
            n = (xs[-1] + F.linear(a["r"] * h, w[m:], None if b is None else b[m:])).tanh()
        else:
            n = (xs[-1] + a["r"] * gh[-1]).tanh()
        if trace is not None:
            trace.append((_constant(a["r"], h), _constant(a["z"], h), n))
        return n + a["z"] * (h - n)


def variant_cell(kind: str, input_size: int, hidden_size: int, variant, bias: bool = True):
    """A cell of ``kind`` changed as ``variant`` says (a key of ``VARIANTS`` or a ``CellVariant``)."""
    variant = get_variant(kind, variant)
    if variant.same_as_torch:
        cell = CELLS[kind](input_size, hidden_size, bias)
    else:
        cell = {"lstm": VariantLSTMCell, "gru": VariantGRUCell}[kind](input_size, hidden_size, variant, bias)
    if variant.forget_bias is not None:
        if not bias:
            raise ValueError(f"variant {variant.key!r} sets the forget-gate bias, but bias=False")
        set_gate_bias(cell, "f", variant.forget_bias)
    return cell
