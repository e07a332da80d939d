"""A site with pages withheld (``rnn-course site --without-solutions``): links to them become plain text.

``rnn_course_withheld`` (a list of page names such as ``charlm_solutions``, empty on the full site) names the
pages the build leaves out; every ``{doc}`` role that points to one of them is replaced, before parsing, by the
words "withheld on this site", so the other pages build without a broken reference.
"""
import re


def _rewrite(app, docname, source):
    withheld = app.config.rnn_course_withheld
    if not withheld:
        return
    names = "|".join(re.escape(w) for w in withheld)
    role = re.compile(r"\{doc\}`(?:([^`<]*?)\s*<)?(?:[./]*|book/)?(" + names + r")(?:\.ipynb)?>?`")
    source[0] = role.sub(lambda m: f"{m.group(1) or m.group(2)} (withheld on this site)", source[0])


def setup(app):
    app.add_config_value("rnn_course_withheld", [], "env")
    app.connect("source-read", _rewrite)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
