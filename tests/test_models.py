"""rnn_course.models: shapes, padded batches against each sequence run alone, the course's own layer, errors."""
import pytest
import torch
import torch.nn as nn
from torch.testing import assert_close

from rnn_course.kinds import KINDS
from rnn_course.layer import RecurrentLayer
from rnn_course.models import SequenceModel, count_params


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("head", ["last", "every"])
def test_shapes(kind, head):
    model = SequenceModel(kind, 3, 8, 5, num_layers=2, head=head)
    x = torch.randn(4, 7, 3)  # B, T, F
    y, state = model(x, return_state=True)
    assert y.shape == ((4, 5) if head == "last" else (4, 7, 5))
    h = state[0] if kind == "lstm" else state
    assert h.shape == (2, 4, 8)


@pytest.mark.parametrize("kind", KINDS)
def test_last_head_reads_last_step(kind):
    model = SequenceModel(kind, 3, 8, 2)
    x = torch.randn(4, 6, 3)
    out, _ = model.rnn(x)
    assert_close(model(x), model.head(out[:, -1]))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("head", ["last", "every"])
def test_lengths_equal_each_sequence_alone(kind, head):
    model = SequenceModel(kind, 3, 6, 2, head=head).double()
    lengths = [5, 2, 7, 1]
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    x_padded = x.clone()
    for b, n in enumerate(lengths):
        x_padded[b, n:] = 99.0  # padding must not matter
    y = model(x_padded, torch.tensor(lengths))
    for b, n in enumerate(lengths):
        alone = model(x[b: b + 1, :n])
        if head == "last":
            assert_close(y[b], alone[0])
        else:
            assert_close(y[b, :n], alone[0])
            assert torch.all(y[b, n:] == 0)


@pytest.mark.parametrize("kind", KINDS)
def test_course_layer_matches_torch(kind):
    reference = SequenceModel(kind, 3, 6, 2).double()
    scratch = SequenceModel(kind, 3, 6, 2, rnn=RecurrentLayer.from_torch(reference.rnn)).double()
    scratch.head.load_state_dict(reference.head.state_dict())
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    assert_close(scratch(x), reference(x))
    assert_close(scratch(x, [5, 3, 1, 4]), reference(x, [5, 3, 1, 4]))


def test_bidirectional_last_reads_both_directions():
    rnn = nn.GRU(3, 4, batch_first=True, bidirectional=True)
    model = SequenceModel("gru", 3, 4, 2, rnn=rnn)
    x = torch.randn(2, 5, 3)
    out, h_n = rnn(x)
    assert_close(model(x), model.head(torch.cat([h_n[0], h_n[1]], dim=1)))


def test_embedding_input():
    model = SequenceModel("lstm", 4, 8, 10, head="every", vocab_size=10)
    ids = torch.randint(0, 10, (3, 6))
    assert model(ids).shape == (3, 6, 10)
    with pytest.raises(ValueError, match="integer ids"):
        model(torch.randn(3, 6, 4))


def test_padding_idx_and_head_dropout():
    torch.manual_seed(0)
    model = SequenceModel("lstm", 4, 8, 2, vocab_size=10, padding_idx=0, head_dropout=0.5)
    assert torch.all(model.embedding.weight[0] == 0)
    ids, lengths = torch.randint(1, 10, (16, 6)), torch.randint(1, 7, (16,))
    model.eval()
    assert torch.equal(model(ids, lengths), model(ids, lengths))  # no dropout in eval mode
    with torch.no_grad():
        h = model.rnn(model.embedding(ids))[0][:, -1]
    assert_close(model(ids), model.head(h))  # eval: the head reads the state untouched
    model.train()
    assert not torch.equal(model(ids, lengths), model(ids, lengths))  # dropout in training mode
    plain = SequenceModel("lstm", 4, 8, 2, vocab_size=10)
    assert plain.embedding.padding_idx is None and plain.head_dropout.p == 0.0
    assert set(plain.state_dict()) == set(model.state_dict())  # dropout adds no parameters


def test_count_params():
    model = SequenceModel("gru", 2, 8, 1)
    assert count_params(model) == 3 * (8 * 2 + 8 * 8 + 2 * 8) + 8 + 1


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="transformer"), "kind"),
    (dict(head="first"), "head"),
    (dict(hidden_size=0), "hidden_size"),
    (dict(kind="gru", forget_bias=1.0), "forget_bias"),
    (dict(rnn=nn.GRU(2, 9, batch_first=True)), "hidden_size"),
    (dict(rnn=nn.GRU(2, 8)), "batch_first"),
    (dict(head_dropout=1.0), "head_dropout"),
    (dict(padding_idx=0), "padding_idx needs vocab_size"),
    (dict(vocab_size=5, padding_idx=5), "padding_idx must be an id"),
])
def test_bad_arguments(kwargs, match):
    args = dict(kind="lstm", input_size=2, hidden_size=8, output_size=1) | kwargs
    with pytest.raises(ValueError, match=match):
        SequenceModel(args.pop("kind"), args.pop("input_size"), args.pop("hidden_size"), args.pop("output_size"),
                      **args)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="batch, time, features"):
        SequenceModel("rnn", 2, 4, 1)(torch.randn(3, 2))
