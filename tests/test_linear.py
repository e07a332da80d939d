"""rnn_course.linear: the scans equal the loop (values and gradients, float64), the layers equal the papers'
equations written out, and bad input is refused with a message."""
import pytest
import torch
import torch.nn.functional as F

from rnn_course.linear import SCANS, MinGRU, MinLSTM, g, log_g, scan_doubling, scan_log, scan_loop
from rnn_course.models import SequenceModel

B, D, H = 3, 4, 5
TOL = dict(rtol=1e-10, atol=1e-10)


def coefficients(T, negative=False, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(B, T, H, generator=gen, dtype=torch.float64)
    a = 2 * a - 1 if negative else a
    b = torch.randn(B, T, H, generator=gen, dtype=torch.float64).abs()
    h0 = torch.rand(B, H, generator=gen, dtype=torch.float64) + 0.1
    return a.requires_grad_(), b.requires_grad_(), h0.requires_grad_()


def values_and_grads(fn, *inputs):
    out = fn(*inputs)
    weights = torch.linspace(-1, 2, out.numel(), dtype=out.dtype).view_as(out)  # every output counts differently
    grads = torch.autograd.grad((out * weights).sum(), inputs, allow_unused=True)  # T = 1: a_1 multiplies h0 = 0
    return out.detach(), [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]


@pytest.mark.parametrize("T", [1, 2, 3, 7, 8, 33])
@pytest.mark.parametrize("with_h0", [False, True])
def test_the_scans_equal_the_loop_in_values_and_gradients(T, with_h0):
    a, b, h0 = coefficients(T)
    h0 = h0 if with_h0 else None
    inputs = (a, b) + ((h0,) if with_h0 else ())
    want, want_grads = values_and_grads(scan_loop, *inputs)
    got, got_grads = values_and_grads(scan_doubling, *inputs)
    torch.testing.assert_close(got, want, **TOL)
    for g_got, g_want in zip(got_grads, want_grads):
        torch.testing.assert_close(g_got, g_want, **TOL)
    log = lambda a, b, h0=None: scan_log(a.log(), b.log(), None if h0 is None else h0.log())  # noqa: E731
    got, got_grads = values_and_grads(log, *inputs)
    torch.testing.assert_close(got, want, **TOL)
    for g_got, g_want in zip(got_grads, want_grads):
        torch.testing.assert_close(g_got, g_want, **TOL)


def test_the_doubling_scan_takes_negative_transitions():
    a, b, h0 = coefficients(19, negative=True)
    b = b - 1  # both signs in b too
    want, want_grads = values_and_grads(scan_loop, a, b, h0)
    got, got_grads = values_and_grads(scan_doubling, a, b, h0)
    torch.testing.assert_close(got, want, **TOL)
    for g_got, g_want in zip(got_grads, want_grads):
        torch.testing.assert_close(g_got, g_want, **TOL)


def test_the_loop_is_the_recurrence():
    a, b, h0 = (t.detach() for t in coefficients(4))
    h = scan_loop(a, b, h0)
    torch.testing.assert_close(h[:, 0], a[:, 0] * h0 + b[:, 0])
    torch.testing.assert_close(h[:, 3], a[:, 3] * (a[:, 2] * h[:, 1] + b[:, 2]) + b[:, 3])


def test_g_and_log_g():
    x = torch.linspace(-6, 6, 101, dtype=torch.float64)
    assert (g(x) > 0).all()
    torch.testing.assert_close(log_g(x), g(x).log(), **TOL)
    torch.testing.assert_close(g(torch.tensor([2.0, -1.0])), torch.tensor([2.5, torch.sigmoid(torch.tensor(-1.0))]))


def min_gru_by_hand(layer, x, h, negative=False):
    """The paper's minGRU, step by step (Appendix B, sequential mode), with the weights of ``layer``."""
    W, bias = layer.linear.weight, layer.linear.bias
    W_z, W_h = W[:H], W[H:]
    b_z, b_h = bias[:H], bias[H:]
    out = []
    for x_t in x.unbind(1):
        z = torch.sigmoid(x_t @ W_z.T + b_z)
        h_tilde = g(x_t @ W_h.T + b_h)
        h = ((1 - 2 * z) if negative else (1 - z)) * h + z * h_tilde
        out.append(h)
    return torch.stack(out, 1)


def min_lstm_by_hand(layer, x, h):
    """The paper's minLSTM, step by step (Appendix B, sequential mode)."""
    W, bias = layer.linear.weight, layer.linear.bias
    out = []
    for x_t in x.unbind(1):
        f = torch.sigmoid(x_t @ W[:H].T + bias[:H])
        i = torch.sigmoid(x_t @ W[H:2 * H].T + bias[H:2 * H])
        h_tilde = g(x_t @ W[2 * H:].T + bias[2 * H:])
        h = f / (f + i) * h + i / (f + i) * h_tilde
        out.append(h)
    return torch.stack(out, 1)


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("cls, by_hand", [(MinGRU, min_gru_by_hand), (MinLSTM, min_lstm_by_hand)])
def test_layers_equal_the_papers_equations(scan, cls, by_hand):
    layer = cls(D, H, scan=scan).double()
    x = torch.randn(B, 11, D, dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(1, B, H, dtype=torch.float64) + 0.1
    out, h_n = layer(x, h0)
    want = by_hand(layer, x, h0[0])
    torch.testing.assert_close(out, want, **TOL)
    torch.testing.assert_close(h_n, out[:, -1][None])
    grads = torch.autograd.grad(out.square().sum(), [x, *layer.parameters()])
    want_grads = torch.autograd.grad(want.square().sum(), [x, *layer.parameters()])
    for g_got, g_want in zip(grads, want_grads):
        torch.testing.assert_close(g_got, g_want, **TOL)
    out0, _ = layer(x)  # no state: h0 = 0, which the log-space scan leaves out
    torch.testing.assert_close(out0, by_hand(layer, x, torch.zeros(B, H, dtype=torch.float64)), **TOL)


@pytest.mark.parametrize("scan", ["doubling", "loop"])
def test_negative_min_gru_equals_its_equations_and_reaches_below_zero(scan):
    layer = MinGRU(D, H, scan=scan, negative=True).double()
    with torch.no_grad():
        layer.linear.bias[:H] = 4.0  # z near 1: transitions near -1
    x = torch.randn(B, 9, D, dtype=torch.float64)
    out, _ = layer(x)
    torch.testing.assert_close(out, min_gru_by_hand(layer, x, torch.zeros(B, H, dtype=torch.float64), True), **TOL)
    z = torch.sigmoid(layer.linear(x)[..., :H])
    assert (1 - 2 * z).min() < -0.5  # the transitions do go negative


def test_a_drop_in_for_nn_gru_in_the_sequence_model():
    model = SequenceModel("gru", D, H, 2, head="every", rnn=MinGRU(D, H))
    assert model(torch.randn(B, 6, D)).shape == (B, 6, 2)


@pytest.mark.parametrize("call, match", [
    (lambda: scan_loop(torch.rand(2, 3), torch.rand(2, 3)), r"shape \(batch, time, hidden\)"),
    (lambda: scan_doubling(torch.rand(2, 3, 4), torch.rand(2, 3, 5)), "same shape and dtype"),
    (lambda: scan_doubling(torch.rand(2, 3, 4), torch.rand(2, 3, 4).double()), "same shape and dtype"),
    (lambda: scan_loop(torch.ones(2, 3, 4, dtype=torch.long), torch.ones(2, 3, 4, dtype=torch.long)),
     "floating-point"),
    (lambda: scan_loop(torch.rand(2, 3, 4), torch.rand(2, 3, 4), torch.rand(1, 2, 4)), r"\(batch, hidden\)"),
    (lambda: scan_log(torch.rand(2, 3, 4), torch.rand(2, 3, 4), torch.rand(2, 5)), "log_h0"),
    (lambda: MinGRU(D, H)(torch.randn(B, 5)), r"\(batch, time, 4\)"),
    (lambda: MinGRU(D, H)(torch.ones(B, 5, D, dtype=torch.long)), "floating-point"),
    (lambda: MinGRU(D, H)(torch.randn(B, 5, D + 1)), "4 features"),
    (lambda: MinLSTM(D, H)(torch.randn(B, 5, D), torch.rand(B, H)), r"\(1, batch, hidden\)"),
    (lambda: MinGRU(D, H)(torch.randn(B, 5, D), -torch.rand(1, B, H)), "positive initial state"),
    (lambda: MinGRU(D, H, scan="fast"), "scan must be one of"),
    (lambda: MinGRU(D, H, negative=True), "no logarithm"),
    (lambda: MinGRU(D, H, negative=1, scan="loop"), "negative must be True or False"),
    (lambda: MinLSTM(D, 0), "hidden_size"),
    (lambda: MinGRU(D, H, batch_first=False), "batch_first"),
])
def test_bad_input_is_refused_with_what_was_expected(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.slow
def test_long_sequences_in_float32_stay_close():
    """T = 4096 in float32: the scans drift from the loop by rounding only."""
    layer = MinGRU(D, H)
    x = torch.randn(2, 4096, D)
    layer.scan = "loop"
    want, _ = layer(x)
    for scan in ("log", "doubling"):
        layer.scan = scan
        torch.testing.assert_close(layer(x)[0], want, rtol=1e-3, atol=1e-4)
