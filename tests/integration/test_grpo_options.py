"""`swift rlhf --rlhf_type grpo` called directly with the plugin (not through a recipe): a refused
option stops it before step 1 (before the model loads), with exit status 2 and one line per refused
option naming it, no traceback. Several refused options share one run (each start costs ~30 s); what
each option gets is tested in tests/rewards/test_options_guard.py, the dashboard in test_grpo_two_ranks.py."""
import json
import shutil
import subprocess

import pytest

from tests.helpers.paths import REPO
from tests.helpers.swift import swift_env

pytestmark = pytest.mark.slow

REWARDS = {"atar": 1, "think_consistency": 0.5, "adaptive_format": 0.5, "think_quality": 1, "choice_accuracy": 0,
           "think_rate": 0}
WEIGHTS = ["--reward_weights", *map(str, REWARDS.values())]


def grpo_args(model, data, out, extra=()):
    return ["rlhf", "--rlhf_type", "grpo", "--model", str(model), "--model_type", "qwen2_audio",
            "--check_model", "false", "--external_plugins", str(REPO / "swift_plugins" / "rewards.py"),
            "--reward_funcs", *REWARDS, "--callbacks", "audio_thinker", "--dataset", str(data),
            "--system", str(REPO / "swift_plugins" / "prompts" / "adaptive_think.txt"),
            "--tuner_type", "full", "--torch_dtype", "float32", "--max_steps", "2",
            "--per_device_train_batch_size", "4", "--num_generations", "4", "--max_completion_length", "24",
            "--temperature", "1.0", "--beta", "0.04", "--learning_rate", "1e-6", "--logging_steps", "1",
            "--save_strategy", "no", "--log_completions", "true", "--report_to", "none",
            "--dataloader_num_workers", "0", "--seed", "42", "--add_version", "false", "--output_dir", str(out),
            *extra]


# (extra arguments, the option each refusal line names, in the guard's order). Combinations ms-swift
# itself rejects while parsing (a teacher server with REAL, RLSD with a teacher server, ...) are avoided.
RUNS = {
    # per-reward z-scores; a local teacher reweighting each token's advantage (RLSD); re-sampled groups
    "gdpo+teacher+rlsd+dynamic_sample": (
        [*WEIGHTS, "--scale_rewards", "gdpo", "--teacher_model", "{model}", "--advantage_reweight", "rlsd",
         "--dynamic_sample", "true"],
        ["--scale_rewards gdpo", "--teacher_model {model}", "--advantage_reweight rlsd", "--dynamic_sample true"]),
    # no weights: R_a(1 + R_c) + R_f + R_t; extra reward columns; a teacher; μ steps per scoring call
    "columns+teacher+iterations": (
        ["--reward_model", "{model}", "--reward_model_plugin", "genrm", "--use_gym_env", "true",
         "--teacher_model_server", "http://127.0.0.1:9", "--num_iterations", "2"],
        ["--reward_weights 1 0.5 0.5 1 0 0 (", "--reward_model {model}", "--reward_model_plugin genrm",
         "--use_gym_env true", "--teacher_model_server http://127.0.0.1:9", "--num_iterations 2"]),
    # REAL; a distillation loss (SDAR); a model-only resume whose step cannot be read (annealing from 0)
    "real+sdar+resume": (
        [*WEIGHTS, "--loss_type", "real", "--sdar_loss_coef", "0.1", "--resume_only_model", "true",
         "--ignore_data_skip", "true", "--resume_from_checkpoint", "{model}"],
        ["--loss_type real", "--sdar_loss_coef 0.1", "--resume_only_model true --ignore_data_skip true"]),
}


@pytest.mark.parametrize("run", sorted(RUNS))
def test_refused_options_stop_swift_rlhf_before_step_1(run, tiny_qwen2_audio, audio_qa, tmp_path):
    extra, named = ([a.format(model=tiny_qwen2_audio) for a in items] for items in RUNS[run])
    args = grpo_args(tiny_qwen2_audio, audio_qa, tmp_path / "out", extra)
    env = swift_env({"AUDIO_THINKER_JUDGE_URL": "http://127.0.0.1:9/v1", "AUDIO_THINKER_JUDGE_MODEL": "none"})
    proc = subprocess.run([shutil.which("swift") or "swift", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: audio-thinker:")]
    # one line per refused option, each naming it
    assert len(lines) == len(named), "\n".join(lines) or proc.stderr[-3000:]
    for line, option in zip(lines, named):
        assert option in line and "is refused" in line, (option, line)
    assert "Traceback" not in proc.stderr
    # before the model loads: ms-swift logs "model_info: ..." right after loading the policy (SwiftSft's
    # _prepare_model_tokenizer); a refusal only at the first reward call would come after it
    assert "model_info:" not in proc.stdout + proc.stderr
    log = tmp_path / "out" / "logging.jsonl"
    assert not log.exists() or not any("reward" in json.loads(x) for x in log.read_text().splitlines() if x.strip())
