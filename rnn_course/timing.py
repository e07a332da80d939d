"""One way to time code, with one statistic: the median of repeated runs after a warm-up.

The median, because a shared machine adds long, rare delays (another process, a page fault) that pull a mean
up and a minimum down below what a reader can expect; on a GPU every run waits for the device, since CUDA
calls return before the work is done::

    seconds = median_seconds(lambda: model(x), repeats=7, warmup=2, device=x.device)
"""
from __future__ import annotations

import statistics
import time

import torch

from rnn_course.checks import int_at_least


def _sync(device) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn, repeats: int = 7, warmup: int = 2, device=None) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs, after ``warmup`` untimed runs."""
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}")
    int_at_least("repeats", repeats)
    int_at_least("warmup", warmup, 0)
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)
