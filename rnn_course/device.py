"""Where to run, and how to make a run repeatable.

``get_device()`` picks CUDA when present, then Apple's MPS, else the CPU; the environment variable
``RNN_COURSE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``) overrides the choice. Importing this
module changes no setting.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

DEVICE_ENV = "RNN_COURSE_DEVICE"


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
        device, reason = torch.device("cpu"), f"no GPU found; {torch.get_num_threads()} threads"
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
