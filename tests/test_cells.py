"""The from-scratch cells against PyTorch's cells, in float64 at 1e-10, and gradcheck."""
import pytest
import torch
import torch.nn as nn

from rnn_course.cells import GRUCell, LSTMCell, RNNCell

TOL = dict(rtol=1e-10, atol=1e-10)
TORCH_CELLS = {RNNCell: nn.RNNCell, LSTMCell: nn.LSTMCell, GRUCell: nn.GRUCell}
I, H = 4, 5


def flat(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("ours,kwargs", [(RNNCell, {}), (RNNCell, {"nonlinearity": "relu"}), (LSTMCell, {}),
                                         (GRUCell, {})])
def test_cell_load_state_dict_both_ways(ours, kwargs):
    theirs = TORCH_CELLS[ours](I, H, **kwargs).double()
    cell = ours(I, H, **kwargs).double()
    cell.load_state_dict(theirs.state_dict())  # torch -> ours
    x = torch.randn(3, I, dtype=torch.float64)
    state = (torch.randn(3, H, dtype=torch.float64), torch.randn(3, H, dtype=torch.float64)) if ours is LSTMCell \
        else torch.randn(3, H, dtype=torch.float64)
    for a, b in zip(flat(cell(x, state)), flat(theirs(x, state))):
        torch.testing.assert_close(a, b, **TOL)
    for a, b in zip(flat(cell(x)), flat(theirs(x))):  # no state: zeros, as PyTorch
        torch.testing.assert_close(a, b, **TOL)
    back = TORCH_CELLS[ours](I, H, **kwargs).double()
    back.load_state_dict(ours(I, H, **kwargs).double().state_dict())  # ours -> torch: same keys and shapes
    assert set(back.state_dict()) == set(cell.state_dict())


@pytest.mark.parametrize("cls", [RNNCell, LSTMCell, GRUCell])
def test_gradcheck_tiny_cell(cls):
    cell = cls(2, 3).double()
    x = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    if cls is LSTMCell:
        c = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda x, h, c, *p: cell(x, (h, c)), (x, h, c, *cell.parameters()))
    else:
        assert torch.autograd.gradcheck(lambda x, h, *p: cell(x, h), (x, h, *cell.parameters()))


@pytest.mark.parametrize("cls,gates", [(RNNCell, ("h",)), (LSTMCell, ("i", "f", "g", "o")), (GRUCell, ("r", "z", "n"))])
def test_learned_gates_name_the_weight_blocks(cls, gates):
    cell = cls(I, H)
    assert cell.learned_gates == gates and cell.weight_ih.shape == (len(gates) * H, I)


def test_bad_cell_arguments():
    with pytest.raises(ValueError, match="hidden_size must be an int >= 1"):
        LSTMCell(I, 0)
    with pytest.raises(ValueError, match=r"expected x of shape \(batch, input_size\)"):
        GRUCell(I, H)(torch.zeros(2, I + 1))
    with pytest.raises(ValueError, match="expected a state of shape"):
        LSTMCell(I, H)(torch.zeros(2, I), (torch.zeros(2, H), torch.zeros(3, H)))
