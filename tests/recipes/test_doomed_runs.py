"""A doomed run is refused before anything loads (docs/bad-input.md, "A doomed run"): a model that cannot load
and a reward name nobody registers end in one line and exit 2, within seconds, leaving no output folder -- in
the launcher, in a direct ``swift rlhf`` through the plugin, and (the model) in ``eval.infer``."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from audio_thinker import model_source
from tests.helpers.paths import CACHE, REPO
from tests.helpers.swift import children_cpu_seconds as cpu_seconds, swift_env

TINY = CACHE / "tiny" / "qwen2-audio"


def bare_env(tmp_path, **extra):
    return {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON": sys.executable,
            "PROFILE": "cpu", "MODEL": str(TINY), "DATA": str(tmp_path / "none.jsonl"),
            "OUTPUT_ROOT": str(tmp_path / "runs"), **extra}


# the environment of `bash recipes/model-a.sh` -> what its one line names
DOOMED = [
    ({"MODEL": "/nope/qwen2-audio"}, "error: MODEL=/nope/qwen2-audio: no such folder"),
    ({"MODEL": "Nobody/not-downloaded", "HF_HUB_OFFLINE": "1"}, "this hub id is in no local model cache"),
    ({"EXTRA_ARGS": "--reward_funcs atar adaptive_fromat choice_accuracy think_rate"},
     "--reward_funcs adaptive_fromat (did you mean adaptive_format?) is refused"),
]


@pytest.mark.parametrize("env, named", DOOMED)
def test_the_launcher_refuses_a_doomed_row_in_one_line_before_anything_loads(tmp_path, env, named):
    started = cpu_seconds()
    out = subprocess.run(["bash", str(REPO / "recipes" / "model-a.sh")], capture_output=True, text=True,
                         env=bare_env(tmp_path, **env), timeout=300)
    took = cpu_seconds() - started
    assert out.returncode == 2 and out.stdout == "", out.stderr[-3000:]
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("error: ") and named in line
    assert not (tmp_path / "runs").exists() and took < 20


def test_eval_infer_refuses_a_model_that_cannot_load_in_one_line(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "a", "messages": [{"role": "user", "content": "hi"}]}) + "\n")
    started = cpu_seconds()
    out = subprocess.run([sys.executable, "-m", "eval.infer", "--model", "/nope/ckpt", "--benchmark-file", str(rows),
                          "--out", str(tmp_path / "preds.jsonl")], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2 and out.stderr.strip() == "error: --model: /nope/ckpt: no such folder", out.stderr
    assert cpu_seconds() - started < 20 and not (tmp_path / "preds.jsonl").exists()


@pytest.mark.parametrize("model, environ, problem", [
    (str(TINY), {}, None),                                                   # a checkpoint folder
    ("/nope/ckpt", {}, "no such folder"),
    (str(REPO / "docs"), {}, "a folder without config.json or adapter_config.json"),
    (str(REPO / "README.md"), {}, "a file"),
    ("Qwen/Qwen2-Audio-7B-Instruct", {}, None),                              # online: ms-swift may download it
    ("Qwen/Qwen2-Audio-7B-Instruct", {"HF_HUB_OFFLINE": "1"}, "in no local model cache"),
])
def test_what_a_model_names(model, environ, problem, tmp_path):
    found = model_source.problem(model, {"HOME": str(tmp_path), **environ})
    assert (found is None) if problem is None else (problem in found)


def test_a_hub_id_in_either_cache_is_found_offline(tmp_path):
    offline = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hf"), "MODELSCOPE_CACHE": str(tmp_path / "ms")}
    snapshot = tmp_path / "hf" / "models--Qwen--Qwen2-Audio-7B-Instruct" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    assert model_source.problem("Qwen/Qwen2-Audio-7B-Instruct", offline) is None
    stored = tmp_path / "ms" / "models" / "Qwen" / "Qwen2___5-Omni-7B"   # ModelScope stores a dot as ___
    stored.mkdir(parents=True)
    (stored / "config.json").write_text("{}")
    assert model_source.problem("Qwen/Qwen2.5-Omni-7B", offline) is None


@pytest.mark.slow
def test_a_direct_swift_rlhf_with_a_misspelt_reward_stops_before_the_model_loads(tmp_path, audio_qa):
    """Through the plugin alone (no launcher): one line naming the closest name, exit 2, within 20 s of CPU, and
    no output folder (ms-swift makes it while parsing the arguments; args.json follows once the model loads)."""
    out_dir = tmp_path / "run"
    started = cpu_seconds()
    done = subprocess.run(
        [shutil.which("swift") or "swift", "rlhf", "--rlhf_type", "grpo", "--model", str(TINY), "--model_type",
         "qwen2_audio", "--dataset", str(audio_qa), "--external_plugins", str(REPO / "swift_plugins" / "rewards.py"),
         "--reward_funcs", "atar", "adaptive_fromat", "--reward_weights", "1", "0.5", "--use_cpu", "true",
         "--output_dir", str(out_dir), "--add_version", "false", "--max_steps", "1", "--report_to", "none",
         "--per_device_train_batch_size", "4", "--num_generations", "4"],
        cwd=tmp_path, env=swift_env(), capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode == 2, done.stderr[-3000:]
    assert errors == [next(e for e in errors if "adaptive_fromat (did you mean adaptive_format?)" in e)]
    assert not out_dir.exists() and "model_parameter_info" not in done.stdout + done.stderr
    assert cpu_seconds() - started < 20
