r"""The chapters' prose, readable everywhere: MyST markdown rendered as plain markdown with this run's numbers.

A chapter's markdown is written in MyST: ``{glue:text}`name:.2f``` for a number of the run, ``{cite:t}`key``` and
``{cite:p}`key``` for the literature, ``$$ ... $$ (label)`` and ``{eq}`label``` for equations, ``{doc}`page``` for
another chapter. Jupyter and Colab
have no MyST and would show those roles raw. So, after a notebook is executed (``rnn-course execute``),
``render_notebook`` writes every markdown cell that holds a role as plain markdown: the glued values formatted
as MyST formats them, citations as "Hochreiter and Schmidhuber (1997)", equations numbered with ``\tag``, a
page by its title. The
MyST source stays in the cell's metadata (``rnn_course.myst``), and the website's build puts it back
(``book/_ext/myst_source.py``), so the site keeps its glue, citations and cross-references.

Which text is the source? If a cell still holds exactly its last rendering, the stored MyST is; if it was
edited since, the edited text is the new source. So an author edits the markdown as usual and runs
``rnn-course execute`` (or ``rnn-course render`` when only prose changed).
"""
from __future__ import annotations

import re
from ast import literal_eval
from pathlib import Path

KEY = "rnn_course"  # the cell metadata entry: {"myst": source, "rendered": text}
ROLE = re.compile(r"\{([a-z][a-z:-]*)\}`([^`]*)`")
LABELLED_MATH = re.compile(r"^\$\$\n(.*?)\n\$\$ *\(([^)\s]+)\) *$", re.S | re.M)
GLUE_MIME = "application/papermill.record/text/plain"


def format_plain_text(text: str, fmt_spec: str) -> str:
    """A glued value's ``text/plain`` form, formatted as MyST-NB's ``{glue:text}`key:fmt``` formats it."""
    try:
        value = literal_eval(text)  # removes surrounding quotes
    except (SyntaxError, ValueError):
        value = text
    if fmt_spec == "":
        return str(value)
    kind = fmt_spec[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, fmt_spec)


def glued_values(nb) -> dict[str, str]:
    """``{name: text/plain}`` of every value the executed notebook glued (``rnn_course.nb.glue``)."""
    values = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                data = out.get("data", {})
                values[name] = data.get(GLUE_MIME, data.get("text/plain", ""))
    return values


def citation_labels(bib_path: Path) -> dict[str, tuple[str, str]]:
    """``{key: (authors, year)}`` from a BibTeX file: "Hochreiter and Schmidhuber", "Greff et al."."""
    from pybtex.database import parse_file  # installed with the website's tools

    def last(person):
        return " ".join(person.prelast_names + person.last_names).replace("{", "").replace("}", "")

    labels = {}
    for key, entry in parse_file(str(bib_path)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        if len(people) == 1:
            names = last(people[0])
        elif len(people) == 2:
            names = f"{last(people[0])} and {last(people[1])}"
        else:
            names = f"{last(people[0])} et al." if people else key
        labels[key] = (names, entry.fields.get("year", "n.d."))
    return labels


def page_title(folder: Path, page: str) -> str | None:
    """The title (first ``# `` heading) of the page ``page`` (a notebook or markdown file in ``folder``)."""
    import json

    for suffix in (".ipynb", ".md"):
        path = Path(folder) / f"{page}{suffix}"
        if path.is_file():
            if suffix == ".md":
                texts = [path.read_text(encoding="utf-8")]
            else:
                cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
                texts = [c.get("metadata", {}).get(KEY, {}).get("myst") or "".join(c["source"])
                         for c in cells if c["cell_type"] == "markdown"]
            for text in texts:
                for line in text.splitlines():
                    if line.startswith("# "):
                        return line[2:].strip()
    return None


class _Renderer:
    def __init__(self, values: dict[str, str], citations: dict[str, tuple[str, str]], equations: dict[str, int],
                 where: str, folder: Path | None = None):
        self.values, self.citations, self.equations, self.where = values, citations, equations, where
        self.folder = folder

    def role(self, match: re.Match) -> str:
        name, content = match.group(1), match.group(2)
        if name in ("glue:text", "glue"):
            key, _, fmt = content.partition(":") if name == "glue:text" else (content, "", "")
            if key not in self.values:
                raise ValueError(f"{self.where}: {{glue:text}}`{content}` names no glued value; glued: "
                                 f"{sorted(self.values)[:20]}")
            return format_plain_text(self.values[key], fmt)
        if name in ("cite:t", "cite:p", "cite"):
            keys = [k.strip() for k in content.split(",")]
            unknown = [k for k in keys if k not in self.citations]
            if unknown:
                raise ValueError(f"{self.where}: citation keys not in the bibliography: {unknown}")
            if name == "cite:t":
                return "; ".join(f"{self.citations[k][0]} ({self.citations[k][1]})" for k in keys)
            return "(" + "; ".join(f"{self.citations[k][0]}, {self.citations[k][1]}" for k in keys) + ")"
        if name == "eq":
            if content not in self.equations:
                raise ValueError(f"{self.where}: {{eq}}`{content}` refers to no labelled equation of this page")
            return f"({self.equations[content]})"
        if name == "doc":
            text, _, target = content.rpartition("<") if content.endswith(">") else ("", "", content + ">")
            target = target[:-1].strip()
            title = text.strip() or (page_title(self.folder, target) if self.folder else None)
            if title is None:
                raise ValueError(f"{self.where}: {{doc}}`{content}` names no page beside this one")
            return f"*{title}*"
        raise ValueError(f"{self.where}: the role {{{name}}} has no plain rendering; use glue, cite, eq or doc")

    def text(self, source: str) -> str:
        def math(m: re.Match) -> str:
            return f"$$\n{m.group(1)}\n\\tag{{{self.equations[m.group(2)]}}}\n$$"

        return ROLE.sub(self.role, LABELLED_MATH.sub(math, source))


def markdown_source(cell) -> str:
    """The MyST source of a markdown cell: the stored one while the cell holds its last rendering."""
    meta = cell.get("metadata", {}).get(KEY, {})
    text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    if meta.get("myst") is not None and text == meta.get("rendered"):
        return meta["myst"]
    return text


def needs_rendering(source: str) -> bool:
    return bool(ROLE.search(source) or LABELLED_MATH.search(source))


def render_notebook(nb, bib_path: Path | None = None, name: str = "notebook", folder: Path | None = None) -> int:
    """Render every markdown cell of ``nb`` (a dict or ``NotebookNode``) that holds a role; see the module doc.

    ``folder`` (default: the bibliography's) holds the pages ``{doc}`` names. Returns the number of cells
    rendered. Raises ``ValueError`` for a glue key the run did not glue, an unknown citation key, equation
    label or page, or a role with no plain form.
    """
    folder = Path(folder) if folder is not None else (Path(bib_path).parent if bib_path is not None else None)
    cells = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    sources = [markdown_source(c) for c in cells]
    labels = [m.group(2) for s in sources for m in LABELLED_MATH.finditer(s)]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{name}: an equation label is used twice: {labels}")
    equations = {label: k + 1 for k, label in enumerate(labels)}
    citations = {}
    if any(re.search(r"\{cite(:[tp])?\}`", s) for s in sources):
        if bib_path is None or not Path(bib_path).is_file():
            raise ValueError(f"{name} cites the literature; the bibliography {bib_path} is missing")
        citations = citation_labels(Path(bib_path))
    values, rendered = glued_values(nb), 0
    for i, (cell, source) in enumerate(zip(cells, sources)):
        meta = cell.setdefault("metadata", {})
        if not needs_rendering(source):
            meta.pop(KEY, None)
            cell["source"] = source
            continue
        text = _Renderer(values, citations, equations, f"{name}, markdown cell {i + 1}", folder).text(source)
        cell["source"] = text
        meta[KEY] = {"myst": source, "rendered": text}
        rendered += 1
    return rendered


def myst_notebook(nb) -> int:
    """Put the MyST source back into every rendered markdown cell (for the website). Returns how many."""
    restored = 0
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get(KEY)
        if cell["cell_type"] == "markdown" and meta and meta.get("myst") is not None:
            cell["source"] = meta["myst"]
            restored += 1
    return restored


def raw_roles(text: str) -> list[str]:
    """The MyST roles and labelled equations left in ``text`` (what Jupyter and Colab would show raw)."""
    return [m.group(0) for m in ROLE.finditer(text)] + [f"$$ ({m.group(2)})" for m in LABELLED_MATH.finditer(text)]
