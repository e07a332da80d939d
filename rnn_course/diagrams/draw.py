"""A small drawing kit for the course's diagrams: boxes, operator circles, arrows and labels on a matplotlib axes
in data coordinates, with one set of colors and sizes, so every diagram looks alike and stays legible on a phone.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

FONT = 15  # points: the diagrams are drawn about 7 inches wide, so this reads at phone width too
INK = "#222222"
MUTED = "#9a9a9a"
STATE = "#e8a317"  # the additive memory path (LSTM cell state, GRU hidden state)
GRADIENT = "#c0392b"  # gradients flowing backward
GATE_COLORS = {"i": "#2e8b57", "f": "#1f77b4", "g": "#e07b00", "o": "#8e44ad",
               "r": "#1f77b4", "z": "#2e8b57", "n": "#e07b00", "h": "#555555"}
FILL = "#f4f4f4"


def canvas(width: float, height: float, xlim, ylim):
    """A figure of ``width`` x ``height`` inches whose axes run over ``xlim`` x ``ylim``, without frame or ticks."""
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.subplots_adjust(0.01, 0.01, 0.99, 0.99)
    return fig, ax


def box(ax, x, y, w, h, text="", color=INK, fill=FILL, size=FONT, lw=1.8, weight="normal", radius=0.12):
    """A rounded box centred at (x, y)."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=f"round,pad=0,rounding_size={radius}",
                                linewidth=lw, edgecolor=color, facecolor=fill, zorder=3))
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=size, color=INK, zorder=4, weight=weight)


def op(ax, x, y, symbol, color=INK, r=0.26, size=FONT):
    """An element-wise operation drawn as a circle: "×", "+", "1−"."""
    ax.add_patch(Circle((x, y), r, linewidth=1.8, edgecolor=color, facecolor="white", zorder=3))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=size, color=color, zorder=4, weight="bold")


def arrow(ax, start, end, color=INK, lw=1.8, style="-|>", dashed=False, rad=0.0, shrink=0.0):
    """An arrow from ``start`` to ``end`` (data coordinates); ``rad`` bends it."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=16, linewidth=lw, color=color,
                                 linestyle=(0, (4, 3)) if dashed else "-", connectionstyle=f"arc3,rad={rad}",
                                 shrinkA=shrink * 72, shrinkB=shrink * 72, zorder=2))


def line(ax, points, color=INK, lw=1.8, dashed=False, zorder=2):
    """A polyline through ``points`` (no arrow head)."""
    xs, ys = zip(*points)
    ax.plot(xs, ys, color=color, lw=lw, linestyle=(0, (4, 3)) if dashed else "-", zorder=zorder,
            solid_capstyle="round")


def label(ax, x, y, text, color=INK, size=FONT, ha="center", va="center", **kwargs):
    ax.text(x, y, text, ha=ha, va=va, fontsize=size, color=color, zorder=5, **kwargs)
