#!/usr/bin/env python3
"""Print the notebooks of the table of contents (_toc.yml), in reading order, one per line."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def files(node):
    if isinstance(node, dict):
        if "file" in node:
            yield node["file"]
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from files(value)
    elif isinstance(node, list):
        for item in node:
            yield from files(item)


for entry in files(yaml.safe_load((ROOT / "_toc.yml").read_text())):
    if (ROOT / f"{entry}.ipynb").exists():
        print(f"{entry}.ipynb")
