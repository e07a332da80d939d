"""Sphinx extension: write each inline ``<script>`` of a page once.

With Sphinx 7.4, an inline script that an extension adds after the HTML builder has started (sphinx-thebe's
``const THEBE_JS_URL = ...``, sphinx-togglebutton's settings) is listed twice: once with the file name
``None`` and once, re-added from the registry, with ``''``. The second ``const`` declaration throws
``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` on every page, which the browser
check (``.ci/browser_check.py``) reports as a JavaScript error. This drops the repeated copy.
"""
from __future__ import annotations


def _drop_repeated_inline_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, kept = set(), []
    for js in scripts:
        filename = getattr(js, "filename", js) or ""
        attributes = getattr(js, "attributes", {}) or {}
        key = (str(filename), getattr(js, "priority", None), tuple(sorted(attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    scripts[:] = kept  # in place: the builder restores its own list after each page


def setup(app):
    app.connect("html-page-context", _drop_repeated_inline_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
