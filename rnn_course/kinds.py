"""The three recurrent kinds, their gate blocks and PyTorch's module for each: one table for the package.

=======  ===============  ======================  ==========
kind     module           gate blocks (in order)  blocks
=======  ===============  ======================  ==========
``rnn``  ``nn.RNN``       ``h``                   1
``lstm`` ``nn.LSTM``      ``i f g o``             4
``gru``  ``nn.GRU``       ``r z n``               3
=======  ===============  ======================  ==========
"""
from __future__ import annotations

import torch.nn as nn

KINDS = ("rnn", "lstm", "gru")
TORCH_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def check_kind(kind) -> str:
    """``kind`` in lower case if it names one of ``KINDS``; else ``ValueError``."""
    if not isinstance(kind, str) or kind.lower() not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
    return kind.lower()


def kind_of(module: nn.Module) -> str:
    """The kind of an ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (exactly these classes); else ``ValueError``."""
    for kind, cls in TORCH_MODULES.items():
        if type(module) is cls:
            return kind
    raise ValueError(f"expected an nn.RNN, nn.LSTM or nn.GRU, got {type(module).__name__}")
