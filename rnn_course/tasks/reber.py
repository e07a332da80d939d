r"""A continual stream with no episode boundaries: the continual embedded Reber grammar.

Gers, Schmidhuber and Cummins (2000) showed that an LSTM without a forget gate breaks down on a stream
that is never cut into episodes: nothing ever empties its cells, so their state drifts and grows. Their
benchmark is the *continual embedded Reber grammar*: embedded Reber strings written one after another,
with no reset between them::

    ... B T <Reber string> T E  B P <Reber string> P E  B T <Reber string> T E ...

A Reber string (``B``, a walk on Reber's 7-node graph, ``E``) is locally predictable: after each symbol
at most two symbols may follow. The *outer* symbol (``T`` or ``P``, right after the outer ``B``) must be
repeated after the inner string's ``E``, 6 to any number of steps later (on average 9): that prediction
needs memory of the current string, and only of the current string.

The task is next-symbol prediction at every step (inputs one-hot, 7 symbols ``BTPSXVE``). Baselines, per
step, in the long run (exact, from the grammar's Markov chain: a string has 12 symbols on average, of which
7 are followed by a fair coin flip and 1 is the long-range prediction):

- a model that knows the grammar perfectly reaches cross-entropy :math:`\tfrac{7}{12}\ln 2 \approx 0.404`;
- one that knows the grammar but not which outer symbol opened the string: :math:`\tfrac{8}{12}\ln 2
  \approx 0.462`, and **50 % accuracy on the long-range predictions** (``CHANCE_OUTER_ACCURACY``).

Every stream starts at the beginning of an embedded string with the model's state at zero; after that there
is no boundary a model is told about. ``ContinualReber`` wraps the stream as a task for ``rnn_course.train``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from rnn_course.checks import int_at_least
from rnn_course.tasks.base import IGNORE, Task, check_sample

SYMBOLS = "BTPSXVE"
N_SYMBOLS = len(SYMBOLS)
CHANCE_OUTER_ACCURACY = 0.5  # outer T/P predicted without memory of the string
OPTIMAL_LOSS = 7 / 12 * math.log(2)  # knows the grammar and the outer symbol
MEMORYLESS_LOSS = 8 / 12 * math.log(2)  # knows the grammar, not the outer symbol
MEAN_STRING_LENGTH = 12  # symbols per embedded string, on average

# Reber's graph: node -> the two (symbol, next node) choices, each taken with probability 1/2; 6 emits E.
_REBER = {1: (("T", 2), ("P", 3)), 2: (("S", 2), ("X", 4)), 3: (("T", 3), ("V", 5)),
          4: (("X", 3), ("S", 6)), 5: (("P", 4), ("V", 6))}


def _grammar() -> dict:
    """The embedded grammar as one automaton: state -> ((symbol, next state), (symbol, next state))."""
    g = {"start": (("B", "outer"),) * 2, "outer": (("T", "inB_T"), ("P", "inB_P")), "end": (("E", "start"),) * 2}
    for b in "TP":  # the inner string, once for each outer symbol, so the state remembers which one
        g[f"inB_{b}"] = (("B", f"1_{b}"),) * 2
        for node, choices in _REBER.items():
            g[f"{node}_{b}"] = tuple((s, f"{n}_{b}") for s, n in choices)
        g[f"6_{b}"] = (("E", f"repeat_{b}"),) * 2
        g[f"repeat_{b}"] = ((b, "end"),) * 2  # the long-range prediction
    return g


_OUTER = list(_grammar()).index("outer")  # the state after the outer B


def _tables(device) -> tuple[torch.Tensor, ...]:
    g = _grammar()
    index = {name: k for k, name in enumerate(g)}
    symbol = torch.tensor([[SYMBOLS.index(s) for s, _ in g[name]] for name in g], device=device)  # S, 2
    nxt = torch.tensor([[index[n] for _, n in g[name]] for name in g], device=device)  # S, 2
    branching = torch.tensor([g[name][0] != g[name][1] for name in g], device=device)  # S
    long_range = torch.tensor([name.startswith("repeat") for name in g], device=device)  # S
    return symbol, nxt, branching, long_range


class ReberStream(NamedTuple):
    """A batch of continual embedded-Reber streams, ready for next-symbol prediction."""

    x: torch.Tensor  # B, T, 7 one-hot inputs (float)
    y: torch.Tensor  # B, T next symbol (long), index into SYMBOLS
    long_range: torch.Tensor  # B, T bool: y is the outer T/P that must be recalled from the string's start
    branching: torch.Tensor  # B, T bool: y was a fair coin flip of the grammar (unpredictable)


def _check_generator(generator, device) -> torch.device:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    device = torch.device(device) if device is not None else (generator.device if generator else torch.device("cpu"))
    if generator is not None and generator.device.type != device.type:
        raise ValueError(f"generator is on {generator.device}, but the streams are asked for on {device}")
    return device


def _walk(state: torch.Tensor, last: torch.Tensor, steps: int, generator, tables) -> tuple:
    """Continue B streams by ``steps`` symbols from automaton states ``state`` and last symbols ``last``.

    Returns (inputs (B, T), targets (B, T), emitting states (B, T), new state, new last symbol).
    """
    symbol, nxt = tables[0], tables[1]
    coins = torch.randint(0, 2, (state.shape[0], steps), generator=generator, device=state.device)  # B, T
    states, symbols = [], []
    for coin in coins.unbind(1):
        states.append(state)
        symbols.append(symbol[state, coin])
        state = nxt[state, coin]
    states, y = torch.stack(states, 1), torch.stack(symbols, 1)  # B, T each
    inputs = torch.cat([last[:, None], y[:, :-1]], 1)  # B, T: what the model sees before predicting y
    return inputs, y, states, state, y[:, -1]


def _fresh(batch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Automaton state and last symbol of new streams: the outer B has just been read."""
    return (torch.full((batch,), _OUTER, dtype=torch.long, device=device),
            torch.zeros(batch, dtype=torch.long, device=device))  # SYMBOLS[0] == "B"


def continual_reber(batch: int, steps: int, generator: torch.Generator | None = None,
                    device: torch.device | str | None = None) -> ReberStream:
    """``batch`` new continual embedded-Reber streams of ``steps`` symbols each, drawn from ``generator``.

    The streams are generated on ``device`` (default: the generator's device, else the CPU); the same
    generator state gives the same streams. Raises ``ValueError`` for ``batch < 1``, ``steps < 1`` or a
    generator on another device.
    """
    int_at_least("batch", batch)
    int_at_least("steps", steps)
    device = _check_generator(generator, device)
    tables = _tables(device)
    inputs, y, states, _, _ = _walk(*_fresh(batch, device), steps, generator, tables)
    return ReberStream(F.one_hot(inputs, N_SYMBOLS).float(), y, tables[3][states], tables[2][states])


def evaluation_set(batch: int, steps: int, warmup: int, generator: torch.Generator | None = None,
                   device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Held-out (x, y) for ``ContinualReber``: new streams, scored only after ``warmup`` symbols.

    A model trained on an endless stream has met a zero state only once, at the very start of training; the
    first ``warmup`` targets are set to ``IGNORE`` (-100), so the loss and ``outer_accuracy`` skip them and
    measure the model *inside* a stream, where it is used.
    """
    if not isinstance(warmup, int) or isinstance(warmup, bool) or not 0 <= warmup < steps:
        raise ValueError(f"warmup must be an int with 0 <= warmup < steps ({steps}), got {warmup!r}")
    stream = continual_reber(batch, steps, generator, device)
    y = stream.y.clone()
    y[:, :warmup] = IGNORE
    return stream.x, y


def long_range_mask(y: torch.Tensor) -> torch.Tensor:
    """Where ``y`` (B, T next symbols) is a long-range prediction: an outer T/P right after an ``E``.

    Equal to ``ReberStream.long_range`` (the input at t is ``y[:, t - 1]``; an inner ``E`` is followed by
    T or P, the outer ``E`` by ``B``), so a metric can find these positions from the targets alone.
    """
    if y.dim() != 2:
        raise ValueError(f"expected targets of shape (batch, time), got {tuple(y.shape)}")
    E, T, P = (SYMBOLS.index(s) for s in "ETP")
    mask = torch.zeros_like(y, dtype=torch.bool)
    mask[:, 1:] = (y[:, :-1] == E) & ((y[:, 1:] == T) | (y[:, 1:] == P))
    return mask


def outer_accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of the long-range (outer T/P) predictions: logits (B, T, 7), y (B, T). Chance is 0.5."""
    if logits.dim() != 3 or logits.shape[:2] != y.shape or logits.shape[-1] != N_SYMBOLS:
        raise ValueError(f"expected logits (batch, time, {N_SYMBOLS}) matching y (batch, time), "
                         f"got {tuple(logits.shape)} and {tuple(y.shape)}")
    mask = long_range_mask(y)
    if not mask.any():
        raise ValueError("these targets hold no long-range prediction; use a longer stream")
    return (logits.argmax(-1) == y)[mask].float().mean().item()


@dataclass(frozen=True)
class ContinualReber(Task):
    """Next-symbol prediction on endless embedded-Reber streams, ``T`` symbols per chunk.

    ``batches(batch_size, generator)`` yields chunks ``(x, y)`` (x (B, T, 7) one-hot, y (B, T) next symbols)
    that *continue the same streams*: chunk k + 1 starts where chunk k stopped, so a model trained with its
    state carried from chunk to chunk (``TrainConfig(carry_state=True)``) is trained on one stream that never
    ends, as in Gers et al. (2000). ``sample`` draws a chunk of new streams. The loss is the cross-entropy at
    every step; the metric is ``outer_accuracy`` (chance 0.5, the ``baseline_metric``; ``baseline_loss`` is
    ``MEMORYLESS_LOSS``).
    """

    T: int = 50  # symbols per chunk, >= 1
    target: float | None = 0.99  # outer accuracy that counts as solved

    name = "continual_reber"
    input_size, output_size, head = N_SYMBOLS, N_SYMBOLS, "every"
    metric_name, higher_is_better = "outer_accuracy", True
    baseline_loss, baseline_metric = MEMORYLESS_LOSS, CHANCE_OUTER_ACCURACY

    def __post_init__(self):
        int_at_least("T", self.T)

    def sample(self, batch_size: int, generator: torch.Generator):
        stream = continual_reber(batch_size, self.T, generator)
        return stream.x, stream.y

    def batches(self, batch_size: int, generator: torch.Generator):
        """Endless consecutive chunks of the same ``batch_size`` streams, drawn from ``generator``."""
        device = check_sample(batch_size, generator)
        tables = _tables(device)
        state, last = _fresh(batch_size, device)
        while True:
            inputs, y, _, state, last = _walk(state, last, self.T, generator, tables)
            yield F.one_hot(inputs, N_SYMBOLS).float(), y

    def metric(self, pred: torch.Tensor, y: torch.Tensor) -> float:
        return outer_accuracy(pred, y)
