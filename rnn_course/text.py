"""Text for character-level language models: a corpus, a character vocabulary, and TBPTT batches.

``load_corpus()`` returns WikiText-2 (raw) through Hugging Face ``datasets`` when the hub answers, and
otherwise, within a few seconds and with a notice, an English corpus that ships with every Python: the
documentation topics of the standard library (``pydoc_data.topics``). ``load_corpus(path)`` reads a
learner's own text file. Every :class:`Corpus` says what it is and how large it is.

``Vocab`` maps characters to ids; ``tbptt_batches`` cuts a long id sequence into ``B`` contiguous streams
and walks along them ``T`` characters at a time, so that batch ``k + 1`` continues where batch ``k``
stopped and the hidden state can be carried over (``rnn_course.train.detach_state``) instead of restarting
from zeros.
"""
from __future__ import annotations

import os
import socket
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from rnn_course.checks import int_at_least

WIKITEXT = ("Salesforce/wikitext", "wikitext-2-raw-v1")  # Hugging Face id and configuration
HUB_HOST = "huggingface.co"
OFFLINE_ENV = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Corpus:
    """A text corpus cut into train / validation / test, with a name saying where it came from."""

    name: str  # e.g. "WikiText-2 (raw)"
    train: str
    validation: str
    test: str
    notice: str = ""  # why this corpus and not the one asked for ("" when nothing to say)

    def __len__(self) -> int:
        return len(self.train) + len(self.validation) + len(self.test)

    def describe(self) -> str:
        """One line: the corpus name and its size, split by split."""
        sizes = ", ".join(f"{s} {len(getattr(self, s)):,}" for s in SPLITS)
        return f"{self.name}: {len(self):,} characters ({sizes})"

    def head(self, max_chars: int) -> "Corpus":
        """The same corpus with every split cut to its first ``max_chars`` characters (a contiguous prefix)."""
        int_at_least("max_chars", max_chars, 2)
        return Corpus(self.name, self.train[:max_chars], self.validation[:max_chars], self.test[:max_chars],
                      self.notice)


def split_text(text: str, fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)) -> tuple[str, str, str]:
    """Cut ``text`` into three contiguous pieces (train, validation, test) of the given fractions.

    Contiguous, not shuffled: a language model is judged on text that follows the text it learned from.
    """
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions!r}")
    if len(text) < 30:
        raise ValueError(f"text is too short to split into train/validation/test: {len(text)} characters")
    a = int(len(text) * fractions[0])
    b = a + int(len(text) * fractions[1])
    return text[:a], text[a:b], text[b:]


def offline_text() -> str:
    """English prose that ships with CPython: the ``pydoc`` topics of the documentation, in key order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key].strip("\n") for key in sorted(topics))


def hub_reachable(host: str = HUB_HOST, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``host:443`` opens within ``timeout`` seconds (name lookup included)."""
    result = []

    def probe():
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)  # a hanging DNS lookup cannot block us
    thread.start()
    thread.join(timeout)
    return bool(result)


def from_datasets(*args, **kwargs) -> dict[str, str]:
    """``datasets.load_dataset(*args, **kwargs)`` with a ``text`` column, each split joined into one string.

    Works for WikiText-2 (``from_datasets(*WIKITEXT)``) and for local files
    (``from_datasets("text", data_files={"train": "a.txt", ...})``).
    """
    from datasets import load_dataset

    data = load_dataset(*args, **kwargs)
    out = {}
    for split, rows in data.items():
        if "text" not in rows.column_names:
            raise ValueError(f"split {split!r} has no 'text' column (columns: {rows.column_names})")
        out[split] = "\n".join(line.rstrip("\n") for line in rows["text"])  # keep line breaks
    return out


def _offline_corpus(notice: str) -> Corpus:
    train, val, test = split_text(offline_text())
    return Corpus("pydoc_data.topics (Python documentation, offline)", train, val, test, notice)


def _wikitext() -> Corpus:
    splits = from_datasets(*WIKITEXT)
    return Corpus("WikiText-2 (raw)", *(splits[s] for s in SPLITS))


def load_corpus(source: str | os.PathLike = "auto", verbose: bool = True, timeout: float = 3.0) -> Corpus:
    """Load a corpus and say which one it is.

    Parameters
    ----------
    source : ``"auto"`` (WikiText-2 if the Hugging Face hub answers within ``timeout`` seconds, else the
        offline corpus, with a notice), ``"wikitext"`` (WikiText-2 or an error), ``"offline"``
        (``pydoc_data.topics``), or the path of a UTF-8 text file (split 90/5/5, contiguous).
    verbose : print the corpus name, its size and any notice.

    With ``HF_DATASETS_OFFLINE=1`` or ``HF_HUB_OFFLINE=1`` set, only a local ``datasets`` cache is tried.
    """
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(f"source must be 'auto', 'wikitext', 'offline' or a path, got {type(source).__name__}")
    if isinstance(source, os.PathLike) or source not in ("auto", "wikitext", "offline"):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"source must be 'auto', 'wikitext', 'offline' or an existing text file, got {source!r}")
        corpus = Corpus(f"file {path.name}", *split_text(path.read_text(encoding="utf-8")))
    elif source == "offline":
        corpus = _offline_corpus("")
    else:
        offline = any(os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on") for var in OFFLINE_ENV)
        corpus, problem = None, ""
        if not offline and not hub_reachable(timeout=timeout):
            problem = f"the Hugging Face hub ({HUB_HOST}) did not answer within {timeout:g} s"
        else:
            try:
                corpus = _wikitext()
            except ImportError:
                problem = "the `datasets` package is not installed (pip install datasets)"
            except Exception as err:  # noqa: BLE001 - datasets raises many kinds; all mean "not available"
                problem = f"WikiText-2 could not be loaded ({type(err).__name__}: {str(err)[:120]})"
        if corpus is None:
            if source == "wikitext":
                raise RuntimeError(f"WikiText-2 is not available: {problem}")
            corpus = _offline_corpus(f"Notice: {problem}; using the offline corpus instead.")
    if verbose:
        if corpus.notice:
            print(corpus.notice)
        print(f"Corpus: {corpus.describe()}")
    return corpus


class Vocab:
    """Characters <-> integer ids.

    ``unknown`` decides what ``encode`` does with a character not in the vocabulary: ``"replace"`` maps it to
    the id of ``UNK`` (id 0, decoded as U+FFFD), ``"error"`` raises ``ValueError``, ``"drop"`` skips it.
    """

    UNK = "\ufffd"
    POLICIES = ("replace", "error", "drop")

    def __init__(self, chars: Iterable[str], unknown: str = "replace"):
        if unknown not in self.POLICIES:
            raise ValueError(f"unknown must be one of {self.POLICIES}, got {unknown!r}")
        chars = list(dict.fromkeys(chars))  # unique, first-seen order
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad or not chars:
            raise ValueError(f"chars must be a non-empty collection of single characters, got {bad[:3] or chars!r}")
        if self.UNK in chars:
            raise ValueError("chars must not contain U+FFFD, the unknown-character marker")
        self.unknown = unknown
        self.itos = ([self.UNK] if unknown == "replace" else []) + chars
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str, unknown: str = "replace", min_count: int = 1) -> "Vocab":
        """The characters of ``text`` seen at least ``min_count`` times, sorted."""
        counts = Counter(text.replace(cls.UNK, ""))
        return cls(sorted(c for c, n in counts.items() if n >= min_count), unknown)

    @property
    def unk_id(self) -> int | None:
        """Id of the unknown character, or None when the policy is not ``"replace"``."""
        return 0 if self.unknown == "replace" else None

    @property
    def chars(self) -> list[str]:
        """The known characters (``UNK`` excluded)."""
        return [c for c in self.itos if c != self.UNK]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, char: str) -> bool:
        return char in self.stoi and char != self.UNK

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and (self.itos, self.unknown) == (other.itos, other.unknown)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} ids, unknown={self.unknown!r})"

    def encode(self, text: str) -> torch.Tensor:
        """Ids of the characters of ``text`` as a 1-D LongTensor (a table lookup per character: fast)."""
        if not isinstance(text, str):
            raise ValueError(f"encode expects a str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # one per character
        lookup = np.full(int(codes.max(initial=0)) + 1, -1, dtype=np.int64)  # code point -> id, -1 unknown
        for char, i in self.stoi.items():
            if char != self.UNK and ord(char) < len(lookup):
                lookup[ord(char)] = i
        ids = lookup[codes]
        unknown = ids < 0
        if unknown.any():
            if self.unknown == "error":
                i = int(np.flatnonzero(unknown)[0])
                raise ValueError(f"character {text[i]!r} at position {i} is not in the vocabulary")
            ids = ids[~unknown] if self.unknown == "drop" else np.where(unknown, 0, ids)
        return torch.from_numpy(np.ascontiguousarray(ids))

    def decode(self, ids) -> str:
        """The text of a sequence of ids (list, or 1-D tensor)."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        if any(not isinstance(i, int) or not 0 <= i < len(self) for i in ids):
            raise ValueError(f"ids must be ints in [0, {len(self)}), got {ids[:5]}...")
        return "".join(self.itos[i] for i in ids)

    def to_dict(self) -> dict:
        return {"chars": "".join(self.chars), "unknown": self.unknown}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocab":
        if not isinstance(d, dict) or not isinstance(d.get("chars"), str) or "unknown" not in d:
            raise ValueError(f"a vocabulary dict needs 'chars' (str) and 'unknown', got {d!r:.80}")
        return cls(d["chars"], d["unknown"])


def tbptt_batches(ids: torch.Tensor, batch_size: int, seq_len: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)`` pairs of shape ``(B, T)`` walking ``B`` contiguous streams ``T`` characters at a time.

    ``ids`` is cut into ``B`` equal streams (row ``b`` holds characters ``b*L ... (b+1)*L - 1``); ``y`` is
    ``x`` shifted by one, so every position has a target. Row ``b`` of batch ``k + 1`` continues row ``b``
    of batch ``k``, so a model may carry its (detached) hidden state from one batch to the next. The last
    batch may be shorter than ``T``. Every character but the first of each stream is a target exactly once.
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.dtype != torch.long:
        raise ValueError("ids must be a 1-D LongTensor")
    int_at_least("batch_size", batch_size)
    int_at_least("seq_len", seq_len)
    L = len(ids) // batch_size  # characters per stream
    if L < 2:
        raise ValueError(f"{len(ids)} ids are too few for {batch_size} streams of at least 2 characters")
    streams = ids[: batch_size * L].view(batch_size, L)  # (B, L)
    for t in range(0, L - 1, seq_len):
        n = min(seq_len, L - 1 - t)
        yield streams[:, t : t + n], streams[:, t + 1 : t + 1 + n]
