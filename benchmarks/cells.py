"""Speed of the from-scratch LSTM against ``nn.LSTM``: forward + backward, one CPU thread, as a ratio.

Run ``python benchmarks/cells.py`` (``--help`` for the sizes). Both layers hold the same weights and see the
same input; they are timed in alternating rounds (scratch, torch, scratch, torch, ...) so that a load change
on the machine hits both, with the course's one timing statistic (``rnn_course.timing.median_seconds``), and
the ratio is taken of the medians.
"""
from __future__ import annotations

import argparse
import statistics

import torch
import torch.nn as nn

from rnn_course.checks import int_at_least
from rnn_course.layer import RecurrentLayer
from rnn_course.timing import median_seconds


def forward_backward(layer: nn.Module, x: torch.Tensor) -> None:
    """One forward pass, a sum of the outputs, and the backward pass."""
    layer.zero_grad(set_to_none=True)
    output, _ = layer(x)
    output.sum().backward()


def compare(batch: int = 64, seq_len: int = 100, input_size: int = 32, hidden_size: int = 128,
            repeats: int = 21, rounds: int = 3, threads: int = 1, seed: int = 0) -> dict:
    """Median forward+backward seconds of ``RecurrentLayer`` and ``nn.LSTM``, and their ratio."""
    int_at_least("repeats", repeats)
    int_at_least("rounds", rounds)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        reference = nn.LSTM(input_size, hidden_size, batch_first=True)
        scratch = RecurrentLayer.from_torch(reference)
        x = torch.randn(batch, seq_len, input_size)  # B, T, I
        times = {"scratch": [], "torch": []}
        for _ in range(rounds):
            for name, layer in (("scratch", scratch), ("torch", reference)):
                times[name].append(median_seconds(lambda: forward_backward(layer, x), repeats=repeats))
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
          f"{args.threads} thread(s), medians of {args.repeats} repeats in alternating rounds")
    print(f"{'layer':<28}{'ms':>10}")
    print(f"{'rnn_course RecurrentLayer':<28}{1e3 * result['scratch_s']:>10.2f}")
    print(f"{'torch.nn.LSTM':<28}{1e3 * result['torch_s']:>10.2f}")
    print(f"{'ratio scratch / nn.LSTM':<28}{result['ratio']:>10.2f}")
    return result


if __name__ == "__main__":
    main()
