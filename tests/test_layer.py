"""RecurrentLayer against nn.RNN/LSTM/GRU, in float64: outputs, states and every gradient at 1e-10."""
import itertools

import pytest
import torch
import torch.nn as nn

from rnn_course.kinds import TORCH_MODULES as MODULES
from rnn_course.layer import RecurrentLayer

TOL = dict(rtol=1e-10, atol=1e-10)
I, H, T = 4, 5, 7


def initial_state(kind, L, B):
    if kind == "lstm":
        return torch.randn(L, B, H, dtype=torch.float64), torch.randn(L, B, H, dtype=torch.float64)
    return torch.randn(L, B, H, dtype=torch.float64)


def flat(state):
    return state if isinstance(state, tuple) else (state,)


CASES = list(itertools.product(MODULES, (1, 3), (1, 2), (False, True)))  # kind, batch, layers, with_state


@pytest.mark.parametrize("kind,batch,layers,with_state", CASES)
def test_layer_equals_torch(kind, batch, layers, with_state):
    reference = MODULES[kind](I, H, num_layers=layers, batch_first=True).double()
    scratch = RecurrentLayer.from_torch(reference)
    x = torch.randn(batch, T, I, dtype=torch.float64)
    state = initial_state(kind, layers, batch) if with_state else None
    results = []
    for layer in (reference, scratch):
        xi = x.clone().requires_grad_()
        si = tuple(s.clone().requires_grad_() for s in flat(state)) if with_state else None
        out, final = layer(xi, (si if kind == "lstm" else si[0]) if with_state else None)
        # A loss that reaches every output and every final state, with different weights.
        loss = (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum()
        loss = loss + sum((f ** 2).sum() for f in flat(final))
        inputs = [xi, *(si or ()), *layer.parameters()]
        results.append((out, flat(final), torch.autograd.grad(loss, inputs)))
    (out_r, fin_r, grad_r), (out_s, fin_s, grad_s) = results
    torch.testing.assert_close(out_s, out_r, **TOL)
    for a, b in zip(fin_s, fin_r):
        torch.testing.assert_close(a, b, **TOL)
    assert len(grad_s) == len(grad_r) == 1 + (len(flat(state)) if with_state else 0) + 4 * layers
    for a, b in zip(grad_s, grad_r):
        torch.testing.assert_close(a, b, **TOL)


def test_named_parameters_follow_torch_order():
    reference = nn.LSTM(I, H, num_layers=2)
    scratch = RecurrentLayer.from_torch(reference)
    names = [n for n, _ in scratch.named_parameters()]
    assert names == [f"cells.{k}.{p}" for k in range(2) for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    for (n_r, p_r), (_, p_s) in zip(reference.named_parameters(), scratch.named_parameters()):
        assert p_r.shape == p_s.shape, n_r


@pytest.mark.parametrize("kind", MODULES)
def test_relu_no_bias_and_sequence_first(kind):
    extra = {"nonlinearity": "relu"} if kind == "rnn" else {}
    reference = MODULES[kind](I, H, num_layers=2, bias=False, batch_first=False, **extra).double()
    scratch = RecurrentLayer.from_torch(reference)
    assert not scratch.batch_first and not scratch.bias
    x = torch.randn(T, 3, I, dtype=torch.float64)  # T, B, I
    torch.testing.assert_close(scratch(x)[0], reference(x)[0], **TOL)


@pytest.mark.parametrize("kind", MODULES)
def test_to_torch_round_trip(kind):
    scratch = RecurrentLayer(kind, I, H, num_layers=2).double()
    reference = scratch.to_torch()
    assert type(reference) is MODULES[kind] and reference.batch_first
    x = torch.randn(2, T, I, dtype=torch.float64)
    torch.testing.assert_close(scratch(x)[0], reference(x)[0], **TOL)


@pytest.mark.parametrize("kind", MODULES)
def test_wrong_shapes_raise_clear_errors(kind):
    layer = RecurrentLayer(kind, I, H, num_layers=2)
    with pytest.raises(ValueError, match=r"\(batch, time, input_size\).*input_size = 4.*\(7, 4\)"):
        layer(torch.randn(T, I))  # 2-D where 3-D is expected
    with pytest.raises(ValueError, match=r"input_size = 4.*\(3, 7, 6\)"):
        layer(torch.randn(3, T, 6))
    with pytest.raises(ValueError, match="time = 0"):
        layer(torch.randn(3, 0, I))
    bad = torch.zeros(1, 3, H)  # one layer's worth for a two-layer module
    if kind == "lstm":
        with pytest.raises(ValueError, match=r"h0 must have shape \(num_layers, batch, hidden_size\) = \(2, 3, 5\)"):
            layer(torch.randn(3, T, I), (bad, torch.zeros(2, 3, H)))
        with pytest.raises(ValueError, match=r"c0 must have shape .* = \(2, 3, 5\), got \(2, 3, 4\)"):
            layer(torch.randn(3, T, I), (torch.zeros(2, 3, H), torch.zeros(2, 3, 4)))
        with pytest.raises(ValueError, match=r"tuple \(h0, c0\)"):
            layer(torch.randn(3, T, I), torch.zeros(2, 3, H))
    else:
        with pytest.raises(ValueError, match=r"h0 must have shape .* = \(2, 3, 5\), got \(1, 3, 5\)"):
            layer(torch.randn(3, T, I), bad)
    cell = layer.cells[0]
    with pytest.raises(ValueError, match=r"\(batch, input_size\) = \(B, 4\)"):
        cell(torch.randn(3, T, I))
    with pytest.raises(ValueError, match=r"\(batch, hidden_size\) = \(3, 5\)"):
        cell(torch.randn(3, I), (torch.zeros(3, 4), torch.zeros(3, 4)) if kind == "lstm" else torch.zeros(3, 4))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="kind must be one of"):
        RecurrentLayer("transformer", I, H)
    with pytest.raises(ValueError, match="num_layers"):
        RecurrentLayer("lstm", I, H, num_layers=0)
    with pytest.raises(ValueError, match="hidden_size must be an int >= 1"):
        RecurrentLayer("gru", I, 0)
    with pytest.raises(ValueError, match="nonlinearity"):
        RecurrentLayer("lstm", I, H, nonlinearity="relu")
    with pytest.raises(ValueError, match="bidirectional"):
        RecurrentLayer.from_torch(nn.LSTM(I, H, bidirectional=True))
    with pytest.raises(ValueError, match="expected an nn.RNN, nn.LSTM or nn.GRU"):
        RecurrentLayer.from_torch(nn.Linear(I, H))


@pytest.mark.parametrize("kind,names", [("lstm", "ifgoc"), ("gru", "rzn"), ("rnn", "")])
def test_gate_tracing_shapes_and_values(kind, names):
    layer = RecurrentLayer(kind, I, H, num_layers=2).double()
    x = torch.randn(3, T, I, dtype=torch.float64)
    out, final, gates = layer(x, return_gates=True)
    plain_out, plain_final = layer(x)
    torch.testing.assert_close(out, plain_out, rtol=0, atol=0)
    for a, b in zip(flat(final), flat(plain_final)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert len(gates) == 2
    for per_layer in gates:
        assert list(per_layer) == list(names)
        assert all(v.shape == (3, T, H) for v in per_layer.values())
    if kind == "lstm":
        top = gates[-1]
        torch.testing.assert_close(out, top["o"] * top["c"].tanh(), **TOL)
        torch.testing.assert_close(final[1][-1], top["c"][:, -1], **TOL)
        assert all(((top[g] > 0) & (top[g] < 1)).all() for g in "ifo")
    if kind == "gru":
        top = gates[-1]
        previous = torch.cat([torch.zeros(3, 1, H, dtype=torch.float64), out[:, :-1]], 1)
        torch.testing.assert_close(out, (1 - top["z"]) * top["n"] + top["z"] * previous, **TOL)
