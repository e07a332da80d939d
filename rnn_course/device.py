"""Where to run, on how many threads, with which seeds: every chapter's set-up cell.

``setup(seed=0, seeds=[0, 1, 2])`` picks the device, sets torch's CPU threads, seeds every generator and
prints one line for each choice, saying where it came from::

    run = setup(seed=0, seeds=[0, 1, 2], gpu_seeds=[0, 1, 2, 3, 4])
    SEED, SEEDS, device = run.seed, run.seeds, run.device

The environment overrides each choice: ``RNN_COURSE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``),
``RNN_COURSE_THREADS`` (torch's CPU threads), ``RNN_COURSE_SEED`` (one integer) and ``RNN_COURSE_SEEDS``
(comma-separated integers, used instead of the chapter's list on any device). Importing this module
changes no setting.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch

DEVICE_ENV = "RNN_COURSE_DEVICE"
THREADS_ENV = "RNN_COURSE_THREADS"
SEED_ENV = "RNN_COURSE_SEED"
SEEDS_ENV = "RNN_COURSE_SEEDS"

# Why one CPU thread: one training step of the course's models (batch 128, 50 steps, hidden 64, Adam) took,
# on a 2-core machine, about the same time with one thread as with two when the machine was idle (the LSTM
# 1.8x faster with two), and 1.5-2.5x longer with two threads as soon as another process held a core
# (threads wait for a busy core). The recurrence is a chain of small matrix products, which gain little
# from splitting.
CPU_THREADS = 1


def get_device(verbose: bool = True) -> torch.device:
    """Return the device the course's cells should use, and say which one it picked (and why)."""
    requested = os.environ.get(DEVICE_ENV, "").strip()
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError as err:
            raise ValueError(f"{DEVICE_ENV}={requested!r} is not a device; expected cpu, cuda, cuda:N or mps") from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{DEVICE_ENV}={requested!r} asks for CUDA, but torch.cuda.is_available() is False")
        if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"{DEVICE_ENV}={requested!r} asks for MPS, but MPS is not available here")
        reason = f"set by {DEVICE_ENV}"
    elif torch.cuda.is_available():
        device, reason = torch.device("cuda"), torch.cuda.get_device_name(0)
    elif hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        device, reason = torch.device("mps"), "Apple Metal"
    else:
        device, reason = torch.device("cpu"), "no GPU found"
    if verbose:
        print(f"Using device: {device} ({reason})")
    return device


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (every device) with ``seed``."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _env_ints(name: str) -> list[int] | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        values = [int(part) for part in raw.replace(" ", "").split(",") if part != ""]
    except ValueError:
        values = []
    if not values or any(v < 0 for v in values):
        raise ValueError(f"{name}={raw!r}: expected comma-separated non-negative integers, such as 0,1,2")
    return values


def chapter_seed(default: int) -> tuple[int, str]:
    """``RNN_COURSE_SEED`` if set, else ``default``; and where it came from."""
    values = _env_ints(SEED_ENV)
    if values is None:
        return default, "the chapter's default"
    if len(values) != 1:
        raise ValueError(f"{SEED_ENV} must be one integer, got {os.environ[SEED_ENV]!r}")
    return values[0], f"from {SEED_ENV}"


def chapter_seeds(default) -> tuple[list[int], str]:
    """``RNN_COURSE_SEEDS`` if set (on any device), else ``default``; and where they came from."""
    values = _env_ints(SEEDS_ENV)
    if values is None:
        return list(default), "the chapter's default"
    if len(set(values)) != len(values):
        raise ValueError(f"{SEEDS_ENV}={os.environ[SEEDS_ENV]!r}: the seeds must be distinct")
    return values, f"from {SEEDS_ENV}"


def set_threads(device: torch.device, verbose: bool = True) -> int:
    """Set torch's CPU threads: ``RNN_COURSE_THREADS`` if set, else one on the CPU (see ``CPU_THREADS``).

    On a GPU the CPU only feeds the device and torch's default is kept. Returns the number of threads.
    """
    values = _env_ints(THREADS_ENV)
    if values is not None:
        if len(values) != 1 or values[0] < 1:
            raise ValueError(f"{THREADS_ENV} must be one integer >= 1, got {os.environ[THREADS_ENV]!r}")
        threads, reason = values[0], f"set by {THREADS_ENV}"
    elif torch.device(device).type == "cpu":
        threads = CPU_THREADS
        reason = (f"small recurrent nets gain little from more; torch's default here would be "
                  f"{torch.get_num_threads()}; set {THREADS_ENV} to change")
    else:
        threads, reason = torch.get_num_threads(), "torch's default; the GPU does the work"
    torch.set_num_threads(threads)
    if verbose:
        print(f"CPU threads: {threads} ({reason})")
    return threads


@dataclass(frozen=True)
class Run:
    """What ``setup`` chose."""

    device: torch.device
    seed: int  # the chapter's main seed
    seeds: list[int]  # the seeds of its multi-seed comparisons
    threads: int  # torch's CPU threads


def setup(seed: int = 0, seeds=(0, 1, 2), gpu_seeds=None, verbose: bool = True) -> Run:
    """Pick the device, set the threads, choose the seeds (environment first), seed everything; say so.

    ``seeds`` is the chapter's list on a CPU or MPS, ``gpu_seeds`` (default: ``seeds``) its list on CUDA;
    ``RNN_COURSE_SEEDS`` replaces either. Every generator is seeded with the main seed.
    """
    device = get_device(verbose)
    threads = set_threads(device, verbose)
    default = list(seeds if gpu_seeds is None or device.type != "cuda" else gpu_seeds)
    main, main_from = chapter_seed(seed)
    many, many_from = chapter_seeds(default)
    set_seed(main)
    if verbose:
        print(f"Seeds: {main} ({main_from}); comparisons over {many} ({many_from})")
    return Run(device=device, seed=main, seeds=many, threads=threads)
