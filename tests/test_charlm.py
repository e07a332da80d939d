"""The char-LM exercise's reference (rnn_course_instructor.charlm) and the learners' helpers (rnn_course.charlm):
the character model, TBPTT training, bpc, sampling, latency and checkpoints."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from rnn_course_instructor import charlm
from rnn_course_instructor.charlm import (CharModel, bits_per_char, generate, latency_per_char, load_checkpoint, perplexity,
                               sample_next, save_checkpoint, train_step, train_tbptt, unigram_bpc)
from rnn_course.params import count_parameters
from rnn_course.text import Vocab, tbptt_batches

TEXT = "the cat sat on the mat. the dog sat on the log. " * 20
KINDS = ["rnn", "lstm", "gru"]


@pytest.fixture
def vocab():
    return Vocab.from_text(TEXT)


def small(vocab, kind="lstm", dtype=torch.float32):
    return CharModel(vocab, kind, embed_dim=8, hidden_size=12, num_layers=2).to(dtype)


# ---------------------------------------------------------------- the model

@pytest.mark.parametrize("kind", KINDS)
def test_course_sizes_and_parameter_count(vocab, kind):
    model = CharModel(vocab, kind)
    V = len(vocab)
    assert isinstance(model.rnn, charlm.RECURRENT[kind])
    assert (model.rnn.input_size, model.rnn.hidden_size, model.rnn.num_layers) == (64, 128, 2)
    expected = V * 64 + count_parameters(kind, 64, 128, num_layers=2) + 128 * V + V
    assert sum(p.numel() for p in model.parameters()) == expected == charlm.n_parameters(kind, V)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("budget", [5_000, 20_001, 124_999])
def test_hidden_for_parameters_is_the_largest_size_that_fits(vocab, kind, budget):
    V = len(vocab)
    h = charlm.hidden_for_parameters(kind, V, budget, embed_dim=8, num_layers=2)
    count = lambda hidden: sum(p.numel() for p in CharModel(vocab, kind, 8, hidden, 2).parameters())  # noqa: E731
    assert count(h) <= budget < count(h + 1)


def test_hidden_for_parameters_refuses_a_budget_too_small(vocab):
    with pytest.raises(ValueError, match="even hidden_size=1"):
        charlm.hidden_for_parameters("lstm", len(vocab), 100)


@pytest.mark.parametrize("kind", KINDS)
def test_suggest_is_the_top_k_after_each_keystroke_carrying_the_state(vocab, kind):
    model = small(vocab, kind, torch.float64)
    typed = "the cat sat on"
    bar = charlm.suggest(model, vocab, typed, k=4)
    state, expected = None, []
    with torch.no_grad():
        for i in vocab.encode(typed).tolist():  # one keystroke at a time, the state carried
            logits, state = model(torch.tensor([[i]]), state)
            z = logits[0, -1].clone()
            z[vocab.unk_id] = -float("inf")
            expected.append(vocab.decode(z.topk(4).indices.tolist()))
    assert bar == expected and all(len(set(s)) == 4 and "\ufffd" not in s for s in bar)


def test_models_differ_only_in_the_recurrent_layer(vocab):
    models = {kind: CharModel(vocab, kind) for kind in KINDS}
    shapes = {kind: {n: p.shape for n, p in m.named_parameters() if not n.startswith("rnn.")}
              for kind, m in models.items()}
    assert shapes["rnn"] == shapes["lstm"] == shapes["gru"]


@pytest.mark.parametrize("kind", KINDS)
def test_forward_is_embedding_recurrent_linear(vocab, kind):
    model = small(vocab, kind, torch.float64)
    x = torch.randint(len(vocab), (3, 7))
    logits, state = model(x)
    out, ref_state = model.rnn(model.embedding.weight[x], None)
    torch.testing.assert_close(logits, out @ model.head.weight.T + model.head.bias)
    assert logits.shape == (3, 7, len(vocab))
    torch.testing.assert_close(state, ref_state)


@pytest.mark.parametrize("kind", KINDS)
def test_carried_state_equals_one_long_pass(vocab, kind):
    """TBPTT's forward is exact: batches with the state carried give the logits of one pass over each stream."""
    model = small(vocab, kind, torch.float64)
    ids = vocab.encode(TEXT[:403])
    streams = ids[: 4 * 100].view(4, 100)
    full, _ = model(streams[:, :-1])
    pieces, state = [], None
    for x, _ in tbptt_batches(ids, 4, 16):
        logits, state = model(x, state)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full)


def test_bad_model_arguments(vocab):
    with pytest.raises(ValueError, match="kind must be"):
        CharModel(vocab, "transformer")
    with pytest.raises(ValueError, match="hidden_size"):
        CharModel(vocab, "gru", hidden_size=0)
    with pytest.raises(ValueError, match="Vocab"):
        CharModel(40, "gru")


# ---------------------------------------------------------------- scores

def uniform(vocab, kind="gru"):
    model = small(vocab, kind)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    return model


def test_uniform_model_scores_log2_vocab(vocab):
    ids = vocab.encode(TEXT)
    assert bits_per_char(uniform(vocab), ids) == pytest.approx(math.log2(len(vocab)), abs=1e-5)
    assert perplexity(bits_per_char(uniform(vocab), ids)) == pytest.approx(len(vocab), rel=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_exact_bpc_predicts_every_character_from_all_before_it(vocab, kind):
    model = small(vocab, kind, torch.float64)
    ids = vocab.encode(TEXT[:300])
    logits, _ = model(ids[None, :-1])  # one pass over the whole split
    expected = F.cross_entropy(logits[0], ids[1:]).item() / math.log(2)
    assert bits_per_char(model, ids, batch_size=1, seq_len=37) == pytest.approx(expected, rel=1e-9)
    streamed = bits_per_char(model, ids, batch_size=4, seq_len=37)  # the fast variant: close, not equal
    assert streamed == pytest.approx(expected, abs=0.2)


def test_unigram_baseline():
    train = torch.tensor([0, 0, 0, 1])  # with add-one: p = (4/6, 2/6, 0/6 + 1/6 ...)
    V = 3
    p = torch.tensor([4, 2, 1], dtype=torch.float64) / 7
    assert unigram_bpc(train, torch.tensor([0, 1, 2]), V) == pytest.approx(float(-p.log2().mean()))
    flat = torch.arange(10).repeat(50)
    assert unigram_bpc(flat, flat, 10) == pytest.approx(math.log2(10))


# ---------------------------------------------------------------- sampling

def test_sample_next_rules():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    assert sample_next(logits, temperature=0).tolist() == [1]
    assert sample_next(logits, top_k=1).tolist() == [1]
    assert sample_next(logits, temperature=0, banned=1).tolist() == [3]
    gen = torch.Generator().manual_seed(0)
    draws = {sample_next(logits, 1.0, top_k=2, generator=gen).item() for _ in range(200)}
    assert draws == {1, 3}
    draws = {sample_next(logits, 5.0, generator=gen, banned=0).item() for _ in range(400)}
    assert draws == {1, 2, 3}
    with pytest.raises(ValueError, match="temperature"):
        sample_next(logits, -1.0)
    with pytest.raises(ValueError, match="top_k"):
        sample_next(logits, 1.0, top_k=0)


@pytest.mark.parametrize("kind", KINDS)
def test_generate_length_vocabulary_and_reproducibility(vocab, kind):
    model = small(vocab, kind)
    with torch.no_grad():
        model.head.bias[vocab.unk_id] = 50.0  # the unknown character is the most likely: it must still not appear
    out = model.generate("the ", 60, temperature=1.0, top_k=5, generator=torch.Generator().manual_seed(1))
    assert len(out) == 60 and set(out) <= set(vocab.chars)
    again = generate(model, vocab, "the ", 60, 1.0, 5, torch.Generator().manual_seed(1))
    assert again == out
    assert model.generate("the ", 0) == ""


def test_greedy_generation_follows_argmax(vocab):
    model = small(vocab, "lstm")
    out = model.generate("the", 5, temperature=0)
    text = "the"
    for _ in range(5):
        logits, _ = model(vocab.encode(text)[None])
        logits = logits[0, -1].clone()
        logits[vocab.unk_id] = -math.inf
        text += vocab.itos[int(logits.argmax())]
    assert "the" + out == text


def test_generate_rejects_bad_arguments(vocab):
    model = small(vocab)
    with pytest.raises(ValueError, match="prompt"):
        model.generate("", 5)
    with pytest.raises(ValueError, match="length"):
        model.generate("the", -1)


# ---------------------------------------------------------------- training

def test_train_step_returns_loss_and_detached_state(vocab):
    model = small(vocab)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = next(tbptt_batches(vocab.encode(TEXT), 4, 20))
    with torch.no_grad():
        logits, _ = model(x)
        expected = F.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
    before = [p.detach().clone() for p in model.parameters()]
    loss, state = train_step(model, opt, x, y)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert all(not s.requires_grad for s in state)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.slow  # 60 training steps
def test_train_tbptt_learns_a_repetitive_text(vocab):
    torch.manual_seed(0)
    model = small(vocab, "gru")
    ids = vocab.encode(TEXT)
    seen = []
    history = train_tbptt(model, ids, steps=60, batch_size=4, seq_len=32, lr=1e-2, eval_ids=ids, eval_every=20,
                          log=seen.append)
    assert [h["step"] for h in history] == [20, 40, 60] and seen == history
    assert history[-1]["val_bpc"] < 1.5 < math.log2(len(vocab))  # far below the uniform model
    assert all(h["seconds"] > 0 for h in history)
    with pytest.raises(ValueError, match="steps"):
        train_tbptt(model, ids, steps=0)


def test_train_tbptt_uses_a_learners_step(vocab):
    calls = []

    def my_step(model, optimizer, x, y, state):
        calls.append(x.shape)
        return 1.0, None

    train_tbptt(small(vocab), vocab.encode(TEXT), steps=3, batch_size=2, seq_len=8, step_fn=my_step)
    assert calls == [(2, 8)] * 3


# ---------------------------------------------------------------- latency

class Counter(nn.Module):
    """A stand-in model that counts its calls at batch 1 and carries a state."""

    def __init__(self, vocab_size):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.vocab_size, self.calls = vocab_size, 0

    def forward(self, x, state=None):
        assert x.shape == (1, 1)
        self.calls += 1
        return torch.zeros(1, 1, self.vocab_size), (0 if state is None else state) + 1


def test_latency_is_the_timing_median_per_character_after_warmup(vocab, monkeypatch):
    """Warm-up calls first, then the course's timing statistic over runs of n_chars steps, per character."""
    model, timed = Counter(len(vocab)), []

    def fake_median(fn, repeats, warmup, device):
        before = model.calls
        fn()
        timed.append((model.calls - before, repeats, warmup))
        return 0.5

    monkeypatch.setattr(charlm, "median_seconds", fake_median)
    seconds = latency_per_char(model, len(vocab), n_chars=10, warmup=3, repeats=5)
    assert seconds == pytest.approx(0.05) and timed == [(10, 5, 0)] and model.calls == 3 + 10
    assert model.training  # put back in its mode


def test_latency_on_a_real_model(vocab):
    assert latency_per_char(small(vocab), len(vocab), n_chars=10, warmup=2, repeats=3) > 0
    with pytest.raises(ValueError, match="repeats"):
        latency_per_char(small(vocab), len(vocab), repeats=0)


# ---------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("kind", KINDS)
def test_checkpoint_round_trip(vocab, kind, tmp_path):
    model = small(vocab, kind)
    save_checkpoint(model, tmp_path / "m.pt")
    loaded = load_checkpoint(tmp_path / "m.pt", vocab=vocab, kind=kind)
    x = torch.randint(len(vocab), (2, 9))
    torch.testing.assert_close(loaded(x)[0], model(x)[0])
    assert loaded.vocab == vocab and loaded.config == model.config


def test_corrupt_checkpoints_are_refused(vocab, tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(small(vocab), path)
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    for bad in ("cut.pt", "junk.pt"):
        with pytest.raises(ValueError, match="not a readable checkpoint"):
            load_checkpoint(tmp_path / bad)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a rnn_course.charlm/1 checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_mismatched_checkpoints_are_refused(vocab, tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(small(vocab, "lstm"), path)
    with pytest.raises(ValueError, match="another vocabulary"):
        load_checkpoint(path, vocab=Vocab.from_text("abc"))
    with pytest.raises(ValueError, match="LSTM model, not a GRU"):
        load_checkpoint(path, kind="gru")
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["hidden_size"] = 13  # weights no longer fit the configuration
    torch.save(ckpt, tmp_path / "tampered.pt")
    with pytest.raises(ValueError, match="do not match the saved configuration"):
        load_checkpoint(tmp_path / "tampered.pt")
    ckpt["config"]["kind"] = "transformer"
    torch.save(ckpt, tmp_path / "unknown.pt")
    with pytest.raises(ValueError, match="configuration or vocabulary is invalid"):
        load_checkpoint(tmp_path / "unknown.pt")
    with pytest.raises(ValueError, match="expects a CharModel"):
        save_checkpoint(nn.Linear(2, 2), path)


def test_train_tbptt_refuses_text_too_short_for_one_batch(vocab):
    """Too little text for one (B, T) batch is a clear error, not an endless loop."""
    model = CharModel(vocab, "rnn", embed_dim=4, hidden_size=4, num_layers=1)
    ids = torch.randint(len(vocab), (1024,))
    with pytest.raises(ValueError, match="too few for one batch of 16 streams x 64 steps"):
        train_tbptt(model, ids, steps=3, batch_size=16, seq_len=64)
    assert len(train_tbptt(model, ids, steps=3, batch_size=4, seq_len=32)) == 1  # enough for 4 x 32
