"""rnn_course.tasks: each task's statistics match its documented baseline; generation is reproducible; errors."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from rnn_course.tasks import (IGNORE, TASKS, AddingProblem, CopyMemory, DelayedEcho, FirstSign, LastToken,
                              ParityOfSum, SequentialXOR, TemporalOrder, TrendSineWalk)

ALL = [AddingProblem(T=20), CopyMemory(T=5), DelayedEcho(T=12, delay=3), SequentialXOR(T=12, lag=3),
       TemporalOrder(T=30), TrendSineWalk(T=10, n_features=4, delay=5), FirstSign(T=6)]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("task", ALL, ids=lambda t: t.name)
def test_reproducible_from_the_seed(task):
    a, b, c = (task.sample(16, gen(s)) for s in (1, 1, 2))
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("task", ALL, ids=lambda t: t.name)
def test_interface_and_model(task):
    x, y = task.sample(8, gen())
    assert x.dtype == torch.float32 and x.shape[0] == 8 and x.shape[-1] == task.input_size
    pred = task.model("gru", 8)(x)
    assert pred.shape[-1] == task.output_size
    assert torch.isfinite(task.loss(pred, y))
    assert isinstance(task.metric(pred, y), float)
    assert TASKS[task.name] is type(task)


def test_adding_target_statistics_match_the_baseline():
    task = AddingProblem(T=30)
    x, y = task.sample(40_000, gen())
    n = y.numel()
    assert abs(y.mean().item() - 1.0) < 4 * math.sqrt(1 / 6 / n)
    # the variance of the target is 1/6 within sampling error (sd of a sample variance ~ sigma^2 sqrt(2/n))
    assert abs(y.var().item() - 1 / 6) < 4 * (1 / 6) * math.sqrt(2 / n)
    assert task.metric(torch.ones_like(y), y) == pytest.approx(1 / 6, rel=0.02)
    assert task.baseline_loss == task.baseline_metric == 1 / 6


def test_adding_markers_one_per_half():
    task = AddingProblem(T=11)
    x, y = task.sample(500, gen())
    marker = x[..., 1]
    assert torch.all(marker.sum(1) == 2)
    assert torch.all(marker[:, :5].sum(1) == 1) and torch.all(marker[:, 5:].sum(1) == 1)
    assert_close(y[:, 0], (x[..., 0] * marker).sum(1))
    assert torch.all((x[..., 0] >= 0) & (x[..., 0] < 1))


@pytest.mark.parametrize("T, n_copy, n_symbols", [(20, 10, 8), (7, 3, 4)])
def test_copy_memoryless_loss_is_the_documented_baseline(T, n_copy, n_symbols):
    task = CopyMemory(T=T, n_copy=n_copy, n_symbols=n_symbols)
    x, y = task.sample(64, gen())
    L = T + 2 * n_copy
    assert x.shape == (64, L, n_symbols + 2) and y.shape == (64, L)
    ids = x.argmax(-1)
    assert torch.equal(y[:, -n_copy:], ids[:, :n_copy])  # the output repeats the input symbols
    assert torch.all(y[:, :-n_copy] == 0)
    assert torch.all(ids[:, T + n_copy - 1] == n_symbols + 1)  # the delimiter
    assert torch.all(ids[:, n_copy: T + n_copy - 1] == 0) and torch.all(ids[:, T + n_copy:] == 0)
    # memoryless: certain "blank" before the recall, uniform over the symbols during it
    logp = torch.full((64, L, n_symbols + 1), -math.inf)
    logp[:, :-n_copy, 0] = 0.0
    logp[:, -n_copy:, 1:] = -math.log(n_symbols)
    assert task.loss(logp, y).item() == pytest.approx(n_copy * math.log(n_symbols) / L, rel=1e-6)
    assert task.baseline_loss == pytest.approx(n_copy * math.log(n_symbols) / L)
    if (T, n_copy, n_symbols) == (20, 10, 8):
        assert task.baseline_loss == pytest.approx(10 * math.log(8) / (T + 20))


def test_copy_recall_accuracy():
    task = CopyMemory(T=4, n_copy=3)
    x, y = task.sample(10, gen())
    perfect = F.one_hot(y, task.output_size).float()
    assert task.metric(perfect, y) == 1.0
    assert task.baseline_metric == 1 / 8


@pytest.mark.parametrize("lag", [1, 4])
def test_xor_labels(lag):
    task = SequentialXOR(T=20, lag=lag)
    x, y = task.sample(2000, gen())
    bits = x[..., 0].long()
    assert torch.all(y[:, :lag] == IGNORE)
    assert torch.equal(y[:, lag:], bits[:, lag:] ^ bits[:, :-lag])
    assert abs(y[:, lag:].float().mean().item() - 0.5) < 0.01  # a fair coin without memory
    coin = torch.zeros(2000, 20, 2)  # equal logits: cross-entropy ln 2
    assert task.loss(coin, y).item() == pytest.approx(math.log(2), rel=1e-6) == task.baseline_loss


def test_temporal_order():
    task = TemporalOrder(T=40)
    x, y = task.sample(4000, gen())
    ids = x.argmax(-1)
    assert torch.all(ids[:, 0] == 6) and torch.all(ids[:, -1] == 7)
    relevant = (ids == 4) | (ids == 5)
    assert torch.all(relevant.sum(1) == 2)
    assert torch.all(relevant[:, 4:8].sum(1) == 1) and torch.all(relevant[:, 20:24].sum(1) == 1)
    first = ids[:, 4:8][relevant[:, 4:8]] - 4
    second = ids[:, 20:24][relevant[:, 20:24]] - 4
    assert torch.equal(y, 2 * first + second)
    counts = torch.bincount(y, minlength=4).float() / 4000
    assert torch.all((counts - 0.25).abs() < 0.03)


def test_trend_sine_walk():
    task = TrendSineWalk(T=50, n_features=3, delay=20)
    x, y = task.sample(3000, gen())
    assert x.shape == (3000, 70, 3)
    counts = torch.bincount(y, minlength=3).float() / 3000
    assert torch.all((counts - 1 / 3).abs() < 0.03)
    signal = x[:, :50].mean(-1)  # B, T
    assert signal[y == 0, -1].mean().item() == pytest.approx(1.0, abs=0.05)  # the trend ends at 1
    assert signal[y == 1].mean(0)[6].item() == pytest.approx(math.sin(4 * math.pi * 6 / 49), abs=0.05)
    for label in range(3):  # the delay is the same noise for every class
        delay = x[y == label, 50:]
        assert abs(delay.mean().item()) < 0.01 and delay.std().item() == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize("make, match", [
    (lambda: AddingProblem(T=1), "T must be an int >= 2"),
    (lambda: CopyMemory(T=0), "T must be"),
    (lambda: CopyMemory(T=5, n_symbols=1), "n_symbols"),
    (lambda: SequentialXOR(T=3, lag=3), "T must be > lag"),
    (lambda: TemporalOrder(T=19), "T must be an int >= 20"),
    (lambda: TrendSineWalk(delay=-1), "delay"),
    (lambda: AddingProblem(T=10.0), "T must be an int"),
])
def test_bad_task_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("task", ALL, ids=lambda t: t.name)
def test_bad_sample_arguments(task):
    with pytest.raises(ValueError, match="batch_size"):
        task.sample(0, gen())
    with pytest.raises(ValueError, match="torch.Generator"):
        task.sample(4, 0)


def test_first_sign_labels_are_the_sign_of_the_first_input():
    task = FirstSign(T=7)
    x, y = task.sample(50, torch.Generator().manual_seed(0))
    assert x.shape == (50, 7, 1) and y.shape == (50,) and y.dtype == torch.int64
    assert torch.equal(y, (x[:, 0, 0] > 0).long())
    again, _ = task.sample(50, torch.Generator().manual_seed(0))
    assert torch.equal(x, again)
    assert task.baseline_loss == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="T must be an int >= 1"):
        FirstSign(T=0)
    with pytest.raises(ValueError, match="torch.Generator"):
        task.sample(4, 0)


def test_last_token_labels_the_last_real_token_and_pads_with_zero():
    task = LastToken(max_len=12, min_len=2, vocab=6)
    ids, y, lengths = task.sample(300, torch.Generator().manual_seed(0))
    assert ids.shape == (300, 12) and y.shape == lengths.shape == (300,)
    assert int(lengths.min()) >= 2 and int(lengths.max()) <= 12 and len(set(lengths.tolist())) > 5
    steps = torch.arange(12)
    assert torch.all((ids == 0) == (steps >= lengths[:, None]))  # id 0 exactly on the padding
    assert torch.equal(y + 1, ids[torch.arange(300), lengths - 1])  # class = last real token - 1
    assert set(y.tolist()) == set(range(task.output_size)) and task.output_size == 5
    assert task.baseline_metric == pytest.approx(1 / 5) and task.baseline_loss == pytest.approx(math.log(5))
    blind = LastToken(max_len=12, min_len=2, vocab=6, with_lengths=False)
    same = blind.sample(300, torch.Generator().manual_seed(0))
    assert len(same) == 2 and torch.equal(same[0], ids) and torch.equal(same[1], y)  # same data, no lengths
    model = task.model("gru", 8)
    assert model.embedding.num_embeddings == 6 and model(ids, lengths).shape == (300, 5)


def test_parity_of_sum_labels_the_parity_and_pads_either_side():
    task = ParityOfSum(max_len=9, min_len=1, vocab=10)
    ids, y, lengths = task.sample(2000, torch.Generator().manual_seed(0))
    assert ids.shape == (2000, 9) and y.shape == lengths.shape == (2000,)
    assert int(lengths.min()) == 1 and int(lengths.max()) == 9
    steps = torch.arange(9)
    assert torch.all((ids == 0) == (steps >= lengths[:, None]))  # right padding: id 0 after the tokens
    by_hand = torch.tensor([int(sum(row[:n].tolist())) % 2 for row, n in zip(ids, lengths)])
    assert torch.equal(y, by_hand) and y.dtype == torch.int64
    assert abs(y.float().mean().item() - 0.5) < 0.05  # close to balanced over all lengths
    one = y[lengths == 1].float().mean().item()  # a one-token sequence is odd with probability 5/9
    assert abs(one - 5 / 9) < 0.08
    assert task.baseline_metric == 0.5 and task.baseline_loss == pytest.approx(math.log(2))
    left = ParityOfSum(max_len=9, min_len=1, vocab=10, padding="left", with_lengths=False)
    ids_left, y_left = left.sample(2000, torch.Generator().manual_seed(0))
    assert torch.equal(y_left, y)
    assert torch.all((ids_left == 0) == (steps < (9 - lengths)[:, None]))  # left padding: id 0 before them
    for row, row_left, n in zip(ids[:50], ids_left[:50], lengths[:50]):
        assert torch.equal(row_left[9 - n:], row[:n])  # the same tokens, in the same order
    model = task.model("lstm", 8, head_dropout=0.3)
    assert model.embedding.padding_idx == 0 and model(ids, lengths).shape == (2000, 2)
    assert TASKS[task.name] is ParityOfSum


def test_parity_of_sum_errors():
    with pytest.raises(ValueError, match="padding must be one of"):
        ParityOfSum(padding="middle")
    with pytest.raises(ValueError, match="max_len must be an int >= 5"):
        ParityOfSum(max_len=4, min_len=5)


def test_last_token_errors():
    with pytest.raises(ValueError, match="max_len must be an int >= 5"):
        LastToken(max_len=4, min_len=5)
    with pytest.raises(ValueError, match="vocab must be an int >= 3"):
        LastToken(vocab=2)


def test_echo_repeats_the_bit_of_delay_steps_ago():
    task = DelayedEcho(T=10, delay=4)
    x, y = task.sample(200, gen())
    assert torch.all(y[:, :4] == IGNORE)
    assert torch.equal(y[:, 4:], x[:, :-4, 0].long())
    assert 0.45 < x.mean().item() < 0.55 and task.baseline_metric == 0.5
    with pytest.raises(ValueError, match="T must be an int >= 5"):
        DelayedEcho(T=4, delay=4)
