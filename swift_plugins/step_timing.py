"""Where a GRPO optimizer step's wall time goes: generation, reward scoring (the judge included), the rest.

ms-swift measures its stages (``profiling/Time taken: GRPOTrainer.*``) but sends them only to wandb and
swanlab, and ``logging.jsonl`` gets only the mean ``train_speed(s/it)``. The metrics callback therefore
times the same stages itself and adds, at every training logging step, the mean seconds per optimizer step
over the logging window (README "On the training log"):

| key | what is timed |
|---|---|
| ``audio_thinker/time_step_s`` | the optimizer step, ``on_step_begin`` to ``on_step_end`` (every micro-batch) |
| ``audio_thinker/time_generate_s`` | ms-swift's ``_generate_completions`` (the rollouts) |
| ``audio_thinker/time_rewards_s`` | ms-swift's ``_compute_rewards_per_func``: every reward function, the judge calls of R_c / R_t included |
| ``audio_thinker/time_train_s`` | the rest: encoding, reference/old log-probs, forward, backward, optimizer |

Rank-local: the figures are those of the process that writes the log (rank 0); with several ranks the
others wait for the slowest at the next collective, which shows in ``time_train_s``. Generation and
scoring during evaluation fall outside optimizer steps and are not counted.
"""
from __future__ import annotations

import functools
import time

TIME_KEYS = ("time_step_s", "time_generate_s", "time_rewards_s", "time_train_s")
# The ms-swift GRPO trainer methods timed, by the stage they stand for.
TIMED_METHODS = {"generate": "_generate_completions", "rewards": "_compute_rewards_per_func"}


class StepTimer:
    """Sums of stage seconds inside optimizer steps since the last logging step."""

    def __init__(self) -> None:
        self._reset()
        self._step_start: float | None = None

    def _reset(self) -> None:
        self.steps = 0
        self.seconds = {"step": 0.0, "generate": 0.0, "rewards": 0.0}

    def wrap(self, trainer) -> None:
        """Time ``trainer``'s stage methods (on the instance; a trainer without one is left as it is)."""
        for stage, name in TIMED_METHODS.items():
            method = getattr(trainer, name, None)
            if method is not None:
                setattr(trainer, name, self._timed(stage, method))

    def _timed(self, stage: str, method):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                if self._step_start is not None:  # inside an optimizer step, not evaluation
                    self.seconds[stage] += time.perf_counter() - start
        return timed

    def step_begin(self) -> None:
        self._step_start = time.perf_counter()

    def step_end(self) -> None:
        if self._step_start is not None:
            self.seconds["step"] += time.perf_counter() - self._step_start
            self.steps += 1
        self._step_start = None

    def window(self, prefix: str) -> dict[str, float | None]:
        """Mean seconds per optimizer step of the window, then a new window (null when no step ended)."""
        n, s = self.steps, self.seconds
        means = {"time_step_s": s["step"], "time_generate_s": s["generate"], "time_rewards_s": s["rewards"],
                 "time_train_s": s["step"] - s["generate"] - s["rewards"]}
        self._reset()
        return {prefix + key: (round(means[key] / n, 4) if n else None) for key in TIME_KEYS}
