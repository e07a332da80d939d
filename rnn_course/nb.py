"""Small helpers for the course's notebooks: the Colab install cell and ``glue``.

``glue`` records a value for the website (myst-nb) when myst-nb is installed, and otherwise (Colab,
a plain Jupyter) simply shows it, so a chapter runs the same everywhere.
"""
from __future__ import annotations

INSTALL_CELL = '''\
# Colab: install the course package from its repository (a no-op anywhere else).
import importlib.util, os, subprocess, sys
COURSE_REPO = "{repo_url}"
if ("google.colab" in sys.modules or os.environ.get("RNN_COURSE_FORCE_INSTALL")) \\
        and importlib.util.find_spec("rnn_course") is None:
    source = os.environ.get("RNN_COURSE_INSTALL_SOURCE", f"git+{{COURSE_REPO}}.git")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)'''


def install_cell(repo_url: str) -> str:
    """The source of every notebook's first code cell, for the repository ``repo_url``."""
    if not repo_url.startswith("https://"):
        raise ValueError(f"repo_url must be an https URL, got {repo_url!r}")
    return INSTALL_CELL.format(repo_url=repo_url.rstrip("/"))


def glue(name: str, value, display: bool = False):
    """Store ``value`` under ``name`` for ``{glue:text}`name``` in the chapter's prose.

    With myst-nb installed (the website build), this is ``myst_nb.glue``; elsewhere the value is
    printed when ``display`` is true. Returns nothing, so a cell ending in ``glue`` shows no ``Out[]``.
    NumPy scalars and one-element tensors are stored as plain Python numbers, so that formats such as
    ``{glue:text}`name:.2f``` work on them.
    """
    value = plain(value)
    try:
        from myst_nb import glue as _glue
    except ImportError:
        if display:
            print(f"{name} = {value!r}")
        return None
    _glue(name, value, display=display)
    return None


def plain(value):
    """``value`` as a plain Python number if it is a NumPy scalar or a one-element tensor, else unchanged."""
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if type(value).__name__ == "Tensor" and hasattr(value, "numel") and value.numel() == 1:
        return value.item()
    return value
