"""Intervals and paired tests against independent formulas (scipy's, and the score-test inversion)."""
from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from audio_thinker import benchmark_declarations as benchmarks
from eval import stats
from eval.grading import join_predictions, score


def score_test_bounds(correct, n, z=stats.Z95):
    """Wilson's interval by its definition: the p0 that a score test at 95 % does not reject,
    |x/n - p0| <= z * sqrt(p0 (1 - p0) / n), found by bisection on each side of x/n."""
    p_hat = correct / n

    def inside(p0):
        return abs(p_hat - p0) <= z * math.sqrt(p0 * (1 - p0) / n) + 1e-15

    def edge(lo, hi, lo_inside):  # bisection for the boundary between lo and hi
        for _ in range(200):
            mid = (lo + hi) / 2
            if inside(mid) == lo_inside:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    low = 0.0 if inside(0.0) else edge(0.0, p_hat, False)
    high = 1.0 if inside(1.0) else edge(p_hat, 1.0, True)
    return 100 * low, 100 * high


@pytest.mark.parametrize("correct,n", [
    (650, 1000),  # the example: about +-3 points
    (0, 20),  # 0 %: Wald gives a zero-width interval, Wilson does not
    (20, 20),  # 100 %
    (1, 3),  # tiny group
    (5329, 21426),  # AIR-sized
    (7, 11),  # MMAR Sound-Music-sized group
])
def test_wilson_interval_equals_the_score_test_inversion_and_scipy(correct, n):
    low, high = stats.wilson_interval(correct, n)
    ref_low, ref_high = score_test_bounds(correct, n)
    assert low == pytest.approx(ref_low, abs=1e-3) and high == pytest.approx(ref_high, abs=1e-3)
    ci = scipy_stats.binomtest(correct, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert low == pytest.approx(100 * ci.low, abs=1e-3) and high == pytest.approx(100 * ci.high, abs=1e-3)
    assert 0.0 <= low <= 100 * correct / n <= high <= 100.0
    assert high - low > 0  # never degenerate, even at 0 % and 100 %


def test_the_interval_at_65_percent_of_1000_is_about_three_points():
    low, high = stats.wilson_interval(650, 1000)
    assert 2.8 < 65 - low < 3.1 and 2.8 < high - 65 < 3.1
    assert stats.wilson_interval(0, 0) is None


def test_macro_interval_is_the_mean_plus_minus_the_pooled_standard_error():
    groups = [(30, 50), (10, 40), (0, 10)]
    low, high = stats.macro_interval(groups)
    mean = (30 / 50 + 10 / 40 + 0 / 10) / 3
    adjusted = [((c + 2) / (n + 4), n + 4) for c, n in groups]
    se = math.sqrt(sum(p * (1 - p) / m for p, m in adjusted)) / 3
    assert low == pytest.approx(100 * (mean - 1.96 * se), abs=0.01)
    assert high == pytest.approx(100 * (mean + 1.96 * se), abs=0.01)
    assert stats.macro_interval([(0, 0)]) is None


@pytest.mark.parametrize("only_a,only_b", [(0, 0), (3, 0), (10, 4), (4, 10), (25, 25), (61, 40), (0, 200)])
def test_mcnemar_exact_equals_scipys_two_sided_binomial_test(only_a, only_b):
    expected = 1.0 if only_a + only_b == 0 else scipy_stats.binomtest(only_b, only_a + only_b, 0.5).pvalue
    assert stats.mcnemar_exact(only_a, only_b) == pytest.approx(expected, rel=1e-9)


def test_paired_bootstrap_brackets_the_difference_and_is_reproducible():
    a = [True] * 600 + [False] * 400
    b = [True] * 580 + [False] * 20 + [True] * 60 + [False] * 340  # only A: 20, only B: 60 -> +4 points
    ci = stats.paired_bootstrap(a, b)
    assert ci == stats.paired_bootstrap(a, b)  # fixed seed
    assert ci[0] < 4.0 < ci[1]
    # The normal approximation of the paired difference: se = sqrt((b + c) - (b - c)^2 / n) / n
    se = math.sqrt((20 + 60) - (60 - 20) ** 2 / 1000) / 1000 * 100
    assert ci[0] == pytest.approx(4 - 1.96 * se, abs=0.25) and ci[1] == pytest.approx(4 + 1.96 * se, abs=0.25)
    assert stats.paired_bootstrap([True, False], [True, False]) == [0.0, 0.0]  # no disagreement


def test_every_accuracy_of_a_score_result_carries_its_wilson_interval(load_meta):
    items = load_meta("MMAR-meta.json")
    for i, it in enumerate(items):
        it["answer_prediction"] = it["answer"] if i % 3 else it["choices"][0]
    result = score(benchmarks.MMAR, join_predictions(benchmarks.MMAR, items)[0])
    figures = [result["total"], *result["by_mode"].values(),
               *(f for groups in result["breakdowns"].values() for f in groups.values()),
               *result["paper_columns"].values()]
    for fig in figures:
        if fig["n"] == 0:
            assert fig["ci95"] is None
            continue
        assert fig["ci95"] == stats.wilson_interval(fig["correct"], fig["n"])
        assert fig["ci95"][0] <= fig["accuracy"] <= fig["ci95"][1]


def test_the_air_macro_average_carries_the_macro_interval():
    items = [{"uniq_id": f"{t}{i}", "task_name": t, "dataset_name": "d", "choice_a": "x", "choice_b": "y",
              "answer_gt": "x", "response": "x" if i < k else "y"}
             for t, k in (("Sound_AQA", 8), ("Music_AQA", 2)) for i in range(10)]
    avg = score(benchmarks.AIR, join_predictions(benchmarks.AIR, items)[0])["paper_columns"]["Avg"]
    assert avg["accuracy"] == 50.0 and avg["ci95"] == stats.macro_interval([(2, 10), (8, 10)])
