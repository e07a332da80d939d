"""Two ways to train the same 2x256 character LSTM for the same CPU budget.

Run ``python -m rnn_course_instructor.benchmarks.charlm_recipes`` (``--help`` for options; a few minutes).

- **seed** recipe (the source notebook): windows of 50 characters, one target per window (the character after
  it, read from the last position), batches of 64 consecutive windows, Adam 5e-4, gradient clip 0.5.
- **course** recipe (``rnn_course.charlm.train_step``): every position predicts its next character, TBPTT over
  contiguous streams with the hidden state carried (detached) between batches, Adam ``--lr``, clip 1.0.

Both train the same ``CharModel(kind="lstm")`` from the same initial weights, on one thread. The budget is
the process CPU time spent in training steps (evaluation excluded). At each mark the validation split is
scored two ways: *stream* bpc (every character, state carried along the whole split: what a keyboard sees)
and *window* bpc (the seed's own measure: the character after each 50-character window, read from a zero
state; windows every ``--window-stride`` characters).
"""
from __future__ import annotations

import argparse
import copy
import math
import time

import torch
import torch.nn.functional as F

from rnn_course_instructor.charlm import CharModel, bits_per_char, train_step
from rnn_course.text import Vocab, load_corpus, tbptt_batches

WINDOW = 50


@torch.no_grad()
def window_bpc(model, ids: torch.Tensor, window: int = WINDOW, stride: int = 10, batch: int = 256) -> float:
    """Bits for the character after each ``window``-character slice of ``ids`` (zero initial state)."""
    model.eval()
    starts = torch.arange(0, len(ids) - window, stride)
    total = 0.0
    for i in range(0, len(starts), batch):
        s = starts[i : i + batch]
        idx = s[:, None] + torch.arange(window + 1)  # (n, window + 1)
        chunk = ids[idx]
        logits, _ = model(chunk[:, :-1])
        total += F.cross_entropy(logits[:, -1], chunk[:, -1], reduction="sum").item()
    model.train()
    return total / len(starts) / math.log(2)


def seed_batches(ids: torch.Tensor, batch: int = 64, window: int = WINDOW):
    """The seed's batches, forever: ``batch`` consecutive windows (start i, i+1, ...), target after each."""
    if len(ids) < window + batch + 1:
        raise ValueError(f"{len(ids)} characters are too few for batches of {batch} windows of {window}")
    offsets = torch.arange(window + 1)
    while True:
        for i in range(0, len(ids) - window - batch, batch):
            chunk = ids[(torch.arange(i, i + batch)[:, None] + offsets)]  # (batch, window + 1)
            yield chunk[:, :-1], chunk[:, -1]


def course_batches(ids: torch.Tensor, batch: int, seq_len: int):
    """Contiguous TBPTT batches, forever; ``None`` marks the start of a new pass (reset the state)."""
    while True:
        yield None
        for x, y in tbptt_batches(ids, batch, seq_len):
            if x.size(1) == seq_len:
                yield x, y


def seed_step(model, optimizer, x, y):
    """One step of the seed's recipe: loss on the last position only."""
    model.train()
    logits, _ = model(x)
    loss = F.cross_entropy(logits[:, -1], y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    optimizer.step()


def run(recipe: str, model, train_ids, val_ids, marks, lr, batch, seq_len, stride, log=print) -> list[dict]:
    """Train ``model`` with ``recipe`` until the last mark (CPU seconds); score it at every mark."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batches = seed_batches(train_ids) if recipe == "seed" else course_batches(train_ids, batch, seq_len)
    cpu, steps, chars, state, rows = 0.0, 0, 0, None, []
    for mark in marks:
        while cpu < mark:
            item = next(batches)
            if item is None:  # course recipe: a new pass over the text
                state = None
                continue
            x, y = item
            t0 = time.process_time()
            if recipe == "seed":
                seed_step(model, optimizer, x, y)
            else:
                _, state = train_step(model, optimizer, x, y, state)
            cpu += time.process_time() - t0
            steps += 1
            chars += x.numel()
        row = {"recipe": recipe, "cpu_s": mark, "steps": steps, "chars_read": chars,
               "stream_bpc": bits_per_char(model, val_ids), "window_bpc": window_bpc(model, val_ids, stride=stride)}
        rows.append(row)
        log(f"  {recipe:6s} {mark:5g} s  {steps:5d} steps  stream {row['stream_bpc']:.3f}  "
            f"window {row['window_bpc']:.3f} bpc")
    return rows


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--marks", type=float, nargs="+", default=[30, 60, 120], help="CPU seconds to score at")
    parser.add_argument("--recipes", nargs="+", default=["seed", "course"], choices=["seed", "course"])
    parser.add_argument("--corpus", default="auto", help="'auto', 'offline', 'wikitext' or a text file")
    parser.add_argument("--lr", type=float, default=3e-3, help="course recipe: Adam learning rate")
    parser.add_argument("--batch", type=int, default=16, help="course recipe: streams per batch")
    parser.add_argument("--seq-len", type=int, default=64, help="course recipe: TBPTT length")
    parser.add_argument("--window-stride", type=int, default=10)
    parser.add_argument("--max-eval-chars", type=int, default=50_000, help="cap on the validation split")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    marks = sorted(args.marks)
    if not marks or marks[0] <= 0:
        raise SystemExit("--marks must be positive numbers of seconds")
    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _compare(args, marks)
    finally:
        torch.set_num_threads(previous)


def _compare(args, marks) -> list[dict]:
    corpus = load_corpus(args.corpus)
    vocab = Vocab.from_text(corpus.train)
    train_ids = vocab.encode(corpus.train)
    val_ids = vocab.encode(corpus.validation[: args.max_eval_chars])
    torch.manual_seed(args.seed)
    initial = CharModel(vocab, "lstm")
    rows = []
    for recipe in args.recipes:
        lr = 5e-4 if recipe == "seed" else args.lr
        how = "Adam 5e-4, last position only" if recipe == "seed" else f"Adam {lr:g}, TBPTT {args.batch}x{args.seq_len}"
        print(f"{recipe} recipe ({how}):")
        rows += run(recipe, copy.deepcopy(initial), train_ids, val_ids, marks, lr, args.batch, args.seq_len,
                    args.window_stride)
    print(f"\nValidation bpc of a 2x256 LSTM after equal CPU budgets ({args.threads} thread(s); "
          f"{corpus.name}, validation {len(val_ids):,} characters):")
    print(f"{'recipe':8s}{'CPU s':>7s}{'steps':>8s}{'chars read':>12s}{'stream bpc':>12s}{'window bpc':>12s}")
    for r in rows:
        print(f"{r['recipe']:8s}{r['cpu_s']:7g}{r['steps']:8d}{r['chars_read']:12,d}{r['stream_bpc']:12.3f}"
              f"{r['window_bpc']:12.3f}")
    return rows


if __name__ == "__main__":
    main()
