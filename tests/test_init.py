"""rnn_course.init: gate biases set wherever a module holds the gate, and orthogonal recurrent blocks."""
import pytest
import torch
import torch.nn as nn

from rnn_course.init import set_forget_bias, set_gate_bias, set_keep_bias, set_recurrent_spectral_norm
from rnn_course.layer import RecurrentLayer
from rnn_course.models import SequenceModel


@pytest.mark.parametrize("rnn", [nn.LSTM(3, 4), nn.GRU(3, 4, num_layers=2), RecurrentLayer("lstm", 3, 4)])
def test_set_keep_bias_sets_the_second_gate_block(rnn):
    set_keep_bias(rnn, 2.5)
    for name, p in rnn.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf.startswith("bias_ih"):
            assert (p[4:8] == 2.5).all() and not (p[:4] == 2.5).any()
        if leaf.startswith("bias_hh"):
            assert (p[4:8] == 0).all()


def test_set_keep_bias_rejects_a_module_without_gates():
    with pytest.raises(ValueError, match="no keep gate"):
        set_keep_bias(nn.RNN(3, 4), 1.0)
    with pytest.raises(ValueError, match="no keep gate"):
        set_keep_bias(nn.LSTM(3, 4, bias=False), 1.0)


@pytest.mark.parametrize("module,blocks", [(nn.RNN, 1), (nn.LSTM, 4), (nn.GRU, 3)])
def test_spectral_norm_of_every_block(module, blocks):
    rnn = module(3, 6, num_layers=2)
    set_recurrent_spectral_norm(rnn, 1.7, torch.Generator().manual_seed(0))
    for name in ("weight_hh_l0", "weight_hh_l1"):
        w = getattr(rnn, name).detach().double()
        for block in w.chunk(blocks):
            torch.testing.assert_close(torch.linalg.svdvals(block), torch.full((6,), 1.7, dtype=torch.float64),
                                       rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="value must be a number > 0"):
        set_recurrent_spectral_norm(rnn, 0.0)


@pytest.mark.parametrize("use_course_layer", [False, True])
def test_forget_bias_of_a_model(use_course_layer):
    rnn = RecurrentLayer("lstm", 3, 5, num_layers=2) if use_course_layer else None
    model = SequenceModel("lstm", 3, 5, 1, num_layers=2, rnn=rnn, forget_bias=1.0)
    biases = {n: p for n, p in model.rnn.named_parameters() if "bias" in n}
    sums = [biases[n] + biases[n.replace("bias_ih", "bias_hh")] for n in biases if "bias_ih" in n]
    assert len(sums) == 2
    for total in sums:
        assert torch.all(total[5:10] == 1.0) and not torch.any(total[:5] == 1.0)
    with pytest.raises(ValueError, match="no learned gate 'f'"):
        set_forget_bias(nn.GRU(3, 5), 1.0)


def test_gate_bias_follows_the_learned_gates_of_a_variant():
    layer = RecurrentLayer("lstm", 3, 4, variant="no_input")  # blocks f, g, o: the forget gate is block 0
    set_gate_bias(layer, "f", 2.0)
    assert torch.all(layer.cells[0].bias_ih[:4] == 2.0) and torch.all(layer.cells[0].bias_hh[:4] == 0)
    with pytest.raises(ValueError, match="no learned gate 'i'"):
        set_gate_bias(layer, "i", 1.0)
    cell = nn.GRUCell(3, 4)
    set_gate_bias(cell, "z", -1.0)
    assert torch.all(cell.bias_ih[4:8] == -1.0)


def test_spectral_norm_needs_recurrent_weights():
    with pytest.raises(ValueError, match="no recurrent weights"):
        set_recurrent_spectral_norm(nn.Linear(3, 3), 1.0)
