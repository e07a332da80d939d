r"""The gate-ablation study: named configurations, their parameter counts, and what the papers report.

Each ``Ablation`` names one change to the course's LSTM or GRU and maps it onto a variant of
``rnn_course.variants`` (which computes it). A gate "held" at a constant is not computed, and its rows of
the weights do not exist, so an LSTM layer with ``G`` learned gate blocks (4 when nothing is removed) has

.. math::
    G\,H\,(I + H + 2)

parameters (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), a GRU likewise with 3 blocks at most.

``LITERATURE`` holds, as data, what Hochreiter & Schmidhuber (1997), Gers, Schmidhuber & Cummins (2000),
Jozefowicz, Zaremba & Sutskever (2015) and Greff et al. (2017) report about these changes: qualitative
findings and rankings, in the papers' own terms, never numbers read off their plots.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import torch

from rnn_course.cells import RecurrentLayer
from rnn_course.continual import CarryState
from rnn_course.device import set_seed
from rnn_course.train import Comparison, TrainConfig, train
from rnn_course.variants import get_variant


@dataclass(frozen=True)
class Ablation:
    """One configuration of the study: which cell, which variant of it, and how to call it."""

    key: str  # short name used in tables and code, e.g. "no_forget"
    kind: str  # "lstm" or "gru"
    variant: str  # name in rnn_course.variants.VARIANTS[kind]
    label: str  # what plots show
    change: str  # the equation that changes, in words
    greff: str = ""  # Greff et al. (2017)'s abbreviation, where they studied it

    @property
    def learned_gates(self) -> tuple[str, ...]:
        """The gate blocks that have weights (PyTorch's order), e.g. ("i", "g", "o") without a forget gate."""
        return get_variant(self.kind, self.variant).learned_gates

    def layer(self, input_size: int, hidden_size: int, num_layers: int = 1) -> RecurrentLayer:
        """A batch-first ``RecurrentLayer`` of this configuration (a drop-in for ``nn.LSTM``/``nn.GRU``)."""
        return RecurrentLayer(self.kind, input_size, hidden_size, num_layers, variant=self.variant)

    def model(self, task, hidden_size: int):
        """A ``SequenceModel`` for ``task`` (its input, output and head) around ``self.layer(...)``."""
        return task.model(self.kind, hidden_size, rnn=self.layer(task.input_size, hidden_size))

    def num_parameters(self, input_size: int, hidden_size: int) -> int:
        """Parameters of one layer: G H (I + H + 2) for the G learned gate blocks."""
        for name, value in [("input_size", input_size), ("hidden_size", hidden_size)]:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        return len(self.learned_gates) * hidden_size * (input_size + hidden_size + 2)


ABLATIONS: dict[str, Ablation] = {a.key: a for a in [
    Ablation("lstm", "lstm", "full", "LSTM", "none: PyTorch's LSTM, PyTorch's init", "V"),
    Ablation("no_forget", "lstm", "no_forget", "LSTM, no forget gate (f=1)", "c' = c + i g (the 1997 LSTM)", "NFG"),
    Ablation("no_input", "lstm", "no_input", "LSTM, no input gate (i=1)", "c' = f c + g", "NIG"),
    Ablation("no_output", "lstm", "no_output", "LSTM, no output gate (o=1)", "h' = tanh(c')", "NOG"),
    Ablation("cifg", "lstm", "cifg", "LSTM, coupled gates (i=1-f)", "c' = f c + (1 - f) g", "CIFG"),
    Ablation("no_output_act", "lstm", "no_output_activation", "LSTM, no output activation", "h' = o c'", "NOAF"),
    Ablation("forget_bias_1", "lstm", "forget_bias_1", "LSTM, forget bias 1", "init only: b_f = 1"),
    Ablation("forget_bias_0", "lstm", "forget_bias_0", "LSTM, forget bias 0", "init only: b_f = 0"),
    Ablation("gru", "gru", "full", "GRU", "none: PyTorch's GRU, PyTorch's init"),
    Ablation("gru_no_reset", "gru", "no_reset", "GRU, no reset gate (r=1)", "n = tanh(W_in x + b_in + W_hn h + b_hn)"),
    Ablation("gru_no_update", "gru", "no_update", "GRU, no update gate (z=0)", "h' = n"),
]}


def get_ablation(key: str) -> Ablation:
    """The configuration named ``key`` (one of ``ABLATIONS``); a clear ``ValueError`` otherwise."""
    if key not in ABLATIONS:
        raise ValueError(f"unknown ablation {key!r}; expected one of {list(ABLATIONS)}")
    return ABLATIONS[key]


def study_workers(workers: int | None, n_jobs: int, device=None) -> int:
    """How many processes ``run_study`` uses for ``n_jobs`` runs: ``workers`` (at most one per run), or for
    ``None`` one per usable CPU core; always 1 on a GPU. A clear ``ValueError`` for anything else."""
    if not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be an int >= 1, got {n_jobs!r}")
    on_cpu = device is None or torch.device(device).type == "cpu"
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, min(n_jobs, cores)) if on_cpu else 1
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be None or an int >= 1, got {workers!r}")
    if workers > 1 and not on_cpu:
        raise ValueError(f"workers > 1 runs the study in CPU processes; got workers={workers} with device {device}")
    return min(workers, n_jobs)


def _build(ablation: Ablation, task, hidden_size: int, seed: int, device, carry_state: bool):
    """``(model, trained)``: the model seeded with ``seed`` on ``device``, and what ``train`` is given."""
    set_seed(seed)
    model = ablation.model(task, hidden_size)
    if device is not None:
        model = model.to(device)
    return model, CarryState(model) if carry_state else model


def _run_one(key, seed, task, config, hidden_size, device, carry_state, eval_set):
    """One run in a worker process (one torch thread): the ``TrainResult`` without its model, the trained
    weights (CPU tensors) and, with ``carry_state``, the state carried at the end."""
    torch.set_num_threads(1)
    model, trained = _build(get_ablation(key), task, hidden_size, seed, device, carry_state)
    result = train(trained, task, config, seed=seed, name=key, eval_set=eval_set)
    result.model = None
    carried = getattr(trained, "state", None)
    return result, {k: v.detach().cpu() for k, v in model.state_dict().items()}, carried


def run_study(task, keys, seeds, config: TrainConfig, hidden_size: int, *, device=None, carry_state: bool = False,
              eval_set=None, workers: int | None = None) -> tuple[Comparison, dict]:
    """Train every configuration in ``keys`` with every seed on ``task`` with ``rnn_course.train.train``.

    Each model is built after ``set_seed(seed)`` and moved to ``device``. With ``carry_state`` the model is
    trained through ``CarryState`` (truncated backpropagation through time on a stream that is never cut;
    use it with ``ContinualReber``). Returns the ``Comparison`` (one result per key and seed, named by key)
    and the trained models, ``{(key, seed): model}``.

    The runs are independent, so on the CPU they are spread over ``workers`` processes (default: one per
    usable core, at most one per run; always 1 on a GPU), each with one torch thread. ``workers=1`` trains
    them one after another in this process; with one torch thread it gives exactly the workers' results.
    Worker processes are started with ``spawn``, which imports the calling script again: in a script, call
    ``run_study`` under ``if __name__ == "__main__":`` (notebooks need nothing).
    """
    keys, seeds = list(keys), list(seeds)
    if not keys or not seeds:
        raise ValueError(f"keys and seeds must not be empty, got keys={keys!r}, seeds={seeds!r}")
    ablations = [get_ablation(key) for key in keys]
    jobs = [(ablation, seed) for ablation in ablations for seed in seeds]
    workers = study_workers(workers, len(jobs), device)
    results, models = [], {}
    if workers == 1:
        for ablation, seed in jobs:
            model, trained = _build(ablation, task, hidden_size, seed, device, carry_state)
            results.append(train(trained, task, config, seed=seed, name=ablation.key, eval_set=eval_set))
            models[ablation.key, seed] = model
        return Comparison(results), models
    # spawn, never fork: a forked child of a process that has started torch's thread pools can deadlock
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_run_one, ablation.key, seed, task, config, hidden_size, device, carry_state,
                               eval_set) for ablation, seed in jobs]
        for (ablation, seed), future in zip(jobs, futures):
            try:
                result, weights, carried = future.result()
            except Exception as err:
                for other in futures:
                    other.cancel()
                raise RuntimeError(f"run_study: configuration {ablation.key!r} with seed {seed} failed in a "
                                   f"worker process: {type(err).__name__}: {err}") from err
            model = ablation.model(task, hidden_size)
            model.load_state_dict(weights)
            if device is not None:
                model = model.to(device)
            if carry_state:
                result.model = CarryState(model)
                result.model.state = carried
            else:
                result.model = model
            results.append(result)
            models[ablation.key, seed] = model
    return Comparison(results), models


@dataclass(frozen=True)
class Finding:
    """One finding of one paper about one configuration, as the paper states it."""

    source: str  # bibliography key
    ablation: str  # key in ABLATIONS
    setting: str  # the paper's tasks or data
    finding: str  # the paper's qualitative result (a ranking or a significance statement)
    expect: str | None  # compared with the full cell: "worse", "about equal", or None (not a ranking)
    compare_on: tuple[str, ...] = ("adding", "stream")  # which of this course's tasks the finding speaks to


_GREFF = "speech (TIMIT), handwriting (IAM Online), music (JSB Chorales)"
_JOZ = "arithmetic, XML modelling, language modelling (PTB), music"
LITERATURE: tuple[Finding, ...] = (
    Finding("hochreiter1997long", "no_forget", "adding problem, every sequence starts from a reset state",
            "the original LSTM, which has no forget gate, solves the adding problem", "about equal", ("adding",)),
    Finding("gers2000forget", "no_forget", "continual embedded Reber grammar, never reset",
            "LSTM without forget gates fails: its cell states grow without bound; with forget gates it learns "
            "to reset itself and solves the task", "worse", ("stream",)),
    Finding("greff2017lstm", "no_forget", _GREFF,
            "significantly worse on all three datasets: with the output activation, the most critical component",
            "worse"),
    Finding("greff2017lstm", "no_output_act", _GREFF,
            "significantly worse on all three datasets; needed whenever the cell state is unbounded", "worse"),
    Finding("greff2017lstm", "cifg", _GREFF, "no significant change in mean performance on any dataset",
            "about equal"),
    Finding("greff2017lstm", "no_input", _GREFF,
            "significantly worse on speech and handwriting; no significant effect on music", "worse"),
    Finding("greff2017lstm", "no_output", _GREFF,
            "significantly worse on speech and handwriting; no significant effect on music", "worse"),
    Finding("jozefowicz2015empirical", "no_forget", _JOZ,
            "the most important gate: drastically worse on arithmetic and XML, relatively unimportant in "
            "language modelling", "worse"),
    Finding("jozefowicz2015empirical", "no_input", _JOZ, "the second most important gate", "worse"),
    Finding("jozefowicz2015empirical", "no_output", _JOZ, "the least important gate", "about equal"),
    Finding("jozefowicz2015empirical", "forget_bias_1", _JOZ,
            "a forget-gate bias of 1 greatly improves the LSTM and closes the gap to the GRU", None),
)


def literature_table():
    """``LITERATURE`` as a pandas DataFrame, one row per finding, with each configuration's label."""
    import pandas as pd

    rows = [{"configuration": ABLATIONS[f.ablation].label, "source": f.source, "setting": f.setting,
             "finding": f.finding, "expect": f.expect, "compare_on": ", ".join(f.compare_on)} for f in LITERATURE]
    return pd.DataFrame(rows)
