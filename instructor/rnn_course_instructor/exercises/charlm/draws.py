"""Whether characters a learner's ``sample`` drew follow top-k sampling at a temperature, by two tests.

A correct sampler may draw in any way (multinomial over the masked logits, multinomial over the top k's values
then their indices, Gumbel noise ...), so its draws are never compared with one reference stream: only their
distribution is tested, over many draws, each draw judged against the distribution it was made from (the model's
logits after the prompt and the characters drawn before it, the unknown character removed, the top k kept).

- The ranks drawn (0 = the most likely known character): their counts against the expected counts, a
  chi-square test with k - 1 degrees of freedom. The per-draw distributions differ, which makes the statistic
  smaller than a chi-square variable, so the test's false rejections stay below its nominal rate. It sees a
  wrong cut (the unknown character removed after it: the k-th rank is never drawn).
- The drawn characters' probabilities, summed: a martingale whose steps lie in [0, 1], held to its expected
  value by Freedman's inequality, P(|S - E| >= a) <= 2 exp(-a^2 / (2 (V + a / 3))). It sees a wrong temperature
  (draws too spread out or too concentrated).

``distribution_test`` returns the smaller p-value doubled (each test at half the level), so a correct sampler
fails with probability below the level asked for.
"""
from __future__ import annotations

import math

import torch
from scipy.stats import chi2

from rnn_course.text import Vocab


def draw_statistics(model, vocab: Vocab, prompt: str, texts: list[str], temperature: float, top_k: int):
    """For texts sampled after ``prompt``, under top-k sampling at ``temperature`` (the unknown character
    removed first): the rank of every drawn character among the known ones (0 = most likely), the expected
    count of each rank, and for the sum over draws of the drawn character's probability its observed value,
    expected value and variance."""
    ranks, expected, s, mean, var = [], torch.zeros(top_k, dtype=torch.float64), 0.0, 0.0, 0.0
    for text in texts:
        with torch.no_grad():
            logits, _ = model(vocab.encode(prompt + text)[None])  # (1, P + n, V)
        z = logits[0, len(prompt) - 1: len(prompt) - 1 + len(text)].double()  # (n, V): what predicts each one
        z[:, vocab.unk_id] = -math.inf
        drawn = vocab.encode(text)[:, None]  # (n, 1)
        ranks += (z > z.gather(1, drawn)).sum(1).tolist()
        top = z.topk(top_k, dim=1)
        probs = torch.zeros_like(z).scatter(1, top.indices, (top.values / temperature).softmax(1))  # (n, V)
        expected += probs.topk(top_k, dim=1).values.sum(0)
        s += probs.gather(1, drawn).sum().item()
        mean += (probs ** 2).sum().item()
        var += ((probs ** 3).sum(1) - (probs ** 2).sum(1) ** 2).sum().item()
    return ranks, expected, (s, mean, var)


def distribution_test(ranks: list[int], expected: torch.Tensor, sums: tuple[float, float, float]):
    """``(p, why)``: the smaller of two p-values, each held to half of ``SAMPLE_ALPHA``: a chi-square test of the
    ranks drawn (k - 1 degrees of freedom; it sees a wrong cut), and Freedman's inequality for the sum of the
    drawn characters' probabilities, a martingale of steps in [0, 1] (it sees a wrong temperature)."""
    k = len(expected)
    counts = torch.bincount(torch.tensor([r for r in ranks if r < k]), minlength=k).double()
    p_ranks = float(chi2.sf(float(((counts - expected) ** 2 / expected).sum()), k - 1))
    s, mean, var = sums
    a = abs(s - mean)
    p_sum = min(1.0, 2 * math.exp(-a * a / (2 * (var + a / 3)))) if a > 0 else 1.0
    why = (f"ranks drawn {counts.int().tolist()}, expected about {[round(e) for e in expected.tolist()]} "
           f"(chi-square p = {p_ranks:.1g}); the drawn characters' probabilities sum to {s:.1f}, expected "
           f"{mean:.1f} +- {math.sqrt(var):.1f}")
    if counts[-1] == 0 and expected[-1] >= 10:
        why += (f"; the {k}th most likely known character was never drawn: remove the unknown character before "
                "the top-k cut, not after")
    return min(2 * p_ranks, 2 * p_sum), why
