"""The continual embedded-Reber stream: grammar, baselines, reproducibility, errors."""
import math

import pytest
import torch

from rnn_course.tasks import ContinualReber
from rnn_course.tasks.reber import (CHANCE_OUTER_ACCURACY, MEAN_STRING_LENGTH, MEMORYLESS_LOSS, N_SYMBOLS,
                                    OPTIMAL_LOSS, SYMBOLS, continual_reber, long_range_mask, outer_accuracy)

REBER = {1: {"T": 2, "P": 3}, 2: {"S": 2, "X": 4}, 3: {"T": 3, "V": 5}, 4: {"X": 3, "S": 6}, 5: {"P": 4, "V": 6}}


def as_text(stream, row=0):
    return SYMBOLS[stream.x[row, 0].argmax()] + "".join(SYMBOLS[k] for k in stream.y[row].tolist())


def parse_embedded(text):
    """Split a stream into complete embedded strings, checking each against the grammar by hand."""
    strings, k = [], 0
    while True:
        inner = text.find("E", k)
        end = text.find("E", inner + 1) if inner >= 0 else -1  # the outer E follows the inner one
        if end < 0:
            return strings
        s = text[k:end + 1]
        assert s[0] == "B" and s[1] in "TP" and s[2] == "B", s
        node = 1
        for ch in s[3:-3]:
            node = REBER[node][ch]  # KeyError: a symbol the grammar does not allow here
        assert node == 6 and s[-3] == "E" and s[-2] == s[1] and s[-1] == "E", s
        strings.append(s)
        k = end + 1


def test_streams_follow_the_embedded_grammar_with_no_boundaries():
    stream = continual_reber(4, 600, torch.Generator().manual_seed(1))
    for row in range(4):
        strings = parse_embedded(as_text(stream, row))
        assert len(strings) > 20
        assert as_text(stream, row).startswith("".join(strings))  # back to back, nothing in between


def test_shapes_dtypes_and_one_hot_inputs_shifted_by_one():
    s = continual_reber(3, 50, torch.Generator().manual_seed(0))
    assert s.x.shape == (3, 50, N_SYMBOLS) and s.x.dtype == torch.float32
    assert s.y.shape == s.long_range.shape == s.branching.shape == (3, 50)
    assert s.y.dtype == torch.long and s.long_range.dtype == torch.bool
    assert torch.equal(s.x.sum(-1), torch.ones(3, 50))
    torch.testing.assert_close(s.x[:, 1:].argmax(-1), s.y[:, :-1])  # the next input is this step's target


def test_long_range_targets_repeat_the_outer_symbol_and_mask_matches():
    s = continual_reber(16, 400, torch.Generator().manual_seed(2))
    assert torch.equal(long_range_mask(s.y), s.long_range)
    text = as_text(s, 0)
    for t in s.long_range[0].nonzero().flatten().tolist():
        start = text.rfind("B", 0, text.rfind("B", 0, t + 1))  # the outer B of this string
        assert text[t + 1] == text[start + 1] and text[t + 1] in "TP"


def test_long_run_rates_match_the_documented_baselines():
    s = continual_reber(64, 2000, torch.Generator().manual_seed(3))
    long_rate, branch_rate = s.long_range.float().mean().item(), s.branching.float().mean().item()
    assert abs(long_rate - 1 / MEAN_STRING_LENGTH) < 0.003
    assert abs(branch_rate - 7 / 12) < 0.01
    assert OPTIMAL_LOSS == pytest.approx(branch_rate * math.log(2), abs=0.01)
    assert MEMORYLESS_LOSS == pytest.approx((branch_rate + long_rate) * math.log(2), abs=0.01)


def test_an_oracle_and_a_memoryless_predictor_score_as_documented():
    s = continual_reber(32, 500, torch.Generator().manual_seed(4))
    oracle = torch.nn.functional.one_hot(s.y, N_SYMBOLS).float() * 10
    assert outer_accuracy(oracle, s.y) == 1.0
    always_t = torch.zeros_like(oracle)
    always_t[..., SYMBOLS.index("T")] = 1.0
    assert abs(outer_accuracy(always_t, s.y) - CHANCE_OUTER_ACCURACY) < 0.05


def test_same_generator_state_same_streams_and_different_seeds_differ():
    a = continual_reber(5, 80, torch.Generator().manual_seed(7))
    b = continual_reber(5, 80, torch.Generator().manual_seed(7))
    c = continual_reber(5, 80, torch.Generator().manual_seed(8))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a.y, c.y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_generated_on_the_generators_device():
    s = continual_reber(2, 30, torch.Generator(device="cuda").manual_seed(0))
    assert s.x.device.type == "cuda" and s.long_range.device.type == "cuda"


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch=0, steps=10), "batch must be an int >= 1"),
    (dict(batch=2, steps=0), "steps must be an int >= 1"),
    (dict(batch=2.0, steps=10), "batch must be an int >= 1"),
    (dict(batch=2, steps=10, generator=0), "generator must be a torch.Generator"),
    (dict(batch=2, steps=10, generator=torch.Generator(), device="meta"), "generator is on cpu"),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        continual_reber(**kwargs)


def test_metric_errors():
    y = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match="expected logits"):
        outer_accuracy(torch.zeros(2, 5, 3), y)
    with pytest.raises(ValueError, match="no long-range prediction"):
        outer_accuracy(torch.zeros(2, 5, N_SYMBOLS), y)
    with pytest.raises(ValueError, match="expected targets of shape"):
        long_range_mask(torch.zeros(5, dtype=torch.long))


def test_batches_continue_the_same_streams():
    """Chunk k + 1 of ``batches`` starts where chunk k stopped: together they are one long stream."""
    task = ContinualReber(T=15)
    chunks = task.batches(4, torch.Generator().manual_seed(3))
    parts = [next(chunks) for _ in range(8)]
    for (_, y), (x_next, _) in zip(parts, parts[1:]):  # each chunk's first input is the last one's last target
        assert torch.equal(x_next[:, 0].argmax(-1), y[:, -1])
    whole = continual_reber(4, 120, torch.Generator().manual_seed(3))._replace(
        x=torch.cat([x for x, _ in parts], 1), y=torch.cat([y for _, y in parts], 1))
    for row in range(4):  # the chunks, put together, are complete embedded strings of the grammar
        assert len(parse_embedded(as_text(whole, row))) >= 5
    x, y = task.sample(4, torch.Generator().manual_seed(3))  # sample: a chunk of new streams
    assert torch.equal(x, parts[0][0]) and torch.equal(y, parts[0][1])
