"""Grading of the char-LM exercise: 16 points over the functions the master notebook asks for.

Each question brings the learner's function out of their kernel as numbers, on inputs drawn at grading time
(vocabulary size, model sizes, weights, texts), and compares them here with the reference implementation in
``rnn_course.charlm``. The models the probes hand to the learner's functions are the reference's
``CharModel`` with weights chosen by the grader, so a mistake in Part A does not cost points again in Parts
B-E. The comparison table and the written recommendation are left to a person.

- ``model_rnn``, ``model_lstm``, ``model_gru`` (2 each): parameter count at the default sizes; parameter
  names and shapes at other sizes; logits with the same weights; continuing from a returned state.
- ``train_step`` (3): the loss (a float, before the update); the weights after one SGD step with gradient
  clipping; the final state, its values and that it is detached.
- ``bits_per_char`` (2): a float; log2(V) for a uniform model; a random model's exact score over a text
  longer than one chunk.
- ``sample`` (3): the greedy text at temperature 0; length and vocabulary; top-k respected; the same seed
  gives the same text; the same draws as the reference.
- ``latency_per_char`` (2): warm-up and timed one-character steps at batch 1, without gradients; seconds
  per character of a model whose speed the grader knows.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rnn_course_instructor.charlm import CharModel, bits_per_char, generate, train_step
from rnn_course_instructor.grading.spec import Exercise, Question
from rnn_course.text import Vocab

ALPHABET = "etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLCUMWFGYPBVKJXQZ0123456789 .,;:!?'-()"
DEFAULTS = dict(embed_dim=128, hidden_size=256, num_layers=2)  # the exercise's model sizes
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
    """The reference ``CharModel`` that ``spec`` describes (with its weights, when it has them).

    Probes call this in the learner's kernel, so both sides build the same model.
    """
    model = CharModel(Vocab(list(spec["chars"])), spec["kind"], spec["embed_dim"], spec["hidden_size"],
                      spec["num_layers"])
    if "weights" in spec:
        model.load_state_dict(spec["weights"])
    return model


def attempt(fn) -> dict:
    """``{"value": fn()}``, or ``{"error": "Type: message"}``: one failing call costs only its own points.

    Probes import it in the learner's kernel.
    """
    try:
        return {"value": fn()}
    except Exception as err:  # noqa: BLE001 - whatever the learner's code raises is reported
        return {"error": f"{type(err).__name__}: {err}"[:200]}


# --- Part A: the three models --------------------------------------------------------------------------

def model_inputs(kind: str):
    def inputs(gen):
        V = _int(gen, 20, 60)
        sizes = {"embed_dim": _int(gen, 5, 12), "hidden_size": _int(gen, 6, 16), "num_layers": _int(gen, 1, 3)}
        T = _int(gen, 6, 12)
        return {"cls": {"rnn": "CharRNN", "lstm": "CharLSTM", "gru": "CharGRU"}[kind], "kind": kind, "V": V,
                "sizes": sizes, "x": torch.randint(V, (3, T), generator=gen), "split": _int(gen, 2, T - 2)}

    return inputs


def probe_model(ns, inputs):
    import torch

    from rnn_course_instructor.exercises.charlm.questions import attempt

    cls, V, x, k = ns[inputs["cls"]], inputs["V"], inputs["x"], inputs["split"]
    out = {"n_default": attempt(lambda: sum(p.numel() for p in cls(V).parameters()))}
    made = attempt(lambda: cls(V, **inputs["sizes"]))
    if "error" in made:
        out["small"] = made
        return out
    model = made["value"]
    out["small"] = {"value": {k_: v for k_, v in model.state_dict().items()}}
    with torch.no_grad():
        out["forward"] = attempt(lambda: model(x.clone()))
        first = attempt(lambda: model(x[:, :k].clone()))
        if "error" in first:
            out["continued"] = first
        else:
            out["continued"] = attempt(lambda: (first["value"][0], model(x[:, k:].clone(), first["value"][1])[0]))
    return out


def _error_or(result: dict, what: str):
    return None if "error" not in result else f"{what} raised {result['error']}"


def model_check(kind: str):
    def check(mark, out, inputs):
        name, V, x, k = inputs["cls"], inputs["V"], inputs["x"], inputs["split"]
        vocab = Vocab(list(ALPHABET[: V - 1]))
        reference = CharModel(vocab, kind, **DEFAULTS)
        expected = sum(p.numel() for p in reference.parameters())
        got = out["n_default"].get("value")
        mark.expect(got == expected, 0.5, _error_or(out["n_default"], f"{name}({V})")
                    or f"{name}({V}) has {got} parameters, expected {expected:,}")
        if "error" in out["small"]:
            mark.fail(f"{name}({V}, **{inputs['sizes']}) raised {out['small']['error']}")
            return
        small = CharModel(vocab, kind, **inputs["sizes"])
        shapes = {k_: tuple(v.shape) for k_, v in small.state_dict().items()}
        sd = out["small"]["value"]
        got_shapes = {k_: tuple(v.shape) if type(v) is torch.Tensor else None for k_, v in sd.items()}
        if not mark.expect(got_shapes == shapes, 0.5, f"{name}({V}, **{inputs['sizes']}): parameters "
                           f"{got_shapes}, expected {shapes} (submodules embedding, rnn, head)"):
            mark.fail("its outputs cannot be compared with the reference's: the parameters differ")
            return
        small.load_state_dict(sd)
        with torch.no_grad():
            ref_logits, _ = small(x)
        forward = out["forward"]
        if mark.expect("error" not in forward, 0.5, _error_or(forward, f"{name}.forward") or ""):
            value = forward["value"]
            logits = value[0] if type(value) in (tuple, list) and len(value) == 2 else value
            mark.close(logits, ref_logits, 0.5, "logits with the same weights (expected (B, T, V), every position)")
        cont = out["continued"]
        if mark.expect("error" not in cont, 0.5, _error_or(cont, f"{name}.forward(x, state)") or ""):
            first, rest = cont["value"]
            joined = torch.cat([first, rest], 1) if type(first) is type(rest) is torch.Tensor else None
            mark.close(joined, ref_logits, 0.5, "logits of x[:, :k] then x[:, k:] from the returned state")

    return check


# --- Part B: the training step --------------------------------------------------------------------------

def train_step_inputs(gen):
    for gain in (1.0, 2.0, 4.0, 8.0, 16.0):  # big enough gradients that clipping matters
        spec = draw_model(gen, head_gain=gain)
        V, L, H = len(spec["chars"]) + 1, spec["num_layers"], spec["hidden_size"]
        x, y = torch.randint(V, (3, 9), generator=gen), torch.randint(V, (3, 9), generator=gen)
        state = [torch.randn(L, 3, H, generator=gen) * 0.5 for _ in range(2 if spec["kind"] == "lstm" else 1)]
        model = build_model(spec)
        logits, _ = model(x, _state(spec["kind"], state))
        F.cross_entropy(logits.flatten(0, 1), y.flatten()).backward()
        if torch.cat([p.grad.flatten() for p in model.parameters()]).norm() > 3.0:
            break
    return {**spec, "x": x, "y": y, "state": state, "lr": 0.1}


def _state(kind, state):
    return tuple(state) if kind == "lstm" else state[0]


def probe_train_step(ns, inputs):
    import torch

    from rnn_course_instructor.exercises.charlm.questions import build_model

    model = build_model(inputs)
    for p in model.parameters():  # stale gradients, which the step must clear
        p.grad = torch.ones_like(p)
    optimizer = torch.optim.SGD(model.parameters(), lr=inputs["lr"])
    state = [s.clone() for s in inputs["state"]]
    loss, state = ns["train_step"](model, optimizer, inputs["x"].clone(), inputs["y"].clone(),
                                   tuple(state) if inputs["kind"] == "lstm" else state[0])
    tensors = list(state) if isinstance(state, (tuple, list)) else [state]
    return {"loss": loss, "loss_type": type(loss).__name__, "state": tensors,
            "detached": [isinstance(t, torch.Tensor) and not t.requires_grad for t in tensors],
            "weights": {k: v for k, v in model.state_dict().items()}}


def check_train_step(mark, out, inputs):
    model = build_model(inputs)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer = torch.optim.SGD(model.parameters(), lr=inputs["lr"])
    loss, state = train_step(model, optimizer, inputs["x"], inputs["y"], _state(inputs["kind"], inputs["state"]),
                             clip=CLIP)  # the exercise's value, whatever the notebook set CLIP to
    got = out["loss"]
    mark.expect(out["loss_type"] == "float", 0.5,
                f"the loss is of type {out['loss_type']}, expected a Python float (loss.item())")
    value = float(got) if type(got) in (int, float) or (type(got) is torch.Tensor and got.numel() == 1) else None
    mark.expect(value is not None and math.isclose(value, loss, rel_tol=1e-4), 0.5,
                f"loss {value}, expected {loss:.4f}: mean cross-entropy over all B*T positions, before the update")
    weights = out["weights"]
    ok = set(weights) == set(model.state_dict()) and all(
        torch.allclose(weights[k], v, rtol=1e-4, atol=1e-6) for k, v in model.state_dict().items())
    mark.expect(ok, 1, "the weights after one step differ from the reference's: zero the gradients, backward, "
                f"clip the gradient norm to CLIP = {CLIP:g}, then optimizer.step()")
    expected = list(state) if isinstance(state, tuple) else [state]
    got_state = out["state"]
    same = len(got_state) == len(expected) and all(
        type(a) is torch.Tensor and a.shape == b.shape and torch.allclose(a, b, atol=1e-5)
        for a, b in zip(got_state, expected))
    if mark.expect(same, 0.5, "the returned state is not the recurrent layer's final state for this batch "
                   "(started from the given state)"):
        mark.expect(all(out["detached"]), 0.5, "the returned state still requires grad: detach it")
    else:
        mark.expect(False, 0.5, "whether the state is detached is not checked either (the state is wrong)")


# --- Part C: bits per character -------------------------------------------------------------------------

def bpc_inputs(gen):
    spec = draw_model(gen)
    V = len(spec["chars"]) + 1
    return {**spec, "data": torch.randint(1, V, (_int(gen, 600, 1100),), generator=gen)}


def probe_bpc(ns, inputs):
    import torch

    from rnn_course_instructor.exercises.charlm.questions import build_model

    model = build_model(inputs)
    value = ns["bits_per_char"](model, inputs["data"].clone())
    uniform = build_model(inputs)
    with torch.no_grad():
        uniform.head.weight.zero_()
        uniform.head.bias.zero_()
    return {"value": value, "type": type(value).__name__,
            "uniform": ns["bits_per_char"](uniform, inputs["data"].clone())}


def check_bpc(mark, out, inputs):
    V = len(inputs["chars"]) + 1
    expected = bits_per_char(build_model(inputs), inputs["data"])
    mark.expect(out["type"] == "float", 0.5,
                f"bits_per_char returned a value of type {out['type']}, expected a Python float")
    uniform = out["uniform"]
    uniform = float(uniform) if type(uniform) in (int, float) else None
    mark.expect(uniform is not None and math.isclose(uniform, math.log2(V), rel_tol=1e-4), 0.5,
                f"a uniform model scored {uniform}, expected log2(V) = {math.log2(V):.4f} (log base 2, mean over "
                "characters)")
    value = out["value"]
    value = float(value) if type(value) in (int, float) else None
    mark.expect(value is not None and math.isclose(value, expected, rel_tol=1e-4), 1,
                f"{value} bits per character, expected {expected:.4f} over {len(inputs['data'])} characters: "
                "every character but the first, the state carried across chunks")


# --- Part D: sampling -----------------------------------------------------------------------------------

def sample_inputs(gen):
    spec = draw_model(gen, head_gain=3.0)
    spec["weights"]["head.bias"][0] += 4.0  # the unknown character (id 0) is likely, and must never be drawn
    chars = spec["chars"]
    prompt = "".join(chars[_int(gen, 0, len(chars) - 1)] for _ in range(_int(gen, 3, 8)))
    return {**spec, "prompt": prompt, "length": _int(gen, 20, 40), "top_k": _int(gen, 2, 6),
            "temperature": 0.5 + float(torch.rand((), generator=gen)), "seed": _int(gen, 0, 2**31)}


def probe_sample(ns, inputs):
    import torch

    from rnn_course_instructor.exercises.charlm.questions import attempt, build_model
    from rnn_course.text import Vocab

    model, vocab = build_model(inputs), Vocab(list(inputs["chars"]))
    sample, prompt, n = ns["sample"], inputs["prompt"], inputs["length"]
    draw = lambda: sample(model, vocab, prompt, n, inputs["temperature"], inputs["top_k"],  # noqa: E731
                          torch.Generator().manual_seed(inputs["seed"]))
    return {"greedy": attempt(lambda: sample(model, vocab, prompt, n, 0.0, None, None)),
            "first": attempt(draw), "second": attempt(draw)}


def check_sample(mark, out, inputs):
    model, vocab = build_model(inputs), Vocab(list(inputs["chars"]))
    prompt, n, k, temp = inputs["prompt"], inputs["length"], inputs["top_k"], inputs["temperature"]
    greedy = generate(model, vocab, prompt, n, 0.0)
    g = out["greedy"]
    mark.expect(g.get("value") == greedy, 1, _error_or(g, "sample(..., temperature=0)")
                or f"at temperature 0 the text {g.get('value')!r} is not the most likely one {greedy!r} "
                   "(the unknown character excluded)")
    first, second = out["first"], out["second"]
    if not mark.expect("error" not in first, 2, _error_or(first, f"sample(..., {temp:.2f}, top_k={k}, generator)")
                       or ""):
        return
    text = first["value"]
    ok = type(text) is str and len(text) == n and set(text) <= set(vocab.chars)
    if not mark.expect(ok, 0.5, f"expected a str of the {n} new characters from the vocabulary (never the unknown "
                       f"character), got {text!r}"):
        mark.fail("the sampled text cannot be checked further")
        return
    with torch.no_grad():
        logits, _ = model(vocab.encode(prompt + text)[None])  # (1, P + n, V)
    z = logits[0, len(prompt) - 1: len(prompt) - 1 + n].clone()  # (n, V): what predicts each new character
    z[:, vocab.unk_id] = -math.inf
    ranks = (z > z.gather(1, vocab.encode(text)[:, None])).sum(1)  # (n,)
    mark.expect(bool((ranks < k).all()), 0.5, f"with top_k={k} a character outside the {k} most likely was drawn")
    mark.expect(second.get("value") == text, 0.5, "the same generator seed gave a different text")
    expected = generate(model, vocab, prompt, n, temp, k, torch.Generator().manual_seed(inputs["seed"]))
    mark.expect(text == expected, 0.5, "with the same generator the draws differ from the reference's: one "
                "torch.multinomial(probs, 1, generator=generator) per character on softmax(z / temperature) over the "
                "top k")


# --- Part E: latency ------------------------------------------------------------------------------------

DELAY_S = 0.005  # the probe's model sleeps this long per call, so its true latency is known


def latency_inputs(gen):
    # A whole run (n_chars calls) takes at least 30 * DELAY_S = 0.15 s, more than a per-character answer may.
    return {**draw_model(gen), "n_chars": _int(gen, 30, 40), "warmup": _int(gen, 2, 5), "repeats": _int(gen, 3, 5)}


def probe_latency(ns, inputs):
    import time

    import torch

    from rnn_course_instructor.exercises.charlm.questions import DELAY_S, build_model

    inner, calls = build_model(inputs), []

    class Slow(torch.nn.Module):
        """The reference model, slowed down by a known delay per call; it records how it is called."""

        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, x, state=None):
            calls.append((list(x.shape), torch.is_grad_enabled(), state is not None))
            time.sleep(DELAY_S)
            return self.inner(x, state)

    V = len(inputs["chars"]) + 1
    value = ns["latency_per_char"](Slow(), V, n_chars=inputs["n_chars"], warmup=inputs["warmup"],
                                   repeats=inputs["repeats"])
    return {"value": value, "type": type(value).__name__, "calls": [c[0] for c in calls],
            "grad": [c[1] for c in calls], "state": [c[2] for c in calls]}


def check_latency(mark, out, inputs):
    n, w, r = inputs["n_chars"], inputs["warmup"], inputs["repeats"]
    value = out["value"] if type(out["value"]) in (int, float) else None
    mark.expect(out["type"] == "float" and value is not None and value > 0, 0.5,
                f"expected a positive Python float, got a value of type {out['type']}")
    calls = out["calls"]
    ok = len(calls) == w + r * n and all(c == [1, 1] for c in calls) and not any(out["grad"]) \
        and sum(not s for s in out["state"]) <= 1 + r
    mark.expect(ok, 0.75, f"with warmup={w}, repeats={r}, n_chars={n} expected {w + r * n} calls on one id at "
                f"batch 1, without gradients, the state carried; got {len(calls)} calls"
                + (f", input shapes like {calls[0]}" if calls else ""))
    mark.expect(value is not None and DELAY_S <= value <= 20 * DELAY_S, 0.75,
                f"a model that takes {DELAY_S * 1e3:.0f} ms per character measured {value!r}: return the median "
                "run time divided by n_chars, in seconds")


EXERCISE = Exercise(
    name="charlm",
    questions=(
        Question("model_rnn", 2, "CharRNN: parameters, logits with the same weights, state carried", ("CharRNN",),
                 probe_model, model_check("rnn"), model_inputs("rnn")),
        Question("model_lstm", 2, "CharLSTM: parameters, logits with the same weights, state carried",
                 ("CharLSTM",), probe_model, model_check("lstm"), model_inputs("lstm")),
        Question("model_gru", 2, "CharGRU: parameters, logits with the same weights, state carried", ("CharGRU",),
                 probe_model, model_check("gru"), model_inputs("gru")),
        Question("train_step", 3, "train_step: loss, update with clipping, detached state", ("train_step",),
                 probe_train_step, check_train_step, train_step_inputs),
        Question("bits_per_char", 2, "bits_per_char over a whole text", ("bits_per_char",),
                 probe_bpc, check_bpc, bpc_inputs),
        Question("sample", 3, "sample: greedy, top-k, reproducible with a generator", ("sample",),
                 probe_sample, check_sample, sample_inputs),
        Question("latency_per_char", 2, "latency_per_char: warm-up, median, seconds per character",
                 ("latency_per_char",), probe_latency, check_latency, latency_inputs),
    ),
    # Grading runs the whole notebook: a tiny training budget, the offline corpus, the CPU.
    env={"RNN_COURSE_BUDGET_SCALE": "0.01", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
         "RNN_COURSE_DEVICE": "cpu"},
    cell_timeout=120,
    budget=600,
    memory_mb=4096,
    # Calling the package's reference implementation instead of writing one: flagged for a person to look at.
    flags=((r"\bCharModel\b|\bsample_next\b|\bcharlm\.(train_step|bits_per_char|generate|latency_per_char)\b"
            r"|from\s+rnn_course\.charlm\s+import\s[^\n]*\b(train_step|bits_per_char|generate|latency_per_char)\b",
            "the notebook uses rnn_course.charlm's reference implementation"),),
)
