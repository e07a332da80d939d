"""rnn_course.exercises.charlm: the notebook's self-checks pass the solution, say "not implemented yet" for the
stubs, catch the usual mistakes, and hold no solution a notebook could call instead of writing one."""
from __future__ import annotations

import inspect
import math
import statistics
import time
from pathlib import Path

import nbformat
import pytest
import torch

from rnn_course.exercises import charlm as checks
from rnn_course.text import Vocab

ROOT = Path(__file__).resolve().parents[1]
VOCAB = Vocab.from_text("the quick brown fox jumps over the lazy dog; THE CAT SAT." * 20)


def notebook_namespace(name: str) -> dict:
    """The namespace of a charlm notebook after its setup and Part A-E cells (no corpus, no training)."""
    nb = nbformat.read(ROOT / "book" / name, as_version=4)
    cells = {c.get("id"): c.source for c in nb.cells}
    ns: dict = {}
    for cid in ("setup", "part-a", "part-a-size", "part-b", "part-c", "part-c-context", "part-d", "part-d-suggest",
                "part-e"):
        exec(cells[cid], ns)
    return ns


@pytest.fixture(scope="module")
def solution():
    return notebook_namespace("charlm_solutions.ipynb")


def test_the_solution_passes_every_self_check(solution, capsys):
    ns = solution
    assert checks.check_model(ns["CharModel"], VOCAB)
    assert checks.check_sizes(ns["n_parameters"], ns["hidden_for_parameters"], VOCAB)
    assert checks.check_bpc_after_reset(ns["bpc_after_reset"], VOCAB)
    assert checks.check_suggest(ns["suggest"], VOCAB)
    assert checks.check_train_step(ns["train_step"], VOCAB)
    assert checks.check_bits_per_char(ns["bits_per_char"], VOCAB)
    assert checks.check_sample(ns["sample"], VOCAB)
    assert checks.check_latency(ns["latency_per_char"], VOCAB)
    assert "PROBLEM" not in capsys.readouterr().out


def test_the_stubs_are_not_implemented_yet(capsys):
    ns = notebook_namespace("charlm_exercise.ipynb")
    assert not checks.check_model(ns["CharModel"], VOCAB)
    assert not checks.check_sizes(ns["n_parameters"], ns["hidden_for_parameters"], VOCAB)
    assert not checks.check_bits_per_char(ns["bits_per_char"], VOCAB)
    assert not checks.check_sample(ns["sample"], VOCAB)
    assert not checks.check_suggest(ns["suggest"], VOCAB)
    out = capsys.readouterr().out
    assert out.count("not implemented yet") == 5 and "PROBLEM" not in out


def test_the_self_checks_catch_the_usual_mistakes(solution, capsys):
    def bpc_without_state(model, data):  # each chunk from a zero state
        total = 0.0
        for start in range(0, len(data) - 1, 512):
            x, y = data[start: start + 512][None], data[start + 1: start + 513][None]
            logits, _ = model(x[:, : y.size(1)])
            total += torch.nn.functional.cross_entropy(logits[0], y[0], reduction="sum").item()
        return total / (len(data) - 1) / math.log(2)

    def sample_without_temperature(model, vocab, prompt, length, temperature=1.0, top_k=None, generator=None):
        return solution["sample"](model, vocab, prompt, length, 1.0 if temperature else 0.0, top_k, generator)

    def latency_constant(model, vocab_size, n_chars=100, warmup=20, repeats=7):
        solution["latency_per_char"](model, vocab_size, n_chars, warmup, repeats)
        return 0.003

    def latency_mean(model, vocab_size, n_chars=100, warmup=20, repeats=7):
        runs = []
        state = None
        x = torch.zeros(1, 1, dtype=torch.long)
        for _ in range(warmup):
            _, state = model(x, state)
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(n_chars):
                _, state = model(x, state)
            runs.append(time.perf_counter() - start)
        return statistics.mean(runs) / n_chars * n_chars  # per run, not per character

    def suggest_without_state(model, vocab, typed, k=3):  # every keystroke from a zero state
        return [solution["suggest"](model, vocab, char, k)[0] for char in typed]

    def suggest_rereading(model, vocab, typed, k=3):  # the right bar, at a cost that grows with the text
        return [solution["suggest"](model, vocab, typed[: i + 1], k)[-1] for i in range(len(typed))]

    def count_one_bias(kind, vocab_size, embed_dim=64, hidden_size=128, num_layers=2):
        g = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
        return solution["n_parameters"](kind, vocab_size, embed_dim, hidden_size, num_layers) - g * hidden_size * num_layers

    def model_any_kind(vocab_size, kind, **sizes):  # an unknown kind quietly becomes an LSTM
        return solution["CharModel"](vocab_size, kind if kind in ("rnn", "lstm", "gru") else "lstm", **sizes)

    assert not checks.check_suggest(suggest_without_state, VOCAB)
    assert "the state carried from keystroke to keystroke" in capsys.readouterr().out
    assert not checks.check_suggest(suggest_rereading, VOCAB)
    assert "each on one character" in capsys.readouterr().out
    assert not checks.check_sizes(count_one_bias, solution["hidden_for_parameters"], VOCAB)
    assert "both bias vectors" in capsys.readouterr().out
    assert not checks.check_model(model_any_kind, VOCAB)
    assert "must raise a ValueError" in capsys.readouterr().out
    assert not checks.check_bits_per_char(bpc_without_state, VOCAB)
    assert "carrying the state across chunks" in capsys.readouterr().out
    assert not checks.check_sample(sample_without_temperature, VOCAB)
    assert "do not follow softmax(z / temperature)" in capsys.readouterr().out
    assert not checks.check_latency(latency_constant, VOCAB)
    assert not checks.check_latency(latency_mean, VOCAB)


def test_the_self_checks_hold_no_solution_to_call():
    source = inspect.getsource(checks)
    for piece in ("nn.Embedding(vocab_size", "def sample", "def bits_per_char", "def train_step", "def latency",
                  "def suggest", "def n_parameters", "def hidden_for"):
        assert piece not in source
    for name in dir(checks):  # nothing a notebook could import as an answer
        assert not name.startswith(("CharModel", "train_step", "bits_per_char", "generate", "sample_next", "suggest",
                                    "n_parameters", "hidden_for", "_count"))
