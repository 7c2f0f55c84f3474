"""`swift rlhf --rlhf_type grpo` called directly with the plugin (not through a recipe): a refused
option stops it before step 1, with exit status 2 and one line naming the option. (What each option
gets is tested in tests/rewards/test_options_guard.py; the dashboard in test_grpo_two_ranks.py.)"""
import json
import shutil
import subprocess

import pytest

from tests.helpers.paths import REPO
from tests.helpers.swift import swift_env

pytestmark = pytest.mark.slow

REWARDS = {"atar": 1, "think_consistency": 0.5, "adaptive_format": 0.5, "think_quality": 1, "choice_accuracy": 0,
           "think_rate": 0}


def grpo_args(model, data, out, extra=()):
    return ["rlhf", "--rlhf_type", "grpo", "--model", str(model), "--model_type", "qwen2_audio",
            "--check_model", "false", "--external_plugins", str(REPO / "swift_plugins" / "rewards.py"),
            "--reward_funcs", *REWARDS, "--reward_weights", *map(str, REWARDS.values()),
            "--callbacks", "audio_thinker", "--dataset", str(data),
            "--system", str(REPO / "swift_plugins" / "prompts" / "adaptive_think.txt"),
            "--tuner_type", "full", "--torch_dtype", "float32", "--max_steps", "2",
            "--per_device_train_batch_size", "4", "--num_generations", "4", "--max_completion_length", "24",
            "--temperature", "1.0", "--beta", "0.04", "--learning_rate", "1e-6", "--logging_steps", "1",
            "--save_strategy", "no", "--log_completions", "true", "--report_to", "none",
            "--dataloader_num_workers", "0", "--seed", "42", "--add_version", "false", "--output_dir", str(out),
            *extra]


def test_refused_option_stops_swift_rlhf_before_step_1(tiny_qwen2_audio, audio_qa, tmp_path):
    args = grpo_args(tiny_qwen2_audio, audio_qa, tmp_path / "out",
                     ["--scale_rewards", "gdpo", "--dynamic_sample", "true"])
    env = swift_env({"AUDIO_THINKER_JUDGE_URL": "http://127.0.0.1:9/v1", "AUDIO_THINKER_JUDGE_MODEL": "none"})
    proc = subprocess.run([shutil.which("swift") or "swift", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: audio-thinker:")]
    # one line per refused option, each naming it
    assert len(lines) == 2, proc.stderr[-3000:]
    assert "--scale_rewards gdpo" in lines[0] and "--dynamic_sample true" in lines[1], lines
    assert "Traceback" not in proc.stderr
    log = tmp_path / "out" / "logging.jsonl"
    assert not log.exists() or not any("reward" in json.loads(x) for x in log.read_text().splitlines() if x.strip())
