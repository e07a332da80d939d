"""Variable-length batches: run a recurrent module on a padded batch, and read the right positions.

A padded batch ``x`` (B, T, F) holds B sequences of ``lengths`` <= T steps each, followed by padding.
``run_padded(module, x, lengths)`` runs ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (packing and unpacking inside)
or any unidirectional module that returns like them, such as ``rnn_course.cells.RecurrentLayer``, so that
no sequence ever sees its padding: the outputs and final states equal those of each sequence run alone.
``last_valid`` picks each sequence's last real output, ``final_hidden`` the top layer's final state of a
(possibly bidirectional) module, ``length_mask`` the valid positions. ``bucket_batches`` and
``wasted_fraction`` are for the cost of padding. Every function accepts lengths as a list, a NumPy array
or an integer tensor on any device. ``LastToken`` is a variable-length task for ``rnn_course.train``.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnn_course.checks import int_at_least

METHODS = ("auto", "packed", "segments")


def check_lengths(lengths, batch: int | None = None, max_len: int | None = None) -> torch.Tensor:
    """Validate ``lengths`` and return them as a 1-D int64 CPU tensor.

    Raises ValueError for non-integer lengths (floats, bools), a length < 1, a count different from
    ``batch`` (the number of sequences), or a length longer than ``max_len`` (the padded time axis).
    """
    if isinstance(lengths, torch.Tensor):
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise ValueError(f"lengths must be integers, got a tensor of dtype {lengths.dtype}")
        values = lengths.detach().to("cpu", torch.int64)
    else:
        array = np.asarray(lengths)
        if array.size == 0:
            raise ValueError("lengths is empty: expected at least one sequence")
        items = list(lengths) if isinstance(lengths, (list, tuple)) and array.ndim == 1 else array.ravel().tolist()
        bad = next((v for v in items if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral)), None)
        if bad is not None or not np.issubdtype(array.dtype, np.integer):
            bad = array.dtype if bad is None else bad.item() if isinstance(bad, np.generic) else bad
            raise ValueError(f"lengths must be integers, got {bad!r} ({type(bad).__name__})")
        values = torch.as_tensor(array, dtype=torch.int64)
    if values.dim() != 1:
        raise ValueError(f"lengths must be one-dimensional (one length per sequence), got shape {tuple(values.shape)}")
    if batch is not None and values.numel() != batch:
        raise ValueError(f"got {values.numel()} lengths for a batch of {batch} sequences; expected one each")
    if values.numel() == 0:
        raise ValueError("lengths is empty: expected at least one sequence")
    if values.min() < 1:
        i = int(values.argmin())
        raise ValueError(f"every length must be >= 1 (an empty sequence cannot be packed), got {int(values[i])} "
                         f"at index {i}")
    if max_len is not None and values.max() > max_len:
        i = int(values.argmax())
        raise ValueError(f"length {int(values[i])} at index {i} exceeds the padded time axis T = {max_len}")
    return values


def length_mask(lengths, max_len: int | None = None, device=None) -> torch.Tensor:
    """Boolean mask (B, T): True at the valid steps ``t < lengths[b]``, False on the padding.

    ``max_len`` defaults to the longest length; ``device`` to the device ``lengths`` are on.
    """
    if device is None and isinstance(lengths, torch.Tensor):
        device = lengths.device
    lengths = check_lengths(lengths, max_len=max_len)
    T = int(lengths.max()) if max_len is None else max_len
    return (torch.arange(T) < lengths[:, None]).to(device)  # B, T


def _check_batch(x: torch.Tensor, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected {name} of shape (batch, time, features), batch first, got {got}")


def last_valid(output: torch.Tensor, lengths, bidirectional: bool = False) -> torch.Tensor:
    """The output at each sequence's last valid step: output (B, T, D), lengths (B,) -> (B, D).

    With ``bidirectional=True`` the feature axis holds [forward | backward] halves, as ``nn.LSTM`` returns
    them; the forward half is read at ``lengths - 1`` and the backward half at step 0, where the backward
    direction has read the whole sequence. The result then equals ``final_hidden`` of the top layer.
    """
    _check_batch(output, "output")
    B, T, D = output.shape
    lengths = check_lengths(lengths, B, T).to(output.device)
    index = (lengths - 1).view(B, 1, 1).expand(B, 1, D)
    last = output.gather(1, index).squeeze(1)  # B, D
    if not bidirectional:
        return last
    if D % 2:
        raise ValueError(f"a bidirectional output has an even number of features (2 * hidden), got {D}")
    return torch.cat([last[:, : D // 2], output[:, 0, D // 2:]], dim=1)  # B, D


def final_hidden(h_n: torch.Tensor, num_layers: int, bidirectional: bool) -> torch.Tensor:
    """The top layer's final hidden state, both directions concatenated: h_n (L * dirs, B, H) -> (B, dirs * H).

    ``h_n`` is the second return value of ``nn.RNN``/``nn.GRU``, or the first of the LSTM's ``(h_n, c_n)``.
    PyTorch orders its first axis layer by layer, the forward direction before the backward one, so
    ``h_n[-1]`` alone is only the top layer's *backward* direction of a bidirectional module.
    """
    if isinstance(h_n, (tuple, list)):
        raise ValueError("pass h_n, not the LSTM's tuple (h_n, c_n): final_hidden(state[0], ...)")
    int_at_least("num_layers", num_layers)
    dirs = 2 if bidirectional else 1
    if not isinstance(h_n, torch.Tensor) or h_n.dim() != 3 or h_n.shape[0] != num_layers * dirs:
        got = tuple(h_n.shape) if isinstance(h_n, torch.Tensor) else type(h_n).__name__
        raise ValueError(f"expected h_n of shape (num_layers * num_directions, batch, hidden) with first axis "
                         f"{num_layers} * {dirs} = {num_layers * dirs}, got {got}")
    L, B, H = num_layers, h_n.shape[1], h_n.shape[2]
    top = h_n.view(L, dirs, B, H)[-1]  # dirs, B, H
    return top.transpose(0, 1).reshape(B, dirs * H)  # B, dirs * H: [forward | backward]


def _map_state(fn, state):
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def _cat_states(states: list):
    if isinstance(states[0], tuple):
        return tuple(torch.cat(parts, dim=1) for parts in zip(*states))
    return torch.cat(states, dim=1)


def _run_segments(module: nn.Module, x: torch.Tensor, lengths: torch.Tensor, h0):
    """Exact for a unidirectional module: the batch, sorted longest first, runs from one distinct length to
    the next, and the sequences that end at a boundary leave the batch with their final state."""
    B, T, _ = x.shape
    batch_first = getattr(module, "batch_first", True)
    sorted_lengths, order = lengths.sort(descending=True, stable=True)
    order_dev = order.to(x.device)
    xs = x.index_select(0, order_dev)
    state = None if h0 is None else _map_state(lambda s: s.index_select(1, order_dev), h0)
    outputs, finished, start = [], [], 0
    for end in sorted(set(sorted_lengths.tolist())):
        alive = int((sorted_lengths >= end).sum())  # rows 0..alive-1 are still running
        still = int((sorted_lengths > end).sum())  # rows still..alive-1 end here
        xi = xs[:alive, start:end]  # alive, end - start, F
        si = None if state is None else _map_state(lambda s: s[:, :alive], state)
        o, s = module(xi if batch_first else xi.transpose(0, 1), si)
        o = o if batch_first else o.transpose(0, 1)  # alive, end - start, D
        outputs.append(F.pad(o, (0, 0, 0, 0, 0, B - alive)))  # B, end - start, D
        finished.append(_map_state(lambda t: t[:, still:alive], s))
        state, start = _map_state(lambda t: t[:, :still], s), end
    out = F.pad(torch.cat(outputs, dim=1), (0, 0, 0, T - start))  # B, T, D in sorted order
    final = _cat_states(finished[::-1])  # rows 0..B-1 in sorted order
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(B)
    inverse = inverse.to(x.device)
    return out.index_select(0, inverse), _map_state(lambda t: t.index_select(1, inverse), final)


def run_padded(module: nn.Module, x: torch.Tensor, lengths, h0=None, method: str = "auto"):
    """Run a recurrent module on a padded, batch-first batch so that no sequence sees its padding.

    ``x`` (B, T, F), ``lengths`` (B,) in any order, ``h0`` as the module takes it (in batch order).
    Returns what the module returns, ``(output, h_n)`` or ``(output, (h_n, c_n))``, with output
    (B, T, D) padded back to T with zeros, and final states taken at each sequence's own last step.

    ``method="packed"`` packs (``enforce_sorted=False``), runs and unpacks: for ``nn.RNN``/``LSTM``/``GRU``.
    ``method="segments"`` runs the batch, sorted by length, from one distinct length to the next and
    drops the sequences that have ended; it needs only a unidirectional module called as
    ``module(x, state) -> (output, state)`` (``rnn_course.cells.RecurrentLayer``). ``"auto"`` picks
    ``"packed"`` for PyTorch's modules and ``"segments"`` otherwise.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    _check_batch(x)
    B, T, _ = x.shape
    lengths = check_lengths(lengths, B, T)  # int64 on the CPU, where pack_padded_sequence wants them
    if method == "auto":
        method = "packed" if isinstance(module, nn.RNNBase) else "segments"
    if method == "packed":
        if not isinstance(module, nn.RNNBase):
            raise ValueError(f"method='packed' needs an nn.RNN, nn.LSTM or nn.GRU, got {type(module).__name__}; "
                             "use method='segments'")
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = module(packed, h0)  # PyTorch reorders h0 and the final states by sorted_indices itself
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # B, T, D
        return out, state
    if getattr(module, "bidirectional", False):
        raise ValueError("method='segments' runs unidirectional modules only; a bidirectional module must "
                         "take a PackedSequence (method='packed')")
    return _run_segments(module, x, lengths, h0)


def wasted_fraction(lengths, batches) -> float:
    """Fraction of the time steps computed on padding when each batch is padded to its own longest sequence.

    ``batches`` is a list of index lists into ``lengths``; the result is 1 - sum(lengths) / sum(B_i * T_i).
    """
    lengths = check_lengths(lengths)
    computed = real = 0
    for idx in batches:
        part = lengths[torch.as_tensor(idx, dtype=torch.int64)]
        computed += part.numel() * int(part.max())
        real += int(part.sum())
    return 1.0 - real / computed


def random_batches(n: int, batch_size: int, generator: torch.Generator | None = None) -> list[list[int]]:
    """Indices 0..n-1 shuffled and cut into batches of ``batch_size`` (the last may be smaller)."""
    int_at_least("batch_size", batch_size)
    perm = torch.randperm(n, generator=generator)
    return [perm[i: i + batch_size].tolist() for i in range(0, n, batch_size)]


def bucket_batches(lengths, batch_size: int, generator: torch.Generator | None = None) -> list[list[int]]:
    """Length-bucketed batches: indices sorted by length, cut into batches, the batch order shuffled.

    Sequences of similar length share a batch, so little is padded; ties are broken at random.
    """
    lengths = check_lengths(lengths)
    int_at_least("batch_size", batch_size)
    jitter = torch.randperm(lengths.numel(), generator=generator)
    order = jitter[lengths[jitter].argsort(stable=True)]
    batches = [order[i: i + batch_size].tolist() for i in range(0, lengths.numel(), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
