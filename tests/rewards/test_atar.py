"""ATAR (Eq. 1–5) against its closed form, through the registered ms-swift reward."""
import math

import pytest

from swift_plugins import annealing, batch
from swift_plugins.atar import NAIVE_REWARD, Gammas, atar_reward, gammas, training_progress
from swift_plugins.rewards import AdaptiveThinkAccuracy
from tests.helpers.reward_calls import call, rows_kwargs

THINK_OK, THINK_BAD = "<think>It barks.</think><answer>Dog</answer>", "<think>It meows.</think><answer>Cat</answer>"
PLAIN_OK, PLAIN_BAD = "<answer>Dog</answer>", "<answer>Cat</answer>"


def closed_form(think, correct, lam, step, total):
    """Eq. 1–5 written out independently of the implementation; ``step`` is ms-swift's global_step (steps
    finished), so the step being trained is s = step + 1 and the last one, global_step T − 1, is s = T."""
    s = min(max((step + 1) / total, 0.0), 1.0)
    g_t, g_n = math.exp(-lam * (1 - s)), math.exp(-(1 - lam) * (1 - s))
    if think:
        return g_t if correct else -(1 - g_t)
    return 2 * g_n if correct else -g_n - 2 * (1 - g_n)


def batch_with_ratio(lam):
    """8 completions with think share lam; half of each mode correct where possible."""
    n_think = round(8 * lam)
    think = [THINK_OK, THINK_BAD] * 4
    plain = [PLAIN_OK, PLAIN_BAD] * 4
    return think[:n_think] + plain[:8 - n_think]


# λ, global_step, T
GRID = [
    (0.0, 0, 1000),      # all no-think: no-think rewards fully shrunk (γ_no-think = e^-1)
    (0.25, 0, 1000),     # think minority
    (0.5, 0, 1000),      # balanced
    (1.0, 0, 1000),      # all think: think rewards fully shrunk
    (0.25, 500, 1000),   # half-way: shrink halved in the exponent
    (1.0, 250, 1000),
    (0.5, 998, 1000),    # one step before the end
    (0.25, 999, 1000),   # last step (global_step T − 1 while step T trains): γ = 1, naive rewards back
    (1.0, 1200, 1000),   # past T: clamped
    (0.5, 3, 8),         # small T
]


@pytest.mark.parametrize("lam, step, total", GRID)
def test_atar_reward_matches_closed_form(lam, step, total):
    completions = batch_with_ratio(lam)
    got = call(AdaptiveThinkAccuracy(), completions, **rows_kwargs(len(completions), step=step, max_steps=total))
    expected = [closed_form(c.startswith("<think>"), "Dog" in c, lam, step, total) for c in completions]
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("lam", [0.0, 0.25, 0.5, 1.0])
def test_last_step_gives_back_naive_rewards(lam):
    """The paper: γ reaches 1 at the end. ms-swift scores the last of T steps at global_step T − 1."""
    completions = batch_with_ratio(lam)
    got = call(AdaptiveThinkAccuracy(), completions, **rows_kwargs(len(completions), step=999, max_steps=1000))
    assert got == [NAIVE_REWARD[(c.startswith("<think>"), "Dog" in c)] for c in completions]
    g = gammas(lam, training_progress(1000, 1000))
    assert g == Gammas(1.0, 1.0)
    for (think, correct), naive in NAIVE_REWARD.items():
        assert atar_reward(think, correct, g) == naive


# checkpoint step c, global_step, max_steps -> s/T = (c + global_step + 1) / (c + max_steps)
RESUMED = [
    (40, 9, 60, 0.5),     # --resume_only_model --ignore_data_skip from checkpoint-40: not 10/60
    (40, 59, 60, 1.0),    # its last step: γ = 1
    (0, 9, 60, 10 / 60),  # a fresh run
]


@pytest.mark.parametrize("resumed, step, total, expected", RESUMED)
def test_a_model_only_resume_continues_the_annealing(resumed, step, total, expected, monkeypatch):
    monkeypatch.setattr(batch.STATE, "resumed_from", resumed)
    completions = batch_with_ratio(0.5)
    got = call(AdaptiveThinkAccuracy(), completions, **rows_kwargs(len(completions), step=step, max_steps=total))
    assert got[0] == pytest.approx(math.exp(-0.5 * (1 - expected)), abs=1e-12)  # think+correct: γ_think


def test_the_checkpoint_step_is_read_from_trainer_state(tmp_path):
    (tmp_path / "trainer_state.json").write_text('{"global_step": 40, "max_steps": 100}')
    assert annealing.checkpoint_step(tmp_path) == 40
    assert annealing.checkpoint_step(tmp_path / "missing") is None and annealing.checkpoint_step(None) is None


def test_dominant_mode_is_shrunk():
    g = gammas(0.9, 0.0)  # think dominates
    assert atar_reward(True, True, g) < 1.0 and atar_reward(True, False, g) < 0.0      # think rewards shrink
    assert atar_reward(False, True, g) > atar_reward(True, True, g)                    # no-think favoured
    assert atar_reward(True, False, g) < atar_reward(True, False, gammas(0.1, 0.0))    # wrong think worst when dominant


@pytest.mark.parametrize("step, total, progress", [
    (0, 0, 0.0),        # T unknown yet: no annealing
    (5, None, 0.0),     # T missing
    (-3, 10, 0.0),      # negative step clamped
    (5, 10, 0.5),
    (20, 10, 1.0),      # beyond T clamped
])
def test_training_progress_clamps(step, total, progress):
    assert training_progress(step, total) == progress
