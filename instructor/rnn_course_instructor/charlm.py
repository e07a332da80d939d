"""The reference solution of the char-LM exercise: the model, one TBPTT step, bits per character, sampling and
latency, and checkpoints that carry the vocabulary.

``CharModel`` is embedding -> ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` -> linear, the same in everything but the
recurrent layer. It predicts the next character at *every* position, so a batch of ``B x T`` characters gives
``B x T`` training signals. The grader compares learners' functions with these; they live in the instructors'
package so that a graded notebook cannot call them. ``perplexity``, ``unigram_bpc``, ``stream_bpc`` and the
TBPTT loop are the learners' own (``rnn_course.charlm``); ``train_tbptt`` here defaults to the reference step.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from rnn_course import charlm as _learner
from rnn_course.charlm import RECURRENT, perplexity, stream_bpc, unigram_bpc
from rnn_course.checks import int_at_least
from rnn_course.kinds import check_kind
from rnn_course.lm import count_lm_parameters
from rnn_course.text import Vocab, tbptt_batches
from rnn_course.timing import median_seconds
from rnn_course.train import detach_state

__all__ = ["CHECKPOINT_FORMAT", "RECURRENT", "CharModel", "bits_per_char", "generate", "hidden_for_parameters",
           "latency_per_char", "load_checkpoint", "n_parameters", "perplexity", "sample_next", "save_checkpoint",
           "stream_bpc", "suggest", "train_step", "train_tbptt", "unigram_bpc"]
CHECKPOINT_FORMAT = "rnn_course.charlm/1"


class CharModel(nn.Module):
    """Embedding -> 2-layer RNN/LSTM/GRU -> linear head over the vocabulary.

    Attributes ``embedding``, ``rnn`` and ``head`` (the exercise uses the same names, so weights move
    between the two). Shapes: x (B, T) ids -> logits (B, T, V), and the recurrent module's state.
    """

    def __init__(self, vocab: Vocab, kind: str = "lstm", embed_dim: int = 64, hidden_size: int = 128,
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

    def forward(self, x: torch.Tensor, state=None):
        out, state = self.rnn(self.embedding(x), state)  # (B, T, H)
        return self.head(out), state  # (B, T, V)

    @torch.no_grad()
    def generate(self, prompt: str, length: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None) -> str:
        """The ``length`` characters that follow ``prompt`` (sampled; the prompt is not repeated)."""
        return generate(self, self.vocab, prompt, length, temperature, top_k, generator)


def n_parameters(kind: str, vocab_size: int, embed_dim: int = 64, hidden_size: int = 128, num_layers: int = 2) -> int:
    """The parameters of ``CharModel`` of that kind and size: embedding, recurrent stack, head."""
    return count_lm_parameters(check_kind(kind), vocab_size, hidden_size, num_layers, embed_dim)


def hidden_for_parameters(kind: str, vocab_size: int, n_params: int, embed_dim: int = 64, num_layers: int = 2) -> int:
    """The largest hidden size whose ``CharModel`` has at most ``n_params`` parameters."""
    if n_parameters(kind, vocab_size, embed_dim, 1, num_layers) > n_params:
        raise ValueError(f"even hidden_size=1 needs more than {n_params:,} parameters")
    hidden = 1
    while n_parameters(kind, vocab_size, embed_dim, hidden + 1, num_layers) <= n_params:
        hidden += 1  # the count grows with the hidden size
    return hidden


@torch.no_grad()
def suggest(model: nn.Module, vocab: Vocab, typed: str, k: int = 3) -> list[str]:
    """After each character of ``typed``, the ``k`` most likely next characters (most likely first, never the
    unknown one): what a keyboard's suggestion bar shows. Computed here from one pass over the whole text, which
    gives the same logits as one keystroke at a time with the state carried."""
    int_at_least("k", k)
    was_training = model.training
    model.eval()
    ids = vocab.encode(typed).to(next(model.parameters()).device)
    logits, _ = model(ids[None])  # (1, N, V)
    z = logits[0].float().cpu()
    if vocab.unk_id is not None:
        z[:, vocab.unk_id] = -math.inf
    model.train(was_training)
    return [vocab.decode(row.topk(k).indices.tolist()) for row in z]


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


@torch.no_grad()
def bpc_after_reset(model: nn.Module, ids: torch.Tensor, length: int, batch_size: int = 256) -> list[float]:
    """How far back a model reads: bits per character at each position after a state reset.

    ``ids`` is cut into consecutive windows of ``length + 1`` characters (the remainder dropped), each run from a
    zero state; entry ``t`` of the result is the mean over the windows of ``-log2 p(w[t + 1] | w[0..t])``, the
    score of a prediction made with ``t + 1`` characters of context.
    """
    int_at_least("length", length)
    n = len(ids) // (length + 1)
    if n < 1:
        raise ValueError(f"need at least length + 1 = {length + 1} ids, got {len(ids)}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    windows = ids[: n * (length + 1)].view(n, length + 1).to(device)
    total = torch.zeros(length, dtype=torch.float64, device=device)
    for start in range(0, n, batch_size):
        w = windows[start : start + batch_size]
        logits, _ = model(w[:, :-1], None)
        nll = F.cross_entropy(logits.transpose(1, 2), w[:, 1:], reduction="none")  # (b, length)
        total += nll.double().sum(0)
    model.train(was_training)
    return (total / n / math.log(2)).tolist()


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


def train_tbptt(model: nn.Module, train_ids: torch.Tensor, steps: int, batch_size: int = 16, seq_len: int = 64,
                lr: float = 3e-3, step_fn=train_step, **kwargs) -> list[dict]:
    """``rnn_course.charlm.train_tbptt`` with the reference ``train_step`` as its default step."""
    return _learner.train_tbptt(model, train_ids, steps, batch_size, seq_len, lr, step_fn=step_fn, **kwargs)


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
