"""rnn_course.diagrams: every diagram draws, says what it must, and is sized to stay legible on a phone."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from rnn_course import diagrams  # noqa: E402


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.mark.parametrize("name", diagrams.__all__)
def test_each_diagram_draws_at_a_legible_size(name):
    fig = getattr(diagrams, name)()
    width, height = fig.get_size_inches()
    assert width <= 11 and height <= 8  # shown at the text width, no smaller than the page shrinks it
    sizes = [t.get_fontsize() for ax in fig.axes for t in ax.texts]
    assert sizes and min(sizes) >= 9  # points, at about 7.5 inches wide
    fig.canvas.draw()
    plt.close(fig)


def test_the_cells_name_every_equation_line():
    lstm = " ".join(texts(diagrams.lstm_cell()))
    for start in ("i_t =", "f_t =", "g_t =", "o_t =", "c_t = f_t", "h_t = o_t"):
        assert start in lstm, start
    gru = " ".join(texts(diagrams.gru_cell()))
    assert r"r_t \odot (W_{hn} h_{t-1} + b_{hn})" in gru  # PyTorch's form: r acts on W_hn h + b_hn
    assert "h_t = (1 - z_t)" in gru
    assert "backpropagation through time" in " ".join(texts(diagrams.unrolled_rnn(backward=True)))
    plt.close("all")


def test_layouts_show_the_index_order_and_the_packed_counts():
    stacked = texts(diagrams.stacked_bidirectional(num_layers=2, steps=3))
    assert [t for t in stacked if t.startswith("$h_n")] == ["$h_n[0]$", "$h_n[1]$", "$h_n[2]$", "$h_n[3]$"]
    packed = " ".join(texts(diagrams.packed_sequence([1, 4, 3])))
    assert "batch_sizes = [3, 2, 2, 1]" in packed  # the lengths are sorted, longest first
    assert sum("detach" == t for t in texts(diagrams.tbptt_windows(12, 4))) == 2
    plt.close("all")


@pytest.mark.parametrize("call", [lambda: diagrams.unrolled_rnn(9), lambda: diagrams.stacked_bidirectional(0),
                                  lambda: diagrams.packed_sequence([0, 2]), lambda: diagrams.tbptt_windows(4, 4),
                                  lambda: diagrams.encoder_decoder(1, 3), lambda: diagrams.stream_batches("ab")])
def test_bad_sizes_are_refused(call):
    with pytest.raises(ValueError):
        call()
