"""How alike submissions are: token fingerprints chosen by winnowing (Schleimer, Wilkerson and Aiken, "Winnowing:
local algorithms for document fingerprinting", SIGMOD 2003), the method of MOSS.

No sandbox stops copying between students, or from the published solutions page; this report helps a person
find it. Each notebook's code cells are read with Python's own ``tokenize`` (IPython magics and shell lines
blanked): comments and blank lines drop out, identifiers become ``V``, numbers ``N`` and strings ``S`` (so
renaming variables or changing constants hides nothing), attribute names after a dot stay (the API a solution
calls), keywords, operators and indentation stay. Every run of ``K`` tokens is hashed, and in every window of
``W`` consecutive hashes the smallest is kept: any stretch of at least ``W + K - 1`` tokens that two notebooks
share gives them a fingerprint in common, whatever surrounds it. Fingerprints of the code handed out with the
exercise (the student notebook) are removed first, so the template shared by everyone counts for nothing.

``closest`` names, for each submission, the other submission or the reference solution that holds the largest
share of its remaining fingerprints, and that share.

Why not a library: copydetect, the MOSS-like tool on PyPI, does the same winnowing and has boilerplate and
reference folders, but it compares directories of source files (each notebook would first be written out as a
``.py``, its IPython lines made valid), tokenizes with Pygments and counts its thresholds in characters, and
reports in HTML. Here the input is notebook cells already in memory, Python's own tokenizer reads them the way
the interpreter does, and the sixty lines below keep the rules exact, testable and free of another dependency.
"""
from __future__ import annotations

import hashlib
import io
import keyword
import tokenize

from rnn_course_instructor.grading.submission import _python_only

K = 10  # tokens per hashed run (noise threshold)
W = 6  # window: runs of W + K - 1 = 15 tokens or more are always detected
MIN_OWN = 8  # fewer fingerprints of its own than this: too little code to compare
REFERENCE = "the reference solution"


def tokens(cells: list[str]) -> list[str]:
    """Normalised tokens of ``cells`` (see the module docstring)."""
    out: list[str] = []
    for source in cells:
        previous = ""
        try:
            for tok in tokenize.generate_tokens(io.StringIO(_python_only(source)).readline):
                kind, text = tok.type, tok.string
                if kind in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
                    continue
                if kind == tokenize.NAME:
                    word = text if keyword.iskeyword(text) or previous == "." else "V"
                elif kind == tokenize.NUMBER:
                    word = "N"
                elif kind == tokenize.STRING or kind == getattr(tokenize, "FSTRING_START", None):
                    word = "S"
                elif kind in (getattr(tokenize, "FSTRING_MIDDLE", None), getattr(tokenize, "FSTRING_END", None)):
                    continue
                elif kind == tokenize.INDENT:
                    word = "{"
                elif kind == tokenize.DEDENT:
                    word = "}"
                elif kind == tokenize.NEWLINE:
                    word = ";"
                else:
                    word = text
                out.append(word)
                previous = text
        except (tokenize.TokenError, SyntaxError):  # a cell that does not parse: its tokens so far count
            pass
    return out


def _hash(words: list[str]) -> int:
    return int.from_bytes(hashlib.blake2b("\x00".join(words).encode(), digest_size=8).digest(), "big")


def fingerprints(cells: list[str]) -> set[int]:
    """The winnowed fingerprints of ``cells``: in each window of ``W`` k-gram hashes, the minimum (rightmost)."""
    words = tokens(cells)
    hashes = [_hash(words[i: i + K]) for i in range(len(words) - K + 1)]
    if len(hashes) <= W:
        return set(hashes)
    chosen = set()
    for i in range(len(hashes) - W + 1):
        window = hashes[i: i + W]
        low = min(window)
        chosen.add(low)
    return chosen


def closest(submissions: dict[str, list[str]], template: list[str] | None = None,
            reference: list[str] | None = None) -> dict[str, tuple[str, float]]:
    """For each submission (name -> code cells): ``(closest match, share of its fingerprints found there)``;
    ``("", 0.0)`` for one with too little code of its own."""
    base = fingerprints(template) if template else set()
    own = {name: fingerprints(cells) - base for name, cells in submissions.items()}
    others = dict(own)
    if reference:
        others[REFERENCE] = fingerprints(reference) - base
    out = {}
    for name, prints in own.items():
        if len(prints) < MIN_OWN:
            out[name] = ("", 0.0)
            continue
        scores = [(len(prints & theirs) / len(prints), other) for other, theirs in others.items() if other != name]
        best = max(scores, key=lambda s: (s[0], s[1] == REFERENCE), default=(0.0, ""))
        out[name] = (best[1], best[0]) if best[0] > 0 else ("", 0.0)
    return out
