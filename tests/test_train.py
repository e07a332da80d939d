"""rnn_course.train: the loop learns, is deterministic, stops at its target, and gives tidy tables."""
import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from rnn_course.models import SequenceModel
from rnn_course.tasks import AddingProblem, SequentialXOR
from rnn_course.train import Comparison, TrainConfig, compare, evaluate, predict, train

FAST = TrainConfig(steps=60, batch_size=32, lr=1e-2, eval_every=20, eval_size=128, progress=False)


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def gru(task, hidden=16):
    return lambda: task.model("gru", hidden)


def test_loop_lowers_the_loss():
    task = SequentialXOR(T=12, lag=1)
    torch.manual_seed(0)
    result = train(task.model("gru", 16), task, FAST.replace(steps=150, eval_every=50), seed=0)
    assert result.eval_losses[0] > 0.6
    assert result.final_loss < 0.5 * result.eval_losses[0]
    assert result.final_metric > 0.9
    assert result.train_seconds < 20


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


def test_tables():
    task = AddingProblem(T=10)
    comparison = compare({"gru": gru(task), "rnn": lambda: task.model("rnn", 16)}, task, FAST, seeds=[0, 1],
                         tags={"T": 10})
    curves, summary = comparison.curves, comparison.summary
    assert len(summary) == 4 and set(summary.model) == {"gru", "rnn"} and set(summary.seed) == {0, 1}
    assert {"model", "seed", "task", "step", "eval_loss", "metric", "train_loss", "T"} <= set(curves.columns)
    assert len(curves) == 4 * 4  # 4 runs x evaluations at 0, 20, 40, 60
    assert (curves["T"] == 10).all()
    assert math.isnan(curves.loc[curves.step == 0, "train_loss"].iloc[0])
    assert summary.n_params.gt(0).all() and summary.train_seconds.gt(0).all()
    both = comparison + comparison
    assert isinstance(both, Comparison) and len(both.summary) == 8
    assert isinstance(comparison.results[0].to_frame(), pd.DataFrame)


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
    with pytest.raises(ValueError, match="models is empty"):
        compare({}, task, FAST)
    with pytest.raises(ValueError, match="function"):
        compare({"rnn": task.model("rnn", 4)}, task, FAST)
