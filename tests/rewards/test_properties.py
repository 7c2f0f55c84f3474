"""Property: over arbitrary strings no reward raises, and every value is finite and in its range."""
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swift_plugins import rewards as plugin
from swift_plugins.registry import REWARDS
from tests.helpers.reward_calls import call, rows_kwargs

# the declared ranges (swift_plugins/registry.py); ATAR: -2 is Case 4 at γ→0, 2 is Case 3 at γ=1
RANGES = {reward.name: (reward.low, reward.high) for reward in REWARDS}
# tag-heavy strings: concatenations of tags and fragments, where the parser's edge cases live
PIECES = ["<think>", "</think>", "<answer>", "</answer>", "<", ">", "/", "Dog", "Cat", "A", " ", "\n", ".", "é",
          "狗", "\x00"]
TAGGY = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
COMPLETION = st.one_of(st.text(), TAGGY)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(completions=st.lists(COMPLETION, min_size=1, max_size=6), solution=st.text(max_size=20),
       choices=st.one_of(st.none(), st.lists(st.text(max_size=12), max_size=5)),
       step=st.integers(-5, 2000), max_steps=st.integers(-1, 1000))
def test_no_reward_raises_and_values_are_in_range(judge_env, completions, solution, choices, step, max_steps):
    kwargs = rows_kwargs(len(completions), solution=solution, choices=choices or (), step=step,
                         max_steps=max_steps)
    if choices is None:
        kwargs["choices"] = [None] * len(completions)
    for name, (low, high) in RANGES.items():
        values = call(plugin.orms[name](), completions, **kwargs)
        assert len(values) == len(completions)
        assert all(math.isfinite(v) and low <= v <= high for v in values), (name, values)
