"""One sequence model for every task: a recurrent layer and a linear head.

``SequenceModel(kind, input_size, hidden_size, output_size)`` is ``nn.RNN``, ``nn.LSTM`` or ``nn.GRU``
(batch first) followed by ``nn.Linear``; ``rnn=`` swaps in any module that is called and returns like them,
for instance the course's own ``rnn_course.layer.RecurrentLayer``. The head reads either the last step
(``head="last"``: one prediction per sequence) or every step (``head="every"``: one per time step)::

    model = SequenceModel("gru", input_size=2, hidden_size=64, output_size=1)          # adding problem
    y = model(x)                          # x (B, T, 2) -> y (B, 1)
    y = model(x, lengths)                 # padded batch: reads each sequence's last *valid* step
    y, state = model(x, return_state=True)

With ``vocab_size`` the model first embeds integer ids (B, T) into ``input_size`` features.
``lengths`` runs the batch through ``rnn_course.packing.run_padded``, so no sequence sees its padding.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from rnn_course.checks import int_at_least, one_of
from rnn_course.init import set_forget_bias
from rnn_course.kinds import TORCH_MODULES, check_kind
from rnn_course.packing import last_valid, length_mask, run_padded

HEADS = ("last", "every")


class SequenceModel(nn.Module):
    """A recurrent layer followed by a linear head on the last step or on every step.

    Parameters
    ----------
    kind : "rnn", "lstm" or "gru" (used to build the layer, and as the model's name).
    input_size, hidden_size, output_size : feature sizes (the head maps hidden -> output).
    num_layers : stacked recurrent layers. dropout : between stacked layers (PyTorch's ``dropout``).
    head : "last" -> (B, output_size); "every" -> (B, T, output_size).
    rnn : a ready module to use instead of building one (batch first, called as ``rnn(x, state)``,
        returning ``(output, state)``); its ``hidden_size`` must match.
    forget_bias : LSTM only: initial forget-gate bias (``rnn_course.init.set_forget_bias``); None keeps
        PyTorch's init.
    vocab_size : if given, inputs are integer ids (B, T), embedded into ``input_size`` features first.
    padding_idx : with ``vocab_size``: the id whose embedding is held at zero (``nn.Embedding``'s own).
    head_dropout : dropout on the recurrent output the head reads (training mode only); 0 disables it.
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, output_size: int, *, num_layers: int = 1,
                 head: str = "last", rnn: nn.Module | None = None, dropout: float = 0.0,
                 forget_bias: float | None = None, vocab_size: int | None = None, padding_idx: int | None = None,
                 head_dropout: float = 0.0):
        super().__init__()
        kind = check_kind(kind)
        one_of("head", head, HEADS)
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("output_size", output_size), ("num_layers", num_layers)):
            int_at_least(name, value)
        if forget_bias is not None and kind != "lstm":
            raise ValueError(f"forget_bias applies to kind 'lstm' only, got kind {kind!r}")
        if not 0.0 <= head_dropout < 1.0:
            raise ValueError(f"head_dropout must be in [0, 1), got {head_dropout!r}")
        if padding_idx is not None and vocab_size is None:
            raise ValueError("padding_idx needs vocab_size: it names an id of the embedding")
        self.kind, self.head_type = kind, head
        self.embedding = None
        if vocab_size is not None:
            int_at_least("vocab_size", vocab_size)
            if padding_idx is not None and not (isinstance(padding_idx, int) and 0 <= padding_idx < vocab_size):
                raise ValueError(f"padding_idx must be an id in 0..{vocab_size - 1}, got {padding_idx!r}")
            self.embedding = nn.Embedding(vocab_size, input_size, padding_idx=padding_idx)
        if rnn is None:
            rnn = TORCH_MODULES[kind](input_size, hidden_size, num_layers, batch_first=True, dropout=dropout)
        else:
            if not getattr(rnn, "batch_first", True):
                raise ValueError("the given rnn must be batch_first (input (B, T, F))")
            if getattr(rnn, "hidden_size", hidden_size) != hidden_size:
                raise ValueError(f"the given rnn has hidden_size {rnn.hidden_size}, expected {hidden_size}")
            if getattr(rnn, "input_size", input_size) != input_size:
                raise ValueError(f"the given rnn has input_size {rnn.input_size}, expected {input_size}")
        self.rnn = rnn
        if forget_bias is not None:
            set_forget_bias(self.rnn, forget_bias)
        self.bidirectional = bool(getattr(rnn, "bidirectional", False))
        features = (getattr(rnn, "proj_size", 0) or hidden_size) * (2 if self.bidirectional else 1)
        self.head_dropout = nn.Dropout(head_dropout)  # no parameters: identity at p = 0 and in eval mode
        self.head = nn.Linear(features, output_size)

    def forward(self, x: torch.Tensor, lengths=None, state=None, return_state: bool = False):
        """x (B, T, input_size) floats, or (B, T) ids with ``vocab_size``; ``lengths`` (B,) for a padded batch.

        Returns the prediction, (B, output_size) for ``head="last"`` or (B, T, output_size) for
        ``head="every"`` (zeros past each sequence's length when ``lengths`` is given), and also the
        recurrent state when ``return_state`` is true.
        """
        if self.embedding is not None:
            if x.dim() != 2 or x.is_floating_point():
                raise ValueError(f"with vocab_size, expected integer ids of shape (batch, time), got "
                                 f"{tuple(x.shape)} {x.dtype}")
            x = self.embedding(x)  # B, T, input_size
        elif x.dim() != 3:
            raise ValueError(f"expected x of shape (batch, time, features), got {tuple(x.shape)}")
        if lengths is None:
            out, state = self.rnn(x, state)  # B, T, D
        else:
            out, state = run_padded(self.rnn, x, lengths, state)  # B, T, D, zeros on the padding
        if self.head_type == "every":
            y = self.head(self.head_dropout(out))  # B, T, output_size
            if lengths is not None:
                y = y * length_mask(lengths, x.shape[1], device=y.device).unsqueeze(-1).to(y.dtype)
        else:
            if lengths is None and not self.bidirectional:
                last = out[:, -1]  # B, D
            else:
                if lengths is None:
                    lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.int64)
                last = last_valid(out, lengths, bidirectional=self.bidirectional)  # B, D
            y = self.head(self.head_dropout(last))  # B, output_size
        return (y, state) if return_state else y

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, head={self.head_type!r}"


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
