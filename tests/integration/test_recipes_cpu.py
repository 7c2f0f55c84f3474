"""The recipe scripts themselves, scaled down by environment settings, on the tiny checkpoints (CPU).

The same scripts a GPU node runs: only MODEL, DATA, USE_CPU and the scale settings differ.
"""
import json

import pytest

from audio_thinker.jsonl import read_jsonl
from swift_plugins.rewards import REWARDS
from swift_plugins.step_timing import TIME_KEYS
from tests.helpers.loopback_server import obedient_judge
from tests.helpers.paths import REPO
from tests.helpers.swift import recipe_env, run_logged

pytestmark = pytest.mark.slow


def run_recipe(row, env, tmp_path):
    """The row's script, or ``recipes/row.sh ROW`` for a row that has none (the Qwen3-Omni rows)."""
    script = REPO / "recipes" / f"{row}.sh"
    argv = ["bash", str(script)] if script.exists() else ["bash", str(REPO / "recipes" / "row.sh"), row]
    return run_logged(argv, tmp_path, env)


def reward_means(out):
    logs = [row for row in read_jsonl(out / "logging.jsonl") if "reward" in row]
    assert len(logs) >= 2
    return logs


# row, backbone dir, tuner, more settings
GRPO_CASES = [
    ("model-c", "qwen2-audio", "full", {}),    # Eq. 7 with the judge
    ("grpo-b", "qwen2-audio", "lora", {}),     # GRPO + CoT
    ("model-f", "qwen2.5-omni", "lora", {}),   # Eq. 7 on Omni
    ("model-d", "qwen2.5-omni", "full", {}),   # ATAR on Omni
    ("model-h", "qwen3-omni", "full", {"PROFILE": "cpu"}),   # Eq. 7 on Qwen3-Omni, the MoE (model-c's rewards)
    ("model-a-thinkless", "qwen2-audio", "full", {}),  # the decoupled decision-token term inside ms-swift's loss
]


@pytest.mark.parametrize("row, backbone, tuner, settings", GRPO_CASES)
def test_grpo_recipe_runs_on_cpu(row, backbone, tuner, settings, tiny_checkpoints, audio_qa, tmp_path,
                                 scripted_server):
    judge = scripted_server(reply=obedient_judge("1", "0.6"))
    env = recipe_env(tiny_checkpoints / backbone, audio_qa, tmp_path / "runs", TUNER=tuner, LORA_RANK=4,
                     JUDGE_URL=judge.base_url, JUDGE_MODEL="scripted", **settings)
    env.pop("AUDIO_THINKER_JUDGE_URL", None)
    run_recipe(row, env, tmp_path)
    out = tmp_path / "runs" / row
    args = json.loads((out / "args.json").read_text())
    assert args["tuner_type"] == tuner and args["rlhf_type"] == "grpo"
    logs = reward_means(out)
    row_rewards = set(args["reward_funcs"])
    for name in row_rewards:
        assert f"rewards/{REWARDS[name].__name__}/mean" in logs[-1]
    assert "rewards/ThinkRate/mean" in logs[-1]
    done, in_steps = 0, 0.0
    for row_log in logs:  # where the step's time went (swift_plugins/step_timing.py), at every logging step
        t = {k: row_log[f"audio_thinker/{k}"] for k in TIME_KEYS}
        assert t["time_generate_s"] > 0 and t["time_rewards_s"] > 0 and t["time_train_s"] > 0
        step = int(row_log["global_step/max_steps"].split("/")[0])
        in_steps += t["time_step_s"] * (step - done)  # a window's mean times its steps
        done = step
    # against ms-swift's own clock (time since training began, as its train_speed(s/it) holds it): the
    # optimizer steps took at least half of it (about all of it, measured), and no more than all of it
    elapsed = logs[-1]["train_speed(s/it)"] * done
    assert 0.5 * elapsed < in_steps <= elapsed + 0.01, (in_steps, elapsed)
    if {"think_consistency", "think_quality"} & row_rewards:
        assert any(r.get("audio_thinker/judge_quality_calls", 0) for r in logs) or \
            all(r["rewards/ThinkRate/mean"] == 0 for r in logs)
    if row == "model-a-thinkless":   # the row's env switched the term on, and every logged step carried it
        assert all(abs(r["audio_thinker/decision_alpha"] - 0.1) < 1e-9 for r in logs)
    assert list(out.glob("checkpoint-2"))


def test_sft_recipe_runs_on_cpu(tiny_qwen2_audio, audio_qa, tmp_path):
    sft_data = tmp_path / "sft.jsonl"
    run_logged(["python", "-m", "data_prep.sft_targets", "--input", str(audio_qa), "--out", str(sft_data)],
               tmp_path, recipe_env(tiny_qwen2_audio, audio_qa, tmp_path))
    run_recipe("sft-a", recipe_env(tiny_qwen2_audio, sft_data, tmp_path / "runs", TUNER="lora", LORA_RANK=4),
               tmp_path)
    out = tmp_path / "runs" / "sft-a"
    logs = [row for row in read_jsonl(out / "logging.jsonl") if "loss" in row]
    assert logs and all(row["loss"] > 0 for row in logs)
    assert (out / "checkpoint-2" / "adapter_config.json").exists()
