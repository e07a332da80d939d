"""Parameter counts against PyTorch: every formula equals sum(p.numel()) of the real module."""
import pytest
from hypothesis import given, settings, strategies as st

from rnn_course.kinds import GATES, TORCH_MODULES as MODULES
from rnn_course.params import count_parameters, matching_hidden_size, module_parameters, parameter_breakdown


@st.composite
def configs(draw):
    kind = draw(st.sampled_from(sorted(MODULES)))
    hidden = draw(st.integers(1, 24))
    return dict(
        kind=kind,
        input_size=draw(st.integers(1, 24)),
        hidden_size=hidden,
        num_layers=draw(st.integers(1, 4)),
        bias=draw(st.booleans()),
        bidirectional=draw(st.booleans()),
        proj_size=draw(st.integers(0, hidden - 1)) if kind == "lstm" else 0,
    )


def build(cfg):
    kwargs = {k: v for k, v in cfg.items() if k != "kind"}
    if cfg["kind"] != "lstm":
        kwargs.pop("proj_size")
    return MODULES[cfg["kind"]](**kwargs)


@settings(max_examples=300, deadline=None)
@given(configs())
def test_count_equals_numel(cfg):
    module = build(cfg)
    assert count_parameters(**cfg) == module_parameters(module)


@settings(max_examples=150, deadline=None)
@given(configs())
def test_breakdown_names_and_shapes_match_module(cfg):
    module = build(cfg)
    expected = [(name, tuple(p.shape)) for name, p in module.named_parameters()]
    assert [(t.name, t.shape) for t in parameter_breakdown(**cfg)] == expected


@pytest.mark.parametrize("bidirectional", [False, True])
def test_stacked_bidirectional_lstm_with_projection(bidirectional):
    cfg = dict(kind="lstm", input_size=7, hidden_size=16, num_layers=3, bias=True,
               bidirectional=bidirectional, proj_size=5)
    assert count_parameters(**cfg) == module_parameters(build(cfg))


def test_gate_slices_follow_pytorch_order():
    t = parameter_breakdown("lstm", 3, 5)[0]
    assert list(t.gates) == ["i", "f", "g", "o"] and t.gates["g"] == slice(10, 15)
    assert list(parameter_breakdown("gru", 3, 5)[1].gates) == ["r", "z", "n"]
    assert GATES["rnn"] == ("h",)


def test_known_values():
    # The seed notebook's printed totals for input 10, hidden 20, two layers.
    assert count_parameters("rnn", 10, 20, num_layers=2) == 1480
    assert count_parameters("gru", 10, 20, num_layers=2) == 4440
    assert count_parameters("lstm", 10, 20, num_layers=2) == 5920


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="lstm", input_size=-1, hidden_size=4), "input_size must be an int >= 1"),
    (dict(kind="lstm", input_size=3, hidden_size=0), "hidden_size must be an int >= 1"),
    (dict(kind="gru", input_size=3, hidden_size=4, num_layers=0), "num_layers must be an int >= 1"),
    (dict(kind="lstm", input_size=3, hidden_size=4, proj_size=4), "proj_size must be smaller than hidden_size"),
    (dict(kind="lstm", input_size=3, hidden_size=4, proj_size=-2), "proj_size must be an int >= 0"),
    (dict(kind="gru", input_size=3, hidden_size=4, proj_size=2), "only defined for an LSTM"),
    (dict(kind="transformer", input_size=3, hidden_size=4), "kind must be one of"),
    (dict(kind="rnn", input_size=3.0, hidden_size=4), "input_size must be an int"),
    (dict(kind="rnn", input_size=3, hidden_size=4, bias=1), "bias must be True or False"),
])
def test_bad_input_says_what_was_expected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        count_parameters(**kwargs)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(sorted(GATES)), input_size=st.integers(1, 40), n_params=st.integers(1, 60_000))
def test_matching_hidden_size_is_the_closest_count(kind, input_size, n_params):
    hidden = matching_hidden_size(kind, input_size, n_params)
    gaps = {h: abs(count_parameters(kind, input_size, h) - n_params) for h in range(1, hidden + 200)}
    assert gaps[hidden] == min(gaps.values())
    assert all(gaps[h] > gaps[hidden] for h in range(1, hidden))  # the smallest of the closest


def test_matching_hidden_size_at_equal_parameters():
    gru = count_parameters("gru", 2, 64)
    assert matching_hidden_size("gru", 2, gru) == 64
    lstm = matching_hidden_size("lstm", 2, gru)
    assert lstm < 64 and count_parameters("lstm", 2, lstm) <= gru < count_parameters("lstm", 2, lstm + 1)
    with pytest.raises(ValueError):
        matching_hidden_size("lstm", 2, 0)
