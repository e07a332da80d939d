"""rnn_course.kinds: the one table of kinds agrees with PyTorch's modules."""
import pytest
import torch.nn as nn

from rnn_course.kinds import GATES, KINDS, TORCH_MODULES, check_kind, kind_of


@pytest.mark.parametrize("kind", KINDS)
def test_gate_blocks_are_the_rows_of_pytorchs_weights(kind):
    module = TORCH_MODULES[kind](3, 5)
    assert module.weight_ih_l0.shape[0] == len(GATES[kind]) * 5
    assert kind_of(module) == kind and check_kind(kind.upper()) == kind


def test_errors():
    with pytest.raises(ValueError, match="kind must be one of 'rnn', 'lstm', 'gru', got 'tcn'"):
        check_kind("tcn")
    with pytest.raises(ValueError, match="expected an nn.RNN, nn.LSTM or nn.GRU, got Linear"):
        kind_of(nn.Linear(2, 2))
