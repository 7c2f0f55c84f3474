"""Rule-based rewards: format R_f (docs/rewards.md §1) and multiple-choice accuracy (§2, the strict training rule).

Pure functions of strings: no ms-swift, no torch. The ORM classes in
``rewards.py`` only adapt them to ms-swift's calling convention.
"""
from __future__ import annotations

from collections.abc import Sequence

from audio_thinker.matching import strict_match
from audio_thinker.tags import ParsedCompletion, Shape


def adaptive_format(parsed: ParsedCompletion) -> float:
    """R_f of the adaptive-think prompt: 1 for exactly ``<think>…</think><answer>…</answer>``
    or exactly ``<answer>…</answer>``, else 0. "Both formats receive a format reward of 1." """
    return 1.0 if parsed.shape is not None else 0.0


def answer_only_format(parsed: ParsedCompletion) -> float:
    """Format reward of the plain GRPO rows (grpo-a/c, R1-AQA): exactly ``<answer>…</answer>``.

    An empty ``<think></think>`` wrapper is not what the answer-only prompt asks
    for, so only the bare answer shape counts.
    """
    return 1.0 if parsed.shape is Shape.ANSWER_ONLY else 0.0


def think_format(parsed: ParsedCompletion) -> float:
    """Format reward of the GRPO+CoT rows (grpo-b/d): thinking is required, so only
    ``<think>NON-EMPTY</think><answer>…</answer>`` scores 1."""
    return 1.0 if parsed.shape is Shape.THINK else 0.0


def is_correct(parsed: ParsedCompletion, solution: str, choices: Sequence[str] | None) -> bool:
    """Training correctness (docs/rewards.md §2): the ``<answer>`` content is exactly one choice, the gold
    one (``strict_match``); no parsable answer means incorrect (§1). Every reward that needs correctness
    (accuracy, R_a, R_c) calls this, so none of them pays for reasoning hidden inside ``<answer>``."""
    return strict_match(parsed.answer, solution, choices).correct


def choice_accuracy(parsed: ParsedCompletion, solution: str, choices: Sequence[str] | None) -> float:
    """1/0 multiple-choice accuracy of the ``<answer>`` content."""
    return 1.0 if is_correct(parsed, solution, choices) else 0.0
