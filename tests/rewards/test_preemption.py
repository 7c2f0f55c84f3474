"""Save on preemption (swift_plugins/preemption.py) in one process, with real signals: the first SIGTERM only
sets a flag, the step's end saves and stops when the grace period allows, the run ends with 143, a second
SIGTERM stops at once. The same through ms-swift on the tiny checkpoint: tests/integration/test_stops.py."""
from __future__ import annotations

import os
import signal

import pytest
from transformers.trainer_callback import TrainerControl

from swift_plugins import preemption


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def sigterm_restored():
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


def test_a_sigterm_saves_the_step_then_stops_with_143(sigterm_restored):
    watch = preemption.Preemption(30, Clock())
    watch.install()
    control = TrainerControl()
    watch.step_end(control)                               # no signal: nothing changes
    assert not control.should_save and not control.should_training_stop
    os.kill(os.getpid(), signal.SIGTERM)                  # this process survives it
    watch.step_end(control)
    assert control.should_save and control.should_training_stop
    with pytest.raises(SystemExit) as ended:
        watch.train_end()
    assert ended.value.code == 143


def test_without_time_for_a_save_it_stops_without_saving(sigterm_restored):
    clock = Clock()
    watch = preemption.Preemption(30, clock)
    watch.install()
    watch.step_end(TrainerControl())
    clock.now += 12
    watch.saved()                                         # a save took 12 s
    os.kill(os.getpid(), signal.SIGTERM)
    clock.now += 20                                       # the step ran on: 10 s of the grace period left
    control = TrainerControl()
    watch.step_end(control)
    assert control.should_training_stop and not control.should_save


def test_a_second_sigterm_stops_at_once(sigterm_restored):
    watch = preemption.Preemption(30, Clock())
    watch.install()
    os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(SystemExit) as ended:
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0.1)                      # let the handler run
    assert ended.value.code == 143


def test_off_leaves_sigterm_alone(sigterm_restored):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    watch = preemption.Preemption(preemption.grace_s({"PREEMPT_GRACE_S": "0"}))
    watch.install()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    control = TrainerControl()
    watch.step_end(control)
    assert not control.should_training_stop


@pytest.mark.parametrize("value, grace", [("", 30.0), ("120", 120.0), ("0", 0.0)])
def test_the_grace_period_is_read_from_the_environment(value, grace):
    assert preemption.grace_s({"PREEMPT_GRACE_S": value}) == grace


@pytest.mark.parametrize("value", ["soon", "-5"])
def test_a_bad_grace_period_is_refused_in_one_line(value):
    with pytest.raises(ValueError, match="PREEMPT_GRACE_S"):
        preemption.grace_s({"PREEMPT_GRACE_S": value})
