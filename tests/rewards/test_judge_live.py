"""The judge rewards against the live local judge (SmolLM2-135M-Instruct behind `swift deploy` on 127.0.0.1)."""
import pytest

from swift_plugins import batch
from swift_plugins import rewards as plugin
from swift_plugins.judge.check import main as judge_check
from tests.helpers.reward_calls import call, rows_kwargs

pytestmark = [pytest.mark.slow, pytest.mark.judge]

COMPLETIONS = ["<think>Rhythmic barking with short pauses: a dog.</think><answer>Dog</answer>",
               "<think>I hear a meow, so it is a cat.</think><answer>Dog</answer>",
               "<think>Chirping; birds chirp.</think><answer>Cat</answer>",
               "<answer>Dog</answer>"]


@pytest.fixture
def live_env(local_judge, monkeypatch):
    for key, value in local_judge.env().items():
        monkeypatch.setenv(key, value)
    plugin.settings_from_env.cache_clear()
    yield
    plugin.settings_from_env.cache_clear()


def test_live_judge_answers_the_preflight_check(live_env):
    assert judge_check(["--wait", "60"]) == 0


def test_rewards_with_the_live_judge(live_env):
    kwargs = rows_kwargs(len(COMPLETIONS), step=5, max_steps=10)
    batch.STATE.flush()
    consistency = call(plugin.ThinkConsistency(), COMPLETIONS, **kwargs)
    quality = call(plugin.ThinkQuality(), COMPLETIONS, **kwargs)
    atar = call(plugin.AdaptiveThinkAccuracy(), COMPLETIONS, **kwargs)
    (stats,) = batch.STATE.flush()
    assert stats.judge_calls == {"consistency": 2, "quality": 3}
    # whatever the small judge decides, values follow the shapes of docs/rewards.md
    assert consistency[0] in (0.0, atar[0]) and consistency[1] in (0.0, atar[1])   # R_a·R_c, R_c ∈ {0, 1}
    assert consistency[2] == 0.0 and consistency[3] == atar[3]                       # wrong: 0; no-think right: R_a
    assert all(0.0 <= q <= 1.0 for q in quality)
    assert quality[3] == pytest.approx(stats.quality_batch_mean)  # no-think: the batch mean
    assert stats.judge_failures["quality"] < 3, "the live judge should answer at least one quality prompt in format"
    # each think-mode value is the judge's score on the 0.1 grid, or the batch mean where it failed
    assert all(q == pytest.approx(stats.quality_batch_mean) or round(q * 10, 6) == round(q * 10)
               for q in quality[:3])
