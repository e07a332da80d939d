"""The ablation configurations: each holds its gate where it says, has no unused weights, counts right."""
import os
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from rnn_course.ablation import ABLATIONS, LITERATURE, get_ablation, literature_table, run_study, study_workers
from rnn_course.cells import RecurrentLayer
from rnn_course.continual import ContinualReber, evaluation_set
from rnn_course.tasks import AddingProblem
from rnn_course.train import TrainConfig

TOL = dict(rtol=1e-10, atol=1e-10)
I, H, B, T = 3, 5, 4, 9
HELD = {"no_forget": ("f", 1.0), "no_input": ("i", 1.0), "no_output": ("o", 1.0),
        "gru_no_reset": ("r", 1.0), "gru_no_update": ("z", 0.0)}
# What the chapter states: learned gate blocks, and parameters at the chapter's sizes (I=7 or 2, H=16).
GATE_BLOCKS = {"lstm": 4, "no_forget": 3, "no_input": 3, "no_output": 3, "cifg": 3, "no_output_act": 4,
               "forget_bias_1": 4, "forget_bias_0": 4, "gru": 3, "gru_no_reset": 2, "gru_no_update": 2}
BIB = (Path(__file__).resolve().parents[1] / "book" / "references.bib").read_text()


def run(key, x=None):
    torch.manual_seed(0)
    layer = get_ablation(key).layer(I, H).double()
    x = torch.randn(B, T, I, dtype=torch.float64) if x is None else x
    out, _, gates = layer(x, return_gates=True)
    return layer, out, gates[0]


def test_the_study_has_the_issues_configurations_and_no_two_are_the_same():
    assert set(ABLATIONS) == set(GATE_BLOCKS)
    variants = [(a.kind, a.variant) for a in ABLATIONS.values()]
    assert len(set(variants)) == len(variants)  # unlike the source notebook's "No Output" / "Forget+Input Only"
    assert len({a.label for a in ABLATIONS.values()}) == len(ABLATIONS)


@pytest.mark.parametrize("key", sorted(HELD))
def test_held_gate_is_constant_at_every_step(key):
    gate, value = HELD[key]
    _, _, gates = run(key)
    assert gates[gate].shape == (B, T, H)
    assert torch.equal(gates[gate], torch.full_like(gates[gate], value))


@pytest.mark.parametrize("key", ["lstm", "cifg", "no_output_act", "gru"])
def test_learned_gates_really_vary(key):
    _, _, gates = run(key)
    for name in ("i", "f", "o") if ABLATIONS[key].kind == "lstm" else ("r", "z"):
        assert gates[name].std() > 1e-3, name


def test_cifg_input_gate_is_one_minus_forget_gate():
    _, _, g = run("cifg")
    torch.testing.assert_close(g["i"], 1 - g["f"], **TOL)
    assert g["f"].std() > 1e-3


def test_no_forget_cell_only_accumulates():
    _, _, g = run("no_forget")
    c_prev = torch.cat([torch.zeros(B, 1, H, dtype=g["c"].dtype), g["c"][:, :-1]], 1)
    torch.testing.assert_close(g["c"], c_prev + g["i"] * g["g"], **TOL)


def test_no_input_gate_writes_the_whole_candidate():
    _, _, g = run("no_input")
    c_prev = torch.cat([torch.zeros(B, 1, H, dtype=g["c"].dtype), g["c"][:, :-1]], 1)
    torch.testing.assert_close(g["c"], g["f"] * c_prev + g["g"], **TOL)


@pytest.mark.parametrize("key,expected", [("no_output_act", lambda g: g["o"] * g["c"]),
                                          ("no_output", lambda g: g["c"].tanh()),
                                          ("lstm", lambda g: g["o"] * g["c"].tanh())])
def test_output_equations(key, expected):
    _, out, g = run(key)
    torch.testing.assert_close(out, expected(g), **TOL)


def test_gru_without_update_gate_replaces_its_state():
    _, out, g = run("gru_no_update")
    torch.testing.assert_close(out, g["n"], **TOL)


@pytest.mark.parametrize("key", list(ABLATIONS))
def test_parameter_counts_and_every_parameter_gets_gradient(key):
    ab = ABLATIONS[key]
    layer = ab.layer(I, H).double()
    G = GATE_BLOCKS[key]
    assert len(ab.learned_gates) == G
    assert ab.num_parameters(I, H) == sum(p.numel() for p in layer.parameters()) == G * H * (I + H + 2)
    assert layer.cells[0].weight_ih.shape == (G * H, I) and layer.cells[0].weight_hh.shape == (G * H, H)
    out, final = layer(torch.randn(B, T, I, dtype=torch.float64))
    loss = (out * torch.randn_like(out)).sum() + sum((f * torch.randn_like(f)).sum() for f in
                                                     (final if isinstance(final, tuple) else (final,)))
    loss.backward()
    for name, p in layer.named_parameters():  # nothing unused is left in the model
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("key,input_size,expected", [
    ("lstm", 7, 1600), ("no_forget", 7, 1200), ("cifg", 7, 1200), ("gru", 7, 1200), ("gru_no_update", 7, 800),
    ("lstm", 2, 1280), ("no_input", 2, 960), ("gru", 2, 960), ("gru_no_reset", 2, 640)])
def test_counts_the_chapter_states_at_hidden_size_16(key, input_size, expected):
    assert ABLATIONS[key].num_parameters(input_size, 16) == expected


@pytest.mark.parametrize("key,module", [("lstm", nn.LSTM), ("forget_bias_1", nn.LSTM), ("forget_bias_0", nn.LSTM),
                                        ("gru", nn.GRU)])
def test_full_cells_equal_torch_outputs_and_gradients(key, module):
    reference = module(I, H, batch_first=True).double()
    layer = get_ablation(key).layer(I, H).double()
    layer.cells[0].load_state_dict({n: getattr(reference, f"{n}_l0") for n, _ in layer.cells[0].named_parameters()})
    x = torch.randn(B, T, I, dtype=torch.float64)
    grads = []
    for m in (reference, layer):
        xi = x.clone().requires_grad_()
        out, _ = m(xi)
        loss = (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum()
        grads.append((out, torch.autograd.grad(loss, [xi, *m.parameters()])))
    torch.testing.assert_close(grads[1][0], grads[0][0], **TOL)
    for a, b in zip(grads[1][1], grads[0][1]):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("key,value", [("forget_bias_1", 1.0), ("forget_bias_0", 0.0)])
def test_forget_bias_initialisation(key, value):
    cell = get_ablation(key).layer(I, H).cells[0]
    assert torch.equal(cell.bias_ih[H:2 * H], torch.full((H,), value))
    assert torch.equal(cell.bias_hh[H:2 * H], torch.zeros(H))
    assert cell.bias_ih[:H].abs().max() <= 1 / H ** 0.5  # the other gates keep PyTorch's init


@pytest.mark.parametrize("task", [AddingProblem(12), ContinualReber(24)])
def test_model_for_a_task(task):
    model = ABLATIONS["cifg"].model(task, 8)
    x, y = task.sample(3, torch.Generator().manual_seed(0))
    pred = model(x)
    assert pred.shape == ((3, 1) if task.name == "adding" else (3, 24, 7))
    assert torch.isfinite(task.loss(pred, y))


def test_errors():
    with pytest.raises(ValueError, match="unknown ablation 'no_gates'"):
        get_ablation("no_gates")
    with pytest.raises(ValueError, match="hidden_size must be an int >= 1"):
        ABLATIONS["lstm"].num_parameters(3, 0)


def test_literature_is_data_about_known_configurations_and_sources():
    for f in LITERATURE:
        assert f.ablation in ABLATIONS
        assert re.search(r"@\w+\{" + f.source + ",", BIB), f.source
        assert f.finding and f.setting and not re.search(r"\d\.\d|%", f.finding)  # rankings, not numbers
    table = literature_table()
    assert len(table) == len(LITERATURE) and {"configuration", "source", "finding"} <= set(table.columns)


def _tiny_study(workers, task=None, **kwargs):
    config = TrainConfig(steps=6, batch_size=8, eval_every=3, eval_size=16, progress=False)
    return run_study(task or AddingProblem(6), ["lstm", "gru_no_update"], [0, 1], config, 4, workers=workers,
                     **kwargs)


def test_parallel_study_equals_the_serial_one():
    # The stream task through CarryState: the path with the most to carry back (weights and the final state).
    stream = dict(task=ContinualReber(5), carry_state=True,
                  eval_set=evaluation_set(8, 30, 10, torch.Generator().manual_seed(5)))
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
        assert b.model.model is parallel_models[key]  # the result holds the CarryState around the model
        for sa, sb in zip(a.model.state, b.model.state):
            assert torch.equal(sa, sb), key
        sa, sb = serial_models[key].state_dict(), parallel_models[key].state_dict()
        assert list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa), key


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
