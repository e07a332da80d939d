"""rnn_course.compare: every model with every seed, the same data for every model of a seed, tidy tables."""
import math

import pandas as pd
import pytest
import torch

from rnn_course.compare import NOT_SOLVED, Comparison, best_settings, compare, rank_settings, summary_table
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
    assert table.solved.tolist() == ["0/2"] and table.median_steps_to_target.iloc[0] == NOT_SOLVED
    assert table.final_min.iloc[0] <= table.final_mean.iloc[0] <= table.final_max.iloc[0]


def test_bad_calls():
    task = AddingProblem(T=10)
    with pytest.raises(ValueError, match="models is empty"):
        compare({}, task, FAST)
    with pytest.raises(ValueError, match="function"):
        compare({"rnn": task.model("rnn", 4)}, task, FAST)
    with pytest.raises(ValueError, match="seeds is empty"):
        compare({"gru": gru(task)}, task, FAST, seeds=[])


def sweep_summary(rows):
    """A Comparison.summary-like table: (model, lr, seed, steps_to_target or None, final_loss)."""
    frame = pd.DataFrame(rows, columns=["model", "lr", "seed", "steps_to_target", "final_loss"])
    return frame.assign(solved=frame.steps_to_target.notna())


def test_rank_settings_by_median_steps_with_unsolved_runs_as_never_then_by_loss():
    summary = sweep_summary([
        ("gru", 0.01, 0, 100, 0.01), ("gru", 0.01, 1, 150, 0.01), ("gru", 0.01, 2, None, 0.05),
        ("gru", 0.03, 0, 50, 0.01), ("gru", 0.03, 1, None, 0.09), ("gru", 0.03, 2, None, 0.08),  # fast once
        ("rnn", 0.01, 0, None, 0.15), ("rnn", 0.01, 1, None, 0.16), ("rnn", 0.01, 2, None, 0.17),
        ("rnn", 0.03, 0, None, 0.12), ("rnn", 0.03, 1, None, 0.20), ("rnn", 0.03, 2, None, 0.13),
    ])
    table = rank_settings(summary)
    assert list(table.model) == ["gru", "gru", "rnn", "rnn"]  # groups in the order they were run
    gru = table[table.model == "gru"].set_index("lr")
    assert gru.loc[0.01, "median_steps_to_target"] == 150 and math.isinf(gru.loc[0.03, "median_steps_to_target"])
    assert gru.loc[0.01, "rank"] == 1 and gru.loc[0.01, "solved"] == "2/3"
    rnn = table[table.model == "rnn"].set_index("lr")
    assert rnn.loc[0.03, "rank"] == 1 and rnn.loc[0.03, "median_final_loss"] == pytest.approx(0.13)  # tie: loss
    assert best_settings(summary) == {"gru": 0.01, "rnn": 0.03}


def test_best_settings_is_a_median_so_one_lucky_seed_does_not_win():
    summary = sweep_summary([("lstm", lr, seed, steps, 0.01) for lr, runs in
                             {1e-3: [10, None, None], 1e-2: [200, 210, 220]}.items()
                             for seed, steps in enumerate(runs)])
    assert best_settings(summary) == {"lstm": 1e-2}
    assert isinstance(best_settings(summary)["lstm"], float)


def test_rank_settings_on_a_real_comparison_and_bad_tables():
    task = AddingProblem(T=6)
    runs = [compare({"gru": gru(task)}, task, FAST.replace(lr=lr), seeds=[0, 1], tags={"lr": lr}) for lr in (1e-2, 1e-4)]
    summary = (runs[0] + runs[1]).summary
    table = rank_settings(summary)
    assert sorted(table["rank"]) == [1, 2] and set(table.lr) == {1e-2, 1e-4}
    assert best_settings(summary) == {"gru": table.loc[table["rank"] == 1, "lr"].item()}
    with pytest.raises(ValueError, match="lacks the columns"):
        rank_settings(summary.drop(columns="lr"))
    with pytest.raises(ValueError, match="empty"):
        rank_settings(summary.iloc[:0])


def test_one_config_per_model():
    task = AddingProblem(T=6)
    configs = {"fast": FAST.replace(steps=5, lr=1e-2), "slow": FAST.replace(steps=5, lr=1e-4)}
    runs = compare({"fast": gru(task), "slow": gru(task)}, task, configs, seeds=[3]).results
    alone = compare({"slow": gru(task)}, task, configs["slow"], seeds=[3]).results[0]
    assert runs[1].losses == alone.losses and runs[0].losses != runs[1].losses  # same weights, each its lr
    with pytest.raises(ValueError, match="one for each model"):
        compare({"fast": gru(task)}, task, configs, seeds=[0])
