"""get_device and set_seed."""
import random

import numpy as np
import pytest
import torch

from rnn_course.device import get_device, set_seed


def test_cpu_when_no_gpu(monkeypatch, capsys):
    monkeypatch.delenv("RNN_COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")
    assert "Using device: cpu" in capsys.readouterr().out


def test_cuda_preferred_when_present(monkeypatch, capsys):
    monkeypatch.delenv("RNN_COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
    assert get_device() == torch.device("cuda")
    assert "Fake GPU" in capsys.readouterr().out


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("RNN_COURSE_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device(verbose=False) == torch.device("cpu")


@pytest.mark.parametrize("value, message", [("tpu9", "is not a device"), ("cuda", "asks for CUDA")])
def test_bad_override_is_explained(monkeypatch, value, message):
    monkeypatch.setenv("RNN_COURSE_DEVICE", value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=message):
        get_device(verbose=False)


def test_set_seed_repeats_all_three_generators():
    set_seed(123)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    set_seed(123)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_set_seed_rejects_bad_seed():
    with pytest.raises(ValueError, match="non-negative int"):
        set_seed(-1)


def test_import_changes_no_setting():
    import subprocess
    import sys

    code = ("import torch; before=(torch.get_num_threads(), torch.get_default_dtype(), "
            "torch.are_deterministic_algorithms_enabled()); import rnn_course, rnn_course.device, rnn_course.params, "
            "rnn_course.nb; after=(torch.get_num_threads(), torch.get_default_dtype(), "
            "torch.are_deterministic_algorithms_enabled()); assert before == after, (before, after)")
    subprocess.run([sys.executable, "-c", code], check=True)
