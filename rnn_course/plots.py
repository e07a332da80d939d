"""Seaborn figures for multi-seed comparisons: learning curves, a summary figure, sweeps, confusion matrices.

They all read the tidy tables of ``rnn_course.compare.Comparison``: ``curves`` (model, seed, step, metric, ...)
and ``summary`` (model, seed, final_metric, steps_to_target, n_params, train_seconds, ...). A line is the mean
over seeds and its band the range (min to max) over seeds; with few seeds, a range hides nothing.
A run stopped early at its target is held at its last evaluated value up to the longest run, so that the
mean at a late step still averages every seed (the figures say so in their axis labels).
Nothing here changes matplotlib's global settings.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

COLORS = {"rnn": "#7f7f7f", "lstm": "#1f77b4", "gru": "#d62728"}
# tab10 without the blue, red and grey above: other models never share a kind's color
OTHER_COLORS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")


def palette(names) -> dict:
    """A fixed color per model name (rnn grey, lstm blue, gru red), others in turn from ``OTHER_COLORS``."""
    names = list(dict.fromkeys(names))
    others = [n for n in names if str(n) not in COLORS]
    if len(others) > len(OTHER_COLORS):
        raise ValueError(f"{len(others)} models besides rnn, lstm and gru; at most {len(OTHER_COLORS)} can be told apart")
    extra = dict(zip(others, OTHER_COLORS))
    return {n: COLORS.get(str(n)) or extra[n] for n in names}


def hold_last(curves: pd.DataFrame, by=("model", "seed"), x: str = "step") -> pd.DataFrame:
    """Extend every run that stopped early to the last step of the table, repeating its last row.

    Runs are grouped by the columns ``by`` (those present); the added rows get ``held = True``.
    """
    keys = [k for k in by if k in curves.columns]
    steps = np.sort(curves[x].unique())
    parts = []
    for _, run in curves.groupby(keys, sort=False):
        run = run.sort_values(x).assign(held=False)
        missing = steps[steps > run[x].max()]
        if len(missing):
            tail = pd.DataFrame([run.iloc[-1]] * len(missing)).assign(**{x: missing, "held": True})
            run = pd.concat([run, tail], ignore_index=True)
        parts.append(run)
    return pd.concat(parts, ignore_index=True)


def plot_curves(curves: pd.DataFrame, y: str = "metric", *, ax=None, hue: str = "model", baseline=None,
                target=None, logy: bool = False, ylabel: str | None = None, title: str | None = None,
                legend: bool = True):
    """Mean (line) and range (band) over seeds of ``y`` against the training step, one color per ``hue``.

    ``baseline`` (chance level) is drawn dashed, ``target`` dotted. Returns the axes.
    """
    if curves.empty:
        raise ValueError("curves is empty: nothing to plot")
    ax = ax or plt.gca()
    data = hold_last(curves, by=(hue, "seed") + tuple(c for c in ("T",) if c != hue))
    sns.lineplot(data=data, x="step", y=y, hue=hue, errorbar=("pi", 100), palette=palette(data[hue]), ax=ax,
                 legend=legend)
    if baseline is not None:
        ax.axhline(baseline, color="black", ls="--", lw=1, label="chance level")
    if target is not None:
        ax.axhline(target, color="black", ls=":", lw=1, label="target")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize="small")
    return ax


def plot_sweep(summary: pd.DataFrame, x: str = "T", y: str = "final_metric", *, ax=None, hue: str = "model",
               baseline=None, logy: bool = False, ylabel: str | None = None, title: str | None = None):
    """``y`` at the end of training against a swept setting ``x``: mean line and every seed as a dot."""
    ax = ax or plt.gca()
    colors = palette(summary[hue])
    sns.lineplot(data=summary, x=x, y=y, hue=hue, errorbar=None, palette=colors, marker="o", ax=ax)
    sns.stripplot(data=summary, x=x, y=y, hue=hue, palette=colors, native_scale=True, dodge=False, alpha=0.5,
                  size=4, legend=False, ax=ax)
    if baseline is not None:
        ax.axhline(baseline, color="black", ls="--", lw=1, label="chance level")
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def summary_figure(curves: pd.DataFrame, summary: pd.DataFrame, *, metric_label: str = "metric",
                   baseline=None, target=None, logy: bool = False, title: str | None = None):
    """The comparison at a glance, 2 x 2: learning curves; final metric against parameters; training time;
    steps to the target (runs that never reached it are drawn at the step cap as open markers).

    Every panel shows every seed; returns the figure.
    """
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    names = list(dict.fromkeys(summary.model))
    colors = palette(names)
    plot_curves(curves, ax=axes[0, 0], baseline=baseline, target=target, logy=logy,
                ylabel=f"held-out {metric_label}", title="learning curves (mean, range over seeds)")

    ax = axes[0, 1]
    sns.scatterplot(data=summary, x="n_params", y="final_metric", hue="model", palette=colors, s=60, ax=ax,
                    legend=False)
    if baseline is not None:
        ax.axhline(baseline, color="black", ls="--", lw=1)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel(f"final {metric_label}")
    ax.set_title("final metric against size (each dot a seed)")

    ax = axes[1, 0]
    sns.barplot(data=summary, x="model", y="train_seconds", hue="model", order=names, palette=colors,
                errorbar=None, alpha=0.5, ax=ax, legend=False)
    sns.stripplot(data=summary, x="model", y="train_seconds", hue="model", order=names, palette=colors,
                  ax=ax, legend=False)
    ax.set_ylabel("training time (s), this machine")
    ax.set_xlabel("")
    ax.set_title("wall time to stop (target or step cap)")

    ax = axes[1, 1]
    cap = int(summary.steps_run.max())
    shown = summary.assign(steps=summary.steps_to_target.fillna(cap).astype(float),
                           reached=summary.steps_to_target.notna())
    for reached, marker, fill in ((True, "o", True), (False, "X", False)):
        part = shown[shown.reached == reached]
        if len(part):
            sns.stripplot(data=part, x="model", y="steps", hue="model", order=names, palette=colors,
                          marker=marker, size=8 if reached else 9, ax=ax, legend=False, jitter=0.15,
                          linewidth=0 if fill else 1)
    ax.axhline(cap, color="black", ls=":", lw=1)
    ax.set_ylim(0, cap * 1.08)
    ax.set_xlabel("")
    ax.set_ylabel("steps to target (X: not reached by the cap)")
    ax.set_title("convergence")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(matrix, classes, *, ax=None, title: str | None = None, normalize: bool = True):
    """A confusion matrix (rows: true class, columns: predicted) as an annotated heatmap."""
    ax = ax or plt.gca()
    matrix = np.asarray(matrix, dtype=float)
    if normalize:
        matrix = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1)
    sns.heatmap(matrix, annot=True, fmt=".2f" if normalize else ".0f", cmap="Blues", vmin=0,
                vmax=1 if normalize else None, xticklabels=classes, yticklabels=classes, cbar=False, ax=ax)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return ax
