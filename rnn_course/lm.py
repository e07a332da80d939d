"""A character language model to read, sample from and look inside: the chapter "Language models, one character
at a time".

``CharLM(kind, vocab_size, hidden, layers)`` is an embedding, a recurrent stack (``nn.RNN``, ``nn.LSTM`` or
``nn.GRU``) and a linear head; ``model(x, state) -> (logits, state)`` scores every next character, so the
course's one training loop (``rnn_course.train.train`` on a ``rnn_course.charlm.CharStream``) trains it.
``generate`` samples text with a temperature and a top-k cut; ``bpc_by_position`` measures how much context a
model uses (bits per character at each distance from a state reset); ``window_bpc`` scores a text with the
state carried along or reset every few characters; ``activations`` returns what every hidden unit holds at
every character, for the search of units that track something a reader can name.

The checkpoint shipped in ``rnn_course/data/`` is trained by ``python -m rnn_course.lm train --out
rnn_course/data/char_lm.pt`` (its log, ``char_lm.json``, says how) and read by ``load``.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from rnn_course.checks import int_at_least, one_of
from rnn_course.kinds import TORCH_MODULES
from rnn_course.params import count_parameters
from rnn_course.text import Vocab

DATA = Path(__file__).resolve().parent / "data"
CHECKPOINT = DATA / "char_lm.pt"  # the shipped model; its training log is CHECKPOINT.with_suffix(".json")


@dataclass(frozen=True)
class LMConfig:
    """The shape of a ``CharLM``."""

    kind: str  # "rnn", "lstm" or "gru"
    vocab_size: int  # characters, the unknown one included
    hidden: int  # units per recurrent layer
    layers: int = 1  # stacked recurrent layers
    embed: int = 32  # width of a character's embedding


class CharLM(nn.Module):
    """Embedding -> ``layers`` recurrent layers of ``hidden`` units -> linear head over the characters.

    Shapes: x (B, T) ids -> logits (B, T, vocab_size); the state is what ``nn.<KIND>`` returns: h (or (h, c)
    for the LSTM), each (layers, B, hidden).
    """

    def __init__(self, kind: str, vocab_size: int, hidden: int, layers: int = 1, embed: int = 32):
        super().__init__()
        one_of("kind", kind, tuple(TORCH_MODULES))
        int_at_least("vocab_size", vocab_size, 2)
        int_at_least("hidden", hidden)
        int_at_least("layers", layers)
        int_at_least("embed", embed)
        self.config = LMConfig(kind, vocab_size, hidden, layers, embed)
        self.kind = kind
        self.embed = nn.Embedding(vocab_size, embed)
        self.rnn = TORCH_MODULES[kind](embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: torch.Tensor, state=None, return_state: bool = True):
        if x.dim() != 2 or x.dtype != torch.long:
            raise ValueError(f"x must be a (batch, time) LongTensor of character ids, got {tuple(x.shape)} "
                             f"{x.dtype}")
        out, state = self.rnn(self.embed(x), state)  # out: B, T, hidden (the top layer)
        logits = self.head(out)  # B, T, vocab_size
        return (logits, state) if return_state else logits


def count_lm_parameters(kind: str, vocab_size: int, hidden: int, layers: int = 1, embed: int = 32) -> int:
    """The exact number of parameters of ``CharLM(kind, vocab_size, hidden, layers, embed)``: the embedding,
    the recurrent stack (``rnn_course.params.count_parameters``) and the head (weights and biases)."""
    return vocab_size * embed + count_parameters(kind, embed, hidden, layers) + hidden * vocab_size + vocab_size


def hidden_for_parameters(kind: str, vocab_size: int, n_params: int, layers: int = 1, embed: int = 32) -> int:
    """The hidden size whose ``CharLM`` has the parameter count closest to ``n_params`` (the smaller on a tie):
    how to compare the three kinds at equal size."""
    int_at_least("n_params", n_params)
    hidden = 1
    while count_lm_parameters(kind, vocab_size, hidden + 1, layers, embed) < n_params:
        hidden += 1
    below, above = (count_lm_parameters(kind, vocab_size, h, layers, embed) for h in (hidden, hidden + 1))
    return hidden if n_params - below <= above - n_params else hidden + 1


def next_char_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """The distribution to sample the next character from: ``softmax(logits / temperature)``, with every
    character outside the ``top_k`` most likely set to probability 0. Shapes: (..., V) -> (..., V)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use a small value such as 0.01 for near-greedy), got "
                         f"{temperature!r}")
    if top_k is not None:
        int_at_least("top_k", top_k)
        if top_k < logits.size(-1):
            kth = logits.topk(top_k, dim=-1).values[..., -1:]  # the k-th largest logit
            logits = logits.masked_fill(logits < kth, -math.inf)
    return F.softmax(logits / temperature, dim=-1)


@torch.no_grad()
def generate(model: CharLM, vocab: Vocab, prompt: str, length: int, temperature: float = 1.0,
             top_k: int | None = None, generator: torch.Generator | None = None) -> str:
    """``prompt`` followed by ``length`` characters sampled one at a time, each fed back as the next input."""
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt must be a non-empty string: the model needs a character to start from")
    int_at_least("length", length, 0)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ids = vocab.encode(prompt).to(device)
    if len(ids) == 0:
        raise ValueError(f"no character of the prompt {prompt!r} is in the vocabulary")
    logits, state = model(ids[None], None)  # read the prompt
    out = []
    for _ in range(length):
        probs = next_char_probs(logits[0, -1], temperature, top_k)
        nxt = torch.multinomial(probs, 1, generator=generator)  # (1,)
        out.append(int(nxt))
        logits, state = model(nxt[None], state)
    model.train(was_training)
    return prompt + vocab.decode(out)


@torch.no_grad()
def bpc_by_position(model: CharLM, ids: torch.Tensor, length: int, starts) -> torch.Tensor:
    """Bits per character at each position 0 .. length - 1 after a state reset, averaged over ``starts``.

    From each start ``s`` the model reads ``ids[s : s + length]`` from a zero state; position ``t`` is the
    loss of predicting ``ids[s + t + 1]`` having read ``t + 1`` characters. A model that uses a context of
    ``n`` characters improves until about position ``n`` and is flat after it. Returns a (length,) tensor.
    """
    starts = torch.as_tensor(starts, dtype=torch.long).flatten()
    int_at_least("length", length)
    if ids.dim() != 1 or len(starts) == 0:
        raise ValueError("ids must be a 1-D tensor of ids and starts a non-empty list of positions")
    if int(starts.min()) < 0 or int(starts.max()) + length + 1 > len(ids):
        raise ValueError(f"every start must leave length + 1 = {length + 1} ids in a text of {len(ids)}; "
                         f"got starts in [{int(starts.min())}, {int(starts.max())}]")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    windows = starts[:, None] + torch.arange(length + 1)  # (S, length + 1) positions
    chunk = ids[windows].to(device)
    logits, _ = model(chunk[:, :-1], None)  # S, length, V
    nll = F.cross_entropy(logits.transpose(1, 2), chunk[:, 1:], reduction="none")  # S, length (nats)
    model.train(was_training)
    return nll.mean(0).cpu() / math.log(2)


@torch.no_grad()
def window_bpc(model: CharLM, ids: torch.Tensor, window: int, carry: bool, streams: int = 16) -> float:
    """Bits per character of ``ids`` read as ``streams`` rows, ``window`` characters at a time, with the state
    carried from one window to the next (``carry=True``) or reset to zeros before each (``carry=False``)."""
    int_at_least("window", window)
    int_at_least("streams", streams)
    L = (len(ids) - 1) // streams
    if L < window:
        raise ValueError(f"{len(ids)} ids are too few for {streams} streams of one window of {window}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x_all = ids[: streams * L].view(streams, L).to(device)
    y_all = ids[1: streams * L + 1].view(streams, L).to(device)  # each row's targets (rows are contiguous)
    total, count, state = 0.0, 0, None
    for t in range(0, L - L % window, window):
        logits, state = model(x_all[:, t:t + window], state if carry else None)
        total += F.cross_entropy(logits.flatten(0, 1), y_all[:, t:t + window].flatten(), reduction="sum").item()
        count += y_all[:, t:t + window].numel()
    model.train(was_training)
    return total / count / math.log(2)


@torch.no_grad()
def activations(model: CharLM, ids: torch.Tensor, layer: int = -1) -> torch.Tensor:
    """What each unit of ``layer`` holds after each character of ``ids`` (read from a zero state): the LSTM's
    cell state c (the memory), the hidden state h of the RNN and GRU. Shape (len(ids), hidden)."""
    if ids.dim() != 1 or len(ids) == 0:
        raise ValueError("ids must be a non-empty 1-D tensor of character ids")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = ids.to(device)[None]
    state, rows = None, []
    if model.kind != "lstm" and layer in (-1, model.config.layers - 1):  # the top layer's output is h itself
        out, _ = model.rnn(model.embed(x))
        model.train(was_training)
        return out[0].cpu()
    for t in range(x.size(1)):  # one step at a time: nn.LSTM returns c only at the end
        _, state = model.rnn(model.embed(x[:, t:t + 1]), state)
        rows.append((state[1] if model.kind == "lstm" else state)[layer, 0])
    model.train(was_training)
    return torch.stack(rows).cpu()


def save(model: CharLM, vocab: Vocab, path: str | Path) -> None:
    """Write the model's weights, its shape and its vocabulary to ``path``."""
    torch.save({"config": asdict(model.config), "vocab": vocab.to_dict(), "state_dict": model.state_dict()}, path)


def load(path: str | Path = CHECKPOINT) -> tuple[CharLM, Vocab]:
    """The ``CharLM`` and ``Vocab`` saved at ``path`` (default: the checkpoint shipped with the package)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train one with python -m rnn_course.lm train --out {path}")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = CharLM(**blob["config"])
    model.load_state_dict(blob["state_dict"])
    return model.eval(), Vocab.from_dict(blob["vocab"])


def train_checkpoint(out: Path, kind: str, hidden: int, layers: int, embed: int, steps: int, batch_size: int,
                     seq_len: int, lr: float, seed: int, command: str) -> dict:
    """Train a ``CharLM`` on the offline corpus with the course's loop, then save it and its log beside it."""
    from rnn_course.charlm import CharStream, unigram_bpc
    from rnn_course.text import load_corpus
    from rnn_course.train import TrainConfig, train

    torch.manual_seed(seed)
    corpus = load_corpus("offline")
    vocab = Vocab.from_text(corpus.train)
    train_ids, val_ids = vocab.encode(corpus.train), vocab.encode(corpus.validation)
    model = CharLM(kind, len(vocab), hidden, layers, embed)
    task = CharStream(train_ids, seq_len, val_ids)
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, clip=1.0, eval_every=max(steps // 10, 1),
                         carry_state=True, progress=False)
    result = train(model, task, config, seed=seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save(model, vocab, out)
    log = {"command": command, "corpus": corpus.name, "config": asdict(model.config), "steps": result.steps_run,
           "batch_size": batch_size, "seq_len": seq_len, "lr": lr, "seed": seed,
           "threads": torch.get_num_threads(), "train_seconds": round(result.train_seconds, 1),
           "train_cpu_seconds": round(result.train_cpu_seconds, 1),
           "n_params": result.n_params, "val_bpc": round(window_bpc(model, val_ids, 256, carry=True), 4),
           "unigram_bpc": round(unigram_bpc(train_ids, val_ids, len(vocab)), 4),
           "curve": [{"step": s, "seconds": round(t, 1), "val_bpc": round(m, 4)}
                     for s, t, m in zip(result.eval_steps, result.eval_seconds, result.eval_metrics)]}
    out.with_suffix(".json").write_text(json.dumps(log, indent=1) + "\n")
    return log


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnn_course.lm", description="Train the shipped char-LM.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a CharLM on the offline corpus; write it and its log (.json)")
    p.add_argument("--out", type=Path, default=CHECKPOINT)
    p.add_argument("--kind", default="lstm", choices=tuple(TORCH_MODULES))
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    command = "python -m rnn_course.lm train " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in flags.items())
    start = time.perf_counter()
    log = train_checkpoint(args.out, args.kind, args.hidden, args.layers, args.embed, args.steps, args.batch_size,
                           args.seq_len, args.lr, args.seed, command)
    print(f"{log['steps']} steps in {time.perf_counter() - start:.0f} s; validation {log['val_bpc']:.3f} bpc "
          f"(unigram {log['unigram_bpc']:.3f}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
