"""The judge circuit breaker: stop training, after saving a checkpoint, when judge failures persist.

A failed judgment is unknown and gets a neutral stand-in (docs/rewards.md §7). That is harmless for a few
judgments; a run that trains for hours on stand-ins has silently dropped R_c and R_t from Eq. 7. So after
every optimisation step the breaker looks at the step's judgments (both judge rewards, training calls only,
summed over all ranks by the rewards' own reductions: every rank holds the same counts and takes the same
decision at the same step, with no collective of its own) and trips when

- more than ``breaker_failure_rate`` of the judgments failed over the last ``breaker_window_steps`` steps
  (judged only once a full window has passed), or
- every judgment failed in ``breaker_dead_steps`` consecutive steps that asked the judge (a step without a
  judgment neither extends nor breaks the run).

Tripping uses the trainer's own control flow: ``control.should_save`` saves a checkpoint at this step and
``control.should_training_stop`` ends the loop; at the end of training the process prints one line on
stderr (``error: audio-thinker: judge circuit breaker: ...``, with the cause counts and the judge URL) and
exits with ``BREAKER_EXIT_STATUS`` (torchrun reports 1 for any failed rank), so that a pipeline does not go
on with a run that did not finish.
The settings are ``AUDIO_THINKER_JUDGE_BREAKER_*`` (``swift_plugins/judge/settings.py``).
"""
from __future__ import annotations

import logging
import os
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from swift_plugins import batch
from swift_plugins.judge.client import CAUSES

logger = logging.getLogger("audio_thinker")

BREAKER_EXIT_STATUS = 3  # 2 is a usage error (a refused option); this run started fine and was stopped


@dataclass(frozen=True)
class StepCounts:
    """The judgments of one optimisation step over all ranks."""

    calls: int
    failures: int
    causes: dict[str, int]

    @classmethod
    def of(cls, rounds: Sequence[batch.JudgeCounts]) -> "StepCounts":
        return cls(calls=sum(r.calls for r in rounds), failures=sum(r.failures for r in rounds),
                   causes={c: sum(r.causes.get(c, 0) for r in rounds) for c in CAUSES})


def _summary(steps: Sequence[StepCounts]) -> str:
    calls, failures = sum(s.calls for s in steps), sum(s.failures for s in steps)
    causes = ", ".join(f"{c} {sum(s.causes.get(c, 0) for s in steps)}" for c in CAUSES)
    return f"{failures} of {calls} judgments failed ({causes})"


class JudgeBreaker:
    """Decides from per-step counts; knows nothing of the trainer (the callback hooks below do)."""

    def __init__(self, failure_rate: float, window_steps: int, dead_steps: int, url: str) -> None:
        self.failure_rate, self.dead_steps, self.url = failure_rate, dead_steps, url
        self.window: deque[StepCounts] = deque(maxlen=window_steps)
        self.dead: list[StepCounts] = []  # the current run of steps in which every judgment failed

    def add_step(self, step: StepCounts) -> str | None:
        """Record one step; the reason to stop (one line, without the step number) or None."""
        self.window.append(step)
        if step.calls:
            self.dead = self.dead + [step] if step.failures == step.calls else []
        if self.dead_steps and len(self.dead) >= self.dead_steps:
            return (f"every judgment failed for {len(self.dead)} steps in a row: {_summary(self.dead)} "
                    f"at {self.url}")
        calls = sum(s.calls for s in self.window)
        failures = sum(s.failures for s in self.window)
        if len(self.window) == self.window.maxlen and calls and failures / calls > self.failure_rate:
            return (f"{failures / calls:.0%} of judgments failed over the last {len(self.window)} steps, more "
                    f"than {self.failure_rate:.0%}: {_summary(self.window)} at {self.url}")
        return None


_breaker: JudgeBreaker | None = None
_tripped: str | None = None  # the reason, once tripped


def _breaker_for_run() -> JudgeBreaker:
    global _breaker
    if _breaker is None:
        from swift_plugins.judge.settings import settings_from_env

        s = settings_from_env()  # judge counts exist, so a judge reward has read (and validated) these
        _breaker = JudgeBreaker(s.breaker_failure_rate, s.breaker_window_steps, s.breaker_dead_steps, s.url)
    return _breaker


def _prints() -> bool:
    return os.environ.get("LOCAL_RANK", "0") == "0"


def on_step_end(args, state, control) -> None:
    """After each optimisation step (every rank): trip if the judge failures of the run say so."""
    global _tripped
    rounds = batch.STATE.drain_judge_rounds(batch.TRAIN)
    if not rounds or _tripped:
        return  # no judge reward in this run, or already stopping
    reason = _breaker_for_run().add_step(StepCounts.of(rounds))
    if reason is None:
        return
    _tripped = f"judge circuit breaker: {reason}; training stopped at step {state.global_step}"
    if _prints():
        logger.warning("audio-thinker: %s: saving a checkpoint, then stopping", _tripped)
    control.should_save = True
    control.should_training_stop = True


def on_train_end(args, state, control) -> None:
    """The one-line message and a failing exit status, after the checkpoint was written."""
    if not _tripped:
        return
    checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
    if _prints():
        # On a line of its own: the trainer's progress bar leaves stderr in mid-line.
        print(f"\nerror: audio-thinker: {_tripped}, checkpoint {checkpoint} (resume from it once the judge "
              f"answers; AUDIO_THINKER_JUDGE_BREAKER_* set the thresholds)", file=sys.stderr, flush=True)
    raise SystemExit(BREAKER_EXIT_STATUS)
