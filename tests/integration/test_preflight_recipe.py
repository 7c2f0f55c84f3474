"""A training set with one missing and one corrupt clip, through the real recipe on the tiny checkpoint (CPU):
refused before ms-swift starts with both named, or trained on without them with a report naming both.
And ``swift rlhf`` launched without the recipe: ms-swift's own loader names the clip it cannot load."""
from __future__ import annotations

import json
import subprocess

import pytest

from audio_thinker.jsonl import read_jsonl
from tests.helpers.paths import REPO
from tests.helpers.swift import recipe_env


@pytest.fixture
def one_missing_one_corrupt(audio_qa, tmp_path):
    rows = read_jsonl(audio_qa)
    missing = tmp_path / "gone.wav"
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(open(rows[5]["audios"][0], "rb").read()[:30])  # a WAV cut inside its header
    rows[2]["audios"] = [str(missing)]
    rows[5]["audios"] = [str(corrupt)]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data, missing, corrupt


def run_row(row, env):
    return subprocess.run(["bash", str(REPO / "recipes" / f"{row}.sh")], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def test_recipe_refuses_the_set_before_ms_swift_starts(tiny_qwen2_audio, one_missing_one_corrupt, tmp_path):
    data, missing, corrupt = one_missing_one_corrupt
    proc = run_row("model-a", recipe_env(tiny_qwen2_audio, data, tmp_path / "runs"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {data}:3: {missing}: no such file",
                      f"error: {data}:6: {corrupt}: does not decode (LibsndfileError: Error in WAV file. "
                      "No 'data' chunk marker)"]
    assert "Traceback" not in proc.stderr
    out = tmp_path / "runs" / "model-a"
    assert not (out / "command.txt").exists() and not (out / "args.json").exists()  # ms-swift never ran


def test_dry_run_shows_the_check(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DRY_RUN": "1", "DATA": "/d/train.jsonl",
           "OUTPUT_ROOT": str(tmp_path)}
    lines = subprocess.run(["bash", str(REPO / "recipes" / "sft-a.sh")], env=env, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert lines[0].split()[1:] == ["-m", "data_prep.preflight", "/d/train.jsonl", "--kind", "sft", "--check", "header",
                                    "--model", "Qwen/Qwen2-Audio-7B-Instruct"]
    env.update(PREFLIGHT_DROP_BAD="1")
    lines = subprocess.run(["bash", str(REPO / "recipes" / "grpo-a.sh")], env=env, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    clean = f"{tmp_path}/grpo-a/dataset.clean.jsonl"
    assert lines[0].rstrip().endswith(f"--kind grpo --check header --model Qwen/Qwen2-Audio-7B-Instruct "
                                      f"--clean-out {clean}")
    assert f"--dataset {clean} " in lines[-1]


@pytest.mark.slow
def test_recipe_trains_without_them_and_names_both(tiny_qwen2_audio, one_missing_one_corrupt, tmp_path):
    data, missing, corrupt = one_missing_one_corrupt
    env = recipe_env(tiny_qwen2_audio, data, tmp_path / "runs", PREFLIGHT_DROP_BAD=1, MAX_STEPS=1, SAVE_STEPS=1,
                     NUM_GENERATIONS=2, PER_DEVICE_BATCH=2, MAX_COMPLETION_LENGTH=8)
    proc = run_row("model-a", env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "runs" / "model-a"
    clean = out / "dataset.clean.jsonl"
    dropped = [line for line in proc.stderr.splitlines() if line.startswith("dropped:")]
    assert [line.split(": ", 2)[1:] for line in dropped] == [[f"{data}:3", f"{missing}: no such file"],
                                                           [f"{data}:6", dropped[1].split(": ", 2)[2]]]
    assert str(corrupt) in dropped[1]
    assert [r["line"] for r in read_jsonl(out / "dataset.clean.jsonl.dropped.jsonl")] == [3, 6]
    assert len(read_jsonl(clean)) == 6
    assert json.loads((out / "args.json").read_text())["dataset"] == [str(clean)]
    assert any("loss" in row for row in read_jsonl(out / "logging.jsonl"))  # a training step ran


@pytest.mark.slow  # imports ms-swift and builds the real template (10-40 s)
def test_ms_swift_names_the_clip_it_cannot_load(tiny_qwen2_audio, tmp_path):
    """The template encode the GRPO trainer runs at each rollout, on a row whose clip is gone: without the
    compat wrapper this is ``TypeError: Invalid file: None`` or ``FileNotFoundError(2, 'No such file or
    directory')`` (librosa's fallback, depending on the path), naming no file."""
    import swift_plugins.compat  # noqa: F401  (what --external_plugins loads)
    from swift.model import get_model_processor
    from swift.template import get_template

    from swift_plugins.compat.audio_errors import AudioLoadError

    _, processor = get_model_processor(str(tiny_qwen2_audio), model_type="qwen2_audio", load_model=False,
                                           download_model=False)
    template = get_template(processor, template_type=processor.model_meta.template)
    template.set_mode("train")
    gone = tmp_path / "gone.wav"
    row = {"messages": [{"role": "user", "content": "<audio>What is it?"},
                        {"role": "assistant", "content": "<answer>x</answer>"}], "audios": [str(gone)]}
    with pytest.raises(AudioLoadError) as caught:
        template.encode(row)
    assert str(caught.value) == f"cannot load audio {gone}: no such file (row: question 'What is it?')"
    assert caught.value.__cause__ is not None  # what ms-swift raised (TypeError or a bare FileNotFoundError)
