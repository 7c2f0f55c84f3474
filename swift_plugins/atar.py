"""Adaptive Think Accuracy Reward R_a (ATAR), paper Eq. 1–5 (docs/rewards.md §3).

Naive case rewards {+1, 0, +2, −1} for
    Case 1 think + correct, Case 2 think + incorrect,
    Case 3 no-think + correct, Case 4 no-think + incorrect,
are shrunk towards targets {0, −1, 0, −2} by batch-balancing factors γ that
depend on the think ratio λ of the whole batch and anneal to 1 by the end of
training. Pure arithmetic: λ is *given* here; ``batch.py`` computes it over all
ranks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

NAIVE_REWARD = {  # (think, correct) -> r_naive, the rewards at γ = 1
    (True, True): 1.0,
    (True, False): 0.0,
    (False, True): 2.0,
    (False, False): -1.0,
}


def training_progress(step: int | float | None, total: int | float | None) -> float:
    """steps/T of Eq. 3–4, clamped to [0, 1] (docs/rewards.md §3).

    An unknown or non-positive T (ms-swift reports ``max_steps`` 0 before the
    trainer knows it) means "no annealing yet": progress 0.
    """
    if not total or total <= 0 or step is None:
        return 0.0
    return min(1.0, max(0.0, float(step) / float(total)))


@dataclass(frozen=True)
class Gammas:
    think: float
    no_think: float


def gammas(think_ratio: float, progress: float) -> Gammas:
    """Eq. 3–4: γ_think = exp(−λ(1 − s/T)), γ_no-think = exp(−(1 − λ)(1 − s/T)).

    At progress 0 these are Eq. 1–2; at progress 1 both are exactly 1.
    """
    lam = min(1.0, max(0.0, float(think_ratio)))
    remaining = 1.0 - min(1.0, max(0.0, float(progress)))
    return Gammas(think=math.exp(-lam * remaining), no_think=math.exp(-(1.0 - lam) * remaining))


def atar_reward(is_think: bool, is_correct: bool, g: Gammas) -> float:
    """Eq. 5.

    R_a = γ_think                           Case 1 (think, correct)
        = −(1 − γ_think)                    Case 2 (think, incorrect)
        = 2·γ_no-think                      Case 3 (no-think, correct)
        = −γ_no-think − 2(1 − γ_no-think)   Case 4 (no-think, incorrect)
    """
    if is_think:
        return g.think if is_correct else -(1.0 - g.think)
    if is_correct:
        return 2.0 * g.no_think
    return -g.no_think - 2.0 * (1.0 - g.no_think)


# Eq. 5 with both balancing factors fixed at 1 (the naive case rewards): ATAR without Eq. 1–4.
UNBALANCED = Gammas(think=1.0, no_think=1.0)


def atar_unbalanced_reward(is_think: bool, is_correct: bool) -> float:
    """Eq. 5 with γ_think = γ_no-think = 1 (Eq. 1–4 off): the naive case rewards {+1, 0, +2, −1}.

    The ablation of the paper's own addition: the same per-case rewards ATAR reaches at the end of
    training (s = T), from the first step and whatever the batch's think ratio λ.
    """
    return atar_reward(is_think, is_correct, UNBALANCED)
