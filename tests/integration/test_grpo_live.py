"""A real `swift rlhf --rlhf_type grpo` run with all eight rewards and the live local judge."""
import pytest

from audio_thinker.jsonl import read_completion_tables, read_jsonl
from eval import plot_training
from swift_plugins.rewards import REWARDS
from tests.helpers.paths import REPO
from tests.helpers.swift import run_dir, run_swift, swift_env

pytestmark = [pytest.mark.slow, pytest.mark.judge]

NAMES = list(REWARDS)  # the eight --reward_funcs names
WEIGHTS = {"atar": 1, "think_consistency": 0.5, "adaptive_format": 0.5, "think_quality": 1}


def grpo_args(model, data, out, steps=2, extra=()):
    return ["rlhf", "--rlhf_type", "grpo", "--model", str(model), "--model_type", "qwen2_audio",
            "--external_plugins", str(REPO / "swift_plugins" / "rewards.py"),
            "--reward_funcs", *NAMES, "--reward_weights", *[str(WEIGHTS.get(n, 0)) for n in NAMES],
            "--callbacks", "audio_thinker", "--dataset", str(data),
            "--system", str(REPO / "swift_plugins" / "prompts" / "adaptive_think.txt"),
            "--tuner_type", "full", "--torch_dtype", "float32", "--max_steps", str(steps),
            "--per_device_train_batch_size", "4", "--num_generations", "4", "--max_completion_length", "24",
            "--temperature", "1.0", "--beta", "0.04", "--learning_rate", "1e-6", "--logging_steps", "1",
            "--save_strategy", "no", "--log_completions", "true", "--report_to", "none",
            "--dataloader_num_workers", "0", "--seed", "42", "--output_dir", str(out), *extra]


def test_grpo_with_all_rewards_and_live_judge(tiny_qwen2_audio, audio_qa, local_judge, tmp_path):
    run_swift(grpo_args(tiny_qwen2_audio, audio_qa, tmp_path / "out"), tmp_path, swift_env(local_judge.env()))
    out = run_dir(tmp_path / "out")
    logs = [row for row in read_jsonl(out / "logging.jsonl") if "reward" in row]
    assert len(logs) >= 2
    classes = [REWARDS[n].__name__ for n in NAMES]
    for row in logs:
        for cls in classes:
            assert f"rewards/{cls}/mean" in row, cls
        assert 0.0 <= row["audio_thinker/think_ratio"] <= 1.0
    # the judge really was asked, and its failures are on the log (zero or more)
    assert any(row.get("audio_thinker/judge_quality_calls", 0) > 0 for row in logs)
    assert all(row["audio_thinker/judge_quality_failures"] <= row["audio_thinker/judge_quality_calls"]
               for row in logs if "audio_thinker/judge_quality_calls" in row)
    completions = read_completion_tables(out / "completions.jsonl")
    columns = set().union(*completions)
    assert set(classes) <= columns
    # ms-swift's weighted reward is Eq. 7 from the logged parts
    for row in logs:
        eq7 = (row["rewards/AdaptiveThinkAccuracy/mean"] + 0.5 * row["rewards/ThinkConsistency/mean"]
               + 0.5 * row["rewards/AdaptiveFormat/mean"] + row["rewards/ThinkQuality/mean"])
        assert row["reward"] == pytest.approx(eq7, abs=1e-4)
    # the run's curves, drawn from this real run directory by eval.plot_training
    png = tmp_path / "curves.png"
    assert plot_training.main([str(tmp_path / "out"), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    notes: list[str] = []
    panels = plot_training.curves(plot_training.training_rows(out / "logging.jsonl", notes), notes)
    drawn = {title: {label for label, _, _ in lines} for title, lines in panels.items()}
    assert {"total reward", *classes} <= drawn["rewards"]
    assert drawn["think mode (Eq. 1–4)"] == {"λ think ratio", "γ_think", "γ_no-think"}
    assert "judge_quality_calls" in drawn["judge"]
    # a counter that stays 0 at every step is left out of the figure (eval.plot_training): failures only if any
    failed = any(row.get("audio_thinker/judge_quality_failures") for row in logs)
    assert ("judge_quality_failures" in drawn["judge"]) == failed
