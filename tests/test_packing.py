"""rnn_course.packing: a padded batch run through the helpers equals every sequence run alone."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.testing import assert_close

from rnn_course.kinds import TORCH_MODULES
from rnn_course.layer import RecurrentLayer
from rnn_course.packing import (bucket_batches, check_lengths, final_hidden, last_valid, length_mask,
                                random_batches, run_padded, wasted_fraction)

MODULES = TORCH_MODULES
F_IN, H = 3, 4
LENGTHS = [5, 1, 7, 3, 7, 2]  # unsorted, with a tie and a length-1 sequence
T = 9  # longer than every length: padding after the longest sequence too
TOL = dict(rtol=1e-12, atol=1e-12)


def padded_batch(lengths=LENGTHS, T=T):
    """A float64 batch whose padding is noise, not zeros: a helper that read it would be caught."""
    return torch.randn(len(lengths), T, F_IN, dtype=torch.float64)


def initial_state(kind, module, B):
    L = module.num_layers * (2 if getattr(module, "bidirectional", False) else 1)
    h0 = torch.randn(L, B, H, dtype=torch.float64)
    return (h0, torch.randn_like(h0)) if kind == "lstm" else h0


def select(state, b):
    """Sequence b of a state, keeping the batch axis."""
    return tuple(s[:, b: b + 1] for s in state) if isinstance(state, tuple) else state[:, b: b + 1]


def assert_equals_alone(module, x, lengths, h0, out, state, reference=None):
    """Every sequence, run alone on its valid steps (by ``reference``, default ``module``), gives the same."""
    reference = module if reference is None else reference
    for b, L in enumerate(lengths):
        out_b, state_b = reference(x[b: b + 1, :L], None if h0 is None else select(h0, b))
        assert_close(out[b: b + 1, :L], out_b, **TOL)
        assert torch.all(out[b, L:] == 0), "the output must be zero on the padding"
        assert_close(select(state, b), state_b, **TOL)


@pytest.mark.parametrize("kind,num_layers,bidirectional,with_h0",
                         list(itertools.product(MODULES, (1, 2), (False, True), (False, True))))
def test_packed_equals_each_sequence_alone(kind, num_layers, bidirectional, with_h0):
    module = MODULES[kind](F_IN, H, num_layers, batch_first=True, bidirectional=bidirectional).double()
    x = padded_batch()
    h0 = initial_state(kind, module, len(LENGTHS)) if with_h0 else None
    out, state = run_padded(module, x, LENGTHS, h0)
    assert out.shape == (len(LENGTHS), T, H * (2 if bidirectional else 1))
    assert type(state) is type(module(x, h0)[1])
    assert_equals_alone(module, x, LENGTHS, h0, out, state)


@pytest.mark.parametrize("kind,num_layers,batch_first", list(itertools.product(MODULES, (1, 2), (True, False))))
def test_segments_equal_each_sequence_alone(kind, num_layers, batch_first):
    module = MODULES[kind](F_IN, H, num_layers, batch_first=batch_first).double()
    x, h0 = padded_batch(), initial_state(kind, module, len(LENGTHS))
    out, state = run_padded(module, x, LENGTHS, h0, method="segments")
    packed_out, packed_state = run_padded(module, x, LENGTHS, h0, method="packed")
    assert_close(out, packed_out, **TOL)
    assert_close(state, packed_state, **TOL)
    if batch_first:
        assert_equals_alone(module, x, LENGTHS, h0, out, state)


@pytest.mark.parametrize("kind,num_layers", list(itertools.product(MODULES, (1, 2))))
def test_course_layer_equals_each_sequence_alone(kind, num_layers):
    """The course's own RecurrentLayer cannot take a PackedSequence: "auto" runs it by segments."""
    torch_module = MODULES[kind](F_IN, H, num_layers, batch_first=True).double()
    layer = RecurrentLayer.from_torch(torch_module)
    x, h0 = padded_batch(), initial_state(kind, torch_module, len(LENGTHS))
    out, state = run_padded(layer, x, LENGTHS, h0)
    assert_equals_alone(layer, x, LENGTHS, h0, out, state, reference=torch_module)


@pytest.mark.parametrize("kind,num_layers", list(itertools.product(MODULES, (1, 2))))
def test_bidirectional_final_state_is_forward_last_and_backward_first(kind, num_layers):
    module = MODULES[kind](F_IN, H, num_layers, batch_first=True, bidirectional=True).double()
    x = padded_batch()
    out, state = run_padded(module, x, LENGTHS)
    h_n = state[0] if kind == "lstm" else state
    lengths = torch.tensor(LENGTHS)
    forward_last = out[torch.arange(len(LENGTHS)), lengths - 1, :H]
    backward_first = out[:, 0, H:]
    expected = torch.cat([forward_last, backward_first], dim=1)
    assert_close(final_hidden(h_n, num_layers, bidirectional=True), expected, **TOL)
    assert_close(last_valid(out, LENGTHS, bidirectional=True), expected, **TOL)
    # The common mistakes: h_n[-1] is the backward direction only; out[:, -1] is padding for short sequences.
    assert h_n[-1].shape == (len(LENGTHS), H)
    assert_close(h_n[-1], backward_first, **TOL)
    assert torch.all(out[:, -1] == 0)


@pytest.mark.parametrize("kind,num_layers", list(itertools.product(MODULES, (1, 2))))
def test_unidirectional_last_valid_is_top_layer_final_state(kind, num_layers):
    module = MODULES[kind](F_IN, H, num_layers, batch_first=True).double()
    out, state = run_padded(module, padded_batch(), LENGTHS)
    h_n = state[0] if kind == "lstm" else state
    assert_close(last_valid(out, LENGTHS), final_hidden(h_n, num_layers, bidirectional=False), **TOL)
    assert_close(final_hidden(h_n, num_layers, bidirectional=False), h_n[-1], **TOL)


def test_lstm_with_projection():
    module = nn.LSTM(F_IN, H, 2, batch_first=True, bidirectional=True, proj_size=2).double()
    x = padded_batch()
    out, (h_n, c_n) = run_padded(module, x, LENGTHS)
    assert out.shape == (len(LENGTHS), T, 4) and h_n.shape == (4, len(LENGTHS), 2) and c_n.shape == (4, len(LENGTHS), H)
    assert_close(final_hidden(h_n, 2, True), last_valid(out, LENGTHS, bidirectional=True), **TOL)
    assert_equals_alone(module, x, LENGTHS, None, out, (h_n, c_n))


@pytest.mark.parametrize("method", ["packed", "segments"])
def test_padding_gets_no_gradient(method):
    module = nn.GRU(F_IN, H, 2, batch_first=True).double()
    x = padded_batch().requires_grad_()
    out, h_n = run_padded(module, x, LENGTHS, method=method)
    (out.square().sum() + h_n.sum()).backward()
    mask = length_mask(LENGTHS, T)
    assert torch.all(x.grad[~mask] == 0)
    alone = torch.zeros_like(x)
    for b, L in enumerate(LENGTHS):
        xb = x.detach()[b: b + 1, :L].clone().requires_grad_()
        o, h = module(xb)
        (o.square().sum() + h.sum()).backward()
        alone[b, :L] = xb.grad[0]
    assert_close(x.grad, alone, **TOL)


def test_lengths_in_any_form():
    module = nn.LSTM(F_IN, H, batch_first=True).double()
    x = padded_batch()
    expected = run_padded(module, x, LENGTHS)[0]
    for lengths in (tuple(LENGTHS), np.array(LENGTHS), np.array(LENGTHS, dtype=np.int32),
                    torch.tensor(LENGTHS, dtype=torch.int32), [np.int64(v) for v in LENGTHS]):
        assert_close(run_padded(module, x, lengths)[0], expected, **TOL)
        assert_close(last_valid(expected, lengths), last_valid(expected, LENGTHS))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_lengths_on_the_gpu():
    module = nn.GRU(F_IN, H, batch_first=True, bidirectional=True).cuda()
    x = torch.randn(len(LENGTHS), T, F_IN, device="cuda")
    lengths = torch.tensor(LENGTHS, device="cuda")
    out, h_n = run_padded(module, x, lengths)
    assert out.device.type == "cuda"
    assert_close(final_hidden(h_n, 1, True), last_valid(out, lengths, bidirectional=True))
    assert length_mask(lengths).device.type == "cuda"


def test_length_mask():
    mask = length_mask(torch.tensor([3, 1, 2]), max_len=4)
    assert mask.tolist() == [[True, True, True, False], [True, False, False, False], [True, True, False, False]]
    assert length_mask([2, 5]).shape == (2, 5)


@pytest.mark.parametrize("lengths,match", [
    ([5, 0, 7, 3, 7, 2], ">= 1"),
    ([5, -1, 7, 3, 7, 2], ">= 1"),
    ([5, 1, 7, 3, 7, 2, 4], "7 lengths for a batch of 6"),
    ([5, 1, 7, 3, 7], "5 lengths for a batch of 6"),
    ([5, 1, 7, 3, 10, 2], "exceeds the padded time axis T = 9"),
    ([5.0, 1.0, 7.0, 3.0, 7.0, 2.0], "integers"),
    (torch.tensor([5.0, 1, 7, 3, 7, 2]), "integers"),
    (np.array([5.0, 1, 7, 3, 7, 2]), "integers"),
    ([True] * 6, "integers"),
    ([5, 1, 7, 3, 7, True], "integers"),
    ((np.float32(5.0), 1, 7, 3, 7, 2), "integers"),
    (torch.tensor([[5, 1, 7, 3, 7, 2]]), "one-dimensional"),
    ([], "empty"),
])
def test_bad_lengths_are_refused(lengths, match):
    module = nn.LSTM(F_IN, H, batch_first=True).double()
    with pytest.raises(ValueError, match=match):
        run_padded(module, padded_batch(), lengths)
    if match not in ("integers", "one-dimensional", "empty", ">= 1"):
        return
    with pytest.raises(ValueError, match=match):
        check_lengths(lengths)


def test_bad_calls_are_refused():
    lstm = nn.LSTM(F_IN, H, batch_first=True).double()
    x = padded_batch()
    with pytest.raises(ValueError, match="batch first"):
        run_padded(lstm, x[0], [3])
    with pytest.raises(ValueError, match="method must be one of"):
        run_padded(lstm, x, LENGTHS, method="sorted")
    with pytest.raises(ValueError, match="needs an nn.RNN"):
        run_padded(RecurrentLayer("lstm", F_IN, H), x.float(), LENGTHS, method="packed")
    with pytest.raises(ValueError, match="unidirectional"):
        run_padded(nn.GRU(F_IN, H, batch_first=True, bidirectional=True).double(), x, LENGTHS, method="segments")
    with pytest.raises(ValueError, match="exceeds"):
        last_valid(torch.zeros(2, 3, 4), [1, 4])
    with pytest.raises(ValueError, match="even number"):
        last_valid(torch.zeros(2, 3, 5), [1, 3], bidirectional=True)
    with pytest.raises(ValueError, match="not the LSTM's tuple"):
        final_hidden(run_padded(lstm, x, LENGTHS)[1], 1, False)
    with pytest.raises(ValueError, match="first axis 2 \\* 2 = 4"):
        final_hidden(torch.zeros(2, 3, 4), 2, True)
    with pytest.raises(ValueError, match="num_layers"):
        final_hidden(torch.zeros(2, 3, 4), 0, True)


def test_wasted_fraction_and_batches():
    lengths = [4, 1, 2, 3]
    assert wasted_fraction(lengths, [[0, 1], [2, 3]]) == pytest.approx(1 - 10 / (2 * 4 + 2 * 3))
    assert wasted_fraction(lengths, [[1], [2], [3], [0]]) == 0.0
    g = torch.Generator().manual_seed(0)
    many = torch.randint(1, 100, (1000,), generator=g)
    buckets, shuffled = bucket_batches(many, 32, generator=g), random_batches(1000, 32, generator=g)
    for batches in (buckets, shuffled):
        assert sorted(i for batch in batches for i in batch) == list(range(1000))
        assert max(len(batch) for batch in batches) == 32
    assert wasted_fraction(many, buckets) < 0.05 < 0.3 < wasted_fraction(many, shuffled)
    with pytest.raises(ValueError, match="batch_size"):
        bucket_batches(lengths, 0)
