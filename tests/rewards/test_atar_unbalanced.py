"""ATAR without batch balancing (``atar_unbalanced``): Eq. 5 with γ_think = γ_no-think = 1, whatever the
batch's think ratio λ and the step; ``atar`` itself still balances."""
import pytest

from swift_plugins.rewards import AdaptiveThinkAccuracy, AdaptiveThinkAccuracyUnbalanced
from tests.helpers.reward_calls import call, rows_kwargs

THINK_OK, THINK_BAD = "<think>It barks.</think><answer>Dog</answer>", "<think>It meows.</think><answer>Cat</answer>"
PLAIN_OK, PLAIN_BAD = "<answer>Dog</answer>", "<answer>Cat</answer>"
# Eq. 5 at γ = 1, by hand: think+correct γ_think = 1; think+wrong −(1 − 1) = 0; direct+correct 2·1 = 2;
# direct+wrong −1 − 2·(1 − 1) = −1.
BY_HAND = {THINK_OK: 1.0, THINK_BAD: 0.0, PLAIN_OK: 2.0, PLAIN_BAD: -1.0}


@pytest.mark.parametrize("completions", [
    [THINK_OK, THINK_BAD, PLAIN_OK, PLAIN_BAD],                    # λ = 0.5
    [THINK_OK, THINK_OK, THINK_OK, PLAIN_BAD],                     # λ = 0.75
    [PLAIN_OK, PLAIN_BAD, PLAIN_OK, PLAIN_OK],                     # λ = 0: atar would shrink every reward
])
@pytest.mark.parametrize("step, total", [(0, 1000), (499, 1000), (999, 1000)])
def test_the_naive_case_rewards_at_every_ratio_and_step(completions, step, total):
    got = call(AdaptiveThinkAccuracyUnbalanced(), completions, **rows_kwargs(len(completions), step=step,
                                                                             max_steps=total))
    assert got == [BY_HAND[c] for c in completions]


def test_atar_itself_still_balances_the_same_batch():
    """At step 1 of 1000 with λ = 0.5, ATAR's Case 3 is 2·e^{−0.5·0.999} (not 2): the variant changed nothing."""
    completions = [THINK_OK, THINK_BAD, PLAIN_OK, PLAIN_BAD]
    balanced = call(AdaptiveThinkAccuracy(), completions, **rows_kwargs(4, step=0, max_steps=1000))
    assert balanced[2] == pytest.approx(2 * 2.718281828459045 ** (-0.5 * 0.999), rel=1e-12)
    assert call(AdaptiveThinkAccuracyUnbalanced(), completions, **rows_kwargs(4, step=0, max_steps=1000))[2] == 2.0
