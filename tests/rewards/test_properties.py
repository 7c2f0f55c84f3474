"""Property: over arbitrary strings no reward raises, and every value is finite and in its range."""
import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swift_plugins import rewards as plugin
from tests.helpers.reward_calls import call, rows_kwargs

# documented ranges; ATAR: min over cases is -2 (Case 4 at γ→0), max 2 (Case 3 at γ=1)
RANGES = {
    "adaptive_format": (0, 1), "answer_format": (0, 1), "think_format": (0, 1), "choice_accuracy": (0, 1),
    "think_rate": (0, 1), "atar": (-2, 2), "think_consistency": (-2, 2), "think_quality": (0, 1),
}
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
