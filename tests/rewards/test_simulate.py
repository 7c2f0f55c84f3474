"""The reward-dynamics simulator shows what docs/training-signal.md ("Reward-dynamics simulator") claims, and uses the real rewards."""
import subprocess
import sys

import numpy as np
import pytest

from eval.simulate import (Config, expected_atar, grpo_advantages, run_all, score_text,
                                    simulate)

STEPS = 200
EARLY = slice(STEPS // 10, STEPS // 4)  # "early": the first quarter, after the first few steps


@pytest.fixture(scope="module", params=[0, 1])
def runs(request):
    return run_all(Config(steps=STEPS, seed=request.param))


def test_balancing_keeps_the_batch_from_collapsing_to_no_think_early(runs):
    balanced, unbalanced = runs["balanced, strict"], runs["no balancing (γ≡1), strict"]
    # without γ the mostly-easy batch drags every question to no-think (λ ≈ 0.08) ...
    assert np.mean(unbalanced.think_ratio[EARLY]) < 0.12
    assert unbalanced.think["hard"][STEPS // 4] < 0.4  # hard questions too, though thinking pays there
    # ... with γ, a shrinking λ shrinks the no-think rewards, and hard questions keep thinking
    assert np.mean(balanced.think_ratio[EARLY]) > 0.18
    assert balanced.think["hard"][STEPS // 4] > unbalanced.think["hard"][STEPS // 4] + 0.25


@pytest.mark.parametrize("scenario", ["balanced, strict", "no balancing (γ≡1), strict"])
def test_more_no_think_on_easy_than_on_hard_questions(runs, scenario):
    final = {d: series[-1] for d, series in runs[scenario].think.items()}
    assert final["easy"] < 0.05 < 0.8 < final["hard"]  # paper Figure 2
    assert final["easy"] <= final["medium"] <= final["hard"]


@pytest.mark.parametrize("balance", ["balanced", "no balancing (γ≡1)"])
def test_hidden_reasoning_takes_over_when_paid_and_dies_under_the_strict_rule(runs, balance):
    strict, paid = runs[f"{balance}, strict"], runs[f"{balance}, hack paid"]
    assert all(series[-1] < 0.03 for series in strict.hidden.values())
    assert paid.hidden["easy"][-1] > 0.8 and paid.hidden["medium"][-1] > 0.8


def test_scoring_goes_through_the_project_rules():
    # (think?, correct?, R_f): hidden reasoning is no-think mode, paid by the token-set rule only
    assert score_text("hidden", True, hack_paid=True) == (False, True, 1.0)
    assert score_text("hidden", True, hack_paid=False) == (False, False, 1.0)
    assert score_text("think", True, hack_paid=False) == (True, True, 1.0)
    assert score_text("no_think", False, hack_paid=False) == (False, False, 1.0)


def test_eq8_advantages_and_the_eq5_expectations():
    adv = grpo_advantages(np.array([[1.0, 2.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0]]))
    assert adv[0].sum() == pytest.approx(0) and adv[0, 2] > 0 > adv[0, 0]
    assert np.all(adv[1] == 0)  # a group with one reward: no signal
    # at chance (p = 0.25, four options) think mode has the higher E[R_a] at λ = 0.5 and with γ ≡ 1 ...
    think, no_think = expected_atar(0.25, 0.5)
    assert think > no_think
    # ... but when the batch is all-think, balancing makes no-think the better mode
    think, no_think = expected_atar(0.25, 1.0)
    assert no_think > think


def test_updates_are_what_moves_the_policy():
    # a zero learning rate leaves it where it started (the curves above are learnt, not drawn)
    hist = simulate(Config(steps=20, learning_rate=0.0))
    assert all(s == pytest.approx(0.45) for series in hist.think.values() for s in series)


def test_cli_prints_the_table_writes_the_plot_and_rejects_bad_options(tmp_path):
    png = tmp_path / "sim.png"
    done = subprocess.run([sys.executable, "-m", "eval.simulate", "--steps", "40", "--plot", str(png)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "hard" in done.stdout and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run([sys.executable, "-m", "eval.simulate", "--steps", "2"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --steps: must be at least 4"
