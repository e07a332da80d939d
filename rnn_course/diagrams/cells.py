r"""Diagrams of one recurrence: the unrolled RNN (with backpropagation through time), the LSTM cell and the GRU
cell, each path of a cell drawn in the color of the equation line that computes it, the additive state path
highlighted.
"""
from __future__ import annotations

from rnn_course.diagrams.draw import (FONT, GATE_COLORS, GRADIENT, INK, MUTED, STATE, arrow, box, canvas, label,
                                      line, op)


def unrolled_rnn(steps: int = 4, backward: bool = False):
    """The RNN folded (one cell and its loop) and unrolled over ``steps`` time steps.

    With ``backward`` the loss at the last step and the gradient flowing back through every step are drawn
    too: backpropagation through time.
    """
    if not isinstance(steps, int) or not 2 <= steps <= 6:
        raise ValueError(f"steps must be an int from 2 to 6, got {steps!r}")
    dx, x0 = 2.3, 5.4
    right = x0 + dx * (steps - 1) + 1.2
    bottom = -3.2 if backward else -2.6
    fig, ax = canvas(max(7.0, 0.8 * right), 4.9 if backward else 4.0, (-0.9, right), (bottom, 3.4 if backward else 2.6))
    # folded: one cell with its loop
    box(ax, 0.4, 0, 1.3, 0.9, "$h$", weight="bold")
    label(ax, 0.4, -2.05, "$x_t$")
    arrow(ax, (0.4, -1.75), (0.4, -0.47))
    arrow(ax, (0.4, 0.47), (0.4, 1.55))
    label(ax, 0.4, 1.85, "$y_t$")
    arrow(ax, (1.05, 0.2), (1.05, -0.2), rad=-2.6, color=STATE, lw=2.2)
    label(ax, 1.85, 0.0, "$W_{hh}$", color=STATE, size=FONT - 2)
    label(ax, 2.75, 0.0, "=", size=FONT + 8)
    # unrolled
    label(ax, x0 - 1.45, 0, "$h_0$")
    for t in range(steps):
        x = x0 + dx * t
        box(ax, x, 0, 1.3, 0.9, f"$h_{t + 1}$", weight="bold")
        label(ax, x, -2.05, f"$x_{t + 1}$")
        arrow(ax, (x, -1.75), (x, -0.47))
        label(ax, x - 0.45, -1.15, "$W_{ih}$", size=FONT - 3, color=MUTED)
        arrow(ax, (x, 0.47), (x, 1.55))
        label(ax, x, 1.85, f"$y_{t + 1}$")
        arrow(ax, (x - dx + 0.65 if t else x0 - 1.15, 0), (x - 0.65, 0), color=STATE, lw=2.2)
        label(ax, x - dx / 2, 0.3, "$W_{hh}$", size=FONT - 3, color=STATE)
    if backward:
        xl = x0 + dx * (steps - 1)
        box(ax, xl, 2.85, 0.9, 0.6, "$L$", color=GRADIENT)
        arrow(ax, (xl, 2.15), (xl, 2.53))
        arrow(ax, (xl + 0.3, 2.53), (xl + 0.3, 0.47), color=GRADIENT, dashed=True)
        for t in range(steps - 1, 0, -1):
            x = x0 + dx * t
            arrow(ax, (x + 0.2, -0.47), (x - dx + 0.2, -0.47), color=GRADIENT, dashed=True, rad=-0.4)
        label(ax, x0 + dx * (steps - 1) / 2, -2.85, r"backpropagation through time: $\partial L / \partial h_t$ "
              r"passes back through every step", color=GRADIENT, size=FONT - 2)
    return fig


def _equations(ax, x, y, rows, size=FONT - 1, step=0.62):
    """Equation lines, each in the color of its path."""
    for k, (text, color) in enumerate(rows):
        label(ax, x, y - k * step, text, color=color, size=size, ha="left")


def lstm_cell(equations: bool = True):
    r"""One LSTM step: the cell state's additive path across the top, the four gate blocks below it.

    Colors: forget gate f blue, input gate i green, candidate g orange, output gate o purple, cell state gold.
    """
    fig, ax = canvas(7.6, 7.0 if equations else 4.4, (-1.9, 11.1), (-5.0 if equations else -0.9, 5.8))
    # the cell state: c_{t-1} -> x f -> + i g -> c_t
    line(ax, [(0.1, 4.6), (10.3, 4.6)], color=STATE, lw=4.5, zorder=1)
    label(ax, -0.25, 4.6, "$c_{t-1}$", ha="right", color=STATE)
    arrow(ax, (9.6, 4.6), (10.35, 4.6), color=STATE, lw=4.5)
    label(ax, 10.45, 4.95, "$c_t$", ha="left", color=STATE)
    op(ax, 2.6, 4.6, "×", color=GATE_COLORS["f"])
    op(ax, 5.0, 4.6, "+", color=STATE)
    # the input bus: h_{t-1} and x_t, read by every gate
    line(ax, [(0.1, 0.6), (7.4, 0.6)], color=INK)
    label(ax, -0.25, 0.6, "$h_{t-1}$", ha="right")
    label(ax, 1.2, -0.55, "$x_t$")
    arrow(ax, (1.2, -0.3), (1.2, 0.55))
    gates = {"f": (2.6, r"$\sigma$"), "i": (4.2, r"$\sigma$"), "g": (5.8, "tanh"), "o": (7.4, r"$\sigma$")}
    for name, (x, text) in gates.items():
        color = GATE_COLORS[name]
        arrow(ax, (x, 0.6), (x, 1.55), color=color)
        box(ax, x, 2.0, 1.05, 0.8, text, color=color, size=FONT - 1)
        label(ax, x + 0.72, 1.45, f"${name}_t$", color=color, size=FONT - 2)
    arrow(ax, (2.6, 2.4), (2.6, 4.34), color=GATE_COLORS["f"])  # f scales the old cell state
    op(ax, 5.0, 3.35, "×", color=GATE_COLORS["i"])  # i g
    arrow(ax, (4.2, 2.4), (4.8, 3.15), color=GATE_COLORS["i"])
    arrow(ax, (5.8, 2.4), (5.2, 3.15), color=GATE_COLORS["g"])
    arrow(ax, (5.0, 3.61), (5.0, 4.34), color=STATE)
    # the output: h_t = o tanh(c_t)
    line(ax, [(8.9, 4.6), (8.9, 4.05)], color=GATE_COLORS["o"])
    box(ax, 8.9, 3.65, 1.05, 0.7, "tanh", color=GATE_COLORS["o"], size=FONT - 2)
    op(ax, 8.9, 2.0, "×", color=GATE_COLORS["o"])
    arrow(ax, (8.9, 3.3), (8.9, 2.27), color=GATE_COLORS["o"])
    arrow(ax, (7.93, 2.0), (8.63, 2.0), color=GATE_COLORS["o"])
    line(ax, [(8.9, 1.73), (8.9, 0.6), (10.3, 0.6)], color=GATE_COLORS["o"])
    arrow(ax, (9.6, 0.6), (10.35, 0.6), color=GATE_COLORS["o"])
    label(ax, 10.45, 0.95, "$h_t$", ha="left", color=GATE_COLORS["o"])
    label(ax, 5.0, 5.35, "cell state: only × and +, no weight matrix", color=STATE, size=FONT - 3)
    if equations:
        _equations(ax, -1.6, -1.4, [
            (r"$i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})$", GATE_COLORS["i"]),
            (r"$f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})$", GATE_COLORS["f"]),
            (r"$g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})$", GATE_COLORS["g"]),
            (r"$o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})$", GATE_COLORS["o"]),
            (r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t$", STATE),
            (r"$h_t = o_t \odot \tanh(c_t)$", GATE_COLORS["o"])])
    return fig


def gru_cell(equations: bool = True):
    r"""One GRU step in PyTorch's form: the hidden state's additive path across the top, the gates below.

    Colors: reset gate r blue, update gate z green, new state n orange, the kept state gold.
    """
    fig, ax = canvas(7.6, 6.4 if equations else 4.4, (-1.9, 11.1), (-3.8 if equations else -0.9, 5.8))
    # the state path: h_{t-1} -> x z -> + (1 - z) n -> h_t
    line(ax, [(0.1, 4.6), (10.3, 4.6)], color=STATE, lw=4.5, zorder=1)
    label(ax, -0.25, 4.6, "$h_{t-1}$", ha="right", color=STATE)
    arrow(ax, (9.6, 4.6), (10.35, 4.6), color=STATE, lw=4.5)
    label(ax, 10.45, 4.95, "$h_t$", ha="left", color=STATE)
    op(ax, 4.4, 4.6, "×", color=GATE_COLORS["z"])
    op(ax, 8.4, 4.6, "+", color=STATE)
    # the input bus: h_{t-1} (taken from the state line) and x_t
    line(ax, [(0.6, 4.6), (0.6, 0.6), (7.3, 0.6)], color=INK)
    label(ax, 1.4, -0.55, "$x_t$")
    arrow(ax, (1.4, -0.3), (1.4, 0.55))
    for name, x in (("r", 2.6), ("z", 4.4)):
        color = GATE_COLORS[name]
        arrow(ax, (x, 0.6), (x, 1.55), color=color)
        box(ax, x, 2.0, 1.05, 0.8, r"$\sigma$", color=color, size=FONT - 1)
        label(ax, x - 0.75, 2.55, f"${name}_t$", color=color, size=FONT - 2)
    arrow(ax, (4.4, 2.4), (4.4, 4.34), color=GATE_COLORS["z"])  # z keeps the old state
    # the new state n = tanh(W_in x + b_in + r (W_hn h + b_hn)): r acts on the recurrent term only
    n = GATE_COLORS["n"]
    arrow(ax, (7.3, 0.6), (7.3, 1.55), color=n)
    box(ax, 6.9, 2.0, 1.5, 0.8, "tanh", color=n, size=FONT - 1)
    label(ax, 6.9 + 1.05, 1.45, "$n_t$", color=n, size=FONT - 2)
    line(ax, [(2.95, 1.6), (2.95, 1.15), (6.45, 1.15)], color=GATE_COLORS["r"])
    arrow(ax, (6.45, 1.15), (6.45, 1.55), color=GATE_COLORS["r"])
    label(ax, 5.6, 1.42, r"$r_t \odot$", color=GATE_COLORS["r"], size=FONT - 3)
    op(ax, 6.9, 3.8, "1−", color=GATE_COLORS["z"], size=FONT - 3)
    line(ax, [(4.4, 3.8), (6.64, 3.8)], color=GATE_COLORS["z"])
    op(ax, 8.4, 3.8, "×", color=n)
    arrow(ax, (7.16, 3.8), (8.14, 3.8), color=GATE_COLORS["z"])
    line(ax, [(7.65, 2.0), (8.4, 2.0)], color=n)
    arrow(ax, (8.4, 2.0), (8.4, 3.54), color=n)
    arrow(ax, (8.4, 4.06), (8.4, 4.34), color=STATE)
    label(ax, 5.0, 5.35, "hidden state: kept by z, no weight matrix on the way", color=STATE, size=FONT - 3)
    if equations:
        _equations(ax, -1.6, -1.4, [
            (r"$r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})$", GATE_COLORS["r"]),
            (r"$z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})$", GATE_COLORS["z"]),
            (r"$n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))$", GATE_COLORS["n"]),
            (r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$", STATE)])
    return fig
