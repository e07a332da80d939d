"""Sphinx extension: label the references page the way the chapters cite, "Hochreiter and Schmidhuber, 1997".

The chapters cite author-year (``bibtex_reference_style: author_year``); pybtex's own styles would label the
list "[HS97]" or "[3]", which a reader cannot match with the citation in the text. This registers the
bibliography style ``authoryear``: pybtex's ``plain`` style (sorted by author), labelled "Author, year",
"Author and Other, year" or "Author et al., year", with a, b, ... where two entries would share a label.

Used with ``bibtex_default_style: authoryear`` in ``_config.yml``.
"""
from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _last_name(person) -> str:
    return " ".join(person.prelast_names + person.last_names).replace("{", "").replace("}", "")


def _label(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    year = entry.fields.get("year", "n.d.")
    if not people:
        return f"{entry.key}, {year}"
    if len(people) == 1:
        names = _last_name(people[0])
    elif len(people) == 2:
        names = f"{_last_name(people[0])} and {_last_name(people[1])}"
    else:
        names = f"{_last_name(people[0])} et al."
    return f"{names}, {year}"


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Author et al., year", made unique with a letter after the year."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [_label(e) for e in entries]
        counts, seen = Counter(labels), Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(PlainStyle):
    default_label_style = "authoryear"


def setup(app):
    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
