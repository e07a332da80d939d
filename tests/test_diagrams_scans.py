"""rnn_course.diagrams.scans: the doubling scan's drawing shows the rounds scan_doubling takes."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from rnn_course import diagrams  # noqa: E402


@pytest.mark.parametrize("steps", [2, 5, 8])
def test_one_row_per_round_and_every_step_done_at_the_end(steps):
    texts = [t.get_text() for t in diagrams.doubling_scan(steps).axes[0].texts]
    rounds = [t for t in texts if t.startswith("d = ")]
    assert rounds == [f"d = {2 ** k}" for k in range(math.ceil(math.log2(steps)))]
    assert texts[-(steps + 1):-1] == ["1"] + [f"1..{t}" for t in range(2, steps + 1)]  # the last row: h_1..h_T
    plt.close("all")


@pytest.mark.parametrize("steps", [1, 9, 2.0, True])
def test_bad_sizes_are_refused(steps):
    with pytest.raises(ValueError, match="steps must be an int from 2 to 8"):
        diagrams.doubling_scan(steps)
