"""rnn_course.plots: distinct colors, runs held at their last value, and every figure drawn from real tables."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rnn_course.compare import compare  # noqa: E402
from rnn_course.plots import COLORS, hold_last, palette, plot_confusion, plot_curves, plot_sweep  # noqa: E402
from rnn_course.plots import summary_figure  # noqa: E402
from rnn_course.tasks import AddingProblem  # noqa: E402
from rnn_course.train import TrainConfig  # noqa: E402


def test_palette_keeps_the_kinds_colors_and_never_reuses_them():
    colors = palette(["gru", "lstm (course cells)", "rnn", "gru (course cells)", "lstm"])
    assert colors["gru"] == COLORS["gru"] and colors["lstm"] == COLORS["lstm"] and colors["rnn"] == COLORS["rnn"]
    assert len(set(colors.values())) == 5
    with pytest.raises(ValueError, match="can be told apart"):
        palette([f"m{i}" for i in range(20)])


def test_hold_last_extends_runs_that_stopped_early():
    curves = pd.DataFrame({"model": ["a", "a", "b"], "seed": [0, 0, 0], "step": [0, 10, 0], "metric": [1, 2, 5]})
    held = hold_last(curves)
    b = held[held.model == "b"].sort_values("step")
    assert b.step.tolist() == [0, 10] and b.metric.tolist() == [5, 5] and b.held.tolist() == [False, True]


@pytest.fixture(scope="module")
def runs():
    task = AddingProblem(T=5)
    config = TrainConfig(steps=20, batch_size=16, eval_every=10, eval_size=32, progress=False)
    return compare(task.builders(["rnn", "gru"], 4), task, config, seeds=[0, 1], tags={"T": 5})


def test_figures_draw(runs):
    fig, ax = plt.subplots()
    plot_curves(runs.curves, ax=ax, baseline=1 / 6, target=0.01, logy=True)
    assert len(ax.get_lines()) >= 2
    fig, ax = plt.subplots()
    plot_sweep(runs.summary, x="T", ax=ax)
    summary_figure(runs.curves, runs.summary, metric_label="mse", baseline=1 / 6, target=0.01, title="t")
    fig, ax = plt.subplots()
    plot_confusion(np.array([[3, 1], [0, 4]]), ["a", "b"], ax=ax, title="c")
    plt.close("all")
