"""rnn_course.ablation: models of the configurations, what the papers report, and the study runner (serial and
spread over processes, with the same results)."""
import os
import re
from pathlib import Path

import pytest
import torch

from rnn_course.ablation import LITERATURE, SOURCES, ablation_layer, ablation_model, get_ablation, literature_table, run_study
from rnn_course.ablation import study_workers
from rnn_course.tasks import AddingProblem, ContinualReber
from rnn_course.tasks.reber import evaluation_set
from rnn_course.train import TrainConfig
from rnn_course.variants import VARIANTS

BIB = (Path(__file__).resolve().parents[1] / "book" / "references.bib").read_text()


@pytest.mark.parametrize("task", [AddingProblem(12), ContinualReber(24)])
def test_model_for_a_task(task):
    model = ablation_model("cifg", task, 8)
    x, y = task.sample(3, torch.Generator().manual_seed(0))
    pred = model(x)
    assert pred.shape == ((3, 1) if task.name == "adding" else (3, 24, 7))
    assert torch.isfinite(task.loss(pred, y))


def test_errors():
    with pytest.raises(ValueError, match="unknown configuration 'no_gates'"):
        get_ablation("no_gates")
    layer = ablation_layer("no_forget", 3, 5)
    assert layer.variant is VARIANTS["no_forget"] and layer.kind == "lstm"


def test_literature_is_data_about_known_configurations_and_sources():
    for f in LITERATURE:
        assert f.ablation in VARIANTS
        assert re.search(r"@\w+\{" + f.source + ",", BIB), f.source
        assert f.finding and f.setting and not re.search(r"\d\.\d|%", f.finding)  # rankings, not numbers
    table = literature_table()
    assert len(table) == len(LITERATURE) and {"configuration", "source", "finding"} <= set(table.columns)
    assert set(SOURCES) == {f.source for f in LITERATURE}  # every paper has the name a table shows
    for key, name in SOURCES.items():  # the name a reader sees matches the bibliography's year
        year = re.search(r"@\w+\{" + key + r",.*?year\s*=\s*\{?(\d{4})", BIB, re.S).group(1)
        assert name.endswith(f"({year})"), (key, name, year)
    assert not table.source.isin(list(SOURCES)).any()  # no BibTeX key in the table


def _tiny_study(workers, task=None, carry=False, **kwargs):
    config = TrainConfig(steps=6, batch_size=8, eval_every=3, eval_size=16, progress=False, carry_state=carry)
    return run_study(task or AddingProblem(6), ["lstm", "gru_no_update"], [0, 1], config, 4, workers=workers,
                     **kwargs)


@pytest.mark.slow  # spawned worker processes
def test_parallel_study_equals_the_serial_one():
    # The stream task with its state carried from chunk to chunk: the path with the most to get right.
    stream = dict(task=ContinualReber(5), eval_set=evaluation_set(8, 30, 10, torch.Generator().manual_seed(5)),
                  carry=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers run one thread each; the same here, so the sums are the same
    try:
        serial, serial_models = _tiny_study(1, **stream)
    finally:
        torch.set_num_threads(threads)
    parallel, parallel_models = _tiny_study(2, **stream)
    assert list(serial_models) == list(parallel_models) == [("lstm", 0), ("lstm", 1), ("gru_no_update", 0),
                                                            ("gru_no_update", 1)]
    for a, b, key in zip(serial.results, parallel.results, serial_models):
        assert (a.name, a.seed, a.steps_run, a.steps_to_target) == (b.name, b.seed, b.steps_run, b.steps_to_target)
        assert a.losses == b.losses and a.eval_losses == b.eval_losses and a.eval_metrics == b.eval_metrics
        assert b.model is parallel_models[key]
        sa, sb = serial_models[key].state_dict(), parallel_models[key].state_dict()
        assert list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa), key


@pytest.mark.slow  # spawned worker processes
def test_study_errors():
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="workers must be None or an int >= 1"):
            _tiny_study(bad)
    with pytest.raises(ValueError, match="workers > 1 runs the study in CPU processes"):
        study_workers(2, 4, "cuda")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert study_workers(None, 100) == cores and study_workers(None, 100, "cuda") == 1
    assert study_workers(None, 1) == 1 and study_workers(8, 3) == 3
    with pytest.raises(RuntimeError, match="configuration 'lstm' with seed 0 failed in a worker process"):
        _tiny_study(2, eval_set=(torch.zeros(3, 6, 5), torch.zeros(3, 1)))  # wrong input size: fails in the child
