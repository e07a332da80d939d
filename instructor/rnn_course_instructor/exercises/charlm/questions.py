"""Grading of the char-LM exercise: 19 points over the functions the master notebook asks for.

Each question brings the learner's function out of their kernel as numbers (``probes.py``), on inputs drawn at
grading time (vocabulary size, model sizes, weights, texts), and compares them here with the reference
implementation in ``rnn_course_instructor.charlm``, which the kernel cannot import. The models the probes hand
to the learner's functions have the grader's weights, so a mistake in Part A does not cost points again in
Parts B-E. The comparison table and the written recommendation are left to a person. Where a number is asked
for, a Python float or a NumPy floating-point scalar is accepted.

- ``model_rnn``, ``model_lstm``, ``model_gru`` (1 each): ``CharModel(V, kind)``: parameter count at the default
  sizes; parameter names and shapes at other sizes; logits with the same weights; continuing from a returned state.
- ``sizes`` (2): ``n_parameters`` equal to the reference count at drawn sizes, without a model built by the
  grader's hand; ``hidden_for_parameters``: the largest hidden size within drawn budgets, and a ``ValueError``
  for a budget too small for one unit.
- ``train_step`` (3): the loss (a float, before the update); the weights after one SGD step with gradient
  clipping, and after a second step (gradients cleared before backward or after the update: both accepted);
  the final state, its values and that it is detached.
- ``bits_per_char`` (2): a float; log2(V) for a uniform model; a random model's exact score over a text
  longer than one chunk.
- ``context`` (2): ``bpc_after_reset``: a list of one float per position; the score at the first position
  and at every position for a random model over a text of random windows (the remainder dropped).
- ``sample`` (3): the greedy text at temperature 0; length and vocabulary; top-k respected (the unknown
  character removed first); the same seed gives the same text; 1,500 draws that follow the top-k distribution
  at the temperature (two tests, false rejection below 1e-6 together), whatever way of drawing.
- ``suggest`` (2): the suggestion bar after every keystroke of a drawn text equal to the reference's (the
  unknown character never shown); one call per keystroke on that character alone, the state carried.
- ``latency_per_char`` (2): warm-up and timed one-character steps at batch 1, without gradients; seconds per
  character that match the work timed, for two stand-in models of different, known speeds (one slow run
  among the repeats: the median, not the mean).
"""
from __future__ import annotations

import math
import statistics

import numpy as np
import torch
import torch.nn.functional as F

from rnn_course.text import Vocab
from rnn_course_instructor.charlm import (CharModel, bits_per_char, bpc_after_reset, generate, hidden_for_parameters,
                                          n_parameters, suggest, train_step)
from rnn_course_instructor.exercises.charlm.draws import distribution_test, draw_statistics
from rnn_course_instructor.exercises.charlm.probes import (HELPERS, probe_bpc, probe_context, probe_latency, probe_model,
                                                           probe_sample, probe_sizes, probe_suggest, probe_train_step)
from rnn_course_instructor.grading.spec import Exercise, Question, Rubric

ALPHABET = "etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLCUMWFGYPBVKJXQZ0123456789 .,;:!?'-()"
DEFAULTS = dict(embed_dim=64, hidden_size=128, num_layers=2)  # the exercise's model sizes
CLIP = 1.0  # the exercise's gradient-norm clip; a notebook that changes its own CLIP is still graded at this


def _int(gen: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def draw_model(gen: torch.Generator, kind: str | None = None, head_gain: float = 1.0) -> dict:
    """A small model drawn at grading time, as plain data: vocabulary, kind, sizes and weights."""
    chars = ALPHABET[: _int(gen, 20, 50)]
    kind = kind or ("rnn", "lstm", "gru")[_int(gen, 0, 2)]
    spec = {"chars": chars, "kind": kind, "embed_dim": _int(gen, 6, 14), "hidden_size": _int(gen, 8, 20),
            "num_layers": _int(gen, 1, 2)}
    model = build_model(spec)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
        model.head.weight.mul_(head_gain)
    spec["weights"] = {k: v.clone() for k, v in model.state_dict().items()}
    return spec


def build_model(spec: dict) -> CharModel:
    """The reference ``CharModel`` that ``spec`` describes (with its weights, when it has them): the grader's
    side of ``probes.kernel_model``."""
    model = CharModel(Vocab(list(spec["chars"])), spec["kind"], spec["embed_dim"], spec["hidden_size"],
                      spec["num_layers"])
    if "weights" in spec:
        model.load_state_dict(spec["weights"])
    return model


# --- Part A: one model, three kinds --------------------------------------------------------------------------

def model_inputs(kind: str):
    def inputs(gen):
        V = _int(gen, 20, 60)
        sizes = {"embed_dim": _int(gen, 5, 12), "hidden_size": _int(gen, 6, 16), "num_layers": _int(gen, 1, 3)}
        T = _int(gen, 6, 12)
        return {"cls": "CharModel", "kind": kind, "V": V,
                "sizes": sizes, "x": torch.randint(V, (3, T), generator=gen), "split": _int(gen, 2, T - 2)}

    return inputs


def _error_or(result: dict, what: str):
    return None if "error" not in result else f"{what} raised {result['error']}"


def model_check(kind: str):
    def check(mark, out, inputs):
        name, V, x = f"{inputs['cls']}(V, {kind!r})", inputs["V"], inputs["x"]
        vocab = Vocab(list(ALPHABET[: V - 1]))
        reference = CharModel(vocab, kind, **DEFAULTS)
        expected = sum(p.numel() for p in reference.parameters())
        got = out["n_default"].get("value")
        mark.expect(got == expected, 0.25, _error_or(out["n_default"], f"{name} with V = {V}")
                    or f"{name} with V = {V} has {got} parameters, expected {expected:,}")
        if "error" in out["small"]:
            mark.fail(f"{name} with **{inputs['sizes']} raised {out['small']['error']}")
            return
        small = CharModel(vocab, kind, **inputs["sizes"])
        shapes = {k_: tuple(v.shape) for k_, v in small.state_dict().items()}
        sd = out["small"]["value"]
        got_shapes = {k_: tuple(v.shape) if type(v) is torch.Tensor else None for k_, v in sd.items()}
        if not mark.expect(got_shapes == shapes, 0.25, f"{name} with **{inputs['sizes']}: parameters "
                           f"{got_shapes}, expected {shapes} (submodules embedding, rnn, head)"):
            mark.fail("its outputs cannot be compared with the reference's: the parameters differ")
            return
        small.load_state_dict(sd)
        with torch.no_grad():
            ref_logits, _ = small(x)
        forward = out["forward"]
        if mark.expect("error" not in forward, 0.25, _error_or(forward, f"{name}.forward") or ""):
            value = forward["value"]
            logits = value[0] if type(value) in (tuple, list) and len(value) == 2 else value
            mark.close(logits, ref_logits, 0.25, "logits with the same weights (expected (B, T, V), every position)")
        cont = out["continued"]
        if mark.expect("error" not in cont, 0.25, _error_or(cont, f"{name}.forward(x, state)") or ""):
            first, rest = cont["value"]
            joined = torch.cat([first, rest], 1) if type(first) is type(rest) is torch.Tensor else None
            mark.close(joined, ref_logits, 0.25, "logits of x[:, :k] then x[:, k:] from the returned state")

    return check


# --- Part A, continued: parameter counts --------------------------------------------------------------

def sizes_inputs(gen):
    kinds = ("rnn", "lstm", "gru")
    counts = [{"kind": kinds[i % 3], "V": _int(gen, 20, 300), "E": _int(gen, 2, 80), "H": _int(gen, 1, 300),
               "L": _int(gen, 1, 4)} for i in range(6)]
    budgets = [{"kind": kinds[i % 3], "V": _int(gen, 20, 120), "E": _int(gen, 2, 64), "L": _int(gen, 1, 3),
                "n": _int(gen, 30_000, 400_000)} for i in range(5)]
    budgets.append({"kind": kinds[_int(gen, 0, 2)], "V": 50, "E": 16, "L": 1, "n": _int(gen, 10, 500)})  # too small
    return {"counts": counts, "budgets": budgets}


def check_sizes(mark, out, inputs):
    wrong = []
    for c, got in zip(inputs["counts"], out["counts"]):
        expected = n_parameters(c["kind"], c["V"], c["E"], c["H"], c["L"])
        value = got.get("value")
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value == expected):
            wrong.append(f"n_parameters({c['kind']!r}, {c['V']}, {c['E']}, {c['H']}, {c['L']}) gave "
                         f"{got.get('error') or value}, expected {expected:,}")
    mark.expect(not wrong, 1, f"{len(wrong)} of {len(inputs['counts'])} counts wrong; first: "
                f"{wrong[0] if wrong else ''}")
    wrong = []
    for b, got in zip(inputs["budgets"], out["budgets"]):
        call = f"hidden_for_parameters({b['kind']!r}, {b['V']}, {b['n']:,}, {b['E']}, {b['L']})"
        try:
            expected = hidden_for_parameters(b["kind"], b["V"], b["n"], b["E"], b["L"])
        except ValueError:
            if not str(got.get("error", "")).startswith("ValueError"):
                wrong.append(f"{call} gave {got.get('error') or got.get('value')}, expected a ValueError (not even "
                             "hidden_size=1 fits)")
            continue
        value = got.get("value")
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value == expected):
            wrong.append(f"{call} gave {got.get('error') or value}, expected {expected} (the largest hidden size "
                         "with at most that many parameters)")
    mark.expect(not wrong, 1, f"{len(wrong)} of {len(inputs['budgets'])} answers wrong; first: "
                f"{wrong[0] if wrong else ''}")


# --- Part B: the training step --------------------------------------------------------------------------

def _state(kind, state):
    return tuple(state) if kind == "lstm" else state[0]


def train_step_inputs(gen):
    for gain in (1.0, 2.0, 4.0, 8.0, 16.0):  # big enough gradients that clipping matters
        spec = draw_model(gen, head_gain=gain)
        V, L, H = len(spec["chars"]) + 1, spec["num_layers"], spec["hidden_size"]
        batches = [{"x": torch.randint(V, (3, 9), generator=gen), "y": torch.randint(V, (3, 9), generator=gen),
                    "state": [torch.randn(L, 3, H, generator=gen) * 0.5
                              for _ in range(2 if spec["kind"] == "lstm" else 1)]} for _ in range(2)]
        model = build_model(spec)
        logits, _ = model(batches[0]["x"], _state(spec["kind"], batches[0]["state"]))
        F.cross_entropy(logits.flatten(0, 1), batches[0]["y"].flatten()).backward()
        if torch.cat([p.grad.flatten() for p in model.parameters()]).norm() > 3.0:
            break
    return {**spec, "batches": batches, "lr": 0.1}


def _same_weights(got: dict, expected: dict) -> bool:
    return set(got) == set(expected) and all(
        type(got[k]) is torch.Tensor and got[k].shape == v.shape and torch.allclose(got[k], v, rtol=1e-4, atol=1e-6)
        for k, v in expected.items())


def check_train_step(mark, out, inputs):
    model = build_model(inputs)
    optimizer = torch.optim.SGD(model.parameters(), lr=inputs["lr"])
    expected = []
    for batch in inputs["batches"]:  # the exercise's clip, whatever the notebook set CLIP to
        loss, state = train_step(model, optimizer, batch["x"], batch["y"], _state(inputs["kind"], batch["state"]),
                                 clip=CLIP)
        expected.append((loss, list(state) if isinstance(state, tuple) else [state],
                         {k: v.clone() for k, v in model.state_dict().items()}))
    if not mark.expect(type(out) is list and len(out) == 2, 3, "train_step could not be called twice"):
        return
    first, second = out
    mark.expect(first["is_float"] is True, 0.5,
                f"the loss is of type {first['loss_type']}, expected a Python float (loss.item())")
    got = first["loss"]
    value = float(got) if type(got) is torch.Tensor and got.numel() == 1 else _number(got)
    mark.expect(value is not None and math.isclose(value, expected[0][0], rel_tol=1e-4), 0.5,
                f"loss {value}, expected {expected[0][0]:.4f}: mean cross-entropy over all B*T positions, before "
                "the update")
    if mark.expect(_same_weights(first["weights"], expected[0][2]), 0.5,
                   "the weights after one step differ from the reference's: zero the gradients, backward, clip the "
                   f"gradient norm to CLIP = {CLIP:g}, then optimizer.step()"):
        mark.expect(_same_weights(second["weights"], expected[1][2]), 0.5,
                    "the first step was right, the second was not: clear the gradients in every step "
                    "(optimizer.zero_grad() before backward, or after optimizer.step())")
    else:
        mark.expect(False, 0.5, "the second step is not checked either (the first one is wrong)")
    got_state, state = first["state"], expected[0][1]
    same = len(got_state) == len(state) and all(
        type(a) is torch.Tensor and a.shape == b.shape and torch.allclose(a, b, atol=1e-5)
        for a, b in zip(got_state, state))
    if mark.expect(same, 0.5, "the returned state is not the recurrent layer's final state for this batch "
                   "(started from the given state)"):
        mark.expect(all(first["detached"]), 0.5, "the returned state still requires grad: detach it")
    else:
        mark.expect(False, 0.5, "whether the state is detached is not checked either (the state is wrong)")


# --- Part C: bits per character -------------------------------------------------------------------------

def bpc_inputs(gen):
    spec = draw_model(gen)
    V = len(spec["chars"]) + 1
    return {**spec, "data": torch.randint(1, V, (_int(gen, 600, 1100),), generator=gen)}


def _number(x):
    """``x`` as a float if it is a real number (a NumPy scalar too), else None."""
    return float(x) if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) else None


def check_bpc(mark, out, inputs):
    V = len(inputs["chars"]) + 1
    expected = bits_per_char(build_model(inputs), inputs["data"])
    mark.expect(out["is_float"] is True, 0.5,
                f"bits_per_char returned a value of type {out['type']}, expected a Python float")
    uniform = _number(out["uniform"])
    mark.expect(uniform is not None and math.isclose(uniform, math.log2(V), rel_tol=1e-4), 0.5,
                f"a uniform model scored {uniform}, expected log2(V) = {math.log2(V):.4f} (log base 2, mean over "
                "characters)")
    value = _number(out["value"])
    mark.expect(value is not None and math.isclose(value, expected, rel_tol=1e-4), 1,
                f"{value} bits per character, expected {expected:.4f} over {len(inputs['data'])} characters: "
                "every character but the first, the state carried across chunks")


# --- Part C, continued: how far back a model reads -------------------------------------------------------

def context_inputs(gen):
    spec = draw_model(gen)
    V = len(spec["chars"]) + 1
    length = _int(gen, 5, 30)
    return {**spec, "length": length, "data": torch.randint(1, V, (_int(gen, 20, 40) * (length + 1) + _int(gen, 0, length),),
                                                             generator=gen)}


def check_context(mark, out, inputs):
    length = inputs["length"]
    mark.expect(out["plain"] is True and out["length"] == length, 0.5,
                f"bpc_after_reset returned a {out['type']} of length {out['length']}, expected a list of {length} "
                "Python floats, one per position")
    if out["value"] is None or len(out["value"]) != length:
        mark.fail("no list of one score per position to compare")
        return
    expected = bpc_after_reset(build_model(inputs), inputs["data"], length)
    wrong = [t for t in range(length) if not math.isclose(out["value"][t], expected[t], rel_tol=1e-4)]
    first_ok = math.isclose(out["value"][0], expected[0], rel_tol=1e-4)
    mark.expect(first_ok, 0.5, f"position 0: {out['value'][0]:.4f} bits, expected {expected[0]:.4f} (one character "
                "of context, from a zero state)")
    mark.expect(not wrong, 1, f"{len(wrong)} of {length} positions differ, first at {wrong[0] if wrong else 0}: "
                f"{out['value'][wrong[0] if wrong else 0]:.4f} bits, expected {expected[wrong[0] if wrong else 0]:.4f} "
                "(windows of length + 1 characters, each from a zero state, averaged per position)")


# --- Part D: sampling -----------------------------------------------------------------------------------

SAMPLE_ALPHA = 1e-6  # a correct sampler fails the distribution check with at most this probability


def sample_inputs(gen):
    spec = draw_model(gen, head_gain=3.0)
    # The unknown character (id 0) is always the most likely, and must never be drawn: top-k counts only the rest.
    spec["weights"]["head.bias"][0] += 50.0
    chars = spec["chars"]
    prompt = "".join(chars[_int(gen, 0, len(chars) - 1)] for _ in range(_int(gen, 3, 8)))
    tau = float(torch.empty(()).uniform_(0.4, 0.55, generator=gen))  # far from 1, so that one ignored is seen
    return {**spec, "prompt": prompt, "length": _int(gen, 20, 40), "top_k": _int(gen, 3, 6), "temperature": tau,
            "seed": _int(gen, 0, 2**31), "draws": 60, "draw_length": 25}


def check_sample(mark, out, inputs):
    model, vocab = build_model(inputs), Vocab(list(inputs["chars"]))
    prompt, n, k, temp = inputs["prompt"], inputs["length"], inputs["top_k"], inputs["temperature"]
    greedy = generate(model, vocab, prompt, n, 0.0)
    g = out["greedy"]
    mark.expect(g.get("value") == greedy, 1, _error_or(g, "sample(..., temperature=0)")
                or f"at temperature 0 the text {g.get('value')!r} is not the most likely one {greedy!r} "
                   "(the unknown character excluded)")
    first, draws = out["first"], out["draws"]
    call = f"sample(..., {temp:.2f}, top_k={k}, generator)"
    if not mark.expect("error" not in first and "error" not in draws, 2,
                       _error_or(first, call) or _error_or(draws, call) or ""):
        return
    texts = [first["value"], *draws["value"]] if type(draws["value"]) is list else [first["value"]]
    lengths = [n] + [inputs["draw_length"]] * (len(texts) - 1)
    ok = len(texts) == 1 + inputs["draws"] and all(
        type(t) is str and len(t) == m and set(t) <= set(vocab.chars) for t, m in zip(texts, lengths))
    if not mark.expect(ok, 0.5, f"expected a str of the {n} new characters from the vocabulary (never the unknown "
                       f"character), got {first['value']!r}"):
        mark.fail("the sampled text cannot be checked further")
        return
    ranks, expected, sums = draw_statistics(model, vocab, prompt, texts, temp, k)
    mark.expect(max(ranks) < k, 0.5, f"with top_k={k} a character outside the {k} most likely known ones was drawn")
    mark.expect(out["second"].get("value") == first["value"], 0.5, "the same generator seed gave a different text")
    p, why = distribution_test(ranks, expected, sums)
    mark.expect(p >= SAMPLE_ALPHA, 0.5, f"{len(ranks)} drawn characters do not follow softmax(z / temperature) over "
                f"the top {k} at temperature {temp:.2f} (p = {p:.1g}): {why}")


# --- Part D, continued: the suggestion bar ---------------------------------------------------------------

def suggest_inputs(gen):
    spec = draw_model(gen, head_gain=3.0)
    spec["weights"]["head.bias"][0] += 50.0  # the unknown character is always the most likely: never to be shown
    chars = spec["chars"]
    typed = "".join(chars[_int(gen, 0, len(chars) - 1)] for _ in range(_int(gen, 15, 30)))
    return {**spec, "typed": typed, "k": _int(gen, 2, 5)}


def check_suggest(mark, out, inputs):
    typed, k = inputs["typed"], inputs["k"]
    if "error" in out["bar"]:
        mark.fail(f"suggest raised {out['bar']['error']}")
        return
    expected = suggest(build_model(inputs), Vocab(list(inputs["chars"])), typed, k)
    bar = out["bar"]["value"]
    if type(bar) is not list or len(bar) != len(typed) or not all(type(s) is str for s in bar):
        mark.expect(False, 1.5, f"expected a list of {len(typed)} strings, got {bar!r:.80}")
    else:
        wrong = [i for i in range(len(typed)) if bar[i] != expected[i]]
        first = wrong[0] if wrong else 0
        mark.expect(not wrong, 1.5, f"{len(wrong)} of {len(typed)} keystrokes show the wrong bar; after "
                    f"{typed[:first + 1]!r}: {bar[first]!r}, expected {expected[first]!r} (the {k} most likely "
                    "known characters, most likely first, the state carried)")
    calls = out["calls"]
    one_char_each = [shape for shape, _ in calls] == [[1, 1]] * len(typed)
    state_passed = [carried for _, carried in calls] == [False] + [True] * (len(typed) - 1)
    mark.expect(one_char_each and state_passed, 0.5, f"expected {len(typed)} calls of the model, one per keystroke "
                f"on that character alone (shape (1, 1)), the state passed from the second on; got {len(calls)} "
                "calls" + (f", the first of shape {calls[0][0]}" if calls else ""))


# --- Part E: latency ------------------------------------------------------------------------------------

LATENCY_RTOL, LATENCY_ATOL = 0.3, 0.0005  # how far an answer may be from the work actually timed


def latency_inputs(gen):
    n, w, r = _int(gen, 30, 40), _int(gen, 2, 5), _int(gen, 3, 5)
    fast = 0.0015 + 0.001 * float(torch.rand((), generator=gen))  # seconds per call
    # The fast model's first timed run holds one slow call (another program woke up): the median run ignores it.
    runs = [{"delay": fast, "hiccup_at": w + n // 2, "hiccup": 8 * n * fast},
            {"delay": 4 * fast, "hiccup_at": -1, "hiccup": 0.0}]
    return {**draw_model(gen), "n_chars": n, "warmup": w, "repeats": r, "runs": runs}


def timed_per_char(run: dict, warmup: int, repeats: int, n: int) -> float:
    """Median over the timed runs of (end of its last call - start of its first) / n: the work actually done."""
    return statistics.median(run["end"][warmup + (j + 1) * n - 1] - run["start"][warmup + j * n]
                             for j in range(repeats)) / n


def check_latency(mark, out, inputs):
    n, w, r = inputs["n_chars"], inputs["warmup"], inputs["repeats"]
    mark.expect(all(run["is_float"] is True for run in out), 0.5,
                f"expected a positive Python float, got a value of type {out[0]['type']}")
    calls_ok = all(len(run["shapes"]) == w + r * n and all(c == [1, 1] for c in run["shapes"]) and not any(run["grad"])
                   and sum(not s for s in run["state"]) <= 1 + r for run in out)
    mark.expect(calls_ok, 0.75, f"with warmup={w}, repeats={r}, n_chars={n} expected {w + r * n} calls on one id at "
                f"batch 1, without gradients, the state carried; got {len(out[0]['shapes'])} calls"
                + (f", input shapes like {out[0]['shapes'][0]}" if out[0]["shapes"] else ""))
    if not calls_ok:
        mark.expect(False, 0.75, "the time per character is not checked either (the calls are not the expected ones)")
        return
    truth = [timed_per_char(run, w, r, n) for run in out]
    got = [_number(run["value"]) for run in out]
    ok = all(v is not None and abs(v - t) <= LATENCY_RTOL * t + LATENCY_ATOL for v, t in zip(got, truth))
    mark.expect(ok, 0.75, f"two models whose timed runs took {truth[0] * 1e3:.2f} and {truth[1] * 1e3:.2f} ms per "
                f"character (median run) measured {got[0]!r} and {got[1]!r}: return the median run time divided by "
                "n_chars, in seconds")


EXERCISE = Exercise(
    name="charlm",
    questions=(
        Question("model_rnn", 1, "CharModel(V, 'rnn'): parameters, logits with the same weights, state carried",
                 ("CharModel",), probe_model, model_check("rnn"), model_inputs("rnn")),
        Question("model_lstm", 1, "CharModel(V, 'lstm'): parameters, logits with the same weights, state carried",
                 ("CharModel",), probe_model, model_check("lstm"), model_inputs("lstm")),
        Question("model_gru", 1, "CharModel(V, 'gru'): parameters, logits with the same weights, state carried",
                 ("CharModel",), probe_model, model_check("gru"), model_inputs("gru")),
        Question("sizes", 2, "n_parameters and hidden_for_parameters: counts from the formula, sizes that fit a budget",
                 ("n_parameters", "hidden_for_parameters"), probe_sizes, check_sizes, sizes_inputs),
        Question("train_step", 3, "train_step: loss, update with clipping, detached state", ("train_step",),
                 probe_train_step, check_train_step, train_step_inputs),
        Question("bits_per_char", 2, "bits_per_char over a whole text", ("bits_per_char",),
                 probe_bpc, check_bpc, bpc_inputs),
        Question("context", 2, "bpc_after_reset: bits per character by position after a state reset",
                 ("bpc_after_reset",), probe_context, check_context, context_inputs),
        Question("sample", 3, "sample: greedy, top-k, reproducible with a generator", ("sample",),
                 probe_sample, check_sample, sample_inputs),
        Question("suggest", 2, "suggest: the suggestion bar, one keystroke at a time with the state carried",
                 ("suggest",), probe_suggest, check_suggest, suggest_inputs),
        Question("latency_per_char", 2, "latency_per_char: warm-up, median, seconds per character",
                 ("latency_per_char",), probe_latency, check_latency, latency_inputs),
    ),
    # Grading runs the whole notebook: a tiny training budget, the offline corpus, the CPU.
    env={"RNN_COURSE_BUDGET_SCALE": "0.01", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
         "RNN_COURSE_DEVICE": "cpu"},
    cell_timeout=120,
    budget=600,
    memory_mb=4096,
    helpers=HELPERS,
    master="master.ipynb",
    # The reference is out of the kernel's reach; a notebook that looks for it is worth a person's look.
    # Part G, the written recommendation, is graded by a person: one empty column in the CSV.
    rubric=(Rubric("recommendation", 5, (
        (1, "names one model, cell and hidden size, within the stated budget, and what it costs in the learner's own "
            "numbers: parameters, size, latency"),
        (1, "argues from the budget the notebook states (size, latency, bits per character), not from a rule of "
            "thumb or the literature alone"),
        (1, "weighs the gap to the next candidate against the spread between seeds, and says how sure that makes it"),
        (1, "uses the comparison at equal parameter count, and says what the one at equal hidden size and the one at "
            "equal training time add or cannot show"),
        (1, "says what the run cannot tell: the seeds it had, one training budget, one corpus, the phone not "
            "measured"))),),
    flags=((r"rnn_course_instructor|master\.ipynb|charlm_solutions",
            "the notebook looks for the instructors' package, the master notebook or the solutions"),
           (r"rnn_course\.lm\b|bpc_by_position|window_bpc",
            "the notebook uses the course's language-model module (rnn_course.lm), which measures context too: "
            "check that bpc_after_reset is the student's own")),
)
