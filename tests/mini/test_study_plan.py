"""mini/study.sh plans the study through the mini table's machinery: every variant of model-a and model-a
itself on every seed, grpo-a and grpo-b as references, the same overrides, checkpoints inside the run for the
propensity figure, the long runs, the instruments, the claims per variant, and an estimate of its time
(DRY_RUN=1; the study itself is never run by the suite)."""
import os
import re

import pytest

from recipes import catalogue
from tests.helpers.mini_plans import dry_run, option, trainings

SAME = ("--model", "--dataset", "--learning_rate", "--per_device_train_batch_size", "--num_generations",
        "--max_completion_length", "--temperature", "--beta", "--tuner_type", "--torch_dtype")


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> str:
    return dry_run("study.sh", tmp_path_factory.mktemp("study") / "study")


def test_every_variant_and_model_a_on_two_seeds_with_the_references_on_one(plan):
    variants = [r for r in catalogue.load().table("study").rows if r not in ("qwen2-audio", "grpo-a", "grpo-b")]
    assert "model-a" in variants and len(variants) >= 5
    runs = trainings(plan)
    planned = {(os.path.basename(option(w, "--output_dir")), option(w, "--seed")) for w in runs
               if "/long/" not in option(w, "--output_dir")}
    assert planned == {(r, s) for r in variants for s in ("1", "2")} | {("grpo-a", "1"), ("grpo-b", "1")}
    for name in SAME:   # the mini table's overrides, the same for every run
        assert len({option(w, name) for w in runs}) == 1, name
    short = [w for w in runs if "/long/" not in option(w, "--output_dir")]
    assert {option(w, "--max_steps") for w in short} == {"60"}
    assert {option(w, "--save_steps") for w in short} == {"15"}   # checkpoints inside the run


def test_each_variant_carries_its_own_options(plan):
    by_row = {os.path.basename(option(w, "--output_dir")): w for w in trainings(plan)}
    assert option(by_row["model-a-tok"], "--loss_type") == "dapo"
    assert option(by_row["model-a-nostd"], "--scale_rewards") == "none"
    assert "--loss_type" not in by_row["model-a"] and "--scale_rewards" not in by_row["model-a"]
    assert option(by_row["model-a-nobal"], "--reward_funcs") == "atar_unbalanced"
    thinkless = [line for line in plan.splitlines() if " swift rlhf " in line and "/model-a-thinkless " in line]
    assert thinkless and all(line.split(" swift rlhf ")[0].endswith("AUDIO_THINKER_DECISION_ALPHA=0.1")
                             for line in thinkless)


def test_long_runs_instruments_claims_and_an_estimate_are_planned(plan):
    lines = plan.splitlines()
    longs = [line for line in lines if "/long " in line and "recipes/table.sh study" in line]
    assert len(longs) == 2 and all("MAX_STEPS=180" in line and "SAVE_STEPS=45" in line for line in longs)
    assert any("-m mini.study best" in line for line in lines)
    (measure,) = [line for line in lines if "-m mini.study measure" in line]
    assert measure.count("/seed-1/") == measure.count("/seed-2/") + 2   # the references on seed 1 only
    claims = [line for line in lines if "-m mini.claims" in line]
    assert len(claims) == len(catalogue.load().table("study").rows) - 3    # one per variant and model-a
    assert all("--table study" in line and "--rows grpo-a grpo-b " in line for line in claims)
    assert any("-m mini.study report" in line for line in lines)
    total = re.search(r"estimated wall time ~(\d+) min", plan)
    assert total and 30 <= int(total.group(1)) <= 150
    assert len(re.findall(r"\(estimate: ~\d+ min\)", plan)) >= 4   # every stage has its own
