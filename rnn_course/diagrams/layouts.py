r"""Diagrams of how sequences, batches and layers are laid out: stacked and bidirectional modules with the order of
``h_n``, a ``PackedSequence``, truncated-BPTT windows, an encoder-decoder, and a text cut into batch streams.
"""
from __future__ import annotations

from rnn_course.diagrams.draw import FONT, GATE_COLORS, GRADIENT, INK, MUTED, STATE, arrow, box, canvas, label, line

SEQ_COLORS = ("#1f77b4", "#2e8b57", "#e07b00", "#8e44ad", "#c0392b")
PAD = "#d9d9d9"
FORWARD, BACKWARD = "#1f77b4", "#e07b00"


def stacked_bidirectional(num_layers: int = 2, steps: int = 3):
    """A ``num_layers``-deep bidirectional module over ``steps`` steps, and which entry of ``h_n`` is which.

    Layer ``l``'s forward direction ends at the last step (``h_n[2 l]``), its backward direction at the first
    (``h_n[2 l + 1]``); ``output[:, t]`` is the top layer's ``[forward_t | backward_t]``.
    """
    if not (isinstance(num_layers, int) and 1 <= num_layers <= 3 and isinstance(steps, int) and 2 <= steps <= 5):
        raise ValueError(f"num_layers must be 1 to 3 and steps 2 to 5, got {num_layers!r} and {steps!r}")
    dx, dy = 2.4, 2.6
    right = dx * (steps - 1) + 3.6
    y_out = dy * (num_layers - 1) + 2.2
    fig, ax = canvas(7.6, 0.62 * (y_out + 3.2), (-3.2, right), (-1.6, y_out + 1.3))
    for layer in range(num_layers):
        y_f, y_b = dy * layer + 0.35, dy * layer + 1.3
        for t in range(steps):
            x = dx * t
            box(ax, x, y_f, 1.5, 0.62, r"$\rightarrow$" + f"$_{{{t + 1}}}$", color=FORWARD, size=FONT - 2)
            box(ax, x, y_b, 1.5, 0.62, r"$\leftarrow$" + f"$_{{{t + 1}}}$", color=BACKWARD, size=FONT - 2)
            if t:
                arrow(ax, (x - dx + 0.75, y_f), (x - 0.75, y_f), color=FORWARD)
                arrow(ax, (x - 0.75, y_b), (x - dx + 0.75, y_b), color=BACKWARD)
            below = -0.85 if layer == 0 else y_b - dy + 0.31  # what both directions of this layer read
            if layer == 0:
                label(ax, x, -1.15, f"$x_{t + 1}$")
            arrow(ax, (x - 0.3, below), (x - 0.3, y_f - 0.31), color=INK if layer == 0 else MUTED)
            line(ax, [(x - 0.3, below + 0.25), (x + 0.95, below + 0.25), (x + 0.95, y_b - 0.45)],
                 color=INK if layer == 0 else MUTED, lw=1.2)
            arrow(ax, (x + 0.95, y_b - 0.45), (x + 0.55, y_b - 0.31), color=INK if layer == 0 else MUTED, lw=1.2)
        label(ax, -3.1, (y_f + y_b) / 2, f"layer {layer}", ha="left", size=FONT - 2)
        last = dx * (steps - 1)
        label(ax, last + 1.15, y_f, f"$h_n[{2 * layer}]$", ha="left", color=FORWARD, size=FONT - 2)
        label(ax, -0.95, y_b, f"$h_n[{2 * layer + 1}]$", ha="right", color=BACKWARD, size=FONT - 2)
    for t in range(steps):
        label(ax, dx * t, y_out, f"output[:, {t}]", size=FONT - 4)
    label(ax, dx * (steps - 1) / 2, y_out + 0.8, "output[:, t] = [top forward at t | top backward at t]",
          size=FONT - 3)
    return fig


def packed_sequence(lengths=(4, 3, 3, 1)):
    """A padded batch (rows: sequences, sorted longest first) and the ``PackedSequence`` made from it: ``data``
    holds step 0 of every sequence, then step 1 of those still running, ...; ``batch_sizes`` counts them."""
    lengths = sorted((int(n) for n in lengths), reverse=True)
    if not 2 <= len(lengths) <= 5 or min(lengths) < 1 or max(lengths) > 6:
        raise ValueError(f"lengths must be 2 to 5 lengths from 1 to 6, got {lengths!r}")
    B, T = len(lengths), lengths[0]
    total = sum(lengths)
    fig, ax = canvas(7.6, 1.4 + 0.55 * B + 1.6, (-1.6, max(T, total * 0.62) + 0.6), (-3.3, B * 0.62 + 0.4))
    label(ax, -1.5, B * 0.62 + 0.05, "padded batch (B, T)", ha="left", size=FONT - 2)
    for b, n in enumerate(lengths):
        y = (B - 1 - b) * 0.62
        label(ax, -0.55, y, f"seq {b}", ha="right", size=FONT - 4)
        for t in range(T):
            real = t < n
            box(ax, t * 0.62, y, 0.56, 0.5, f"{t}" if real else "", color=SEQ_COLORS[b] if real else PAD,
                fill="white" if real else PAD, size=FONT - 5, radius=0.05)
    label(ax, -1.5, -0.95, "packed.data, time-major (padding gone)", ha="left", size=FONT - 2)
    x, k = 0.0, 0
    for t in range(T):
        alive = [b for b, n in enumerate(lengths) if n > t]
        start = x
        for b in alive:
            box(ax, x, -1.6, 0.56, 0.5, f"{t}", color=SEQ_COLORS[b], fill="white", size=FONT - 5, radius=0.05)
            x += 0.62
            k += 1
        mid = (start + x - 0.62) / 2
        line(ax, [(start - 0.25, -2.0), (x - 0.37, -2.0)], color=MUTED)
        label(ax, mid, -2.3, f"{len(alive)}", size=FONT - 3)
    label(ax, -1.5, -2.9, f"batch_sizes = {[sum(n > t for n in lengths) for t in range(T)]}: the sequences "
          "still running at each step", ha="left", size=FONT - 4)
    return fig


def tbptt_windows(length: int = 12, window: int = 4):
    """Truncated backpropagation through time: a long sequence cut into windows of ``window`` steps.

    The state is carried across a window's boundary (its value kept, ``detach``-ed from the graph), so the
    forward pass never restarts; the gradient flows back only within its window.
    """
    if not (isinstance(length, int) and isinstance(window, int) and 2 <= window < length <= 16):
        raise ValueError(f"need 2 <= window < length <= 16, got window={window!r}, length={length!r}")
    dx = 0.75
    fig, ax = canvas(7.6, 3.4, (-1.0, dx * length + 0.4), (-1.9, 2.2))
    for t in range(length):
        x = dx * t
        boundary = t and t % window == 0
        box(ax, x, 0, 0.5, 0.5, "", color=INK, radius=0.06)
        if t:
            arrow(ax, (x - dx + 0.25, 0), (x - 0.25, 0), color=STATE, lw=2.0)
        if boundary:  # the value goes on, the graph is cut
            line(ax, [(x - dx / 2, -0.3), (x - dx / 2, 0.3)], color=INK, lw=2.2, zorder=4)
            label(ax, x - dx / 2, 0.55, "detach", size=FONT - 6, color=INK)
    for start in range(0, length, window):
        end = min(start + window, length) - 1
        x0, x1 = dx * start - 0.3, dx * end + 0.3
        line(ax, [(x0, 1.0), (x0, 1.2), (x1, 1.2), (x1, 1.0)], color=MUTED)
        label(ax, (x0 + x1) / 2, 1.55, f"batch {start // window + 1}", size=FONT - 4)
        for t in range(end, start, -1):
            arrow(ax, (dx * t - 0.05, -0.28), (dx * (t - 1) + 0.05, -0.28), color=GRADIENT, dashed=True, rad=-0.5)
    label(ax, -0.95, -1.0, "gradient: back to the start of its window only", ha="left", color=GRADIENT,
          size=FONT - 3)
    label(ax, -0.95, -1.6, "state: carried forward across every boundary", ha="left", color=STATE, size=FONT - 3)
    return fig


def encoder_decoder(source: int = 4, target: int = 3):
    """A sequence-to-sequence model: the encoder reads the source, its final state starts the decoder, which
    reads the target shifted right (``<bos>`` first: teacher forcing) and predicts each next target token."""
    if not (isinstance(source, int) and isinstance(target, int) and 2 <= source <= 5 and 2 <= target <= 5):
        raise ValueError(f"source and target must be 2 to 5 steps, got {source!r} and {target!r}")
    dx = 1.55
    gap = 1.1
    right = dx * (source + target - 1) + gap + 0.9
    fig, ax = canvas(7.6, 3.6, (-1.0, right), (-1.9, 2.3))
    enc, dec = GATE_COLORS["f"], GATE_COLORS["g"]
    for t in range(source):
        x = dx * t
        box(ax, x, 0, 1.0, 0.7, "enc", color=enc, size=FONT - 4)
        label(ax, x, -1.35, f"$x_{t + 1}$")
        arrow(ax, (x, -1.05), (x, -0.35))
        if t:
            arrow(ax, (x - dx + 0.5, 0), (x - 0.5, 0), color=enc)
    for t in range(target):
        x = dx * (source + t) + gap
        box(ax, x, 0, 1.0, 0.7, "dec", color=dec, size=FONT - 4)
        label(ax, x, -1.35, "<bos>" if t == 0 else f"$y_{t}$", size=FONT - (3 if t == 0 else 0))
        arrow(ax, (x, -1.05), (x, -0.35))
        arrow(ax, (x, 0.35), (x, 1.15))
        label(ax, x, 1.45, f"$\\hat y_{t + 1}$")
        prev = dx * (source + t - 1) + (gap if t else 0)
        arrow(ax, (prev + 0.5, 0), (x - 0.5, 0), color=STATE if t == 0 else dec, lw=2.4 if t == 0 else 1.8)
    label(ax, dx * source - dx / 2 + gap / 2, 0.55, "state", color=STATE, size=FONT - 4)
    label(ax, dx * (source - 1) / 2, 1.45, "encoder: reads the source", color=enc, size=FONT - 4)
    label(ax, dx * (source + (target - 1) / 2) + gap, 2.0, "decoder: reads the target shifted right",
          color=dec, size=FONT - 4)
    return fig


def stream_batches(text: str = "the cat sat on the mat and the dog sat on the log", streams: int = 3,
                   seq_len: int = 4):
    """A text cut into ``streams`` contiguous rows, walked ``seq_len`` characters at a time: batch k + 1 of each row
    continues batch k, so the state can be carried (``rnn_course.text.tbptt_batches``)."""
    if not (isinstance(streams, int) and isinstance(seq_len, int) and 2 <= streams <= 5 and 2 <= seq_len <= 8):
        raise ValueError(f"streams must be 2 to 5 and seq_len 2 to 8, got {streams!r} and {seq_len!r}")
    L = len(text) // streams
    if L < seq_len + 1:
        raise ValueError(f"{len(text)} characters are too few for {streams} streams of more than {seq_len}")
    w = 0.42
    fig, ax = canvas(7.6, 1.6 + 0.55 * streams + 1.0, (-1.4, L * w + 0.3), (-1.4, streams * 0.55 + 1.0))
    for b in range(streams):
        y = (streams - 1 - b) * 0.55
        label(ax, -0.35, y, f"row {b}", ha="right", size=FONT - 5)
        for i, ch in enumerate(text[b * L:(b + 1) * L]):
            k = i // seq_len
            color = SEQ_COLORS[k % len(SEQ_COLORS)]
            box(ax, i * w, y, w * 0.9, 0.46, "␣" if ch == " " else ch, color=color, fill="white", size=FONT - 5,
                radius=0.04)
    for k in range((L - 1 + seq_len - 1) // seq_len):
        x0 = k * seq_len * w - w / 2
        label(ax, x0 + seq_len * w / 2, streams * 0.55 + 0.35, f"batch {k + 1}", size=FONT - 5,
              color=SEQ_COLORS[k % len(SEQ_COLORS)])
    label(ax, -1.3, -0.9, f"{len(text)} characters, {streams} rows of {L}: each batch is ({streams}, {seq_len}); "
          "its target is the same window shifted by one", ha="left", size=FONT - 5)
    return fig
