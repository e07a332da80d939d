"""rnn_course.claims: a claim fails the test suite, shows a notice to a learner, and is logged for the sweep."""
import json
import math

import numpy as np
import pytest
import torch

from rnn_course import claims
from rnn_course.claims import ClaimFailed, claim, margin_of, mode, verdict


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    monkeypatch.delenv(claims.LOG_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    claims._pending.clear()
    yield
    claims._pending.clear()


def test_strict_mode_raises_with_expected_and_measured(monkeypatch):
    monkeypatch.setenv(claims.MODE_ENV, "strict")
    with pytest.raises(ClaimFailed, match=r"gru solves: expected >= 3, measured 2 \(margin -1\)"):
        claim("gru solves", 2, ">=", 3)
    assert issubclass(ClaimFailed, AssertionError)


def test_warn_mode_shows_a_notice_and_goes_on(monkeypatch, capsys):
    monkeypatch.setenv(claims.MODE_ENV, "warn")
    claim("rnn at chance", 0.12, ">", 0.15)
    result = claims.last()
    assert not result.held and result.margin == pytest.approx(-0.03)
    err = capsys.readouterr().err
    assert "did not hold in your run" in err and "expected > 0.15, measured 0.12" in err
    assert "vary with the seed, the hardware" in err


def test_the_notice_renders_as_html_for_jupyter_and_colab():
    notice = claims._Notice(claims.Claim("a <b>", 0.5, ">", 1.0, False, -0.5, False))
    html = notice._repr_html_()
    assert "did not hold in your run" in html and "a &lt;b&gt;" in html and "measured 0.5" in html
    assert "did not hold" in repr(notice)


def test_record_mode_is_silent(monkeypatch, capsys):
    monkeypatch.setenv(claims.MODE_ENV, "record")
    claim("quiet", 1, "<", 0)
    assert not claims.last().held
    assert capsys.readouterr() == ("", "")


def test_a_holding_claim_is_silent_in_every_mode(monkeypatch, capsys):
    for m in claims.MODES:
        monkeypatch.setenv(claims.MODE_ENV, m)
        claim("fine", 2.0, ">", 1.0)
        assert claims.last().held
    assert capsys.readouterr() == ("", "")


def test_default_mode_is_warn_and_strict_under_ci(monkeypatch):
    monkeypatch.delenv(claims.MODE_ENV, raising=False)
    assert mode() == "warn"
    monkeypatch.setenv("CI", "true")
    assert mode() == "strict"
    monkeypatch.setenv("CI", "0")
    assert mode() == "warn"
    monkeypatch.setenv(claims.MODE_ENV, "loud")
    with pytest.raises(ValueError, match="expected one of strict, warn, record"):
        mode()


def test_every_claim_is_logged_as_json(monkeypatch, tmp_path):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(claims.LOG_ENV, str(log))
    monkeypatch.setenv(claims.MODE_ENV, "record")
    claim("one", np.float64(3.0), ">", 1)
    claim("two", torch.tensor(float("nan")), "<", 1)
    claim("three", 1e-3, "<", 1e-1, log=True)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["name"] for r in rows] == ["one", "two", "three"]
    assert rows[0]["held"] and rows[0]["margin"] == 2.0 and rows[0]["measured"] == 3.0
    assert not rows[1]["held"] and rows[1]["margin"] is None  # NaN never holds
    assert rows[2]["held"] and rows[2]["log"] and rows[2]["margin"] == pytest.approx(2.0)


@pytest.mark.parametrize("measured, op, threshold, log, expected", [
    (5, ">", 3, False, 2), (5, "<", 3, False, -2), (3, ">=", 3, False, 0), (2, "<=", 3, False, 1),
    (1e8, ">", 1e6, True, 2), (1e-12, "<", 1e-10, True, 2), (0.0, ">", 1e-3, True, -math.inf)])
def test_margins(measured, op, threshold, log, expected):
    assert margin_of(measured, op, threshold, log) == pytest.approx(expected)


@pytest.mark.parametrize("args, message", [
    (("", 1, ">", 0), "non-empty name"), (("x", 1, "==", 0), "op must be one of"),
    (("x", "1", ">", 0), "measured must be a number"), (("x", True, ">", 0), "measured must be a number"),
    (("x", 1, ">", None), "threshold must be a number"), (("x", 1, ">", float("nan")), "threshold is NaN")])
def test_bad_claims_are_explained(args, message):
    with pytest.raises(ValueError, match=message):
        claim(*args)


def test_verdict_names_the_claims_of_the_cell(monkeypatch, capsys):
    monkeypatch.setenv(claims.MODE_ENV, "record")
    claim("a", 1, ">", 0)
    claim("b", 0, ">", 1)
    verdict()
    assert capsys.readouterr().out.strip() == "1 of 2 claims held in this run: a; did not hold: b."
    verdict()
    assert capsys.readouterr().out.strip() == "No claims checked."
