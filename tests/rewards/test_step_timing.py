"""The step-time breakdown of the metrics callback (swift_plugins/step_timing.py): what is counted where."""
import pytest

from swift_plugins import step_timing
from swift_plugins.step_timing import StepTimer


class Clock:
    """The timer's clock: it moves only when a stage says how long it took, so every figure is known."""

    def __init__(self):
        self.now = 1000.0

    def perf_counter(self):
        return self.now


class Trainer:
    """Has the two ms-swift GRPO methods the timer wraps; each takes the next of its ``durations`` (seconds
    of the test's clock) and ``work`` stands for the rest of a step (forward, backward, optimizer)."""

    def __init__(self, clock, generate=(), rewards=()):
        self.clock, self.calls = clock, []
        self.durations = {"generate": list(generate), "rewards": list(rewards)}

    def _take(self, stage):
        self.calls.append(stage)
        if self.durations[stage]:
            self.clock.now += self.durations[stage].pop(0)

    def _generate_completions(self, samples):
        self._take("generate")
        return samples

    def _compute_rewards_per_func(self, samples):
        self._take("rewards")
        return [1.0] * len(samples)

    def work(self, seconds):
        self.clock.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(step_timing, "time", clock)
    return clock


def test_the_wrapped_methods_still_answer_and_evaluation_is_not_counted(clock):
    trainer, timer = Trainer(clock, generate=[7.0], rewards=[5.0]), StepTimer()
    timer.wrap(trainer)
    assert trainer._generate_completions(["a"]) == ["a"]  # outside a step: evaluation
    assert trainer._compute_rewards_per_func(["a", "b"]) == [1.0, 1.0]
    assert trainer.calls == ["generate", "rewards"] and clock.now == 1012.0  # they did take their time
    assert timer.seconds == {"step": 0.0, "generate": 0.0, "rewards": 0.0}


def test_a_window_is_the_mean_per_optimizer_step_and_then_starts_over(clock):
    # three steps of known stages: generation 1, 2, 3 s; rewards 0.5, 0.5, 2 s; the rest 3 s each
    trainer = Trainer(clock, generate=[1.0, 2.0, 3.0, 4.0], rewards=[0.5, 0.5, 2.0, 0.25])
    timer = StepTimer()
    timer.wrap(trainer)
    for _ in range(3):
        timer.step_begin()
        trainer._generate_completions([1])
        trainer._compute_rewards_per_func([1])
        trainer.work(3.0)
        timer.step_end()
    trainer._generate_completions([1])  # an evaluation between steps: not in any step's figures
    window = timer.window("audio_thinker/")
    assert window == {"audio_thinker/time_step_s": 6.0,  # steps of 4.5, 5.5 and 8 s: the mean, not the sum
                      "audio_thinker/time_generate_s": 2.0, "audio_thinker/time_rewards_s": 1.0,
                      "audio_thinker/time_train_s": 3.0}
    assert timer.window("audio_thinker/") == dict.fromkeys(window)  # no step since: null, not 0
    timer.step_begin()  # the next window holds only its own step
    trainer._compute_rewards_per_func([1])
    trainer.work(1.0)
    timer.step_end()
    assert timer.window("") == {"time_step_s": 1.25, "time_generate_s": 0.0, "time_rewards_s": 0.25,
                                "time_train_s": 1.0}
