"""A character-level language model, trained with truncated back-propagation through time.

``CharModel`` is embedding -> ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` -> linear, the same in everything but the
recurrent layer. It predicts the next character at *every* position, so a batch of ``B x T`` characters gives
``B x T`` training signals. Around it: ``CharStream``, a text as a task for the course's training loop
(``rnn_course.train.train`` with ``carry_state``: truncated BPTT), ``train_tbptt`` that runs it, bits per
character over a whole split, text generation, per-character latency at batch 1 (``rnn_course.timing``),
and checkpoints that carry the vocabulary.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from rnn_course.checks import int_at_least
from rnn_course.kinds import TORCH_MODULES, check_kind
from rnn_course.text import Vocab, tbptt_batches
from rnn_course.timing import median_seconds
from rnn_course.train import TrainConfig, detach_state, train

RECURRENT = TORCH_MODULES  # kind -> PyTorch module, as the exercise names it
CHECKPOINT_FORMAT = "rnn_course.charlm/1"


class CharModel(nn.Module):
    """Embedding -> 2-layer RNN/LSTM/GRU -> linear head over the vocabulary.

    Attributes ``embedding``, ``rnn`` and ``head`` (the exercise uses the same names, so weights move
    between the two). Shapes: x (B, T) ids -> logits (B, T, V), and the recurrent module's state.
    """

    def __init__(self, vocab: Vocab, kind: str = "lstm", embed_dim: int = 128, hidden_size: int = 256,
                 num_layers: int = 2):
        super().__init__()
        if not isinstance(vocab, Vocab):
            raise ValueError(f"vocab must be a rnn_course.text.Vocab, got {type(vocab).__name__}")
        kind = check_kind(kind)
        for name, value in (("embed_dim", embed_dim), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            int_at_least(name, value)
        self.vocab, self.kind = vocab, kind
        self.config = dict(kind=self.kind, embed_dim=embed_dim, hidden_size=hidden_size, num_layers=num_layers)
        self.embedding = nn.Embedding(len(vocab), embed_dim)
        self.rnn = RECURRENT[self.kind](embed_dim, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, len(vocab))

    def forward(self, x: torch.Tensor, state=None, return_state: bool = True):
        """x (B, T) ids -> (logits (B, T, V), state); only the logits with ``return_state=False``."""
        out, state = self.rnn(self.embedding(x), state)  # (B, T, H)
        logits = self.head(out)  # (B, T, V)
        return (logits, state) if return_state else logits

    @torch.no_grad()
    def generate(self, prompt: str, length: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None) -> str:
        """The ``length`` characters that follow ``prompt`` (sampled; the prompt is not repeated)."""
        return generate(self, self.vocab, prompt, length, temperature, top_k, generator)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                generator: torch.Generator | None = None, banned: int | None = None) -> torch.Tensor:
    """Draw one id per row from ``softmax(logits / temperature)``, keeping only the ``top_k`` largest.

    ``temperature == 0`` picks the most likely id. ``banned`` (e.g. the unknown character) is never drawn.
    Shapes: logits (B, V) -> ids (B,).
    """
    if not isinstance(temperature, (int, float)) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
    logits = logits.float().clone()
    if banned is not None:
        logits[:, banned] = -math.inf
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(logits.device)


@torch.no_grad()
def generate(model: nn.Module, vocab: Vocab, prompt: str, length: int, temperature: float = 1.0,
             top_k: int | None = None, generator: torch.Generator | None = None) -> str:
    """Feed ``prompt`` through ``model`` (any ``forward(x, state) -> (logits, state)``), then sample ``length``
    characters one at a time, carrying the state. Returns only the new characters."""
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt must be a non-empty str")
    if not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be an int >= 0, got {length!r}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = vocab.encode(prompt).to(device).unsqueeze(0)  # (1, P)
    if x.numel() == 0:
        raise ValueError(f"no character of the prompt {prompt!r} is in the vocabulary")
    logits, state = model(x)
    out = []
    for _ in range(length):
        nxt = sample_next(logits[:, -1], temperature, top_k, generator, banned=vocab.unk_id)  # (1,)
        out.append(int(nxt))
        logits, state = model(nxt.view(1, 1), state)
    model.train(was_training)
    return vocab.decode(out)


@torch.no_grad()
def bits_per_char(model: nn.Module, ids: torch.Tensor, batch_size: int = 1, seq_len: int = 512) -> float:
    """Average ``-log2 p(ids[i] | ids[:i])`` over a whole split, from a zero state, the state carried along.

    With ``batch_size=1`` (the exact score) every character but the first is predicted from all the text
    before it. ``batch_size=B`` cuts the split into ``B`` contiguous streams scored side by side: faster on
    a long split, and close to the exact score (each stream restarts from a zero state, and up to ``B - 1``
    trailing characters are left out).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count, state = 0.0, 0, None
    for x, y in tbptt_batches(ids, batch_size, seq_len):
        logits, state = model(x.to(device), state)
        total += F.cross_entropy(logits.flatten(0, 1), y.to(device).flatten(), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / count / math.log(2)


def perplexity(bpc: float) -> float:
    """Per-character perplexity from bits per character: ``2 ** bpc``."""
    return 2.0 ** bpc


def unigram_bpc(train_ids: torch.Tensor, eval_ids: torch.Tensor, vocab_size: int) -> float:
    """Bits per character of ``eval_ids`` under the character frequencies of ``train_ids`` (add-one smoothed):
    the baseline any model that reads context must beat."""
    counts = torch.bincount(train_ids, minlength=vocab_size).double() + 1  # (V,)
    logp = (counts / counts.sum()).log2()
    return float(-logp[eval_ids].mean())


def _fast_bpc(model: nn.Module, ids: torch.Tensor) -> float:
    return bits_per_char(model, ids, batch_size=16, seq_len=256)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, state=None,
               clip: float = 1.0):
    """One TBPTT step: loss over every position of ``x`` (B, T), backward, clip, update.

    Returns ``(loss, state)``: the mean cross-entropy (nats, a float) and the final state, detached so the
    next batch can start from it without back-propagating into this one.
    """
    model.train()
    logits, state = model(x, state)  # (B, T, V)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), detach_state(state)


@dataclass(frozen=True)
class CharStream:
    """A text as a task for ``rnn_course.train.train``: next-character prediction, truncated BPTT.

    ``batches`` walks ``train_ids`` as ``batch_size`` contiguous streams, ``seq_len`` characters at a time
    (``rnn_course.text.tbptt_batches``), round and round; each pass starts anew (the loop resets a carried
    state there) and drops the short tail, so every step costs the same. The loss is the mean cross-entropy
    over every position (nats); ``evaluate(model)`` gives the loss and the bits per character of ``eval_ids``
    (``eval_fn``, default ``bits_per_char`` on 16 parallel streams, for speed).
    """

    train_ids: torch.Tensor = field(repr=False)
    seq_len: int = 64
    eval_ids: torch.Tensor | None = field(default=None, repr=False)
    eval_fn: object = None  # (model, ids) -> bpc

    name = "char_lm"
    metric_name, higher_is_better, target = "bpc", False, None

    def __post_init__(self):
        int_at_least("seq_len", self.seq_len)
        if not isinstance(self.train_ids, torch.Tensor) or self.train_ids.dim() != 1:
            raise ValueError("train_ids must be a 1-D LongTensor of character ids")

    def batches(self, batch_size: int, generator: torch.Generator):
        n_full = (len(self.train_ids) // batch_size - 1) // self.seq_len  # full (B, T) batches in one pass
        if n_full < 1:
            raise ValueError(f"train_ids has {len(self.train_ids):,} ids: too few for one batch of {batch_size} "
                             f"streams x {self.seq_len} steps (at least {batch_size * (self.seq_len + 1):,} ids)")
        device = generator.device
        while True:
            yield None  # a new pass over the text: a zero state
            for x, y in tbptt_batches(self.train_ids, batch_size, self.seq_len):
                if x.size(1) < self.seq_len:
                    break
                yield x.to(device), y.to(device)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.flatten(0, 1), y.flatten())

    def evaluate(self, model: nn.Module) -> tuple[float, float]:
        if self.eval_ids is None:
            return math.nan, math.nan
        bpc = (self.eval_fn or _fast_bpc)(model, self.eval_ids)
        return bpc * math.log(2), bpc


def train_tbptt(model: nn.Module, train_ids: torch.Tensor, steps: int, batch_size: int = 16, seq_len: int = 64,
                lr: float = 3e-3, step_fn=None, eval_ids: torch.Tensor | None = None, eval_every: int = 0,
                eval_fn=None, log=None) -> list[dict]:
    """Train for ``steps`` TBPTT steps with Adam, going round ``train_ids`` as often as needed.

    The course's training loop (``rnn_course.train.train``) on a ``CharStream``, with the state carried from
    batch to batch and gradients clipped at norm 1. ``step_fn(model, optimizer, x, y, state) -> (loss,
    state)`` does one step instead of the loop's own (a learner's ``train_step``). Every ``eval_every``
    steps (and at the end) the validation bpc of ``eval_ids`` is recorded. Returns the history: one dict per
    evaluation with step, train_bpc (mean since the last record), val_bpc and seconds of training so far
    (evaluation excluded). ``log(record)`` is called on each.
    """
    int_at_least("steps", steps)
    task = CharStream(train_ids, seq_len, eval_ids, eval_fn)
    every = eval_every if eval_every else steps
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, clip=1.0, eval_every=every, carry_state=True,
                         progress=False)
    result = train(model, task, config, step_fn=step_fn, name=getattr(model, "kind", None))
    history, previous = [], 0
    for step, metric, seconds in zip(result.eval_steps[1:], result.eval_metrics[1:], result.eval_seconds[1:]):
        window = result.losses[previous:step]
        record = {"step": step, "train_bpc": sum(window) / len(window) / math.log(2), "seconds": seconds}
        if eval_ids is not None:
            record["val_bpc"] = metric
        history.append(record)
        previous = step
        if log is not None:
            log(record)
    return history


@torch.no_grad()
def latency_per_char(model: nn.Module, vocab_size: int, n_chars: int = 100, warmup: int = 20,
                     repeats: int = 7) -> float:
    """Seconds to produce one character at batch 1: feed one id, read the logits, carry the state.

    ``warmup`` steps first (allocations, caches), then the median of ``repeats`` timed runs of ``n_chars``
    steps (``rnn_course.timing.median_seconds``), divided by ``n_chars``.
    """
    for name, value in (("n_chars", n_chars), ("repeats", repeats), ("vocab_size", vocab_size)):
        int_at_least(name, value)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = torch.randint(vocab_size, (1, 1), device=device)
    state = [None]

    def run():
        for _ in range(n_chars):
            _, state[0] = model(x, state[0])

    for _ in range(warmup):
        _, state[0] = model(x, state[0])
    seconds = median_seconds(run, repeats=repeats, warmup=0, device=device)
    model.train(was_training)
    return seconds / n_chars


def save_checkpoint(model: CharModel, path: str | Path) -> None:
    """Write ``model``'s weights, configuration and vocabulary to ``path``."""
    if not isinstance(model, CharModel):
        raise ValueError(f"save_checkpoint expects a CharModel, got {type(model).__name__}")
    torch.save({"format": CHECKPOINT_FORMAT, "config": model.config, "vocab": model.vocab.to_dict(),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, Path(path))


def load_checkpoint(path: str | Path, vocab: Vocab | None = None, kind: str | None = None,
                    map_location="cpu") -> CharModel:
    """Rebuild the ``CharModel`` saved at ``path``.

    Raises ``ValueError`` when the file is not a readable checkpoint of this format, when its weights do not
    fit its configuration, or when it was trained with another ``vocab`` or ``kind`` than the ones given.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - truncated zip, pickle errors, foreign formats
        raise ValueError(f"{path} is not a readable checkpoint (corrupt or not saved by torch.save): "
                         f"{type(err).__name__}") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint (saved by rnn_course.charlm.save_checkpoint)")
    try:
        saved_vocab = Vocab.from_dict(ckpt["vocab"])
        model = CharModel(saved_vocab, **ckpt["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: checkpoint configuration or vocabulary is invalid: {err}") from err
    if vocab is not None and vocab != saved_vocab:
        raise ValueError(f"{path} was trained with another vocabulary ({len(saved_vocab)} ids) than the one given "
                         f"({len(vocab)} ids): its predictions would be meaningless")
    if kind is not None and kind.lower() != model.kind:
        raise ValueError(f"{path} holds a {model.kind.upper()} model, not a {kind.upper()}")
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, RuntimeError) as err:
        raise ValueError(f"{path}: the weights do not match the saved configuration: {str(err)[:300]}") from err
    return model
