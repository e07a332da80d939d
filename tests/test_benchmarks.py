"""The maintainers' benchmarks (``benchmarks/``, outside the package): each runs end to end at a tiny size."""
import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

from rnn_course.text import Vocab
from rnn_course_instructor.charlm import CharModel

pytestmark = pytest.mark.slow  # kernels or subprocesses: not in the fast tier

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
TEXT = "the cat sat on the mat. the dog sat on the log. " * 40


def load(name):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_cells_benchmark(capsys):
    result = load("cells").main(["--batch", "2", "--seq-len", "5", "--input-size", "3", "--hidden-size", "4",
                                 "--repeats", "2"])
    assert result["scratch_s"] > 0 and result["torch_s"] > 0 and result["ratio"] > 0
    assert "ratio scratch / nn.LSTM" in capsys.readouterr().out


def test_tasks_benchmark(capsys):
    table = load("tasks").main(["--lengths", "6", "--seeds", "0", "--hidden-size", "8", "--batch-size", "16",
                                "--max-steps", "30"])
    assert set(table.model) == {"gru", "lstm"} and (table.steps_run > 0).all()
    assert "steps_ratio" in capsys.readouterr().out


def test_recipe_benchmark_pieces_and_smoke_run(tmp_path, capsys):
    bench = load("charlm_recipes")
    vocab = Vocab.from_text(TEXT)
    ids = vocab.encode(TEXT)
    task = bench.SeedWindows(ids, ids, window=7)
    x, y = next(task.batches(5, torch.Generator()))
    assert x.shape == (5, 7) and y.shape == (5,)
    assert torch.equal(x[1, :-1], x[0, 1:])  # consecutive windows, one character apart
    assert torch.equal(y, ids[7:12])  # the target is the character after each window
    uniform = CharModel(vocab, "rnn", embed_dim=4, hidden_size=4, num_layers=1)
    with torch.no_grad():
        for p in uniform.parameters():
            p.zero_()
    assert bench.window_bpc(uniform, ids, window=7, stride=3) == pytest.approx(math.log2(len(vocab)))
    path = tmp_path / "text.txt"
    path.write_text(TEXT * 3, encoding="utf-8")
    rows = bench.main(["--marks", "1000", "2000", "--corpus", str(path), "--batch", "4", "--seq-len", "16",
                       "--steps", "6", "--eval-every", "3"])
    assert [(r["recipe"], r["seconds"]) for r in rows] == [("seed", 1000), ("seed", 2000), ("course", 1000),
                                                           ("course", 2000)]
    assert all(r["steps"] == 6 and math.isfinite(r["stream_bpc"]) for r in rows)
    assert math.isfinite(rows[-1]["window_bpc"])
    assert "Validation bpc of a 2x256 LSTM" in capsys.readouterr().out
