"""Audio-Thinker rewards for ms-swift GRPO (the ``--external_plugins`` file).

    swift rlhf --rlhf_type grpo --external_plugins swift_plugins/rewards.py \\
        --reward_funcs atar think_consistency adaptive_format think_quality \\
        --reward_weights 1 0.5 0.5 1 --callbacks audio_thinker ...

With those weights the weighted sum ms-swift forms is Eq. 7 for every completion:

    R = R_a · (1 + 0.5 · R_c) + 0.5 · R_f + R_t
      = 1·R_a + 0.5·(R_a·R_c) + 0.5·R_f + 1·R_t

Each class below only adapts a pure function (``rules.py``, ``atar.py``,
``judge_rewards.py``) to ms-swift's calling convention: ``completions`` plus the
dataset columns (``solution``, optional ``choices``, ``messages``) and
``trainer_state`` as keyword arguments, called on each rank's local samples.
Global-batch quantities come from ``batch.STATE``. Class names are the
dashboard's metric names (``rewards/<ClassName>/mean``).
"""
from __future__ import annotations

import asyncio
import inspect
import os
import sys
from collections.abc import Sequence

# ms-swift imports this file by path; make the package importable from a source
# checkout even when it was not pip-installed.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from swift.rewards import ORM, AsyncORM, orms  # noqa: E402

import swift_plugins.compat  # noqa: E402,F401  (Qwen2-Audio fix + clean process-group teardown)
from audio_thinker.rows import question_of  # noqa: E402
from audio_thinker.tags import parse_completion  # noqa: E402
from swift_plugins import batch, decision_token, options_guard, registry, rules  # noqa: E402
from swift_plugins.atar import atar_reward, atar_unbalanced_reward  # noqa: E402
from swift_plugins.judge.client import CAUSES  # noqa: E402
from swift_plugins.judge.settings import settings_from_env  # noqa: E402
from swift_plugins.judge_rewards import consistency_scores, quality_scores  # noqa: E402
from swift_plugins.metrics_callback import register_callback  # noqa: E402


def _column(kwargs: dict, name: str, n: int) -> list:
    value = kwargs.get(name)
    if value is None:
        return [None] * n
    return list(value)


def _steps(kwargs: dict) -> tuple[int, int]:
    state = kwargs.get("trainer_state")
    return int(getattr(state, "global_step", 0) or 0), int(getattr(state, "max_steps", 0) or 0)


class _AudioThinkerReward:
    """Shared plumbing: check the trainer's options once, parse once per call, register the call."""

    def __init__(self, args=None, **kwargs):
        super().__init__(args, **kwargs)
        batch.configure_output(getattr(args, "output_dir", None))
        # Before step 1 (ms-swift builds the rewards inside the trainer's constructor); see docs/rewards.md §10.
        options_guard.check_trainer_args(args, batch.STATE.trainer)
        decision_token.configure(args)  # a row's decoupled decision-token term (docs/rewards.md §11), if set
        batch.prepare_collectives(getattr(args, "ddp_timeout", None))

    @staticmethod
    def _prepare(completions: Sequence[str], kwargs: dict) -> batch.CallFacts:
        """Parse, grade and register one scoring call (once; the other rewards of the call reuse it)."""
        known = batch.STATE.facts(completions)
        if known is not None:
            return known
        if "trajectory_inputs" in kwargs:  # ms-swift adds it only for a multi-turn rollout server
            options_guard.refuse([options_guard.SERVER_MULTI_TURN])
        parsed = [parse_completion(c) for c in completions]
        n = len(parsed)
        solutions, choices = _column(kwargs, "solution", n), _column(kwargs, "choices", n)
        # The one correctness rule of training (the one ``choice_accuracy`` pays), shared by every reward.
        correct = [rules.is_correct(p, s or "", c) for p, s, c in zip(parsed, solutions, choices)]
        graded = [s is not None for s in solutions]
        token_counts = [len(ids) if ids is not None else None for ids in _column(kwargs, "response_token_ids", n)]
        step, max_steps = _steps(kwargs)
        return batch.STATE.begin(completions, parsed, correct, graded, token_counts, step, max_steps)

    @staticmethod
    def _graded(completions: Sequence[str], kwargs: dict) -> batch.CallFacts:
        """``_prepare`` for the rewards that need the gold answer (accuracy, R_a, R_a·R_c)."""
        if kwargs.get("solution") is None:
            # Without the gold answer every completion would score "incorrect": a negative R_a for all, a
            # run that trains on noise. Refuse instead (ms-swift passes dataset columns as keyword arguments).
            raise ValueError("the dataset has no 'solution' column (the gold answer the accuracy rewards "
                             "compare with); rows from python -m data_prep.avqa have one (docs/data-preparation.md)")
        return _AudioThinkerReward._prepare(completions, kwargs)


class AdaptiveFormat(_AudioThinkerReward, ORM):
    """R_f (docs/rewards.md §1): either well-formed shape scores 1."""

    def __call__(self, completions, **kwargs) -> list[float]:
        return [rules.adaptive_format(p) for p in self._prepare(completions, kwargs).parsed]


class AnswerOnlyFormat(_AudioThinkerReward, ORM):
    """Format reward of the plain GRPO rows: exactly ``<answer>…</answer>``."""

    def __call__(self, completions, **kwargs) -> list[float]:
        return [rules.answer_only_format(p) for p in self._prepare(completions, kwargs).parsed]


class ThinkFormat(_AudioThinkerReward, ORM):
    """Format reward of the GRPO+CoT rows: non-empty ``<think>`` then ``<answer>``."""

    def __call__(self, completions, **kwargs) -> list[float]:
        return [rules.think_format(p) for p in self._prepare(completions, kwargs).parsed]


class ChoiceAccuracy(_AudioThinkerReward, ORM):
    """1/0 correctness of the ``<answer>`` content (docs/rewards.md §2)."""

    def __call__(self, completions, **kwargs) -> list[float]:
        return [1.0 if ok else 0.0 for ok in self._graded(completions, kwargs).correct]


class AdaptiveThinkAccuracy(_AudioThinkerReward, ORM):
    """R_a, Eq. 1–5: case rewards balanced by the global think ratio λ and annealed by steps/T."""

    def __call__(self, completions, **kwargs) -> list[float]:
        facts = self._graded(completions, kwargs)
        return [atar_reward(p.is_think, ok, facts.stats.factors) for p, ok in zip(facts.parsed, facts.correct)]


class AdaptiveThinkAccuracyUnbalanced(_AudioThinkerReward, ORM):
    """R_a without batch balancing: Eq. 5 with γ_think = γ_no-think = 1 (Eq. 1–4 off), the ablation of ATAR's
    balancing factors; ``atar`` itself is unchanged."""

    def __call__(self, completions, **kwargs) -> list[float]:
        facts = self._graded(completions, kwargs)
        return [atar_unbalanced_reward(p.is_think, ok) for p, ok in zip(facts.parsed, facts.correct)]


class ThinkRate(_AudioThinkerReward, ORM):
    """1 for think mode, 0 otherwise; with weight 0 it plots the think ratio."""

    def __call__(self, completions, **kwargs) -> list[float]:
        return [1.0 if p.is_think else 0.0 for p in self._prepare(completions, kwargs).parsed]


async def _reduce_judged(channel: str, sums: Sequence[float], asked: Sequence[int], causes: Sequence[str],
                         what: str) -> tuple[list[float], batch.JudgeCounts]:
    """``sums`` and this call's judge counts, summed over all ranks on the reward's own ``channel``.

    The one collective of a judge reward per call; every rank reaches it once. In a worker thread, so that
    the event loop keeps serving the other judge reward's requests: safe because batch.all_reduce_sum never
    depends on the calling thread (gloo, CPU tensor), and each judge reward has its own group (batch.py).
    """
    local = [*sums, len(asked), len(causes), *(causes.count(cause) for cause in CAUSES)]
    total = await asyncio.to_thread(batch.all_reduce_sum, local, what, channel)
    n = len(sums)
    counts = batch.JudgeCounts(calls=int(total[n]), failures=int(total[n + 1]),
                               causes={cause: int(v) for cause, v in zip(CAUSES, total[n + 2:])})
    return total[:n], counts


class ThinkConsistency(_AudioThinkerReward, AsyncORM):
    """R_a · R_c, the consistency term of Eq. 7 (weight 0.5 reproduces Eq. 7).

    R_c (Eq. 6) is 0 for incorrect completions (the judge is not asked), 1 for
    correct no-think ones, and the judge's verdict for correct think-mode ones.
    A failed judgment is unknown, not inconsistent (docs/rewards.md §7): it
    gets the global batch's consistency rate among the judgments that
    succeeded, or 1 (the no-think value) when none did.
    """

    def __init__(self, args=None, **kwargs):
        super().__init__(args, **kwargs)
        self.settings = settings_from_env()  # fail fast, before training starts

    async def __call__(self, completions, **kwargs) -> list[float]:
        facts = self._graded(completions, kwargs)
        parsed, correct, stats = facts.parsed, facts.correct, facts.stats
        questions = [question_of(m) for m in _column(kwargs, "messages", len(parsed))]
        r_c, asked, causes = await consistency_scores(self.settings, parsed, correct, questions)
        verdicts = [r_c[i] for i in asked if r_c[i] is not None]
        stats.consistency_judged += len(verdicts)
        stats.consistency_consistent += sum(v == 1.0 for v in verdicts)
        (consistent, judged), counts = await _reduce_judged(
            batch.CONSISTENCY, [sum(v == 1.0 for v in verdicts), len(verdicts)], asked, causes,
            f"the R_c consistency rate of step {stats.global_step + 1}")
        fallback = consistent / judged if judged else 1.0
        stats.consistency_fallback = fallback
        batch.STATE.record_judge(completions, "consistency", len(asked), len(causes), causes, counts)
        return [atar_reward(p.is_think, ok, stats.factors) * (c if c is not None else fallback) + 0.0  # no -0.0
                for p, ok, c in zip(parsed, correct, r_c)]


class ThinkQuality(_AudioThinkerReward, AsyncORM):
    """R_t (docs/rewards.md §5): the judge's score of think-mode reasoning in {0, 0.1, …, 1}.

    No-think completions, and think-mode ones whose judgment failed (docs/rewards.md §7),
    get the mean of the successful scores over the global batch; 0 when the
    global batch has none.
    """

    def __init__(self, args=None, **kwargs):
        super().__init__(args, **kwargs)
        self.settings = settings_from_env()

    async def __call__(self, completions, **kwargs) -> list[float]:
        facts = self._prepare(completions, kwargs)
        parsed, stats = facts.parsed, facts.stats
        questions = [question_of(m) for m in _column(kwargs, "messages", len(parsed))]
        scores, asked, causes = await quality_scores(self.settings, parsed, questions)
        ok = [s for s in scores if s is not None]
        stats.quality_count, stats.quality_sum = len(ok), float(sum(ok))
        (total, count), counts = await _reduce_judged(batch.QUALITY, [sum(ok), len(ok)], asked, causes,
                                                      f"the R_t batch mean of step {stats.global_step + 1}")
        mean = total / count if count else 0.0
        stats.quality_batch_mean = mean
        batch.STATE.record_judge(completions, "quality", len(asked), len(causes), causes, counts)
        return [s if s is not None else mean for s in scores]


def register(table: dict, rewards: dict[str, type]) -> None:
    """Add ``rewards`` to ms-swift's ``orms`` table. A name that already names another reward is an error:
    ``orms.update`` would silently replace it, and a run would train on a reward nobody asked for. The same
    class loaded twice (this file imported as ``swift_plugins.rewards`` and again by ``--external_plugins``)
    is not a clash."""
    for name, cls in rewards.items():
        old = table.get(name)
        if old is not None and not _same_class(old, cls):
            raise ValueError(f"reward name {name!r} is already registered to {old.__module__}.{old.__qualname__}; "
                             f"rename one of them (swift_plugins/registry.py declares ours)")
        table[name] = cls


def _same_class(a: type, b: type) -> bool:
    try:
        return a.__qualname__ == b.__qualname__ and inspect.getfile(a) == inspect.getfile(b)
    except TypeError:  # a built-in without a source file
        return a is b


# The public names users type after --reward_funcs: declared once, in swift_plugins/registry.py.
REWARDS = {reward.name: globals()[reward.cls] for reward in registry.REWARDS}
register(orms, REWARDS)
register_callback()
options_guard.install()  # refuse options before `swift rlhf` loads any model
