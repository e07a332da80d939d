"""Sphinx extension: build each chapter from its MyST prose.

The committed notebooks hold their markdown rendered as plain text with the run's numbers, for Jupyter and
Colab (``rnn_course.prose``); each rendered cell keeps its MyST source (glue, citations, equation labels) in
its metadata. Before MyST-NB reads a notebook, this puts that source back, so the website keeps its glued
numbers, its citation links and its numbered, cross-referenced equations.
"""
from __future__ import annotations

import json


def _restore(app, docname, source):
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    nb = json.loads(source[0])
    restored = 0
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("rnn_course") or {}
        if cell.get("cell_type") == "markdown" and meta.get("myst") is not None:
            cell["source"] = meta["myst"]
            restored += 1
    if restored:
        source[0] = json.dumps(nb)


def setup(app):
    app.connect("source-read", _restore)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
