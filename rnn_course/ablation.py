r"""The gate-ablation study: models of the configurations, a study runner, and what the papers report.

The configurations are the cell variants of ``rnn_course.variants.VARIANTS`` (one registry); here they
become layers and models (``ablation_layer``, ``ablation_model``), a study trains each over several seeds
(``run_study``, spread over CPU processes), and ``LITERATURE`` says what the papers found.

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

from rnn_course.checks import int_at_least
from rnn_course.compare import Comparison
from rnn_course.device import set_seed
from rnn_course.layer import RecurrentLayer
from rnn_course.train import TrainConfig, train
from rnn_course.variants import VARIANTS, CellVariant


def get_ablation(key: str) -> CellVariant:
    """The configuration named ``key`` (one of ``VARIANTS``); a clear ``ValueError`` otherwise."""
    if key not in VARIANTS:
        raise ValueError(f"unknown configuration {key!r}; expected one of {list(VARIANTS)}")
    return VARIANTS[key]


def ablation_layer(key: str, input_size: int, hidden_size: int, num_layers: int = 1) -> RecurrentLayer:
    """A batch-first ``RecurrentLayer`` of configuration ``key`` (a drop-in for ``nn.LSTM``/``nn.GRU``)."""
    variant = get_ablation(key)
    return RecurrentLayer(variant.kind, input_size, hidden_size, num_layers, variant=variant)


def ablation_model(key: str, task, hidden_size: int):
    """A ``SequenceModel`` for ``task`` (its input, output and head) around ``ablation_layer(key, ...)``."""
    variant = get_ablation(key)
    return task.model(variant.kind, hidden_size, rnn=ablation_layer(key, task.input_size, hidden_size))


def study_workers(workers: int | None, n_jobs: int, device=None) -> int:
    """How many processes ``run_study`` uses for ``n_jobs`` runs: ``workers`` (at most one per run), or for
    ``None`` one per usable CPU core; always 1 on a GPU. A clear ``ValueError`` for anything else."""
    int_at_least("n_jobs", n_jobs)
    on_cpu = device is None or torch.device(device).type == "cpu"
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, min(n_jobs, cores)) if on_cpu else 1
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be None or an int >= 1, got {workers!r}")
    if workers > 1 and not on_cpu:
        raise ValueError(f"workers > 1 runs the study in CPU processes; got workers={workers} with device {device}")
    return min(workers, n_jobs)


def _build(key: str, task, hidden_size: int, seed: int, device):
    """Configuration ``key``'s model for ``task``, seeded with ``seed``, on ``device``."""
    set_seed(seed)
    model = ablation_model(key, task, hidden_size)
    return model if device is None else model.to(device)


def _run_one(key, seed, task, config, hidden_size, device, eval_set):
    """One run in a worker process (one torch thread): the ``TrainResult`` without its model, and the trained
    weights (CPU tensors)."""
    torch.set_num_threads(1)
    model = _build(key, task, hidden_size, seed, device)
    result = train(model, task, config, seed=seed, name=key, eval_set=eval_set)
    result.model = None
    return result, {k: v.detach().cpu() for k, v in model.state_dict().items()}


def run_study(task, keys, seeds, config: TrainConfig, hidden_size: int, *, device=None, eval_set=None,
              workers: int | None = None) -> tuple[Comparison, dict]:
    """Train every configuration in ``keys`` with every seed on ``task`` with ``rnn_course.train.train``.

    Each model is built after ``set_seed(seed)`` and moved to ``device``; ``config.carry_state`` trains on a
    stream that is never cut (use it with ``ContinualReber``). Returns the ``Comparison`` (one result per key
    and seed, named by key) and the trained models, ``{(key, seed): model}``.

    The runs are independent, so on the CPU they are spread over ``workers`` processes (default: one per
    usable core, at most one per run; always 1 on a GPU), each with one torch thread. ``workers=1`` trains
    them one after another in this process; with one torch thread it gives exactly the workers' results.
    Worker processes are started with ``spawn``, which imports the calling script again: in a script, call
    ``run_study`` under ``if __name__ == "__main__":`` (notebooks need nothing).
    """
    keys, seeds = list(keys), list(seeds)
    if not keys or not seeds:
        raise ValueError(f"keys and seeds must not be empty, got keys={keys!r}, seeds={seeds!r}")
    for key in keys:
        get_ablation(key)
    jobs = [(key, seed) for key in keys for seed in seeds]
    workers = study_workers(workers, len(jobs), device)
    results, models = [], {}
    if workers == 1:
        for key, seed in jobs:
            model = _build(key, task, hidden_size, seed, device)
            results.append(train(model, task, config, seed=seed, name=key, eval_set=eval_set))
            models[key, seed] = model
        return Comparison(results), models
    # spawn, never fork: a forked child of a process that has started torch's thread pools can deadlock
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_run_one, key, seed, task, config, hidden_size, device, eval_set)
                   for key, seed in jobs]
        for (key, seed), future in zip(jobs, futures):
            try:
                result, weights = future.result()
            except Exception as err:
                for other in futures:
                    other.cancel()
                raise RuntimeError(f"run_study: configuration {key!r} with seed {seed} failed in a worker "
                                   f"process: {type(err).__name__}: {err}") from err
            model = ablation_model(key, task, hidden_size)
            model.load_state_dict(weights)
            result.model = model if device is None else model.to(device)
            results.append(result)
            models[key, seed] = result.model
    return Comparison(results), models


@dataclass(frozen=True)
class Finding:
    """One finding of one paper about one configuration, as the paper states it."""

    source: str  # bibliography key
    ablation: str  # key in rnn_course.variants.VARIANTS
    setting: str  # the paper's tasks or data
    finding: str  # the paper's qualitative result (a ranking or a significance statement)
    expect: str | None  # compared with the full cell: "worse", "about equal", or None (not a ranking)
    compare_on: tuple[str, ...] = ("adding", "stream")  # which of this course's tasks the finding speaks to


SOURCES = {  # how a table names each paper
    "hochreiter1997long": "Hochreiter & Schmidhuber (1997)",
    "gers2000forget": "Gers, Schmidhuber & Cummins (2000)",
    "jozefowicz2015empirical": "Jozefowicz, Zaremba & Sutskever (2015)",
    "greff2017lstm": "Greff et al. (2017)",
}
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

    rows = [{"configuration": VARIANTS[f.ablation].label, "source": SOURCES[f.source], "setting": f.setting,
             "finding": f.finding, "expect": f.expect, "compare_on": ", ".join(f.compare_on)} for f in LITERATURE]
    return pd.DataFrame(rows)
