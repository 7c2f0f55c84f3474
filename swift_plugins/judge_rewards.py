"""R_c (Eq. 6) and R_t (docs/rewards.md §5) for a batch of parsed completions, via the judge.

Both return one value per completion, ``None`` where the judge failed; the
caller applies the docs/rewards.md §7 fallbacks, so "failed" never silently turns into a
low score here.
"""
from __future__ import annotations

from collections.abc import Sequence

from swift_plugins.judge.client import judge_many
from swift_plugins.judge.prompts import (build_consistency_prompt, build_quality_prompt, parse_consistency,
                                         parse_quality)
from swift_plugins.judge.settings import JudgeSettings
from audio_thinker.tags import ParsedCompletion


async def consistency_scores(settings: JudgeSettings, parsed: Sequence[ParsedCompletion],
                             correct: Sequence[bool], questions: Sequence[str]) -> tuple[list[float | None], list[int]]:
    """R_c per completion (Eq. 6), and the indices the judge was asked about.

    Incorrect, in either mode: 0, and the judge is not asked (docs/rewards.md §4:
    R_c only applies when the final answer is correct; this rule wins over
    "no-think gets 1", so a wrong answer is never amplified by 1.5).
    No-think and correct: 1 (no reasoning to be inconsistent with).
    Think and correct: the judge's verdict, or None when the judgment failed.
    """
    values: list[float | None] = [1.0 if ok and not p.is_think else 0.0 for p, ok in zip(parsed, correct)]
    asked = [i for i, p in enumerate(parsed) if p.is_think and correct[i]]
    prompts = [build_consistency_prompt(questions[i], parsed[i].reasoning or "", parsed[i].answer or "",
                                        settings.reasoning_chars) for i in asked]
    for i, judgment in zip(asked, await judge_many(settings, prompts, parse_consistency)):
        values[i] = judgment.value
    return values, asked


async def quality_scores(settings: JudgeSettings, parsed: Sequence[ParsedCompletion],
                         questions: Sequence[str]) -> tuple[list[float | None], list[int]]:
    """Judge score of every think-mode completion's reasoning (docs/rewards.md §5), and the indices asked.

    No-think completions get None here: their R_t is the batch mean, which the
    caller computes over all ranks.
    """
    values: list[float | None] = [None] * len(parsed)
    asked = [i for i, p in enumerate(parsed) if p.is_think]
    prompts = [build_quality_prompt(questions[i], parsed[i].reasoning or "", settings.reasoning_chars)
               for i in asked]
    for i, judgment in zip(asked, await judge_many(settings, prompts, parse_quality)):
        values[i] = judgment.value
    return values, asked
