"""The course's diagrams, drawn with matplotlib, so that they render wherever the notebook does (the website,
Colab, Jupyter) and a test can check that each is on its page. Each function returns a ``Figure``.

- one recurrence (``cells``): ``unrolled_rnn``, ``lstm_cell``, ``gru_cell``;
- how batches and layers are laid out (``layouts``): ``stacked_bidirectional``, ``packed_sequence``,
  ``tbptt_windows``, ``encoder_decoder``, ``stream_batches``;
- the parallel scan of a linear recurrence (``scans``): ``doubling_scan``.
"""
from rnn_course.diagrams.cells import gru_cell, lstm_cell, unrolled_rnn
from rnn_course.diagrams.layouts import encoder_decoder, packed_sequence, stacked_bidirectional, stream_batches
from rnn_course.diagrams.layouts import tbptt_windows
from rnn_course.diagrams.scans import doubling_scan

__all__ = ["unrolled_rnn", "lstm_cell", "gru_cell", "stacked_bidirectional", "packed_sequence", "tbptt_windows",
           "encoder_decoder", "stream_batches", "doubling_scan"]
