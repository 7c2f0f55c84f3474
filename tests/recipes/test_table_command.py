"""recipes/table.sh without training: its dry run lists every row's training and evaluation commands, a
finished row is not retrained, a half-finished one resumes from its last checkpoint, and bad settings
stop it before anything runs. The real run (train, kill, re-run, report) is
tests/integration/test_table_rehearsal.py."""
from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.helpers.paths import REPO

QA_TRAINED = ["sft-a", "sft-b", "grpo-a", "grpo-b", "model-a", "model-b", "model-c"]
OMNI_TRAINED = ["sft-c", "sft-d", "grpo-c", "grpo-d", "model-d", "model-e", "model-f"]
METAS = {"MMAU_META": "/b/mmau.json", "MMAU_V2025_META": "/b/mmau2025.json", "MMAR_META": "/b/mmar.json",
         "AIR_META": "/b/air.json"}


def table(*args, dry=True, **env):
    base = {"PATH": "/usr/bin:/bin", "HOME": str(REPO), **({"DRY_RUN": "1"} if dry else {})}
    return subprocess.run(["bash", str(REPO / "recipes" / "table.sh"), *args], capture_output=True, text=True,
                          env={**base, **env}, timeout=120)


def commands(stdout: str) -> list[list[str]]:
    return [shlex.split(line) for line in stdout.splitlines() if line.strip() and not line.startswith(("#", "=", " "))]


def option(argv, flag):
    return argv[argv.index(flag) + 1]


def trainings(cmds):
    """output_dir name -> the swift command"""
    return {Path(option(c, "--output_dir")).name: c for c in cmds if "swift" in c}


def sweeps(cmds):
    return [c for c in cmds if "eval.sweep" in c]


def test_table1_dry_run_lists_every_row_training_and_evaluation(tmp_path):
    done = table("table1", OUTPUT_ROOT=str(tmp_path), **METAS)
    assert done.returncode == 0, done.stderr
    cmds = commands(done.stdout)
    assert sorted(trainings(cmds)) == sorted(QA_TRAINED + OMNI_TRAINED)
    by_row = {Path(option(c, "--out")).name: c for c in sweeps(cmds)}
    assert sorted(by_row) == sorted(QA_TRAINED + OMNI_TRAINED + ["qwen2-audio", "qwen2.5-omni"])
    for row in QA_TRAINED + OMNI_TRAINED:
        assert option(by_row[row], "--run") == str(tmp_path / row) and "--last" in by_row[row]
    base = by_row["qwen2.5-omni"]  # the model the Omni rows train from, asked with the answer-only prompt
    assert option(base, "--base-model") == "Qwen/Qwen2.5-Omni-7B" and option(base, "--model-type") == "qwen2_5_omni"
    assert option(base, "--system").endswith("answer_only.txt") and "--run" not in base
    for c in by_row.values():
        labels = [c[i + 1] for i, t in enumerate(c) if t == "--benchmark"]
        assert labels == ["mmau", "mmar", "air"]
        assert option(c, "--export-last") == str(tmp_path / "table1" / "results" / Path(option(c, "--out")).name)
    benches = [c for c in cmds if "data_prep.benchmarks" in c]
    assert [(c[3], option(c, "--meta")) for c in benches] == [("mmau", "/b/mmau.json"), ("mmar", "/b/mmar.json"),
                                                              ("air", "/b/air.json")]
    (report,) = [c for c in cmds if "eval.report" in c]
    assert option(report, "--results") == str(tmp_path / "table1" / "results")
    # the judge rows show the recipe's judge check before their training
    assert sum("swift_plugins.judge.check" in c for c in cmds) == 4


def test_the_table_s_own_commands_run_with_the_interpreter_that_runs_the_table(tmp_path):
    """Without PYTHON the table's benchmark, sweep and report commands used a bare ``python``: on a system
    whose ``python`` is not the environment setup.sh installed into (a PEP 668 system Python and its venv,
    or none at all) the first evaluation failed after the rows had trained."""
    done = table("table2", OUTPUT_ROOT=str(tmp_path), **METAS)
    assert done.returncode == 0, done.stderr
    cmds = [c for c in commands(done.stdout) if "-m" in c and c[c.index("-m") + 1].startswith(("eval.", "data_prep."))]
    runner = {c[0] for c in cmds}
    assert len(cmds) >= 3 and len(runner) == 1 and Path(runner.pop()).is_absolute(), cmds


@pytest.mark.parametrize("name, bench", [("table2", "mmau"), ("table3", "air"), ("table4", "mmar"),
                                         ("table5", "mmau-v2025"), ("table6", "mmar")])
def test_tables_2_to_6_evaluate_the_base_models_and_audio_thinker(name, bench, tmp_path):
    done = table(name, OUTPUT_ROOT=str(tmp_path), **METAS)
    assert done.returncode == 0, done.stderr
    cmds = commands(done.stdout)
    assert sorted(trainings(cmds)) == ["model-c", "model-f"]
    assert sorted(Path(option(c, "--out")).name for c in sweeps(cmds)) == sorted(
        ["qwen2-audio", "model-c", "qwen2.5-omni", "model-f"])
    assert all(option(c, "--benchmark") == bench for c in sweeps(cmds))


def test_overrides_reach_the_recipes_per_backbone_and_method(tmp_path):
    done = table("table1", "sft-b", "model-d", OUTPUT_ROOT=str(tmp_path), MMAU_META="/m.json", BENCHMARKS="mmau",
                 QWEN2_AUDIO_MODEL="/tiny/qa", QWEN2_5_OMNI_MODEL="/tiny/omni", SFT_COT_DATA="/d/cot.jsonl",
                 GRPO_DATA="/d/train.jsonl", MAX_STEPS="7", EVAL_CHECKPOINTS="all", EVAL_ENGINE="vllm")
    assert done.returncode == 0, done.stderr
    runs = trainings(commands(done.stdout))
    assert sorted(runs) == ["model-d", "sft-b"]  # only the rows asked for
    assert option(runs["sft-b"], "--model") == "/tiny/qa" and option(runs["sft-b"], "--dataset") == "/d/cot.jsonl"
    assert option(runs["model-d"], "--model") == "/tiny/omni" and option(runs["model-d"], "--dataset") == "/d/train.jsonl"
    assert option(runs["model-d"], "--max_steps") == "7"
    for c in sweeps(commands(done.stdout)):
        assert "--last" not in c and option(c, "--engine") == "vllm"  # every checkpoint: curves


def write_checkpoint(out: Path, step: int, planned: int = 2):
    (out / f"checkpoint-{step}").mkdir(parents=True)
    (out / f"checkpoint-{step}" / "model.safetensors").write_bytes(b"weights")
    (out / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"global_step": step,
                                                                               "max_steps": planned}))


def test_finished_rows_are_not_retrained_and_half_finished_ones_resume(tmp_path):
    finished, half, stopped = tmp_path / "grpo-a", tmp_path / "model-a", tmp_path / "model-b"
    write_checkpoint(finished, 2)
    # ms-swift's own end-of-training record in logging.jsonl
    (finished / "logging.jsonl").write_text(json.dumps({"last_model_checkpoint": str(finished / "checkpoint-2"),
                                                        "global_step": 2}) + "\n")
    # the same record, written on Ctrl-C at step 3 of 30: not finished
    write_checkpoint(stopped, 2, planned=30)
    (stopped / "logging.jsonl").write_text(json.dumps({"last_model_checkpoint": str(stopped / "checkpoint-2"),
                                                       "global_step": 3}) + "\n")
    write_checkpoint(half, 1, planned=30)
    write_checkpoint(half, 2, planned=30)
    (half / "checkpoint-3").mkdir()  # cut off while saving: no trainer_state.json
    (half / "logging.jsonl").write_text(json.dumps({"loss": 0.1, "step": 2}) + "\n")
    done = table("table1", "grpo-a", "model-a", "grpo-b", "model-b", OUTPUT_ROOT=str(tmp_path),
                 MMAU_META="/m.json", BENCHMARKS="mmau", EXTRA_ARGS="--max_length 4096")
    assert done.returncode == 0, done.stderr
    assert "grpo-a: train finished" in done.stdout and "not retrained" in done.stdout
    runs = trainings(commands(done.stdout))
    assert sorted(runs) == ["grpo-b", "model-a", "model-b"]
    assert option(runs["model-b"], "--resume_from_checkpoint") == str(stopped / "checkpoint-2")
    assert option(runs["model-a"], "--resume_from_checkpoint") == str(half / "checkpoint-2")
    assert option(runs["model-a"], "--max_length") == "4096"  # the user's EXTRA_ARGS kept
    assert "--resume_from_checkpoint" not in runs["grpo-b"]
    assert len(sweeps(commands(done.stdout))) == 4  # a finished row is still evaluated (pairs resume)


@pytest.mark.parametrize("args, env, message", [
    (["table7"], {}, "usage: bash recipes/table.sh"),
    (["table2", "grpo-a"], {}, "grpo-a is not a row of table2"),
    (["table1"], {"MODEL": "/m"}, "MODEL would apply to both backbones"),
    (["table1", "sft-a"], {"DATA": "/d"}, "set GRPO_DATA, SFT_ANSWERS_DATA, SFT_COT_DATA"),
    (["table1", "sft-a"], {"MMAU_META": "/m.json"}, "table1 needs MMAR_META AIR_META"),
    (["table1", "sft-a"], {"BENCHMARKS": "mmau", "MMAU_META": "/no/such.json"}, "MMAU_META=/no/such.json: no such file"),
])
def test_bad_settings_stop_before_anything_runs(args, env, message, tmp_path):
    done = table(*args, dry=False, OUTPUT_ROOT=str(tmp_path), **env)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written
