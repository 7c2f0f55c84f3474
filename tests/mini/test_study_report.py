"""mini.study's criterion of difficulty-aware thinking, on hand-made think-propensity results."""
import json
import math

import pytest

from mini import study


def propensity_doc(hard, hard_ci, easy, easy_ci):
    return {"by_difficulty": {"hard": {"propensity": hard, "ci": hard_ci, "n": 200},
                              "easy": {"propensity": easy, "ci": easy_ci, "n": 200},
                              "medium": {"propensity": 0.3, "ci": [0.2, 0.4], "n": 200}},
            "items": {"x": 0.5}}


def test_the_gap_and_its_interval_by_hand():
    gap = study.propensity_gap(propensity_doc(0.5, [0.4, 0.6], 0.1, [0.05, 0.15]))
    # se = half-width / 1.96: 0.1/1.96 and 0.05/1.96; half = 1.96·sqrt(se_h² + se_e²) = sqrt(0.01 + 0.0025)
    assert gap["difference"] == pytest.approx(0.4)
    assert gap["ci95"] == pytest.approx([0.4 - math.sqrt(0.0125), 0.4 + math.sqrt(0.0125)], rel=1e-3)


def write_run(root, group, row, doc):
    (root / group / row / "checkpoint-50").mkdir(parents=True)
    (root / "measure" / group / row).mkdir(parents=True)
    (root / "measure" / group / row / "propensity-50.json").write_text(json.dumps(doc))


def test_the_criterion_needs_every_seed(tmp_path):
    aware = propensity_doc(0.5, [0.45, 0.55], 0.1, [0.08, 0.12])
    flat = propensity_doc(0.12, [0.1, 0.14], 0.1, [0.08, 0.12])
    write_run(tmp_path, "seed-1", "model-a-x", aware)
    write_run(tmp_path, "seed-2", "model-a-x", aware)
    write_run(tmp_path, "seed-1", "model-a", aware)
    write_run(tmp_path, "seed-2", "model-a", flat)          # one seed short of the gap
    doc = study.collect(tmp_path, ["1", "2"], ["model-a", "model-a-x"], [])
    assert doc["aware"]["model-a-x"]["met"] and not doc["aware"]["model-a"]["met"]
    assert doc["runs"]["model-a-x seed-1"]["propensity_curve"] == {50: {"easy": 0.1, "medium": 0.3, "hard": 0.5}}
