"""What the char-LM grader runs in the learner's kernel: the probes, and the helpers they call.

The kernel has the course package but not this one, so each function here is sent to it as source text
(``Exercise.helpers`` and ``Question.probe``) and must be self-contained: imports inside, no globals but the
other helpers. Each probe calls the learner's function on the inputs the grader drew and returns plain data;
every check happens in the grader (``questions.py``).

``kernel_model`` builds, from the grader's plain-data description, the model that Parts B to E hand to the
learner's functions: embedding -> recurrent layer -> linear, with the grader's weights, so a mistake in Part A
does not cost points again. It is sent only with the probes of Parts B to E, which run after Part A's.
"""
from __future__ import annotations


def attempt(fn) -> dict:
    """``{"value": fn()}``, or ``{"error": "Type: message"}``: one failing call costs only its own points."""
    try:
        return {"value": fn()}
    except Exception as err:  # noqa: BLE001 - whatever the learner's code raises is reported
        return {"error": f"{type(err).__name__}: {err}"[:200]}


def kernel_model(spec):
    """The model ``spec`` describes (see the module docstring)."""
    import torch.nn as nn

    recurrent = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[spec["kind"]]
    V, E, H = len(spec["chars"]) + 1, spec["embed_dim"], spec["hidden_size"]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(V, E)
            self.rnn = recurrent(E, H, spec["num_layers"], batch_first=True)
            self.head = nn.Linear(H, V)

        def forward(self, x, state=None):
            out, state = self.rnn(self.embedding(x), state)
            return self.head(out), state

    model = Model()
    model.load_state_dict(spec["weights"])
    return model


def is_float(x) -> bool:
    """A Python float or a NumPy floating-point scalar: both are numbers where a float is asked for (a subclass
    of float that is neither is not)."""
    import numpy

    return type(x) is float or isinstance(x, numpy.floating)


def probe_model(ns, inputs):
    import torch

    cls, kind, V, x, k = ns[inputs["cls"]], inputs["kind"], inputs["V"], inputs["x"], inputs["split"]
    out = {"n_default": attempt(lambda: sum(p.numel() for p in cls(V, kind).parameters()))}
    made = attempt(lambda: cls(V, kind, **inputs["sizes"]))
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


def probe_sizes(ns, inputs):
    n_parameters, hidden_for_parameters = ns["n_parameters"], ns["hidden_for_parameters"]
    return {"counts": [attempt(lambda c=c: n_parameters(c["kind"], c["V"], c["E"], c["H"], c["L"]))
                       for c in inputs["counts"]],
            "budgets": [attempt(lambda b=b: hidden_for_parameters(b["kind"], b["V"], b["n"], b["E"], b["L"]))
                        for b in inputs["budgets"]]}


def probe_train_step(ns, inputs):
    """Two steps in a row on a model without gradients: clearing them before backward or after the update
    both give the reference's weights; never clearing them does not."""
    import torch

    model = kernel_model(inputs)
    optimizer = torch.optim.SGD(model.parameters(), lr=inputs["lr"])
    steps = []
    for batch in inputs["batches"]:
        state = [s.clone() for s in batch["state"]]
        loss, state = ns["train_step"](model, optimizer, batch["x"].clone(), batch["y"].clone(),
                                       tuple(state) if inputs["kind"] == "lstm" else state[0])
        tensors = list(state) if isinstance(state, (tuple, list)) else [state]
        steps.append({"loss": loss, "loss_type": type(loss).__name__, "is_float": is_float(loss), "state": tensors,
                      "detached": [isinstance(t, torch.Tensor) and not t.requires_grad for t in tensors],
                      "weights": {k: v.detach().clone() for k, v in model.state_dict().items()}})
    return steps


def probe_bpc(ns, inputs):
    import torch

    model = kernel_model(inputs)
    value = ns["bits_per_char"](model, inputs["data"].clone())
    uniform = kernel_model(inputs)
    with torch.no_grad():
        uniform.head.weight.zero_()
        uniform.head.bias.zero_()
    return {"value": value, "type": type(value).__name__, "is_float": is_float(value),
            "uniform": ns["bits_per_char"](uniform, inputs["data"].clone())}


def probe_context(ns, inputs):
    model = kernel_model(inputs)
    value = ns["bpc_after_reset"](model, inputs["data"].clone(), inputs["length"])
    plain = isinstance(value, list) and all(is_float(v) for v in value)
    return {"value": [float(v) for v in value] if plain else None, "type": type(value).__name__, "plain": plain,
            "length": len(value) if hasattr(value, "__len__") else None}


def probe_sample(ns, inputs):
    import torch

    from rnn_course.text import Vocab

    model, vocab = kernel_model(inputs), Vocab(list(inputs["chars"]))
    sample, prompt, n, tau, k = ns["sample"], inputs["prompt"], inputs["length"], inputs["temperature"], inputs["top_k"]

    def draw(seed, length):
        return sample(model, vocab, prompt, length, tau, k, torch.Generator().manual_seed(seed))

    return {"greedy": attempt(lambda: sample(model, vocab, prompt, n, 0.0, None, None)),
            "first": attempt(lambda: draw(inputs["seed"], n)), "second": attempt(lambda: draw(inputs["seed"], n)),
            "draws": attempt(lambda: [draw(inputs["seed"] + 1 + i, inputs["draw_length"])
                                      for i in range(inputs["draws"])])}


def probe_suggest(ns, inputs):
    """``suggest`` on the grader's model, every call's input shape and whether a state was passed recorded."""
    import torch

    from rnn_course.text import Vocab

    inner = kernel_model(inputs)

    class Recording(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner, self.calls = inner, []

        def forward(self, x, state=None):
            self.calls.append((list(x.shape), state is not None))
            return self.inner(x, state)

    model = Recording()
    bar = attempt(lambda: ns["suggest"](model, Vocab(list(inputs["chars"])), inputs["typed"], inputs["k"]))
    if "value" in bar and not (isinstance(bar["value"], list) and all(type(s) is str for s in bar["value"])):
        bar = {"value": repr(bar["value"])[:200]}  # plain data only: what the grader compares
    elif "value" in bar:
        bar = {"value": [str.__str__(s) for s in bar["value"]]}
    return {"bar": bar, "calls": model.calls[:500]}


def probe_latency(ns, inputs):
    """``latency_per_char`` on two stand-ins of the grader's model that take known, different times per call;
    every call's start and end are recorded, so the grader knows the work that was actually timed."""
    import time

    import torch

    inner = kernel_model(inputs)

    class Timed(torch.nn.Module):
        def __init__(self, delay, hiccup_at, hiccup):
            super().__init__()
            self.inner, self.delay, self.hiccup_at, self.hiccup, self.calls = inner, delay, hiccup_at, hiccup, []

        def forward(self, x, state=None):
            start = time.perf_counter()
            time.sleep(self.delay + (self.hiccup if len(self.calls) == self.hiccup_at else 0.0))
            out = self.inner(x, state)
            self.calls.append((list(x.shape), torch.is_grad_enabled(), state is not None, start, time.perf_counter()))
            return out

    runs = []
    for run in inputs["runs"]:
        model = Timed(run["delay"], run["hiccup_at"], run["hiccup"])
        value = ns["latency_per_char"](model, len(inputs["chars"]) + 1, n_chars=inputs["n_chars"],
                                       warmup=inputs["warmup"], repeats=inputs["repeats"])
        runs.append({"value": value, "type": type(value).__name__, "is_float": is_float(value),
                     "shapes": [c[0] for c in model.calls], "grad": [c[1] for c in model.calls],
                     "state": [c[2] for c in model.calls], "start": [c[3] for c in model.calls],
                     "end": [c[4] for c in model.calls]})
    return runs


HELPERS = (attempt, kernel_model, is_float)
