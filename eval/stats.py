"""How sure an accuracy is, and whether a difference between two runs is real.

Pure functions of counts (no benchmark knowledge), in percent where they
return an accuracy; ``eval.grading`` attaches them to every figure and
``eval.compare`` to every paired difference. docs/evaluation.md, "Reading the intervals"
says which interval and why.

- :func:`wilson_interval`: the Wilson score interval of a proportion. Chosen
  over the textbook Wald interval p ± z·sqrt(p(1-p)/n) because it stays inside
  [0, 100], is not zero-width at 0 % or 100 %, and keeps close to its nominal
  coverage for the small groups of a breakdown (a sub-category of 20 items).
- :func:`macro_interval`: for a mean of group accuracies (AIR's "Avg"), a
  normal interval whose variance sums the groups' variances, each from the
  adjusted estimate (x+2)/(n+4) so that a group at 0 % or 100 % still counts.
- :func:`paired_bootstrap`: percentile interval of B − A over items resampled
  with replacement (fixed seed).
- :func:`mcnemar_exact`: exact two-sided McNemar test (binomial test of the
  discordant pairs).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054  # the 97.5 % quantile of the standard normal
BOOTSTRAP_SAMPLES = 10_000
BOOTSTRAP_SEED = 0


def _pct(value: float) -> float:
    return round(100.0 * value, 4)


def wilson_interval(correct: int, n: int, z: float = Z95) -> list[float] | None:
    """95 % Wilson score interval of ``correct / n`` as ``[low, high]`` in percent
    (None when n = 0)."""
    if n <= 0:
        return None
    p = correct / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [_pct(max(0.0, centre - half)), _pct(min(1.0, centre + half))]


def macro_interval(groups: Sequence[tuple[int, int]], z: float = Z95) -> list[float] | None:
    """Interval of the unweighted mean of group accuracies, groups given as
    ``(correct, n)``; groups with n = 0 are not part of the mean."""
    groups = [(c, n) for c, n in groups if n > 0]
    if not groups:
        return None
    k = len(groups)
    mean = sum(c / n for c, n in groups) / k
    variance = sum(((c + 2) / (n + 4)) * (1 - (c + 2) / (n + 4)) / (n + 4) for c, n in groups) / (k * k)
    half = z * math.sqrt(variance)
    return [_pct(max(0.0, mean - half)), _pct(min(1.0, mean + half))]


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value: under "no difference" each of the
    ``only_a + only_b`` discordant items is equally likely to favour A or B, so
    the smaller count is Binomial(only_a + only_b, 1/2); p = 2·P(X <= min),
    capped at 1. No discordant items: p = 1."""
    m = only_a + only_b
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2 ** m)  # exact integers; one rounding at the end


def paired_bootstrap(a: Sequence[bool], b: Sequence[bool], samples: int = BOOTSTRAP_SAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> list[float] | None:
    """95 % percentile interval, in points, of accuracy(B) − accuracy(A) when
    the paired items are resampled with replacement.

    Each item contributes −1 (only A right), +1 (only B right) or 0, so a
    resample of n items is fully described by how many of each kind it drew:
    drawing those three counts from a multinomial is the same distribution as
    drawing n item indices, at a cost independent of n."""
    import numpy as np

    if len(a) != len(b):
        raise ValueError("paired outcomes must have the same length")
    n = len(a)
    if n == 0:
        return None
    only_a = sum(1 for x, y in zip(a, b) if x and not y)
    only_b = sum(1 for x, y in zip(a, b) if y and not x)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, [only_a / n, only_b / n, (n - only_a - only_b) / n], size=samples)
    deltas = (draws[:, 1] - draws[:, 0]) / n
    low, high = np.quantile(deltas, [0.025, 0.975])
    return [_pct(float(low)), _pct(float(high))]
