r"""The parallel scan of a linear recurrence, drawn: which steps each round combines.
"""
from __future__ import annotations

from rnn_course.diagrams.draw import FONT, INK, MUTED, STATE, arrow, box, canvas, label


def doubling_scan(steps: int = 8):
    r"""``rnn_course.linear.scan_doubling`` on ``steps`` steps: one row per round. In the round with offset d,
    step t takes the pair (a, b) of step t - d and composes it with its own, so that afterwards it holds the map
    from :math:`h_{t-2d}` to :math:`h_t`; each box names the steps its map spans. After
    :math:`\lceil \log_2 T \rceil` rounds every step spans 1..t: that is :math:`h_t`."""
    if not isinstance(steps, int) or isinstance(steps, bool) or not 2 <= steps <= 8:
        raise ValueError(f"steps must be an int from 2 to 8, got {steps!r}")
    offsets = []
    while 2 ** len(offsets) < steps:
        offsets.append(2 ** len(offsets))
    dx, dy = 1.25, 1.55
    rows = len(offsets) + 1
    fig, ax = canvas(7.8, 0.9 + 0.95 * rows, (-2.6, dx * (steps - 1) + 0.8), (-dy * (rows - 1) - 0.9, 1.0))
    for t in range(steps):
        label(ax, t * dx, 0.72, f"t = {t + 1}", size=FONT - 4)
    span = list(range(steps))  # the first step each box's map starts from (0-based)
    for row in range(rows):
        y = -row * dy
        label(ax, -2.5, y, "input" if row == 0 else f"d = {offsets[row - 1]}", ha="left", size=FONT - 3)
        for t in range(steps):
            done = span[t] == 0
            text = f"{span[t] + 1}" if span[t] == t else f"{span[t] + 1}..{t + 1}"
            box(ax, t * dx, y, 1.05, 0.62, text, color=STATE if done else INK, size=FONT - 4, radius=0.08,
                fill="#fff3d6" if done else "#f4f4f4")
        if row < len(offsets):
            d = offsets[row]
            for t in range(steps):
                arrow(ax, (t * dx, y - 0.33), (t * dx, y - dy + 0.33), color=MUTED, lw=1.2)
                if t >= d:
                    arrow(ax, ((t - d) * dx + 0.2, y - 0.33), (t * dx - 0.2, y - dy + 0.33), color=INK, lw=1.4)
            span = [span[t - d] if t >= d else span[t] for t in range(steps)]
    label(ax, -2.5, -dy * (rows - 1) - 0.72, r"boxes: the steps a map spans; filled: $h_t$ is done", ha="left",
          size=FONT - 5)
    return fig
