"""Gradient-by-distance measurements, the first-sign task and the weight-setting helpers."""
import math

import pytest
import torch
import torch.nn as nn

from rnn_course.cells import RecurrentLayer
from rnn_course.gradients import (FirstSign, gradient_profile, input_gradient_norms, set_keep_bias,
                                  set_recurrent_spectral_norm, sgd_run)
from rnn_course.models import SequenceModel


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


@pytest.mark.parametrize("rnn", [nn.LSTM(3, 4), nn.GRU(3, 4, num_layers=2), RecurrentLayer("lstm", 3, 4)])
def test_set_keep_bias_sets_the_second_gate_block(rnn):
    set_keep_bias(rnn, 2.5)
    for name, p in rnn.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf.startswith("bias_ih"):
            assert (p[4:8] == 2.5).all() and not (p[:4] == 2.5).any()
        if leaf.startswith("bias_hh"):
            assert (p[4:8] == 0).all()


def test_set_keep_bias_rejects_a_module_without_gates():
    with pytest.raises(ValueError, match="expected the 3 or 4 gate blocks"):
        set_keep_bias(nn.RNN(3, 4), 1.0)
    with pytest.raises(ValueError, match="no gate biases"):
        set_keep_bias(nn.LSTM(3, 4, bias=False), 1.0)


@pytest.mark.parametrize("module,blocks", [(nn.RNN, 1), (nn.LSTM, 4), (nn.GRU, 3)])
def test_spectral_norm_of_every_block(module, blocks):
    rnn = module(3, 6, num_layers=2)
    set_recurrent_spectral_norm(rnn, 1.7, torch.Generator().manual_seed(0))
    for name in ("weight_hh_l0", "weight_hh_l1"):
        w = getattr(rnn, name).detach().double()
        for block in w.chunk(blocks):
            torch.testing.assert_close(torch.linalg.svdvals(block), torch.full((6,), 1.7, dtype=torch.float64),
                                       rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="value must be > 0"):
        set_recurrent_spectral_norm(rnn, 0.0)


def test_input_gradient_norms_match_autograd_and_order_by_distance():
    task = FirstSign(T=6)
    model = task.model("gru", 5).double()
    x, y = task.sample(3, torch.Generator().manual_seed(1))
    norms = input_gradient_norms(model, task, x, y)
    assert norms.shape == (6,) and next(model.parameters()).dtype == torch.float64
    expected = []
    for b in range(3):  # each sequence alone: its own gradient
        xb = x[b:b + 1].double().requires_grad_()
        (g,) = torch.autograd.grad(task.loss(model(xb), y[b:b + 1]), xb)
        expected.append(g[0].norm(dim=1))  # T
    torch.testing.assert_close(norms, torch.stack(expected).mean(0).flip(0))


def test_input_gradient_norms_without_recurrence_reach_only_the_last_step():
    task = FirstSign(T=5)
    model = task.model("rnn", 4)
    with torch.no_grad():
        model.rnn.weight_hh_l0.zero_()
    norms = input_gradient_norms(model, task, *task.sample(8, torch.Generator().manual_seed(0)))
    assert norms[0] > 0 and (norms[1:] == 0).all()
    assert next(model.parameters()).dtype == torch.float32  # put back in its own dtype
    with pytest.raises(ValueError, match=r"\(batch, time, features\)"):
        input_gradient_norms(model, task, torch.zeros(5, 1), torch.zeros(5))


def test_gradient_profile_is_tidy_and_repeatable():
    task = FirstSign(T=9)
    a = gradient_profile("lstm", task, seeds=(0, 1), hidden_size=4, batch=3, keep_bias=2.0, label="L")
    b = gradient_profile("lstm", task, seeds=(0, 1), hidden_size=4, batch=3, keep_bias=2.0, label="L")
    assert list(a.columns) == ["model", "seed", "distance", "grad_norm"] and len(a) == 2 * 9
    assert (a.model == "L").all() and a.equals(b)
    open_gate = a.groupby("distance").grad_norm.mean()
    closed = gradient_profile("lstm", task, seeds=(0, 1), hidden_size=4, batch=3, keep_bias=-4.0)
    assert open_gate[8] > closed.groupby("distance").grad_norm.mean()[8]


def test_sgd_run_clips_every_step():
    task = FirstSign(T=4)
    model = SequenceModel("rnn", 1, 4, 2)
    set_recurrent_spectral_norm(model.rnn, 3.0, torch.Generator().manual_seed(0))
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    run = sgd_run(model, task, steps=1, lr=0.5, clip=0.1, batch=16)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert list(run.columns) == ["step", "loss", "grad_norm"] and len(run) == 1
    assert (after - before).norm() <= 0.5 * 0.1 * (1 + 1e-5)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        sgd_run(model, task, steps=0, lr=0.1)
