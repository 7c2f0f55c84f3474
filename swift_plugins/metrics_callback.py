"""Puts λ, γ and judge failure counts into ms-swift's training log (``--callbacks audio_thinker``).

ms-swift logs ``rewards/<name>/mean`` by itself; what it cannot see is the
state behind the rewards. This callback adds, at every logging step:

    audio_thinker/think_ratio        λ of Eq. 1–4 (global batch), mean over the logging window
    audio_thinker/gamma_think        γ_think of Eq. 3
    audio_thinker/gamma_no_think     γ_no-think of Eq. 4
    audio_thinker/judge_<kind>_calls     judgments asked, summed over ranks
    audio_thinker/judge_<kind>_failures  judgments that fell back (docs/rewards.md §7), summed over ranks

It runs before ms-swift's own logger callback, so the keys land in
``logging.jsonl``. The failure sums need one collective; HF's trainer calls
``on_log`` on every rank at the same points, so every rank reaches it.
"""
from __future__ import annotations

from swift_plugins import batch

JUDGE_KINDS = ("consistency", "quality")
CALLBACK_NAME = "audio_thinker"


def window_metrics(pending: list[batch.StepStats]) -> dict[str, float]:
    """Reduce the scoring calls of one logging window to log entries (local part)."""
    metrics: dict[str, float] = {}
    if pending:
        metrics["audio_thinker/think_ratio"] = sum(s.think_ratio for s in pending) / len(pending)
        metrics["audio_thinker/gamma_think"] = sum(s.gamma_think for s in pending) / len(pending)
        metrics["audio_thinker/gamma_no_think"] = sum(s.gamma_no_think for s in pending) / len(pending)
    counts = []
    for kind in JUDGE_KINDS:
        counts.append(sum(s.judge_calls.get(kind, 0) for s in pending))
        counts.append(sum(s.judge_failures.get(kind, 0) for s in pending))
    counts = batch.all_reduce_sum(counts)
    for i, kind in enumerate(JUDGE_KINDS):
        calls, failures = counts[2 * i], counts[2 * i + 1]
        if calls:
            metrics[f"audio_thinker/judge_{kind}_calls"] = calls
            metrics[f"audio_thinker/judge_{kind}_failures"] = failures
    return metrics


def register_callback() -> None:
    """Add the callback to ms-swift's ``callbacks_map`` (idempotent)."""
    from swift.callbacks import TrainerCallback, callbacks_map

    class AudioThinkerMetrics(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs is not None and not any(k.startswith("eval_") for k in logs):
                logs.update(window_metrics(batch.STATE.flush()))

    callbacks_map.setdefault(CALLBACK_NAME, AudioThinkerMetrics)
