"""rnn_course.text: corpus loading (never over the network), vocabulary, contiguous splits, TBPTT batches."""
import socket
import threading

import pytest
import torch

from rnn_course import text
from rnn_course.text import Corpus, Vocab, load_corpus, split_text, tbptt_batches


# ---------------------------------------------------------------- corpus loading

def test_split_text_is_contiguous_and_sized():
    s = "".join(chr(97 + i % 26) for i in range(1000))
    train, val, test = split_text(s, (0.8, 0.1, 0.1))
    assert train + val + test == s
    assert (len(train), len(val), len(test)) == (800, 100, 100)


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.9, 0.1, 0.0), (0.5, 0.3, 0.3), (-0.1, 0.6, 0.5)])
def test_split_text_rejects_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_text("x" * 100, fractions)


def test_split_text_rejects_tiny_text():
    with pytest.raises(ValueError, match="too short"):
        split_text("abc")


def test_offline_corpus_is_english_prose_of_python_docs():
    corpus = load_corpus("offline", verbose=False)
    assert len(corpus) > 300_000
    assert corpus.train + corpus.validation + corpus.test == text.offline_text()
    assert "pydoc_data.topics" in corpus.name and corpus.notice == ""
    assert " the " in corpus.train


def test_describe_names_corpus_and_sizes():
    corpus = Corpus("tiny", "a" * 90, "b" * 5, "c" * 5)
    assert corpus.describe() == "tiny: 100 characters (train 90, validation 5, test 5)"
    head = corpus.head(3)
    assert (head.train, head.validation, head.test) == ("aaa", "bbb", "ccc")
    with pytest.raises(ValueError, match="max_chars"):
        corpus.head(1)


def test_auto_falls_back_fast_when_hub_unreachable(monkeypatch, capsys):
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    probes = []
    monkeypatch.setattr(text, "hub_reachable", lambda host=text.HUB_HOST, timeout=3.0: probes.append(timeout))
    monkeypatch.setattr(text, "_wikitext", lambda: pytest.fail("must not try the hub when it is unreachable"))
    corpus = load_corpus("auto")
    assert probes == [3.0]  # one probe, bounded by its timeout (test_hub_probe_never_hangs)
    assert "pydoc_data.topics" in corpus.name and "did not answer" in corpus.notice
    out = capsys.readouterr().out
    assert "Notice:" in out and "Corpus: pydoc_data.topics" in out and "characters" in out


def test_offline_env_skips_the_probe_and_falls_back(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(text, "hub_reachable", lambda *a, **k: pytest.fail("must not probe in offline mode"))

    def no_cache():
        raise ConnectionError("Couldn't reach 'Salesforce/wikitext' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(text, "_wikitext", no_cache)
    corpus = load_corpus("auto", verbose=False)
    assert "offline" in corpus.name and "ConnectionError" in corpus.notice


def test_wikitext_required_raises_when_unavailable(monkeypatch):
    monkeypatch.setattr(text, "hub_reachable", lambda *a, **k: False)
    with pytest.raises(RuntimeError, match="WikiText-2 is not available"):
        load_corpus("wikitext", verbose=False)


def test_hub_probe_never_hangs(monkeypatch):
    release, finished = threading.Event(), []

    def hanging(*args, **kwargs):
        release.wait(30)  # a DNS lookup that hangs (socket timeouts do not cover it)
        finished.append(True)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hanging)
    try:
        assert text.hub_reachable(timeout=0.2) is False
        assert not finished  # it answered while the lookup still hung: it did not wait for it
    finally:
        release.set()


def test_own_text_file(tmp_path):
    path = tmp_path / "my_text.txt"
    path.write_text("héllo wörld\n" * 50, encoding="utf-8")
    corpus = load_corpus(path, verbose=False)
    assert corpus.name == "file my_text.txt"
    assert corpus.train + corpus.validation + corpus.test == path.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="existing text file"):
        load_corpus(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="or a path"):
        load_corpus(3)


def test_datasets_path_on_local_files(tmp_path, monkeypatch):
    pytest.importorskip("datasets")
    files = {}
    for split, body in (("train", "first line\nsecond line"), ("validation", "val line"), ("test", "test line")):
        files[split] = str(tmp_path / f"{split}.txt")
        (tmp_path / f"{split}.txt").write_text(body + "\n", encoding="utf-8")
    splits = text.from_datasets("text", data_files=files, cache_dir=str(tmp_path / "cache"))
    assert splits == {"train": "first line\nsecond line", "validation": "val line", "test": "test line"}
    # the "auto" path with a reachable hub, fed from the same local files
    monkeypatch.setattr(text, "hub_reachable", lambda *a, **k: True)
    monkeypatch.setattr(text, "_wikitext", lambda: Corpus("WikiText-2 (raw)", *(splits[s] for s in text.SPLITS)))
    corpus = load_corpus("auto", verbose=False)
    assert corpus.name == "WikiText-2 (raw)" and corpus.notice == "" and corpus.test == "test line"


# ---------------------------------------------------------------- vocabulary

def test_vocab_round_trip_and_order():
    vocab = Vocab.from_text("hello world")
    assert vocab.chars == sorted(set("hello world"))
    assert len(vocab) == len(set("hello world")) + 1  # + the unknown character
    ids = vocab.encode("hello")
    assert ids.dtype == torch.long and vocab.decode(ids) == "hello"
    assert "h" in vocab and "z" not in vocab and Vocab.UNK not in vocab


def test_unknown_policies():
    assert Vocab.from_text("abc").encode("abz").tolist() == [1, 2, 0]
    assert Vocab.from_text("abc").decode([1, 0]) == "a" + Vocab.UNK
    assert Vocab.from_text("abc", unknown="drop").encode("abz").tolist() == [0, 1]
    with pytest.raises(ValueError, match="'z' at position 2"):
        Vocab.from_text("abc", unknown="error").encode("abz")
    with pytest.raises(ValueError, match="unknown must be"):
        Vocab("abc", unknown="ignore")


def test_min_count_sends_rare_characters_to_unknown():
    vocab = Vocab.from_text("aaab", min_count=2)
    assert vocab.chars == ["a"] and vocab.encode("ab").tolist() == [1, 0]


def test_vocab_rejects_bad_input():
    with pytest.raises(ValueError, match="single characters"):
        Vocab(["ab", "c"])
    with pytest.raises(ValueError, match="single characters"):
        Vocab("")
    with pytest.raises(ValueError, match="U\\+FFFD"):
        Vocab("a" + Vocab.UNK)
    with pytest.raises(ValueError, match="expects a str"):
        Vocab("ab").encode(["a"])
    with pytest.raises(ValueError, match="ids must be"):
        Vocab("ab").decode([5])


def test_vocab_dict_round_trip():
    vocab = Vocab.from_text("the quick brown fox", unknown="error")
    assert Vocab.from_dict(vocab.to_dict()) == vocab
    assert Vocab.from_dict(vocab.to_dict()) != Vocab.from_text("the quick brown fox")
    with pytest.raises(ValueError, match="vocabulary dict"):
        Vocab.from_dict({"chars": 5})


# ---------------------------------------------------------------- TBPTT batches

@pytest.mark.parametrize("n, batch, seq_len", [(1000, 4, 16), (997, 3, 50), (100, 1, 7), (64, 8, 100)])
def test_batches_walk_contiguous_streams(n, batch, seq_len):
    ids = torch.arange(n)
    L = n // batch
    got_x = [[] for _ in range(batch)]
    targets = []
    for x, y in tbptt_batches(ids, batch, seq_len):
        assert x.shape == y.shape and x.shape[0] == batch and 1 <= x.shape[1] <= seq_len
        assert torch.equal(y, x + 1)  # y is x shifted by one character
        for b in range(batch):
            got_x[b] += x[b].tolist()
        targets += y.flatten().tolist()
    for b in range(batch):  # each row continues where the previous batch stopped
        assert got_x[b] == list(range(b * L, (b + 1) * L - 1))
    expected = [i for b in range(batch) for i in range(b * L + 1, (b + 1) * L)]
    assert sorted(targets) == expected  # every character but a stream's first is a target exactly once


def test_batches_reject_bad_input():
    with pytest.raises(ValueError, match="1-D LongTensor"):
        next(tbptt_batches(torch.zeros(3, 4, dtype=torch.long), 1, 2))
    with pytest.raises(ValueError, match="batch_size"):
        next(tbptt_batches(torch.arange(10), 0, 2))
    with pytest.raises(ValueError, match="too few"):
        next(tbptt_batches(torch.arange(10), 6, 2))
