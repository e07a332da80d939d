"""rnn_course.tasks.state: the parity stream's labels, chance level and errors."""
import pytest
import torch

from rnn_course.tasks import TASKS, ParityStream


def test_parity_stream_labels_the_running_parity():
    task = ParityStream(T=12)
    x, y = task.sample(64, torch.Generator().manual_seed(0))
    assert x.shape == (64, 12, 1) and y.shape == (64, 12) and x.dtype == torch.float32
    bits = x[..., 0].long()
    assert set(bits.unique().tolist()) == {0, 1}
    for t in range(12):
        assert torch.equal(y[:, t], bits[:, : t + 1].sum(1) % 2)
    assert TASKS["parity_stream"] is ParityStream
    assert task.baseline_metric == pytest.approx(13 / 24)
    memoryless = torch.nn.functional.one_hot(bits, 2).float()  # predicts the current bit: right at step 1 only
    assert task.metric(memoryless, y) == pytest.approx(task.baseline_metric, abs=0.05)
    with pytest.raises(ValueError, match="T must be an int >= 1"):
        ParityStream(T=0)
