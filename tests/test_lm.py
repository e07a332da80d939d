"""rnn_course.lm: the chapter's character language model, its sampler and its measurements of context."""
import math

import pytest
import torch
import torch.nn.functional as F

from rnn_course import lm
from rnn_course.lm import CharLM
from rnn_course.text import Vocab

VOCAB = Vocab("abcdefgh \n")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_shapes_and_parameter_count(kind, layers):
    model = CharLM(kind, len(VOCAB), hidden=12, layers=layers, embed=5)
    logits, state = model(torch.randint(0, len(VOCAB), (3, 7)))
    assert logits.shape == (3, 7, len(VOCAB))
    h = state[0] if kind == "lstm" else state
    assert h.shape == (layers, 3, 12)
    assert lm.count_lm_parameters(kind, len(VOCAB), 12, layers, 5) == sum(p.numel() for p in model.parameters())
    assert model(torch.zeros(2, 4, dtype=torch.long), return_state=False).shape == (2, 4, len(VOCAB))


def test_carried_state_continues_the_sequence():
    model = CharLM("lstm", len(VOCAB), 8, 2, 4)
    x = torch.randint(0, len(VOCAB), (2, 10))
    whole, _ = model(x)
    first, state = model(x[:, :6])
    second, _ = model(x[:, 6:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_hidden_for_parameters_is_the_closest(kind):
    target = lm.count_lm_parameters("lstm", 100, 64)
    h = lm.hidden_for_parameters(kind, 100, target)
    gaps = {k: abs(lm.count_lm_parameters(kind, 100, k) - target) for k in (h - 1, h, h + 1)}
    assert gaps[h] <= gaps[h - 1] and gaps[h] <= gaps[h + 1]
    if kind == "lstm":
        assert h == 64


def test_next_char_probs_temperature_and_top_k():
    logits = torch.tensor([2.0, 1.0, 0.5, -1.0])
    torch.testing.assert_close(lm.next_char_probs(logits), F.softmax(logits, -1))
    cold, hot = lm.next_char_probs(logits, 0.1), lm.next_char_probs(logits, 10.0)
    assert cold[0] > 0.99  # a low temperature approaches the most likely character
    assert hot.max() - hot.min() < 0.1  # a high one approaches uniform
    top2 = lm.next_char_probs(logits, 1.0, top_k=2)
    assert torch.all(top2[2:] == 0)
    torch.testing.assert_close(top2[:2], F.softmax(logits[:2], -1))
    torch.testing.assert_close(lm.next_char_probs(logits, top_k=10), F.softmax(logits, -1))  # k >= V: no cut


def test_generate_respects_top_k_and_is_seeded():
    torch.manual_seed(0)
    model = CharLM("gru", len(VOCAB), 8)
    text = lm.generate(model, VOCAB, "ab", 40, top_k=1)
    assert text.startswith("ab") and len(text) == 42
    greedy = lm.generate(model, VOCAB, "ab", 40, temperature=1e-3)
    assert text == greedy  # top-1 is greedy decoding, as is a temperature near zero
    a = lm.generate(model, VOCAB, "a", 30, generator=torch.Generator().manual_seed(1))
    b = lm.generate(model, VOCAB, "a", 30, generator=torch.Generator().manual_seed(1))
    assert a == b
    assert lm.generate(model, VOCAB, "a", 0) == "a"


def test_bpc_by_position_matches_a_hand_computation():
    torch.manual_seed(0)
    model = CharLM("lstm", len(VOCAB), 6, embed=3)
    ids = torch.randint(0, len(VOCAB), (40,))
    starts, length = [0, 5, 17], 8
    got = lm.bpc_by_position(model, ids, length, starts)
    expected = torch.zeros(length)
    for s in starts:
        for t in range(length):
            logits, _ = model(ids[s:s + t + 1][None])  # read t + 1 characters from a zero state
            expected[t] += -F.log_softmax(logits[0, -1], -1)[ids[s + t + 1]] / math.log(2)
    torch.testing.assert_close(got, expected / len(starts))


def test_window_bpc_carried_equals_one_pass_and_reset_differs():
    torch.manual_seed(0)
    model = CharLM("gru", len(VOCAB), 6, embed=3)
    ids = torch.randint(0, len(VOCAB), (65,))
    logits, _ = model(ids[:-1][None])
    one_pass = F.cross_entropy(logits[0], ids[1:]).item() / math.log(2)
    assert lm.window_bpc(model, ids, 16, carry=True, streams=1) == pytest.approx(one_pass, rel=1e-5)
    assert lm.window_bpc(model, ids, 4, carry=False, streams=1) != pytest.approx(one_pass, rel=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_activations_are_the_states_after_each_character(kind):
    torch.manual_seed(0)
    model = CharLM(kind, len(VOCAB), 5, layers=2, embed=3)
    ids = torch.randint(0, len(VOCAB), (9,))
    acts = lm.activations(model, ids)
    assert acts.shape == (9, 5)
    _, state = model(ids[:4][None])
    last = (state[1] if kind == "lstm" else state)[-1, 0]
    torch.testing.assert_close(acts[3], last)


def test_save_and_load_round_trip(tmp_path):
    model = CharLM("lstm", len(VOCAB), 7, embed=4)
    lm.save(model, VOCAB, tmp_path / "m.pt")
    again, vocab = lm.load(tmp_path / "m.pt")
    assert vocab == VOCAB and again.config == model.config
    x = torch.randint(0, len(VOCAB), (1, 5))
    torch.testing.assert_close(again(x)[0], model(x)[0])


@pytest.mark.parametrize("call, message", [
    (lambda: CharLM("transformer", 10, 8), "kind"),
    (lambda: CharLM("lstm", 1, 8), "vocab_size"),
    (lambda: CharLM("lstm", 10, 0), "hidden"),
    (lambda: CharLM("lstm", 10, 8)(torch.zeros(3, dtype=torch.long)), "batch, time"),
    (lambda: lm.next_char_probs(torch.zeros(4), temperature=0), "temperature"),
    (lambda: lm.next_char_probs(torch.zeros(4), top_k=0), "top_k"),
    (lambda: lm.generate(CharLM("gru", len(VOCAB), 4), VOCAB, "", 5), "prompt"),
    (lambda: lm.bpc_by_position(CharLM("gru", len(VOCAB), 4), torch.zeros(10, dtype=torch.long), 8, [5]),
     "every start"),
    (lambda: lm.window_bpc(CharLM("gru", len(VOCAB), 4), torch.zeros(10, dtype=torch.long), 8, True), "too few"),
    (lambda: lm.activations(CharLM("gru", len(VOCAB), 4), torch.zeros(0, dtype=torch.long)), "non-empty"),
    (lambda: lm.load("no/such/file.pt"), "no checkpoint"),
])
def test_bad_input_says_what_was_expected(call, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        call()


@pytest.mark.skipif(not lm.CHECKPOINT.is_file(), reason="no shipped checkpoint")
def test_shipped_checkpoint_loads_and_its_log_says_how_it_was_trained():
    import json

    model, vocab = lm.load()
    log = json.loads(lm.CHECKPOINT.with_suffix(".json").read_text())
    assert log["command"].startswith("python -m rnn_course.lm train")
    assert log["config"] == {**vars(model.config)} and log["val_bpc"] < log["unigram_bpc"]
    assert lm.CHECKPOINT.stat().st_size < 5e6
