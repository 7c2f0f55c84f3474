"""Real `swift rlhf --rlhf_type grpo` runs with the plugin: the dashboard keys at every logging step,
evaluation during training kept apart from training, and refused options stopping before step 1."""
import itertools
import json
import shutil
import subprocess
import threading
import time

import pytest

from swift_plugins.metrics_callback import TRAIN_KEYS
from audio_thinker.jsonl import read_jsonl
from tests.helpers.dashboard import assert_matches
from tests.helpers.loopback_server import nonce_of
from tests.helpers.paths import REPO
from tests.helpers.swift import run_dir, run_swift, swift_env

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
            "--save_strategy", "no", "--log_completions", "true", "--report_to", "tensorboard",
            "--dataloader_num_workers", "0", "--seed", "42", "--add_version", "false", "--output_dir", str(out),
            *extra]


def faulty_judge():
    """Answers in format, but every 2nd request fails: by timeout, HTTP 500 or garbage in turn."""
    counter, lock = itertools.count(), threading.Lock()

    def reply(messages):
        with lock:
            n = next(counter)
        nonce, fault = nonce_of(messages), (n // 2) % 3 if n % 2 else None
        if fault == 0:
            time.sleep(2.5)  # past the 1 s timeout below
        elif fault == 1:
            return 500, "judge overloaded"
        elif fault == 2:
            return "I would rather not say."
        if "verdict-" in messages[0]["content"]:
            return f"verdict-{nonce}: {n % 2}"  # consistent and inconsistent verdicts alike
        return f"score-{nonce}: 0.{n % 10}"
    return reply


def test_dashboard_keys_at_every_step_and_eval_kept_apart(tiny_qwen2_audio, audio_qa, tmp_path, scripted_server):
    judge = scripted_server(reply=faulty_judge())
    env = swift_env({"AUDIO_THINKER_JUDGE_URL": judge.base_url, "AUDIO_THINKER_JUDGE_MODEL": "scripted",
                     "AUDIO_THINKER_JUDGE_TIMEOUT": "1", "AUDIO_THINKER_JUDGE_MAX_RETRIES": "0"})
    # evaluation after every step, on one row: one eval batch of 1 prompt x 4 generations
    val = tmp_path / "val.jsonl"
    val.write_text(audio_qa.read_text().splitlines()[0] + "\n")
    extra = ["--val_dataset", str(val), "--eval_strategy", "steps", "--eval_steps", "1",
             "--per_device_eval_batch_size", "4"]
    run_swift(grpo_args(tiny_qwen2_audio, audio_qa, tmp_path / "out", extra), tmp_path, env)
    out = run_dir(tmp_path / "out")
    rows = read_jsonl(out / "logging.jsonl")
    train = [r for r in rows if "reward" in r]
    evals = [r for r in rows if "eval_reward" in r]
    assert len(train) == 2 and len(evals) == 2
    for row in train:
        for key in TRAIN_KEYS:
            assert "audio_thinker/" + key in row, key       # every key at every logging step (null allowed)
        assert not any(k.startswith("eval_audio_thinker/") for k in row)
        causes = sum(row[f"audio_thinker/judge_failures_{c}"] for c in ("timeout", "http", "unparsable"))
        assert causes == row["audio_thinker/judge_consistency_failures"] + row["audio_thinker/judge_quality_failures"]
    for row in evals:
        for key in TRAIN_KEYS:
            assert "eval_audio_thinker/" + key in row, key
        assert not any(k.startswith("audio_thinker/") for k in row)

    # completions.jsonl holds, per step, the training table then the evaluation table (same order as the
    # log), then one more table at the end-of-training summary
    tables = read_jsonl(out / "completions.jsonl")
    logged = [r for r in rows if "reward" in r or "eval_reward" in r]
    assert len(tables) == len(logged) + 1
    for row, table in zip(logged, tables):
        # λ and the per-mode figures of a log row are those of exactly the completions scored for it:
        # evaluation never leaks into training's window, nor training into evaluation's
        assert_matches(row, table, "audio_thinker/" if "reward" in row else "eval_audio_thinker/")

    # ... and the same keys reached TensorBoard (the callback runs before the report_to callbacks)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = {p.parent for p in out.rglob("events.out.tfevents.*")}
    tags = set(EventAccumulator(str(events)).Reload().Tags()["scalars"])
    for key in ("think_ratio", "think_accuracy", "no_think_tokens", "judge_failures_http"):
        assert f"train/audio_thinker/{key}" in tags and f"eval/audio_thinker/{key}" in tags, sorted(tags)


def test_refused_option_stops_swift_rlhf_before_step_1(tiny_qwen2_audio, audio_qa, tmp_path):
    args = grpo_args(tiny_qwen2_audio, audio_qa, tmp_path / "out", ["--scale_rewards", "gdpo"])
    env = swift_env({"AUDIO_THINKER_JUDGE_URL": "http://127.0.0.1:9/v1", "AUDIO_THINKER_JUDGE_MODEL": "none"})
    proc = subprocess.run([shutil.which("swift") or "swift", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: audio-thinker:")]
    assert len(lines) == 1 and "--scale_rewards gdpo" in lines[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    log = tmp_path / "out" / "logging.jsonl"
    assert not log.exists() or not any("reward" in json.loads(x) for x in log.read_text().splitlines() if x.strip())
