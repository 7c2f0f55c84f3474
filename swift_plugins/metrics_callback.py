"""Puts the state behind the rewards into ms-swift's training log (``--callbacks audio_thinker``).

ms-swift logs ``rewards/<name>/mean`` by itself; what it cannot see is the
state behind the rewards. This callback adds, at every logging step, the keys
of ``TRAIN_KEYS`` (docs/training-signal.md says what each one means),
computed over the scoring calls of the logging window and summed over ranks:
one ``all_reduce`` of a fixed-length vector per training or evaluation log
(``log_kind``): HF's trainer writes those on every rank at the same points, so
every rank reaches the collective; other logs (evalscope's ``test_*``) get none.

Training and evaluation are kept apart: a scoring call made while the trainer
evaluates (``model.training`` false, ms-swift's own test) is reported only on
the evaluation log, under the same keys prefixed ``eval_`` (ms-swift's
convention for its own eval metrics), and never enters a training window.

A key whose denominator is empty in the window (no no-think completion, no
judged completion, no token ids) is written as null, not 0: "no data" must not
read as "0 % accurate". Counts (judge calls, failures) are 0 then.

The same callback runs the judge circuit breaker after every optimisation step
(``swift_plugins/judge_breaker.py``) and saves on preemption (``swift_plugins/preemption.py``: on SIGTERM,
a checkpoint at the end of the current step, then the run stops).
"""
from __future__ import annotations

import logging
import sys

from swift_plugins import batch, judge_breaker, preemption
from swift_plugins.judge.client import CAUSES
from swift_plugins.step_timing import StepTimer

JUDGE_KINDS = ("consistency", "quality")
CALLBACK_NAME = "audio_thinker"
PREFIX = "audio_thinker/"

# Sums reduced over ranks, in this order on every rank.
_SUMS = ("calls", "completions", "think", "gamma_think", "gamma_no_think",
         "think_graded", "think_correct", "no_think_graded", "no_think_correct",
         "think_token_rows", "think_tokens", "no_think_token_rows", "no_think_tokens",
         "no_think_answers", "no_think_answer_chars", "consistency_judged", "consistency_consistent",
         "quality_count", "quality_sum",
         *(f"judge_{kind}_{what}" for kind in JUDGE_KINDS for what in ("calls", "failures")),
         *(f"judge_failures_{cause}" for cause in CAUSES))

TRAIN_KEYS = (
    "think_ratio", "gamma_think", "gamma_no_think",
    "think_accuracy", "no_think_accuracy", "think_tokens", "no_think_tokens", "no_think_answer_chars",
    "judge_consistency_rate", "think_quality_mean",
    *(f"judge_{kind}_{what}" for kind in JUDGE_KINDS for what in ("calls", "failures")),
    *(f"judge_failures_{cause}" for cause in CAUSES),
)


def _local_sums(pending: list[batch.StepStats]) -> list[float]:
    """This rank's part of ``_SUMS`` over its scoring calls of the window."""
    sums = dict.fromkeys(_SUMS, 0.0)
    for s in pending:
        sums["calls"] += 1
        sums["completions"] += s.local_total
        sums["think"] += s.local_think
        # γ is the same on every rank: summing it and dividing by the summed call count gives its mean.
        sums["gamma_think"] += s.gamma_think
        sums["gamma_no_think"] += s.gamma_no_think
        for name in ("think_graded", "think_correct", "no_think_graded", "no_think_correct", "think_token_rows",
                     "think_tokens", "no_think_token_rows", "no_think_tokens", "no_think_answers",
                     "no_think_answer_chars", "consistency_judged", "consistency_consistent", "quality_count",
                     "quality_sum"):
            sums[name] += getattr(s, name)
        for kind in JUDGE_KINDS:
            sums[f"judge_{kind}_calls"] += s.judge_calls.get(kind, 0)
            sums[f"judge_{kind}_failures"] += s.judge_failures.get(kind, 0)
        for cause in CAUSES:
            sums[f"judge_failures_{cause}"] += s.judge_failure_causes.get(cause, 0)
    return [sums[name] for name in _SUMS]


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def window_metrics(pending: list[batch.StepStats], prefix: str = PREFIX) -> dict[str, float | None]:
    """Reduce the scoring calls of one logging window (all ranks) to log entries.

    A collective: every rank must call it at the same point, with its own ``pending``.
    """
    what = "the evaluation log's dashboard sums" if prefix.startswith("eval_") else "the training log's dashboard sums"
    t = dict(zip(_SUMS, batch.all_reduce_sum(_local_sums(pending), what)))
    metrics = {
        "think_ratio": _ratio(t["think"], t["completions"]),  # λ over every completion of the window
        "gamma_think": _ratio(t["gamma_think"], t["calls"]),
        "gamma_no_think": _ratio(t["gamma_no_think"], t["calls"]),
        "think_accuracy": _ratio(t["think_correct"], t["think_graded"]),
        "no_think_accuracy": _ratio(t["no_think_correct"], t["no_think_graded"]),
        "think_tokens": _ratio(t["think_tokens"], t["think_token_rows"]),
        "no_think_tokens": _ratio(t["no_think_tokens"], t["no_think_token_rows"]),
        "no_think_answer_chars": _ratio(t["no_think_answer_chars"], t["no_think_answers"]),
        "judge_consistency_rate": _ratio(t["consistency_consistent"], t["consistency_judged"]),
        "think_quality_mean": _ratio(t["quality_sum"], t["quality_count"]),
    }
    for name in _SUMS:
        if name.startswith("judge_"):
            metrics[name] = int(t[name])
    return {prefix + name: metrics[name] for name in TRAIN_KEYS}


def log_kind(logs: dict | None) -> str | None:
    """The window a log line closes: ``batch.TRAIN``, ``batch.EVAL``, or None (no collective).

    Only the two logs that HF's trainer writes on every rank at the same point enter the collective: a
    training logging step (``loss`` first) and the evaluation loop's ``eval_*``. Anything else gets
    nothing: ms-swift's ``--eval_use_evalscope`` results (``test_*``; evalscope runs no reward, and a rank
    whose evalscope failed writes no log at all, so a collective there would wait forever on the others),
    the end-of-training summary, another callback's one-rank log.
    """
    if not logs or "train_runtime" in logs or any(k.startswith("test_") for k in logs):
        return None
    if any(k.startswith("eval_") for k in logs):
        return batch.EVAL
    return batch.TRAIN if "loss" in logs else None


def report(logs: dict | None) -> str | None:
    """Add the window's keys to a training or evaluation log (a collective); leave any other log alone.
    Returns the log's kind (``log_kind``)."""
    kind = log_kind(logs)
    if kind == batch.EVAL:
        logs.update(window_metrics(batch.STATE.flush(batch.EVAL), prefix="eval_" + PREFIX))
    elif kind == batch.TRAIN:
        logs.update(window_metrics(batch.STATE.flush(batch.TRAIN)))
    return kind


class _DropOurNullScalars(logging.Filter):
    """HF's TensorBoard callback warns once per null value per step; ours are null on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (PREFIX in message and '"None"' in message)


def register_callback() -> None:
    """Add the callback to ms-swift's ``callbacks_map`` (idempotent)."""
    from swift.callbacks import TrainerCallback, callbacks_map

    class AudioThinkerMetrics(TrainerCallback):
        def __init__(self, args, trainer):
            super().__init__(args, trainer)
            # Built before the rewards (ms-swift builds callbacks first): they can read the trainer's mode.
            batch.STATE.attach_trainer(trainer)
            self.timer = StepTimer()  # stage seconds per optimizer step (swift_plugins/step_timing.py)
            self.timer.wrap(trainer)
            logging.getLogger("transformers.integrations.integration_utils").addFilter(_DropOurNullScalars())
            try:
                self.preemption = preemption.Preemption(preemption.grace_s())
            except ValueError as err:
                print(f"error: audio-thinker: {err}", file=sys.stderr, flush=True)
                raise SystemExit(2) from None
            self.preemption.install()

        def on_init_end(self, args, state, control, **kwargs):
            # Run first in on_log, so that the keys reach TensorBoard and the other report_to
            # callbacks too, not only ms-swift's logging.jsonl writer. A new list: the handler
            # may be iterating over the old one right now.
            handler = self.trainer.callback_handler
            handler.callbacks = [self] + [c for c in handler.callbacks if c is not self]

        def on_step_begin(self, args, state, control, **kwargs):
            self.timer.step_begin()

        def on_step_end(self, args, state, control, **kwargs):
            self.timer.step_end()
            judge_breaker.on_step_end(args, state, control)
            self.preemption.step_end(control)

        def on_save(self, args, state, control, **kwargs):
            self.preemption.saved()

        def on_train_end(self, args, state, control, **kwargs):
            judge_breaker.on_train_end(args, state, control)
            self.preemption.train_end()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if report(logs) == batch.TRAIN:
                logs.update(self.timer.window(PREFIX))

    callbacks_map.setdefault(CALLBACK_NAME, AudioThinkerMetrics)
