"""Speed of the from-scratch LSTM against ``nn.LSTM``: forward + backward, one CPU thread, as a ratio.

Run ``python -m rnn_course.benchmarks.cells`` (``--help`` for the sizes). Both layers hold the same weights
and see the same input; their timings are interleaved (scratch, torch, scratch, torch, ...) so that a load
change on the machine hits both, and the ratio is taken of the medians.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn as nn

from rnn_course.cells import RecurrentLayer


def time_forward_backward(layer: nn.Module, x: torch.Tensor) -> float:
    """Seconds for one forward pass, a sum of the outputs, and the backward pass."""
    start = time.perf_counter()
    output, _ = layer(x)
    output.sum().backward()
    return time.perf_counter() - start


def compare(batch: int = 64, seq_len: int = 100, input_size: int = 32, hidden_size: int = 128,
            repeats: int = 21, warmup: int = 3, threads: int = 1, seed: int = 0) -> dict:
    """Median forward+backward seconds of ``RecurrentLayer`` and ``nn.LSTM``, and their ratio."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        reference = nn.LSTM(input_size, hidden_size, batch_first=True)
        scratch = RecurrentLayer.from_torch(reference)
        x = torch.randn(batch, seq_len, input_size)  # B, T, I
        times = {"scratch": [], "torch": []}
        for r in range(warmup + repeats):
            for name, layer in (("scratch", scratch), ("torch", reference)):
                layer.zero_grad(set_to_none=True)
                seconds = time_forward_backward(layer, x)
                if r >= warmup:
                    times[name].append(seconds)
    finally:
        torch.set_num_threads(previous)
    scratch_s, torch_s = statistics.median(times["scratch"]), statistics.median(times["torch"])
    return {"scratch_s": scratch_s, "torch_s": torch_s, "ratio": scratch_s / torch_s,
            "sizes": dict(batch=batch, seq_len=seq_len, input_size=input_size, hidden_size=hidden_size),
            "repeats": repeats, "threads": threads}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    result = compare(args.batch, args.seq_len, args.input_size, args.hidden_size, args.repeats, threads=args.threads)
    print(f"forward + backward, LSTM, B={args.batch} T={args.seq_len} I={args.input_size} H={args.hidden_size}, "
          f"{args.threads} thread(s), median of {args.repeats} interleaved repeats")
    print(f"{'layer':<28}{'ms':>10}")
    print(f"{'rnn_course RecurrentLayer':<28}{1e3 * result['scratch_s']:>10.2f}")
    print(f"{'torch.nn.LSTM':<28}{1e3 * result['torch_s']:>10.2f}")
    print(f"{'ratio scratch / nn.LSTM':<28}{result['ratio']:>10.2f}")
    return result


if __name__ == "__main__":
    main()
