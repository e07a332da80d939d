"""Two ways to train the same 2x256 character LSTM for the same CPU budget.

Run ``python benchmarks/charlm_recipes.py`` (``--help`` for options; a few minutes).

- **seed** recipe (the source notebook): windows of 50 characters, one target per window (the character after
  it, read from the last position), batches of 64 consecutive windows, Adam 5e-4, gradient clip 0.5.
- **course** recipe (the exercise's reference ``train_step``): every position predicts its next character, TBPTT over
  contiguous streams with the hidden state carried (detached) between batches, Adam ``--lr``, clip 1.0.

Both train the same ``CharModel(kind="lstm")`` from the same initial weights, on one thread, with the
course's training loop (``rnn_course.train.train``, each recipe's step as its ``step_fn``); the model and the
reference step come from the instructors' package. The budget is
the training time (evaluations excluded): at each mark, the *stream* bpc of the validation split (every
character, state carried along the whole split: what a keyboard sees) at the last evaluation within the
mark; at the end also the *window* bpc (the seed's own measure: the character after each 50-character
window, read from a zero state; windows every ``--window-stride`` characters).
"""
from __future__ import annotations

import argparse
import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rnn_course.charlm import CharStream
from rnn_course.text import Vocab, load_corpus
from rnn_course.train import TrainConfig, train
from rnn_course_instructor.charlm import CharModel, bits_per_char, train_step

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


@dataclass(frozen=True)
class SeedWindows:
    """The seed's batches as a task for the course's loop: ``batch`` consecutive windows, the target after each."""

    train_ids: torch.Tensor
    val_ids: torch.Tensor
    window: int = WINDOW
    name, metric_name, higher_is_better, target = "seed_windows", "bpc", False, None

    def batches(self, batch: int, generator):
        if len(self.train_ids) < self.window + batch + 1:
            raise ValueError(f"{len(self.train_ids)} characters are too few for batches of {batch} windows")
        offsets = torch.arange(self.window + 1)
        while True:
            for i in range(0, len(self.train_ids) - self.window - batch, batch):
                chunk = self.train_ids[(torch.arange(i, i + batch)[:, None] + offsets)]  # (batch, window + 1)
                yield chunk[:, :-1], chunk[:, -1]

    def evaluate(self, model):
        bpc = bits_per_char(model, self.val_ids)
        return bpc * math.log(2), bpc


def seed_step(model, optimizer, x, y, state=None):
    """One step of the seed's recipe: loss on the last position only."""
    model.train()
    logits, _ = model(x)
    loss = F.cross_entropy(logits[:, -1], y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    optimizer.step()
    return loss.item(), None


def run(recipe: str, model, train_ids, val_ids, marks, lr, batch, seq_len, stride, steps, eval_every,
        log=print) -> list[dict]:
    """Train ``model`` with ``recipe`` for ``steps``; stream bpc at the last evaluation within each mark."""
    if recipe == "seed":
        task, step_fn, batch = SeedWindows(train_ids, val_ids), seed_step, 64
    else:
        task, step_fn = CharStream(train_ids, seq_len, val_ids, bits_per_char), train_step
    config = TrainConfig(steps=steps, batch_size=batch, lr=lr, clip=1.0, eval_every=eval_every,
                         carry_state=recipe != "seed", progress=False)
    result = train(model, task, config, step_fn=step_fn, name=recipe)
    rows = []
    for mark in marks:
        k = max(i for i, s in enumerate(result.eval_seconds) if s <= mark)
        rows.append({"recipe": recipe, "seconds": mark, "steps": result.eval_steps[k],
                     "stream_bpc": result.eval_metrics[k]})
        log(f"  {recipe:6s} {mark:5g} s  {rows[-1]['steps']:5d} steps  stream {rows[-1]['stream_bpc']:.3f} bpc")
    rows[-1]["window_bpc"] = window_bpc(model, val_ids, stride=stride)
    log(f"  {recipe:6s} end: window {rows[-1]['window_bpc']:.3f} bpc after {result.steps_run} steps, "
        f"{result.train_seconds:.0f} s of training")
    return rows


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--marks", type=float, nargs="+", default=[30, 60, 120], help="training seconds to score at")
    parser.add_argument("--steps", type=int, default=3000, help="steps of each recipe (enough for the last mark)")
    parser.add_argument("--eval-every", type=int, default=50)
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
                    args.window_stride, args.steps, args.eval_every)
    print(f"\nValidation bpc of a 2x256 LSTM after equal training time ({args.threads} thread(s); "
          f"{corpus.name}, validation {len(val_ids):,} characters):")
    print(f"{'recipe':8s}{'train s':>8s}{'steps':>8s}{'stream bpc':>12s}{'window bpc (end)':>18s}")
    for r in rows:
        end = f"{r['window_bpc']:18.3f}" if "window_bpc" in r else ""
        print(f"{r['recipe']:8s}{r['seconds']:8g}{r['steps']:8d}{r['stream_bpc']:12.3f}{end}")
    return rows


if __name__ == "__main__":
    main()
