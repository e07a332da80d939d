"""Gradient-by-distance measurements: against autograd, by distance, repeatable."""
import pytest
import torch

from rnn_course.gradients import gradient_profile, input_gradient_norms
from rnn_course.tasks import FirstSign


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
