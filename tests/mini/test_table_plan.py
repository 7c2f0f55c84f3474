"""mini/table.sh plans the mini table through the project's own table command: every row, every
seed, the same overrides, the held-out evaluation and the analysis (DRY_RUN=1; the table itself is never
run by the suite)."""
import os
import shlex

import pytest

from tests.helpers.mini_plans import dry_run, option, trainings

ROWS = {"grpo-a", "grpo-b", "model-a", "model-b", "model-c"}
SAME = ("--model", "--dataset", "--max_steps", "--learning_rate", "--per_device_train_batch_size",
        "--gradient_accumulation_steps", "--num_generations", "--max_completion_length", "--temperature", "--beta",
        "--tuner_type", "--torch_dtype")


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> str:
    return dry_run("table.sh", tmp_path_factory.mktemp("mini") / "mini")


def test_every_row_and_seed_is_planned_with_the_same_overrides(plan):
    runs = trainings(plan)
    planned = {(os.path.basename(option(w, "--output_dir")), option(w, "--seed")) for w in runs}
    assert planned == {(row, "1") for row in ROWS} | {("grpo-b", "2"), ("model-a", "2")}  # 2 seeds: ATAR, always-think
    assert len(runs) == len(planned)
    for name in SAME:  # one value of each override across all seven runs
        assert len({option(w, name) for w in runs}) == 1, name
    assert option(runs[0], "--model").endswith(".cache/mini/qwen2-audio")
    assert option(runs[0], "--dataset").endswith("mini/task/train.jsonl")


def test_the_rows_keep_their_recipes_rewards(plan):
    funcs = {os.path.basename(option(w, "--output_dir")): w[w.index("--reward_funcs") + 1:w.index("--reward_weights")]
             for w in trainings(plan)}
    assert funcs["grpo-a"][:2] == ["choice_accuracy", "answer_format"]
    assert funcs["grpo-b"][:2] == ["choice_accuracy", "think_format"]
    assert funcs["model-a"][:2] == ["atar", "adaptive_format"]
    assert funcs["model-b"][:3] == ["atar", "think_consistency", "adaptive_format"]
    assert funcs["model-c"][:4] == ["atar", "think_consistency", "adaptive_format", "think_quality"]


def test_held_out_evaluation_judge_and_analysis_are_planned(plan):
    lines = plan.splitlines()
    sweeps = [shlex.split(line) for line in lines if " -m eval.sweep " in line]
    length = option(trainings(plan)[0], "--max_completion_length")
    # base under each prompt a row uses, and each of the seven trained runs
    assert sorted(option(w, "--system").rsplit("/", 1)[-1] for w in sweeps if "--base-model" in w) == [
        "adaptive_think.txt", "always_think.txt", "answer_only.txt"]
    assert sum("--run" in w for w in sweeps) == 7
    for w in sweeps:
        assert option(w, "--max-new-tokens") == length  # the reply budget of training
        assert w[w.index("--benchmark") + 3].endswith("mini/task/test-meta.json")
    assert any("-m mini.task" in line and "--test 600" in line for line in lines)  # 200 per difficulty
    assert any("-m mini.build" in line for line in lines)
    assert any("-m mini.judge" in line for line in lines)
    (claims,) = [line for line in lines if "-m mini.claims" in line]
    assert "--seeds 1 2" in claims and "--table mini" in claims
    assert "--seed-rows grpo-b model-a " in claims  # the runs claim (a) expects: the seeds' rows as planned
