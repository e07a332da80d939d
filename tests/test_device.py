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


def test_seeds_come_from_the_environment(monkeypatch, capsys):
    from rnn_course.device import setup

    monkeypatch.setenv("RNN_COURSE_DEVICE", "cpu")
    monkeypatch.delenv("RNN_COURSE_THREADS", raising=False)
    monkeypatch.delenv("RNN_COURSE_SEED", raising=False)
    monkeypatch.delenv("RNN_COURSE_SEEDS", raising=False)
    threads = torch.get_num_threads()
    try:
        run = setup(seed=4, seeds=[4, 5], gpu_seeds=[4, 5, 6, 7])
        assert (run.seed, run.seeds, run.threads) == (4, [4, 5], 1)
        assert "Seeds: 4 (the chapter's default); comparisons over [4, 5] (the chapter's default)" in \
            capsys.readouterr().out
        monkeypatch.setenv("RNN_COURSE_SEED", "11")
        monkeypatch.setenv("RNN_COURSE_SEEDS", "21, 22,23")
        monkeypatch.setenv("RNN_COURSE_THREADS", "2")
        run = setup(seed=4, seeds=[4, 5])
        assert (run.seed, run.seeds, run.threads) == (11, [21, 22, 23], 2) and torch.get_num_threads() == 2
        out = capsys.readouterr().out
        assert "from RNN_COURSE_SEED)" in out and "from RNN_COURSE_SEEDS" in out and "set by RNN_COURSE_THREADS" in out
        assert torch.rand(1).item() == (torch.manual_seed(11), torch.rand(1).item())[1]  # seeded with the main seed
    finally:
        torch.set_num_threads(threads)


def test_gpu_seeds_on_cuda(monkeypatch):
    from rnn_course.device import setup

    monkeypatch.delenv("RNN_COURSE_DEVICE", raising=False)
    monkeypatch.delenv("RNN_COURSE_SEEDS", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: None)
    threads = torch.get_num_threads()
    try:
        assert setup(seeds=[0, 1], gpu_seeds=[0, 1, 2, 3], verbose=False).seeds == [0, 1, 2, 3]
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("var, value, message", [
    ("RNN_COURSE_SEED", "1,2", "must be one integer"), ("RNN_COURSE_SEED", "x", "comma-separated"),
    ("RNN_COURSE_SEEDS", "1,-2", "non-negative"), ("RNN_COURSE_SEEDS", "3,3", "distinct"),
    ("RNN_COURSE_THREADS", "0", "one integer >= 1")])
def test_bad_environment_is_explained(monkeypatch, var, value, message):
    from rnn_course.device import setup

    monkeypatch.setenv("RNN_COURSE_DEVICE", "cpu")
    monkeypatch.setenv(var, value)
    threads = torch.get_num_threads()
    try:
        with pytest.raises(ValueError, match=message):
            setup(verbose=False)
    finally:
        torch.set_num_threads(threads)
