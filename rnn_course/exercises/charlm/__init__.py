"""Public self-checks of the exercise "Character-level language models for a phone keyboard".

Each ``check_*`` runs a learner's function on small inputs, prints one line (``ok``, ``not implemented yet``,
or what is wrong) and returns whether it passed. They never raise, so a student notebook with stubs still runs
to the end. They hold no solution to call instead of writing one: each compares a learner's function with what
a stand-in model of known behaviour must give (a table of next-character logits, a known delay per call), or a
learner's model with its own parts composed as the exercise describes. The reference solution and the grader
are in the instructors' package.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from rnn_course.charlm import RECURRENT
from rnn_course.text import Vocab, tbptt_batches

NOT_IMPLEMENTED = "not implemented yet"
SIZES = dict(embed_dim=64, hidden_size=128, num_layers=2)  # the exercise's model sizes
_TEXT = "the quick brown fox jumps over the lazy dog; the cat sat on the mat. " * 8


class _Fail(Exception):
    """A self-check found a problem; its message says what to fix."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise _Fail(message)


def _run(name: str, check) -> bool:
    try:
        detail = check()
    except NotImplementedError:
        print(f"{name}: {NOT_IMPLEMENTED}")
        return False
    except _Fail as err:
        print(f"{name}: PROBLEM: {err}")
        return False
    except Exception as err:  # noqa: BLE001 - a learner's bug of any kind is reported, not raised
        print(f"{name}: PROBLEM: it raised {type(err).__name__}: {err}")
        return False
    print(f"{name}: ok" + (f" ({detail})" if detail else ""))
    return True


def _is_float(x) -> bool:
    return type(x) is float or isinstance(x, np.floating)


class TableModel(nn.Module):
    """A stand-in language model whose next-character logits are known: ``table[previous id]`` plus
    ``drift[position % period]``, where the position counts the characters the state has seen.

    So the logits depend on the state: a score or a sample that does not carry the state along differs.
    The state is a float tensor of shape (1, B, 1) holding that count. Shapes: x (B, T) -> logits (B, T, V).
    """

    def __init__(self, vocab_size: int, seed: int = 0, period: int = 7, scale: float = 1.0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.table = nn.Parameter(torch.randn(vocab_size, vocab_size, generator=g) * scale)
        self.drift = nn.Parameter(torch.randn(period, vocab_size, generator=g) * scale)

    def forward(self, x, state=None):
        B, T = x.shape
        start = torch.zeros(B, dtype=torch.long) if state is None else state.reshape(B).long()
        pos = start[:, None] + torch.arange(T)  # (B, T)
        logits = self.table[x] + self.drift[pos % len(self.drift)]  # (B, T, V)
        return logits, (start + T).float().view(1, B, 1)

    def logits_after(self, ids: torch.Tensor) -> torch.Tensor:
        """The logits that predict ``ids[1:]`` from ``ids[:-1]``, read as one stream: (N - 1, V)."""
        return self.table[ids[:-1]] + self.drift[torch.arange(len(ids) - 1) % len(self.drift)]


def check_model(cls, vocab: Vocab) -> bool:
    """``cls(len(vocab), kind)`` for each kind has the exercise's parts and sizes, computes
    ``head(rnn(embedding(x)))`` at every position and continues from a returned state; another kind is refused."""

    def one(kind):
        V, E, H, L = len(vocab), SIZES["embed_dim"], SIZES["hidden_size"], SIZES["num_layers"]
        rnn_name = RECURRENT[kind].__name__
        torch.manual_seed(0)
        model = cls(V, kind)
        where = f"{cls.__name__}(vocab_size, {kind!r})"
        _require(isinstance(model, nn.Module), f"{where} must build an nn.Module")
        for attr in ("embedding", "rnn", "head"):
            _require(isinstance(getattr(model, attr, None), nn.Module), f"{where} needs a submodule `{attr}`")
        emb, rnn, head = model.embedding, model.rnn, model.head
        _require(isinstance(emb, nn.Embedding) and (emb.num_embeddings, emb.embedding_dim) == (V, E),
                 f"{where}: `embedding` must be nn.Embedding({V}, {E}), got {emb}")
        _require(type(rnn) is RECURRENT[kind], f"{where}: `rnn` must be nn.{rnn_name}, got {type(rnn).__name__}")
        _require((rnn.input_size, rnn.hidden_size, rnn.num_layers) == (E, H, L),
                 f"{where}: `rnn` must be nn.{rnn_name}({E}, {H}, num_layers={L}), got {rnn}")
        _require(rnn.batch_first, f"{where}: build the recurrent layer with batch_first=True")
        _require(isinstance(head, nn.Linear) and (head.in_features, head.out_features) == (H, V),
                 f"{where}: `head` must be nn.Linear({H}, {V}), got {head}")
        n = sum(p.numel() for p in model.parameters())
        parts = sum(p.numel() for m in (emb, rnn, head) for p in m.parameters())
        _require(n == parts, f"{where}: {n:,} parameters, but embedding, rnn and head hold {parts:,}: no others")
        x = torch.randint(V, (3, 11))
        with torch.no_grad():
            out = model(x)
            _require(isinstance(out, tuple) and len(out) == 2, "forward must return (logits, state)")
            logits, state = out
            _require(isinstance(logits, torch.Tensor) and tuple(logits.shape) == (3, 11, V),
                     f"{where}: logits must have shape (B, T, V) = (3, 11, {V}): one prediction per position")
            expected = head(rnn(emb(x))[0])
            _require(torch.allclose(logits, expected, atol=1e-5),
                     f"{where}: the logits differ from head(rnn(embedding(x))) at some position")
            first, state = model(x[:, :5])
            rest, _ = model(x[:, 5:], state)
            _require(torch.allclose(torch.cat([first, rest], 1), logits, atol=1e-5),
                     f"{where}: forward(x, state) must continue from `state` (pass it to the recurrent layer)")
        return n

    def check():
        counts = {kind: one(kind) for kind in ("rnn", "lstm", "gru")}
        try:
            cls(len(vocab), "transformer")
        except ValueError:
            pass
        else:
            raise _Fail(f"{cls.__name__}(vocab_size, 'transformer') must raise a ValueError that names the kinds")
        return ", ".join(f"{kind}: {n:,} parameters" for kind, n in counts.items())

    return _run(cls.__name__, check)


def check_sizes(n_parameters, hidden_for_parameters, vocab: Vocab) -> bool:
    """``n_parameters`` equals the count of the modules themselves at several sizes; ``hidden_for_parameters``
    returns the largest hidden size that fits, and refuses a budget too small for one unit."""

    def count(kind, V, E, H, L):  # counted on the modules themselves
        modules = (nn.Embedding(V, E), RECURRENT[kind](E, H, L), nn.Linear(H, V))
        return sum(p.numel() for m in modules for p in m.parameters())

    def check():
        V = len(vocab)
        for kind, E, H, L in (("rnn", 5, 7, 1), ("lstm", 5, 7, 1), ("gru", 6, 9, 2), ("lstm", 3, 11, 3),
                              ("rnn", 64, 128, 2), ("gru", 64, 128, 2)):
            got, expected = n_parameters(kind, V, E, H, L), count(kind, V, E, H, L)
            _require(isinstance(got, (int, np.integer)) and not isinstance(got, bool),
                     f"n_parameters must return an int, got {type(got).__name__}")
            _require(got == expected, f"n_parameters({kind!r}, {V}, {E}, {H}, {L}) = {got:,}, but the model has "
                                      f"{expected:,}: count both weight matrices and both bias vectors of every "
                                      "layer, the embedding and the head")
        for kind, E, L, budget in (("rnn", 16, 1, 20_000), ("lstm", 16, 2, 20_000), ("gru", 8, 2, 50_001)):
            h = hidden_for_parameters(kind, V, budget, E, L)
            _require(isinstance(h, (int, np.integer)) and h >= 1, f"hidden_for_parameters must return an int >= 1, "
                                                                 f"got {h!r}")
            _require(count(kind, V, E, h, L) <= budget < count(kind, V, E, h + 1, L),
                     f"hidden_for_parameters({kind!r}, {V}, {budget:,}, {E}, {L}) = {h}: the largest hidden size with "
                     f"at most {budget:,} parameters is the one whose next size has more")
        try:
            hidden_for_parameters("lstm", V, 10, 16, 1)
        except ValueError:
            pass
        else:
            raise _Fail("hidden_for_parameters must raise a ValueError when not even hidden_size=1 fits")
        n = count("lstm", V, SIZES["embed_dim"], SIZES["hidden_size"], SIZES["num_layers"])
        return f"the {SIZES['hidden_size']}-unit LSTM holds {n:,}"

    return _run("n_parameters, hidden_for_parameters", check)


class _OneHotLSTM(nn.Module):
    """A small stand-in model for the training-step check: one-hot ids -> 1-layer LSTM -> linear."""

    def __init__(self, vocab_size: int, hidden_size: int = 24):
        super().__init__()
        self.vocab_size = vocab_size
        self.lstm = nn.LSTM(vocab_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None):
        h, state = self.lstm(F.one_hot(x, self.vocab_size).float(), state)
        return self.out(h), state


def check_train_step(train_step, vocab: Vocab) -> bool:
    """``train_step`` returns the loss before the update and a detached state, updates, and learns."""

    def check():
        torch.manual_seed(0)
        model = _OneHotLSTM(len(vocab))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        x, y = next(tbptt_batches(vocab.encode(_TEXT), 4, 24))
        with torch.no_grad():
            logits, _ = model(x)
            expected = F.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
        before = [p.detach().clone() for p in model.parameters()]
        out = train_step(model, optimizer, x, y, None)
        _require(isinstance(out, tuple) and len(out) == 2, "train_step must return (loss, state)")
        loss, state = out
        _require(_is_float(loss), f"loss must be a Python float (loss.item()), got {type(loss).__name__}")
        _require(math.isclose(loss, expected, rel_tol=1e-4),
                 f"loss {loss:.4f}, expected {expected:.4f}: the mean cross-entropy over all B*T positions, "
                 "before the update")
        tensors = state if isinstance(state, (tuple, list)) else (state,)
        _require(all(isinstance(t, torch.Tensor) for t in tensors), "return the recurrent layer's final state")
        _require(not any(t.requires_grad for t in tensors), "detach the state before returning it")
        _require(any(not torch.equal(a, b) for a, b in zip(before, model.parameters())),
                 "the weights did not change: call optimizer.step()")
        for _ in range(25):
            last, state = train_step(model, optimizer, x, y, None)
        _require(last < 0.6 * loss, f"25 steps on one batch took the loss only from {loss:.3f} to {last:.3f}")
        return f"loss {loss:.3f} -> {last:.3f} on one repeated batch"

    return _run("train_step", check)


def check_bits_per_char(bits_per_char_fn, vocab: Vocab) -> bool:
    """A uniform model scores log2(V) bits; a stand-in model scores what its known logits give."""

    def check():
        V = len(vocab)
        ids = vocab.encode(_TEXT)[:1500]
        uniform = TableModel(V, scale=0.0)
        got = bits_per_char_fn(uniform, ids)
        _require(_is_float(got), f"return a Python float, got {type(got).__name__}")
        _require(math.isclose(got, math.log2(V), rel_tol=1e-4),
                 f"a model that predicts every character with p = 1/V scored {got:.4f} bits, expected "
                 f"log2(V) = {math.log2(V):.4f}: use log base 2, averaged over characters")
        model = TableModel(V, seed=1)
        with torch.no_grad():
            expected = F.cross_entropy(model.logits_after(ids), ids[1:]).item() / math.log(2)
        got = bits_per_char_fn(model, ids)
        _require(math.isclose(got, expected, rel_tol=1e-4),
                 f"{got:.4f} bits per character, expected {expected:.4f}: predict every character but the first "
                 f"from all the text before it, carrying the state across chunks ({len(ids)} characters)")
        return f"uniform model: {math.log2(V):.3f} bits = log2({V})"

    return _run("bits_per_char", check)


def check_bpc_after_reset(bpc_after_reset_fn, vocab: Vocab) -> bool:
    """A list of ``length`` floats; a stand-in model's known score at each position, from a zero state."""

    def check():
        V, length = len(vocab), 9
        ids = vocab.encode(_TEXT)[:200]
        model = TableModel(V, seed=2)
        got = bpc_after_reset_fn(model, ids, length)
        _require(isinstance(got, list) and len(got) == length and all(_is_float(v) for v in got),
                 f"return a list of {length} Python floats (one per position), got {type(got).__name__}"
                 + (f" of length {len(got)}" if hasattr(got, "__len__") else ""))
        n = len(ids) // (length + 1)
        w = ids[: n * (length + 1)].view(n, length + 1)
        with torch.no_grad():  # every window from a zero state: position t has seen t characters
            logits = model.table[w[:, :-1]] + model.drift[torch.arange(length) % len(model.drift)]
            expected = (F.cross_entropy(logits.transpose(1, 2), w[:, 1:], reduction="none").mean(0)
                        / math.log(2)).tolist()
        wrong = [t for t in range(length) if not math.isclose(got[t], expected[t], rel_tol=1e-4)]
        _require(not wrong, f"position {wrong[0] if wrong else 0}: {got[wrong[0]] if wrong else 0:.4f} bits, expected "
                 f"{expected[wrong[0]] if wrong else 0:.4f}: cut the text into windows of length + 1 characters, run "
                 "each from a zero state, and average each position over the windows")
        return f"{n} windows of {length + 1} characters"

    return _run("bpc_after_reset", check)


def draw_ranks(model: TableModel, vocab: Vocab, prompt: str, texts: list[str], temperature: float,
               top_k: int) -> tuple[list[int], torch.Tensor]:
    """For texts sampled after ``prompt``: the rank of every drawn character among the known characters (0 =
    most likely), and the probability of each rank under top-k sampling at ``temperature``, summed over draws."""
    ranks, expected = [], torch.zeros(top_k, dtype=torch.float64)
    for text in texts:
        ids = vocab.encode(prompt + text)
        with torch.no_grad():
            z = model.logits_after(ids)[len(prompt) - 1:].double()  # (n, V): what predicts each new character
        z[:, vocab.unk_id] = -math.inf
        drawn = z.gather(1, ids[len(prompt):, None])  # (n, 1)
        ranks += (z > drawn).sum(1).tolist()
        top = z.topk(top_k, dim=1).values  # (n, k), most likely first
        expected += (top / temperature).softmax(1).sum(0)
    return ranks, expected


def check_sample(sample, vocab: Vocab) -> bool:
    """Right length, known characters only, greedy at temperature 0, top-k respected, reproducible with a
    generator, and draws that follow softmax(z / temperature) over the top k."""

    def check():
        V = len(vocab)
        model = TableModel(V, seed=2, scale=2.0)
        with torch.no_grad():
            model.table[:, vocab.unk_id] += 5.0  # the unknown character is likely, and must never be drawn
        prompt = "the "
        out = sample(model, vocab, prompt, 40, 1.0, 5, torch.Generator().manual_seed(0))
        _require(isinstance(out, str) and len(out) == 40,
                 f"expected a str of the 40 new characters, got {type(out).__name__} of length {len(out)}")
        unknown = set(out) - set(vocab.chars)
        _require(not unknown, f"characters outside the vocabulary: {sorted(unknown)!r}")
        again = sample(model, vocab, prompt, 40, 1.0, 5, torch.Generator().manual_seed(0))
        _require(again == out, "the same generator seed must give the same text")
        greedy, ids = [], vocab.encode(prompt)
        for _ in range(20):  # the known model's most likely known character, step by step
            z = model.logits_after(torch.cat([ids, ids[-1:]]))[-1].detach()
            z[vocab.unk_id] = -math.inf
            ids = torch.cat([ids, z.argmax().view(1)])
            greedy.append(int(ids[-1]))
        got = sample(model, vocab, prompt, 20, 0.0, None, None)
        _require(got == vocab.decode(greedy), "temperature 0 must pick the most likely known character at every step")
        texts = [sample(model, vocab, prompt, 20, 0.7, 4, torch.Generator().manual_seed(s)) for s in range(30)]
        ranks, expected = draw_ranks(model, vocab, prompt, texts, 0.7, 4)
        _require(max(ranks) < 4, "with top_k=4 a character outside the 4 most likely known ones was drawn")
        counts = torch.bincount(torch.tensor(ranks), minlength=4).double()
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        _require(chi2 < 30.0,  # 3 degrees of freedom: a correct sampler exceeds 30 with probability 1.4e-6
                 f"the drawn characters do not follow softmax(z / temperature) over the top k: ranks drawn "
                 f"{counts.int().tolist()}, expected about {[round(e) for e in expected.tolist()]}")
        return f"{out!r}"

    return _run("sample", check)


class _Recording(nn.Module):
    """Wraps a model and records, for each call, the input's shape and whether a state was passed."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.calls = inner, []

    def forward(self, x, state=None):
        self.calls.append((tuple(x.shape), state is not None))
        return self.inner(x, state)


def check_suggest(suggest, vocab: Vocab) -> bool:
    """One call per keystroke on that character, the state carried; the k most likely known characters."""

    def check():
        V = len(vocab)
        model = TableModel(V, seed=3, scale=2.0)
        with torch.no_grad():
            model.table[:, vocab.unk_id] += 5.0  # the unknown character is likely, and must never be suggested
        typed, k = "the cat sat", 3
        recorder = _Recording(model)
        bar = suggest(recorder, vocab, typed, k)
        _require(isinstance(bar, list) and len(bar) == len(typed) and all(isinstance(s, str) for s in bar),
                 f"return a list of {len(typed)} strings, one per keystroke, got {type(bar).__name__}")
        ids = vocab.encode(typed)
        with torch.no_grad():  # the known logits after each prefix, read as one stream
            z = model.logits_after(torch.cat([ids, ids[-1:]]))
        z[:, vocab.unk_id] = -math.inf
        expected = [vocab.decode(row.topk(k).indices.tolist()) for row in z]
        wrong = [i for i in range(len(typed)) if bar[i] != expected[i]]
        first = wrong[0] if wrong else 0
        _require(not wrong, f"after {typed[: first + 1]!r} the bar shows {bar[first]!r}, expected {expected[first]!r}: "
                            f"the {k} most likely known characters, most likely first, with the state carried from "
                            "keystroke to keystroke")
        shapes = [shape for shape, _ in recorder.calls]
        carried = [has_state for _, has_state in recorder.calls]
        _require(shapes == [(1, 1)] * len(typed) and carried == [False] + [True] * (len(typed) - 1),
                 f"expected {len(typed)} calls, each on one character (shape (1, 1)), the state passed from the "
                 f"second on; got {len(shapes)} calls of shapes like {shapes[-1] if shapes else None}")
        return f"{typed!r}: {' '.join(bar)}"

    return _run("suggest", check)


class SleepModel(nn.Module):
    """A stand-in model that takes a known time per call (``delay`` seconds) and counts its calls."""

    def __init__(self, vocab_size: int, delay: float):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.vocab_size, self.delay, self.calls = vocab_size, delay, 0

    def forward(self, x, state=None):
        self.calls += 1
        time.sleep(self.delay)
        return torch.zeros(*x.shape, self.vocab_size), state


def check_latency(latency_per_char, vocab: Vocab) -> bool:
    """Seconds per character, as a float, that follow the work done: a model 3x slower measures about 3x more."""

    def check():
        V, n, warmup, repeats = len(vocab), 20, 5, 3
        fast, slow = SleepModel(V, 0.002), SleepModel(V, 0.006)
        a = latency_per_char(fast, V, n_chars=n, warmup=warmup, repeats=repeats)
        _require(_is_float(a) and 0 < a < 1, f"expected seconds per character as a float between 0 and 1, got {a!r}")
        _require(0.002 <= a < 0.015, f"a model that takes 2 ms per character measured {a * 1e3:.2f} ms: the median "
                                     "run time divided by n_chars, in seconds")
        _require(fast.calls == warmup + repeats * n,
                 f"with warmup={warmup}, repeats={repeats}, n_chars={n} the model should be called "
                 f"{warmup + repeats * n} times, got {fast.calls}")
        b = latency_per_char(slow, V, n_chars=n, warmup=warmup, repeats=repeats)
        _require(_is_float(b) and 1.5 < b / a < 6,
                 f"a model that takes 2 ms per character measured {a * 1e3:.2f} ms, one that takes 6 ms "
                 f"measured {b * 1e3:.2f} ms: time the calls themselves, in seconds, per character")
        return f"{a * 1e3:.2f} ms per character for a stand-in model that takes 2 ms"

    return _run("latency_per_char", check)
