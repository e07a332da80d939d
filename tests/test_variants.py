"""rnn_course.variants: each variant holds its gate where it says, has no unused weights, counts right; the
full cells equal PyTorch's."""
import pytest
import torch
import torch.nn as nn

from rnn_course.layer import RecurrentLayer
from rnn_course.variants import VARIANTS, CellVariant, get_variant

TOL = dict(rtol=1e-10, atol=1e-10)
I, H, B, T = 3, 5, 4, 9
HELD = {"no_forget": ("f", 1.0), "no_input": ("i", 1.0), "no_output": ("o", 1.0),
        "gru_no_reset": ("r", 1.0), "gru_no_update": ("z", 0.0)}
# Learned gate blocks of every variant.
GATE_BLOCKS = {"lstm": 4, "no_forget": 3, "no_input": 3, "no_output": 3, "cifg": 3, "no_output_act": 4,
               "forget_bias_1": 4, "forget_bias_0": 4, "gru": 3, "gru_no_reset": 2, "gru_no_update": 2,
               "gru_reset_before": 3}


def layer_of(key):
    return RecurrentLayer(VARIANTS[key].kind, I, H, variant=key)


def run(key, x=None):
    torch.manual_seed(0)
    layer = layer_of(key).double()
    x = torch.randn(B, T, I, dtype=torch.float64) if x is None else x
    out, _, gates = layer(x, return_gates=True)
    return layer, out, gates[0]


def test_one_registry_and_no_two_variants_compute_the_same():
    assert set(VARIANTS) == set(GATE_BLOCKS)
    mechanics = [(v.kind, v.held, v.coupled, v.output_activation, v.forget_bias, v.reset_before)
                 for v in VARIANTS.values()]
    assert len(set(mechanics)) == len(mechanics)  # unlike the source notebook's "No Output" / "Forget+Input Only"
    assert len({v.label for v in VARIANTS.values()}) == len(VARIANTS)


@pytest.mark.parametrize("key", sorted(HELD))
def test_held_gate_is_constant_at_every_step(key):
    gate, value = HELD[key]
    _, _, gates = run(key)
    assert gates[gate].shape == (B, T, H)
    assert torch.equal(gates[gate], torch.full_like(gates[gate], value))


@pytest.mark.parametrize("key", ["lstm", "cifg", "no_output_act", "gru"])
def test_learned_gates_really_vary(key):
    _, _, gates = run(key)
    for name in ("i", "f", "o") if VARIANTS[key].kind == "lstm" else ("r", "z"):
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


@pytest.mark.parametrize("key", list(VARIANTS))
def test_parameter_counts_and_every_parameter_gets_gradient(key):
    ab = VARIANTS[key]
    layer = layer_of(key).double()
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
    assert VARIANTS[key].num_parameters(input_size, 16) == expected


@pytest.mark.parametrize("key,module", [("lstm", nn.LSTM), ("forget_bias_1", nn.LSTM), ("forget_bias_0", nn.LSTM),
                                        ("gru", nn.GRU)])
def test_full_cells_equal_torch_outputs_and_gradients(key, module):
    reference = module(I, H, batch_first=True).double()
    layer = layer_of(key).double()
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
    assert type(layer_of(key).to_torch()) is nn.LSTM  # an init change only: still nn.LSTM's computation
    cell = layer_of(key).cells[0]
    assert torch.equal(cell.bias_ih[H:2 * H], torch.full((H,), value))
    assert torch.equal(cell.bias_hh[H:2 * H], torch.zeros(H))
    assert cell.bias_ih[:H].abs().max() <= 1 / H ** 0.5  # the other gates keep PyTorch's init


def test_variant_errors():
    with pytest.raises(ValueError, match="unknown variant 'no_gates'"):
        get_variant("lstm", "no_gates")
    with pytest.raises(ValueError, match="is for kind 'gru', not 'lstm'"):
        get_variant("lstm", "gru_no_reset")
    with pytest.raises(ValueError, match="hidden_size must be an int >= 1"):
        VARIANTS["lstm"].num_parameters(3, 0)
    with pytest.raises(ValueError, match="held must name distinct gates"):
        CellVariant("bad", "lstm", held=(("z", 0.0),))
    with pytest.raises(ValueError, match="a coupled input-forget gate cannot also hold"):
        CellVariant("bad", "lstm", held=(("f", 1.0),), coupled=True)
    with pytest.raises(ValueError, match="computes something no PyTorch module does"):
        RecurrentLayer("lstm", I, H, variant="cifg").to_torch()
    with pytest.raises(ValueError, match="bias=False"):
        RecurrentLayer("lstm", I, H, bias=False, variant="forget_bias_1")
    with pytest.raises(ValueError, match="variants exist for kind 'lstm' or 'gru'"):
        RecurrentLayer("rnn", I, H, variant="lstm")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_full_variant_equals_torch(kind):
    layer = RecurrentLayer(kind, I, H, num_layers=2, variant=kind).double()
    reference = layer.to_torch()
    x = torch.randn(3, T, I, dtype=torch.float64)
    torch.testing.assert_close(layer(x)[0], reference(x)[0], **TOL)


def test_reset_before_is_the_paper_gru():
    layer = RecurrentLayer("gru", I, H, variant="gru_reset_before").double()
    cell = layer.cells[0]
    x = torch.randn(3, T, I, dtype=torch.float64)
    h = torch.zeros(3, H, dtype=torch.float64)
    w_ir, w_iz, w_in = cell.weight_ih.chunk(3)
    w_hr, w_hz, w_hn = cell.weight_hh.chunk(3)
    b_ir, b_iz, b_in = cell.bias_ih.chunk(3)
    b_hr, b_hz, b_hn = cell.bias_hh.chunk(3)
    for t in range(T):
        r = torch.sigmoid(x[:, t] @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
        z = torch.sigmoid(x[:, t] @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
        n = torch.tanh(x[:, t] @ w_in.T + b_in + (r * h) @ w_hn.T + b_hn)
        h = (1 - z) * n + z * h
    torch.testing.assert_close(layer(x)[1][0], h, **TOL)
    with pytest.raises(ValueError, match="computes something no PyTorch module does"):
        layer.to_torch()
