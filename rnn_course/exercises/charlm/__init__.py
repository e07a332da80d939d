"""Exercise "Character-level language models for a phone keyboard": its master notebook and public self-checks.

``MASTER`` is the master notebook (shipped with the package); ``python -m rnn_course.assign`` makes the student
and solutions notebooks from it. The ``check_*`` functions are the notebook's public self-checks: each runs a
learner's function on small inputs, compares it with the reference in ``rnn_course.charlm``, prints one line
(``ok``, ``not implemented yet``, or what is wrong) and returns whether it passed. They never raise, so a
student notebook with stubs still runs to the end.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from rnn_course.charlm import RECURRENT, CharModel, bits_per_char, generate
from rnn_course.text import Vocab, tbptt_batches

MASTER = Path(__file__).with_name("master.ipynb")
NOT_IMPLEMENTED = "not implemented yet"
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


def _small(vocab: Vocab, kind: str = "lstm") -> CharModel:
    torch.manual_seed(0)
    return CharModel(vocab, kind, embed_dim=16, hidden_size=24, num_layers=2)


def check_model(cls, kind: str, vocab: Vocab) -> bool:
    """``cls(len(vocab))`` has the reference's parameters and, with its weights, computes the same logits."""

    def check():
        V = len(vocab)
        model = cls(V)
        _require(isinstance(model, nn.Module), f"{cls.__name__}(vocab_size) must build an nn.Module")
        reference = CharModel(vocab, kind)
        n, expected = sum(p.numel() for p in model.parameters()), sum(p.numel() for p in reference.parameters())
        _require(n == expected, f"{n:,} parameters, expected {expected:,} (Embedding({V}, 128) -> "
                                f"nn.{RECURRENT[kind].__name__}(128, 256, num_layers=2, batch_first=True) "
                                f"-> Linear(256, {V}))")
        for attr in ("embedding", "rnn", "head"):
            _require(isinstance(getattr(model, attr, None), nn.Module), f"the model needs a submodule `{attr}`")
        _require(type(model.rnn) is RECURRENT[kind], f"`rnn` must be nn.{RECURRENT[kind].__name__}")
        _require(model.rnn.batch_first, "build the recurrent layer with batch_first=True")
        model.load_state_dict(reference.state_dict())
        x = torch.randint(V, (3, 11))
        out = model(x)
        _require(isinstance(out, tuple) and len(out) == 2, "forward must return (logits, state)")
        logits, state = out
        _require(tuple(logits.shape) == (3, 11, V),
                 f"logits have shape {tuple(logits.shape)}, expected (B, T, V) = (3, 11, {V}): one per position")
        ref_logits, _ = reference(x)
        _require(torch.allclose(logits, ref_logits, atol=1e-5),
                 "with the reference's weights the logits differ: embedding -> rnn -> head at every position?")
        first, state = model(x[:, :5])
        rest, _ = model(x[:, 5:], state)
        _require(torch.allclose(torch.cat([first, rest], 1), ref_logits, atol=1e-5),
                 "forward(x, state) must continue from `state` (pass it to the recurrent layer)")
        return f"{n:,} parameters"

    return _run(f"{cls.__name__}", check)


def check_train_step(train_step, vocab: Vocab) -> bool:
    """``train_step`` returns the loss before the update and a detached state, updates, and learns."""

    def check():
        model = _small(vocab)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        x, y = next(tbptt_batches(vocab.encode(_TEXT), 4, 24))
        with torch.no_grad():
            logits, _ = model(x)
            expected = F.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
        before = [p.detach().clone() for p in model.parameters()]
        out = train_step(model, optimizer, x, y, None)
        _require(isinstance(out, tuple) and len(out) == 2, "train_step must return (loss, state)")
        loss, state = out
        _require(isinstance(loss, float), f"loss must be a Python float (loss.item()), got {type(loss).__name__}")
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
    """A uniform model scores log2(V) bits; a random model scores what the reference says."""

    def check():
        ids = vocab.encode(_TEXT[:400])
        model = _small(vocab, "gru")
        with torch.no_grad():
            model.head.weight.zero_()
            model.head.bias.zero_()
        got = bits_per_char_fn(model, ids)
        _require(isinstance(got, float), f"return a Python float, got {type(got).__name__}")
        _require(math.isclose(got, math.log2(len(vocab)), rel_tol=1e-4),
                 f"a model that predicts every character with p = 1/V scored {got:.4f} bits, expected "
                 f"log2(V) = {math.log2(len(vocab)):.4f}: use log base 2, averaged over characters")
        model = _small(vocab, "gru")
        got, expected = bits_per_char_fn(model, ids), bits_per_char(model, ids)
        _require(math.isclose(got, expected, rel_tol=1e-4),
                 f"{got:.4f} bits per character, expected {expected:.4f}: predict every character but the first "
                 "from all the text before it, carrying the state across chunks")
        return f"uniform model: {math.log2(len(vocab)):.3f} bits = log2({len(vocab)})"

    return _run("bits_per_char", check)


def check_sample(sample, vocab: Vocab) -> bool:
    """Right length, known characters only, greedy at temperature 0, reproducible with a generator."""

    def check():
        model = _small(vocab)
        with torch.no_grad():
            model.head.bias[vocab.unk_id] = 5.0  # the unknown character is likely, and must never be drawn
        out = sample(model, vocab, "the ", 40, 1.0, 5, torch.Generator().manual_seed(0))
        _require(isinstance(out, str) and len(out) == 40,
                 f"expected a str of the 40 new characters, got {type(out).__name__} of length {len(out)}")
        unknown = set(out) - set(vocab.chars)
        _require(not unknown, f"characters outside the vocabulary: {sorted(unknown)!r}")
        again = sample(model, vocab, "the ", 40, 1.0, 5, torch.Generator().manual_seed(0))
        _require(again == out, "the same generator seed must give the same text")
        greedy = sample(model, vocab, "the ", 20, 0.0, None, None)
        _require(greedy == generate(model, vocab, "the ", 20, 0.0),
                 "temperature 0 must pick the most likely known character at every step")
        return f"{out!r}"

    return _run("sample", check)


def check_latency(latency_per_char, vocab: Vocab) -> bool:
    """A positive number of seconds, well under a second for a small model."""

    def check():
        seconds = latency_per_char(_small(vocab), len(vocab), n_chars=20, warmup=5, repeats=3)
        _require(isinstance(seconds, float) and 0 < seconds < 1,
                 f"expected seconds per character as a float between 0 and 1, got {seconds!r}")
        return f"{seconds * 1e3:.3f} ms per character for a small model"

    return _run("latency_per_char", check)
