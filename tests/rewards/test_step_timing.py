"""The step-time breakdown of the metrics callback (swift_plugins/step_timing.py): what is counted where."""
from swift_plugins.step_timing import TIME_KEYS, StepTimer


class Trainer:
    """Has the two ms-swift GRPO methods the timer wraps; ``stage`` lets a test call one of them."""

    def __init__(self):
        self.calls = []

    def _generate_completions(self, samples):
        self.calls.append("generate")
        return samples

    def _compute_rewards_per_func(self, samples):
        self.calls.append("rewards")
        return [1.0] * len(samples)


def test_the_wrapped_methods_still_answer_and_evaluation_is_not_counted():
    trainer, timer = Trainer(), StepTimer()
    timer.wrap(trainer)
    assert trainer._generate_completions(["a"]) == ["a"]  # outside a step: evaluation
    assert trainer._compute_rewards_per_func(["a", "b"]) == [1.0, 1.0]
    assert trainer.calls == ["generate", "rewards"]
    assert timer.seconds == {"step": 0.0, "generate": 0.0, "rewards": 0.0}


def test_a_window_is_the_mean_per_optimizer_step_and_then_starts_over():
    trainer, timer = Trainer(), StepTimer()
    timer.wrap(trainer)
    for _ in range(3):
        timer.step_begin()
        trainer._generate_completions([1])
        trainer._compute_rewards_per_func([1])
        timer.step_end()
    window = timer.window("audio_thinker/")
    assert set(window) == {"audio_thinker/" + k for k in TIME_KEYS}
    assert all(v is not None and v >= 0 for v in window.values())
    parts = sum(window[f"audio_thinker/{k}"] for k in ("time_generate_s", "time_rewards_s", "time_train_s"))
    assert abs(parts - window["audio_thinker/time_step_s"]) < 1e-3
    assert timer.window("audio_thinker/") == dict.fromkeys(window)  # no step since: null, not 0
