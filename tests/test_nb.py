"""rnn_course.nb: glued values are plain Python numbers, so the website can format them."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rnn_course.nb import plain

BOOK = Path(__file__).resolve().parent.parent / "book"


@pytest.mark.parametrize("value, expected", [(np.float64(2.5), 2.5), (np.float32(0.5), 0.5), (np.int64(7), 7),
                                             (np.bool_(True), True), (torch.tensor(1.25), 1.25),
                                             (torch.tensor([3]), 3)])
def test_plain_turns_scalars_into_python_numbers(value, expected):
    out = plain(value)
    assert type(out) is type(expected) and out == expected


@pytest.mark.parametrize("value", ["GRU", 3, 2.5, [1, 2], np.arange(3), torch.arange(3), None])
def test_plain_leaves_everything_else_alone(value):
    assert plain(value) is value


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.name)
def test_no_numpy_repr_in_glued_values(path):
    """A glued np.float64 shows as 'np.float64(...)' and breaks {glue:text}`x:.2f` on the website."""
    for cell in json.loads(path.read_text())["cells"]:
        for out in cell.get("outputs", []):
            if "scrapbook" in out.get("metadata", {}):
                data = out.get("data", {})
                text = "".join(data.get("text/plain", data.get("application/papermill.record/text/plain", "")))
                assert not text.startswith(("np.", "tensor(")), (path.name, out["metadata"]["scrapbook"], text)
