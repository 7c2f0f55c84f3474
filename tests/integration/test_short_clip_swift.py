"""``swift rlhf`` launched directly (no recipe, no pre-flight) on a file holding a 0.05 s clip: the run stops
with one line naming the clip and its row. Without the compat plugin's check, transformers' Qwen2-Audio
dies in ``_merge_input_ids_with_audio_features`` with ``TypeError: 'NoneType' object is not subscriptable``,
naming nothing (a one-token clip takes its legacy path; audio_thinker.clips)."""
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from audio_thinker.jsonl import read_jsonl, write_jsonl
from tests.helpers.paths import REPO
from tests.helpers.swift import swift_env

pytestmark = pytest.mark.slow


def test_a_clip_too_short_to_hear_stops_grpo_with_one_line(tiny_qwen2_audio, audio_qa, tmp_path):
    short = tmp_path / "short.wav"
    sf.write(short, (0.3 * np.sin(np.arange(800) / 16000 * 2 * np.pi * 440)).astype("float32"), 16000,
             subtype="PCM_16")  # 0.05 s: 800 samples, 5 mel frames, 1 audio token
    good, bad = read_jsonl(audio_qa)[:2]
    data = tmp_path / "train.jsonl"
    write_jsonl(data, [good, {**bad, "audios": [str(short)]}])  # both in the first step's batch
    args = ["rlhf", "--rlhf_type", "grpo", "--model", str(tiny_qwen2_audio), "--model_type", "qwen2_audio",
            "--check_model", "false", "--external_plugins", str(REPO / "swift_plugins" / "rewards.py"),
            "--reward_funcs", "adaptive_format", "choice_accuracy", "--reward_weights", "1", "1",
            "--dataset", str(data),
            "--tuner_type", "full", "--torch_dtype", "float32", "--max_steps", "2",
            "--per_device_train_batch_size", "8", "--num_generations", "4", "--max_completion_length", "8",
            "--logging_steps", "1", "--save_strategy", "no", "--report_to", "none",
            "--dataloader_num_workers", "0", "--seed", "42", "--add_version", "false",
            "--output_dir", str(tmp_path / "out")]
    proc = subprocess.run([shutil.which("swift") or "swift", *args], cwd=tmp_path, env=swift_env(),
                          capture_output=True, text=True, timeout=600)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: cannot load audio {short}: 0.050 s long, 1 audio token; the encoder needs at least "
                      "2 (python -m data_prep.preflight refuses clips under 0.2 s) (row: line 2 of "
                      f"{data}, id 'clip_1')"], \
        proc.stderr[-4000:]
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "NoneType" not in proc.stderr
