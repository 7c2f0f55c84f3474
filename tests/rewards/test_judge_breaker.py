"""The judge circuit breaker's rule (swift_plugins/judge_breaker.py): when persistent judge failures stop a
run. The stop itself, through a real 2-rank ms-swift run, is tests/integration/test_judge_breaker_run.py."""
import pytest

from swift_plugins.judge_breaker import JudgeBreaker, StepCounts

DEFAULT = (0.2, 20, 3)  # failure rate, window steps, dead steps (the shipped defaults)


def step(calls, failures):
    return StepCounts(calls, failures, {"timeout": 0, "http": failures, "unparsable": 0})


# per-step (judgments, failures), settings, the step (1-based) at which it trips; None: never
CASES = [
    ([(16, 16)] * 3, DEFAULT, 3),                                 # a dead judge: 3 steps of nothing but failures
    ([(16, 16), (16, 15), (16, 16), (16, 16)], DEFAULT, None),    # one success restarts the count
    ([(16, 16), (0, 0), (16, 16), (16, 16)], DEFAULT, 4),         # a step without judgments does not break the run
    ([(16, 5)] * 20, DEFAULT, 20),                                # 31 % over a full window of 20 steps
    ([(16, 5)] * 19, DEFAULT, None),                              # the window is not full yet
    ([(10, 2)] * 30, DEFAULT, None),                              # exactly 20 %: not more than the limit
    ([(16, 0)] * 19 + [(16, 16)] * 2, DEFAULT, None),             # a short outage inside a healthy window
    ([(16, 16)] * 10, (1.0, 20, 0), None),                        # both rules switched off
    ([(16, 16)], (0.2, 20, 1), 1),                                # dead steps 1: the first dead step stops
]


@pytest.mark.parametrize("steps, settings, trips_at", CASES)
def test_when_the_breaker_trips(steps, settings, trips_at):
    breaker = JudgeBreaker(*settings, url="http://judge:8000/v1")
    reasons = [breaker.add_step(step(*s)) for s in steps]
    tripped = [i + 1 for i, reason in enumerate(reasons) if reason]
    assert (tripped[0] if tripped else None) == trips_at


def test_the_reason_names_the_counts_by_cause_and_the_url():
    breaker = JudgeBreaker(*DEFAULT, url="http://judge:8000/v1")
    reasons = [breaker.add_step(StepCounts(8, 8, {"timeout": 3, "http": 4, "unparsable": 1})) for _ in range(3)]
    assert reasons[-1] == ("every judgment failed for 3 steps in a row: 24 of 24 judgments failed "
                           "(timeout 9, http 12, unparsable 3) at http://judge:8000/v1")
