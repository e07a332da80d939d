"""rnn_course.compare: every model with every seed, the same data for every model of a seed, tidy tables."""
import math

import pytest
import torch

from rnn_course.compare import Comparison, compare, summary_table
from rnn_course.tasks import AddingProblem
from rnn_course.train import TrainConfig

FAST = TrainConfig(steps=60, batch_size=32, lr=1e-2, eval_every=20, eval_size=128, progress=False)


def gru(task, hidden=16):
    return lambda: task.model("gru", hidden)


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
    frame = comparison.results[0].to_frame()
    assert list(frame.step) == [0, 20, 40, 60] and frame.metric.tolist() == comparison.results[0].eval_metrics


def test_same_data_for_every_model_of_a_seed_and_weights_from_the_seed():
    task = AddingProblem(T=6)
    runs = compare({"a": gru(task), "b": gru(task)}, task, FAST.replace(steps=5), seeds=[2]).results
    assert runs[0].losses == runs[1].losses  # same initial weights (seeded) and same batches


def test_summary_table_counts_solved_runs_and_leaves_unsolved_out_of_the_median():
    task = AddingProblem(T=6)
    comparison = compare({"gru": gru(task)}, task, FAST.replace(steps=20, target=-1.0), seeds=[0, 1])
    table = summary_table(comparison.summary)
    assert table.solved.tolist() == ["0/2"] and math.isnan(table.median_steps_to_target.iloc[0])
    assert table.final_min.iloc[0] <= table.final_mean.iloc[0] <= table.final_max.iloc[0]


def test_bad_calls():
    task = AddingProblem(T=10)
    with pytest.raises(ValueError, match="models is empty"):
        compare({}, task, FAST)
    with pytest.raises(ValueError, match="function"):
        compare({"rnn": task.model("rnn", 4)}, task, FAST)
    with pytest.raises(ValueError, match="seeds is empty"):
        compare({"gru": gru(task)}, task, FAST, seeds=[])
