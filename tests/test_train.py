"""rnn_course.train: the loop learns, is deterministic, stops at its target, and gives tidy tables."""
import math

import pytest
import torch
import torch.nn.functional as F

from rnn_course.compare import compare
from rnn_course.init import set_recurrent_spectral_norm
from rnn_course.models import SequenceModel
from rnn_course.tasks import AddingProblem, ContinualReber, FirstSign, SequentialXOR
from rnn_course.tasks.reber import evaluation_set
from rnn_course.train import TrainConfig, detach_state, evaluate, predict, train

FAST = TrainConfig(steps=60, batch_size=32, lr=1e-2, eval_every=20, eval_size=128, progress=False)


def gru(task, hidden=16):
    return lambda: task.model("gru", hidden)


def test_loop_lowers_the_loss():
    task = SequentialXOR(T=12, lag=1)
    torch.manual_seed(0)
    result = train(task.model("gru", 16), task, FAST.replace(steps=150, eval_every=50), seed=0)
    assert result.eval_losses[0] > 0.6
    assert result.final_loss < 0.5 * result.eval_losses[0]
    assert result.final_metric > 0.9
    assert 0 < result.train_seconds <= result.wall_seconds
    assert result.eval_seconds[0] == 0 and result.eval_seconds == sorted(result.eval_seconds)
    assert result.eval_seconds[-1] == pytest.approx(result.train_seconds)


def test_same_seed_same_losses_and_other_seed_differs():
    task = AddingProblem(T=10)
    runs = [compare({"gru": gru(task)}, task, FAST, seeds=[seed]).results[0] for seed in (3, 3, 4)]
    assert runs[0].losses == runs[1].losses
    assert runs[0].eval_metrics == runs[1].eval_metrics
    assert runs[0].losses != runs[2].losses


def test_stops_at_target():
    task = SequentialXOR(T=12, lag=1)
    torch.manual_seed(0)
    config = FAST.replace(steps=500, eval_every=10, target=0.75)
    result = train(task.model("gru", 16), task, config, seed=0)
    assert result.solved
    assert result.steps_run == result.steps_to_target < 500
    assert result.eval_metrics[-1] >= 0.75
    assert all(m < 0.75 for m in result.eval_metrics[:-1])
    assert len(result.losses) == result.steps_run


def test_unreachable_target_runs_all_steps():
    task = AddingProblem(T=10)
    result = train(task.model("rnn", 8), task, FAST.replace(target=-1.0), seed=0)
    assert not result.solved and result.steps_to_target is None
    assert result.steps_run == FAST.steps
    assert result.eval_steps == [0, 20, 40, 60]


def test_fixed_train_set_epochs():
    task = SequentialXOR(T=8)
    data = task.sample(100, torch.Generator().manual_seed(0))
    result = train(task.model("lstm", 8), task, FAST.replace(epochs=3, eval_every=1000), seed=0, train_set=data,
                   eval_set=data)
    assert result.steps_run == 3 * math.ceil(100 / FAST.batch_size)
    assert result.eval_steps == [0, result.steps_run]


class PaddedAdding(AddingProblem):
    """The adding problem with random lengths, padded: returns (x, y, lengths)."""

    def sample(self, batch_size, generator):
        x, y = super().sample(batch_size, generator)
        lengths = torch.randint(self.T // 2 + 1, self.T + 1, (batch_size,), generator=generator)
        keep = torch.arange(self.T) < lengths[:, None]
        x = x * keep.unsqueeze(-1)
        y = (x[..., 0] * x[..., 1]).sum(1, keepdim=True)
        return x, y, lengths


def test_batches_with_lengths():
    task = PaddedAdding(T=10)
    result = train(task.model("gru", 8), task, FAST, seed=0)
    assert len(result.losses) == FAST.steps
    x, y, lengths = task.sample(16, torch.Generator().manual_seed(1))
    loss, metric = evaluate(result_model := task.model("gru", 8), task, (x, y, lengths))
    assert loss == pytest.approx(F.mse_loss(result_model(x, lengths), y).item())
    assert predict(result_model, x, lengths, batch_size=5).shape == (16, 1)
    # the lengths are used: reading every sequence at its full padded length gives other outputs
    assert (lengths < x.size(1)).any()
    with torch.no_grad():
        assert not torch.allclose(result_model(x, lengths), result_model(x, torch.full_like(lengths, x.size(1))))


def test_predict_restores_training_mode():
    model = SequenceModel("rnn", 2, 4, 1)
    model.train()
    predict(model, torch.randn(3, 5, 2))
    assert model.training


@pytest.mark.parametrize("field, value", [("steps", 0), ("batch_size", -1), ("lr", 0.0), ("clip", 0.0),
                                          ("eval_every", 1.5), ("epochs", 0)])
def test_bad_config(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_bad_calls():
    task = AddingProblem(T=10)
    with pytest.raises(ValueError, match="seed"):
        train(task.model("rnn", 4), task, FAST, seed=-1)
    with pytest.raises(ValueError, match="epochs"):
        train(task.model("rnn", 4), task, FAST.replace(epochs=2), seed=0)
    with pytest.raises(ValueError, match="TrainConfig.optimizer must be one of"):
        FAST.replace(optimizer="lbfgs")
    with pytest.raises(ValueError, match="step_fn must be a function"):
        train(task.model("rnn", 4), task, FAST, step_fn=3)


def test_sgd_clips_every_step_and_records_the_norm_before_clipping():
    task = FirstSign(T=4)
    model = SequenceModel("rnn", 1, 4, 2)
    set_recurrent_spectral_norm(model.rnn, 3.0, torch.Generator().manual_seed(0))
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    config = FAST.replace(steps=1, lr=0.5, clip=0.1, batch_size=16, optimizer="sgd")
    result = train(model, task, config, seed=0)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert len(result.grad_norms) == 1 and result.grad_norms[0] > 0.1  # the norm before clipping
    assert (after - before).norm() == pytest.approx(0.5 * 0.1, rel=1e-4)  # SGD: a step of lr * clip exactly


def test_gradient_norms_are_recorded_without_clipping():
    task = AddingProblem(T=6)
    result = train(task.model("gru", 8), task, FAST.replace(steps=5, clip=None), seed=0)
    assert len(result.grad_norms) == 5 and all(n > 0 for n in result.grad_norms)


class Recorder(torch.nn.Module):
    """A stream model that records the state each call starts from."""

    def __init__(self, task):
        super().__init__()
        self.model = task.model("gru", 6)
        self.seen = []

    def forward(self, x, state=None, return_state=False):
        self.seen.append((x.shape[0], None if state is None else state.clone()))
        out, new = self.model(x, state=state, return_state=True)
        self.last = new
        return (out, new) if return_state else out


def test_carry_state_is_truncated_bptt():
    task = ContinualReber(T=5)
    model = Recorder(task)
    eval_set = evaluation_set(8, 40, 10, torch.Generator().manual_seed(1))
    result = train(model, task, FAST.replace(steps=4, eval_every=100, carry_state=True), seed=0, eval_set=eval_set)
    train_calls = [s for b, s in model.seen if b == FAST.batch_size]  # the evaluations use batches of 8
    assert len(train_calls) == 4 and train_calls[0] is None
    assert all(s is not None for s in train_calls[1:])  # carried after the first batch
    assert not any(s.requires_grad for s in train_calls[1:])  # detached: no gradient into the last batch
    assert result.steps_run == 4


def test_carry_state_without_the_detach_fails_as_learners_see_it():
    task = ContinualReber(T=5)
    model = task.model("gru", 6)
    x, y = task.sample(4, torch.Generator().manual_seed(0))
    out, state = model(x, return_state=True)
    task.loss(out, y).backward()
    out, _ = model(x, state=state, return_state=True)  # the old graph is gone
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        task.loss(out, y).backward()
    out, _ = model(x, state=detach_state(state), return_state=True)
    task.loss(out, y).backward()  # detached: fine


class Chunks(AddingProblem):
    """The adding problem through ``batches``, with a reset marker every other batch, and its own evaluation."""

    def batches(self, batch_size, generator):
        while True:
            yield None
            yield self.sample(batch_size, generator)

    def evaluate(self, model):
        return 1.0, 0.5


def test_task_batches_resets_and_own_evaluation():
    task = Chunks(T=6)
    result = train(task.model("gru", 8), task, FAST.replace(steps=3, eval_every=1), seed=0)
    assert result.steps_run == 3 and len(result.losses) == 3  # the None markers are not steps
    assert result.eval_losses == [1.0] * 4 and result.eval_metrics == [0.5] * 4


def test_step_fn_replaces_the_loops_own_step():
    task = AddingProblem(T=6)
    calls = []

    def my_step(model, optimizer, x, y, state):
        calls.append(state)
        loss = task.loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item(), torch.full((1,), float(len(calls)))

    result = train(task.model("gru", 8), task, FAST.replace(steps=3, carry_state=True), step_fn=my_step, seed=0)
    assert calls[0] is None and [float(c) for c in calls[1:]] == [1.0, 2.0] and len(result.losses) == 3
    assert all(math.isnan(n) for n in result.grad_norms)


def test_detach_state_keeps_values_and_cuts_history():
    h = torch.randn(2, 3, requires_grad=True) * 2
    c = torch.randn(2, 3, requires_grad=True) * 3
    for state in (h, (h, c)):
        out = detach_state(state)
        flat = out if isinstance(out, tuple) else (out,)
        ref = state if isinstance(state, tuple) else (state,)
        assert type(out) is type(state)
        for a, b in zip(flat, ref):
            assert not a.requires_grad and a.grad_fn is None and torch.equal(a, b)
    assert detach_state(None) is None
    with pytest.raises(ValueError, match="state must be"):
        detach_state("h")
