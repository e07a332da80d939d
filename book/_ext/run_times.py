"""Sphinx extension: the ``run-times`` directive, the table on the website's "Run times" page.

It reads ``artifacts/notebook_times.json``, which the test run (``conftest.py``) writes after nbval has
executed every notebook, and turns it into a table: chapter, cells, seconds, passed. Before any test run it
reads ``book/run_times.json``, which ``rnn-course execute`` writes: how long the run that produced each
chapter's committed outputs took. Nothing is typed by hand. When neither file can be read the page says so
and the build stays free of warnings.

Registered in ``_config.yml``::

    sphinx:
      local_extensions:
        run_times: book/_ext
"""
from __future__ import annotations

import json
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

TIMES_FILE = Path("artifacts") / "notebook_times.json"  # relative to the book root (the repository root)
EXECUTE_FILE = Path("book") / "run_times.json"  # written by `rnn-course execute`, committed with the notebooks


def _toc_order(srcdir: Path) -> list[str]:
    """Document names in the reading order of ``_toc.yml`` (empty when it cannot be read)."""
    try:
        import yaml

        toc = yaml.safe_load((srcdir / "_toc.yml").read_text())
    except (OSError, ImportError, ValueError):
        return []
    order: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    order.append(str(node[key]))
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return order


def _para(*children) -> nodes.paragraph:
    para = nodes.paragraph()
    for child in children:
        para += nodes.Text(child) if isinstance(child, str) else child
    return para


class RunTimesDirective(SphinxDirective):
    """``{run-times}``: the measured CPU run time of every notebook, as a table."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        srcdir = Path(self.env.srcdir)
        record, source = None, None
        for name in (TIMES_FILE, EXECUTE_FILE):
            path = srcdir / name
            self.env.note_dependency(str(path))  # rebuild this page when a new run writes the file
            try:
                record = json.loads(path.read_text())
                notebooks = record["notebooks"]
                source = name
                break
            except (OSError, ValueError, KeyError, TypeError):
                record = None
        if record is None:
            note = nodes.note()
            note += _para(
                "No run times were recorded for this build of the site. Run the test suite "
                "(", nodes.literal(text="python -m pytest"), ") and build the site again: the table appears here."
            )
            return [note]

        order = {doc: i for i, doc in enumerate(_toc_order(srcdir))}
        rows = sorted(notebooks.items(), key=lambda kv: (order.get(kv[0].rsplit(".", 1)[0], len(order)), kv[0]))

        if source == TIMES_FILE:
            intro = _para(
                f"Measured {record.get('measured', 'at an unknown date')} on "
                f"{record.get('machine', 'an unknown machine')}. Each time is the sum of the notebook's cell times "
                "while the test suite executed it with nbval, kernel start included."
            )
        else:
            machines = sorted({e.get("machine", "an unknown machine") for e in notebooks.values()})
            dates = sorted(e.get("measured", "") for e in notebooks.values() if e.get("measured"))
            when = ("at unknown dates" if not dates else f"on {dates[0]}" if dates[0] == dates[-1]
                    else f"between {dates[0]} and {dates[-1]}")
            intro = _para(
                f"Measured {when}, on {'; '.join(machines)}. Each time is the wall-clock time of ",
                nodes.literal(text="rnn-course execute"), ", the run that produced the outputs the chapter pages "
                "show, kernel start included. A test run replaces this table with its own times."
            )
        table = nodes.table(classes=["run-times"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (50, 12, 18, 20):
            group += nodes.colspec(colwidth=width)
        head, body = nodes.thead(), nodes.tbody()
        group += head
        group += body
        head += self._row(["Chapter", "Cells", "Time (s)", "Result"])
        total = 0.0
        for nb_path, entry in rows:
            seconds = float(entry.get("seconds", 0.0))
            total += seconds
            body += self._row([
                self._chapter_link(nb_path),
                str(entry.get("cells", "")),
                f"{seconds:.1f}",
                "passed" if entry.get("passed") else "FAILED",
            ])
        body += self._row([nodes.strong(text="All notebooks"), "", f"{total:.1f}", ""])

        missing = [doc for doc in order if doc not in {p.rsplit(".", 1)[0] for p in notebooks}
                   and (srcdir / f"{doc}.ipynb").exists()]
        out: list[nodes.Node] = [intro, table]
        if missing:
            out.append(_para("Not measured in this run: ", ", ".join(f"{doc}.ipynb" for doc in missing), "."))
        return out

    def _chapter_link(self, nb_path: str) -> nodes.Node:
        """A link whose text is the chapter's title, or the plain path for a notebook outside the site."""
        docname = nb_path.rsplit(".", 1)[0]
        if docname not in self.env.found_docs:
            return nodes.literal(text=nb_path)
        ref = addnodes.pending_xref(
            "", refdomain="std", reftype="doc", reftarget="/" + docname, refexplicit=False, refwarn=True,
            refdoc=self.env.docname,
        )
        ref += nodes.inline(text=docname)
        return ref

    @staticmethod
    def _row(cells) -> nodes.row:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += _para(cell) if isinstance(cell, (str, nodes.Node)) else cell
            row += entry
        return row


def setup(app):
    app.add_directive("run-times", RunTimesDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
