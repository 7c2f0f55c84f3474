"""eval.sweep without a model: which checkpoints it finds and how it evaluates them, what a finished pair
is, and the table and plot it writes. The real sweep on a trained tiny run is in
tests/integration/test_table_rehearsal.py."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from audio_thinker.cli import UsageError
from eval import sweep
from tests.helpers.paths import REPO


def checkpoint(run, step, lora=False, complete=True, base="/models/base"):
    folder = run / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    if lora:
        (folder / "adapter_config.json").write_text("{}")
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
    else:
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "args.json").write_text(json.dumps({"model": base, "model_type": "qwen2_audio",
                                                  "system": "Answer in <answer> tags."}))
    if complete:
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


@pytest.fixture
def bench_files(tmp_path):
    rows, meta = tmp_path / "mmau.jsonl", tmp_path / "meta.json"
    rows.write_text('{"id": "a"}\n')
    meta.write_text("[]")
    return rows, meta


def test_checkpoints_by_step_lora_on_the_base_full_as_model_incomplete_left_out(tmp_path, capsys):
    run = tmp_path / "run"
    for step in (10, 9):
        checkpoint(run, step, lora=True)
    checkpoint(run, 11, complete=False)  # being saved, or cut off by a kill
    found = sweep.find_checkpoints(run, None)
    assert [c.step for c in found] == [9, 10]  # numeric order, not "10" < "9"
    assert found[0].model == "/models/base" and found[0].adapters == (str(run / "checkpoint-9"),)
    assert "checkpoint-11 is incomplete" in capsys.readouterr().err
    full = tmp_path / "full"
    checkpoint(full, 3)
    (only,) = sweep.find_checkpoints(full, None)
    assert only.model == str(full / "checkpoint-3") and only.adapters == ()
    assert sweep.find_checkpoints(run, "/other/base")[0].model == "/other/base"  # --base-model wins


def test_a_versioned_ms_swift_output_dir_is_found_and_two_versions_are_refused(tmp_path):
    run = tmp_path / "run"
    checkpoint(run / "v0-20261123-0600", 2)
    assert sweep.run_root(run) == run / "v0-20261123-0600"
    checkpoint(run / "v1-20261123-0700", 2)
    with pytest.raises(UsageError, match="several runs"):
        sweep.run_root(run)


@pytest.mark.parametrize("label, ok", [("mmau", True), ("mmau-v2025", True), ("air", True),
                                       ("mmlu", False),  # not a benchmark we score
                                       ("mmau/../x", False)])  # a label names files
def test_benchmark_labels(label, ok, bench_files):
    if ok:
        assert sweep.parse_benchmark(label, *map(str, bench_files)).kind == label.split("-")[0]
    else:
        with pytest.raises(UsageError):
            sweep.parse_benchmark(label, *map(str, bench_files))


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "eval.sweep", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def test_dry_run_lists_each_pending_pair_and_skips_finished_ones(tmp_path, bench_files):
    run, out = tmp_path / "run", tmp_path / "out"
    checkpoint(run, 1, lora=True)
    checkpoint(run, 2, lora=True)
    (out / "checkpoint-1").mkdir(parents=True)
    finished = sweep.Checkpoint(1, "checkpoint-1", "/models/base", (str(run / "checkpoint-1"),))
    (out / "checkpoint-1" / "mmau.sweep.json").write_text(json.dumps(  # this pair finished before
        {"checkpoint_identity": finished.identity}))
    done = run_cli("--run", str(run), "--out", str(out), "--benchmark", "mmau", *map(str, bench_files),
                   "--include-base", "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "# checkpoint-1 x mmau (finished, skipped)" in lines
    infers = [line for line in lines if "-m eval.infer" in line]
    assert len(infers) == 2  # base and checkpoint-2
    assert "--model /models/base --benchmark-file" in infers[0]  # step 0: the base itself
    assert f"--model /models/base --adapters {run / 'checkpoint-2'}" in infers[1]
    assert all("--model-type qwen2_audio" in line and "--system" in line for line in infers)
    for step in ("eval.convert mmau", "eval.score mmau", "eval.think_analysis"):
        assert sum(step in line for line in lines) == 2


def test_a_checkpoint_trained_again_is_evaluated_again(tmp_path, bench_files):
    """Two trainings into one folder both save a checkpoint-2: the record of the first names another
    checkpoint (its trainer_state.json differs), so the pair is evaluated again and its old outputs kept."""
    run, out = tmp_path / "run", tmp_path / "out"
    ckpt = checkpoint(run, 2, lora=True)
    (ckpt / "trainer_state.json").write_text('{"global_step": 2, "log_history": [{"loss": 0.5}]}')   # the first training
    first = sweep.find_checkpoints(run, None)[0]
    (out / "checkpoint-2").mkdir(parents=True)
    for name in ("mmau.json", "mmau.preds.jsonl"):
        (out / "checkpoint-2" / name).write_text("{}")
    (out / "checkpoint-2" / "mmau.sweep.json").write_text(json.dumps({"checkpoint_identity": first.identity}))
    args = ["--run", str(run), "--out", str(out), "--benchmark", "mmau", *map(str, bench_files), "--dry-run"]
    assert "# checkpoint-2 x mmau (finished, skipped)" in run_cli(*args).stdout    # the same checkpoint
    (ckpt / "trainer_state.json").write_text('{"global_step": 2, "log_history": [{"loss": 0.7}]}')   # trained again, same name
    assert "# checkpoint-2 x mmau\n" in run_cli(*args).stdout                      # no longer finished
    plan = sweep.Plan(out, sweep.find_checkpoints(run, None)[0], sweep.parse_benchmark("mmau", *map(str, bench_files)), [])
    assert not plan.done
    moved = plan.set_aside("T")
    assert sorted(p.name for p in moved) == ["mmau.json.replaced-T", "mmau.preds.jsonl.replaced-T",
                                             "mmau.sweep.json.replaced-T"]
    assert not plan.result.exists() and not plan.preds.exists()   # eval.infer starts afresh, nothing deleted


def test_bad_input_is_one_line(tmp_path, bench_files):
    done = run_cli("--run", str(tmp_path / "nothing"), "--out", str(tmp_path / "o"), "--benchmark", "mmau",
                   *map(str, bench_files))
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and "not a directory" in done.stderr
    done = run_cli("--base-model", "m", "--out", str(tmp_path / "o"), "--benchmark", "mmlu", *map(str, bench_files))
    assert done.returncode == 2 and "LABEL must be one of" in done.stderr


def record(step, accuracy, ci=None, bench="mmau"):
    return {"step": step, "checkpoint": f"checkpoint-{step}", "benchmark": bench, "version": "v0325",
            "accuracy": accuracy, "ci95_low": ci and ci[0], "ci95_high": ci and ci[1], "n": 10, "missing": 0,
            "unparsable": 1, "think_rate": 50.0, "think_accuracy": 60.0, "no_think_accuracy": 40.0,
            "mean_tokens": 12.5, "think_mean_tokens": 20.0, "no_think_mean_tokens": 5.0}


def test_table_and_plot(tmp_path):
    rows = [record(100, 50.0, (30.0, 70.0)), record(200, 60.0, (40.0, 80.0)), record(100, 20.0, bench="mmar")]
    sweep.write_table(tmp_path, rows, {"run": "r"})
    with (tmp_path / "sweep.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r["step"] for r in table] == ["100", "200", "100"] and table[1]["ci95_high"] == "80.0"
    assert list(table[0]) == list(sweep.COLUMNS)
    assert json.loads((tmp_path / "sweep.json").read_text())["rows"] == rows
    sweep.plot(rows, tmp_path / "sweep.png", "model-c")
    first = (tmp_path / "sweep.png").read_bytes()
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    sweep.plot(rows, tmp_path / "again.png", "model-c")
    assert (tmp_path / "again.png").read_bytes() == first  # no timestamp: a resumed sweep redraws the same file


@pytest.fixture
def real_bench(tmp_path):
    """Two MMAU-format rows with real WAV clips, and their metadata."""
    import numpy as np
    import soundfile as sf

    rows, meta = tmp_path / "rows.jsonl", tmp_path / "meta.json"
    items = []
    for i in range(2):
        clip = tmp_path / f"clip{i}.wav"
        sf.write(clip, (0.1 * np.sin(np.arange(16000) / 10)).astype("float32"), 16000, subtype="PCM_16")
        items.append({"id": f"q{i}", "messages": [{"role": "user", "content": "<audio>What is it? (A) dog (B) cat"}],
                      "audios": [str(clip)]})
    rows.write_text("".join(json.dumps(item) + "\n" for item in items))
    meta.write_text(json.dumps([{"id": f"q{i}", "question": "What is it?", "choices": ["dog", "cat"], "answer": "dog",
                                 "task": "sound", "difficulty": "easy"} for i in range(2)]))
    return rows, meta


@pytest.mark.parametrize("spoil, named", [
    (lambda rows, meta: rows.write_text(rows.read_text().splitlines()[0] + "\n{not json\n"), "rows.jsonl:2:"),
    (lambda rows, meta: meta.write_text(json.dumps([{"question": "q", "choices": ["a"], "answer": "a"}])),
     "meta.json:1: not mmau metadata: no 'id'"),
])
def test_the_benchmark_files_are_checked_before_any_inference(tmp_path, real_bench, spoil, named):
    rows, meta = real_bench
    spoil(rows, meta)
    done = run_cli("--base-model", "/nope/base", "--out", str(tmp_path / "o"), "--benchmark", "mmau", str(rows),
                   str(meta))
    assert done.returncode == 2 and named in done.stderr.strip().splitlines()[-1], done.stderr
    assert not (tmp_path / "o" / "base").exists()                  # nothing ran


def test_a_failing_step_s_own_error_line_is_repeated(tmp_path, real_bench):
    done = run_cli("--base-model", "/nope/base", "--out", str(tmp_path / "o"), "--benchmark", "mmau",
                   *map(str, real_bench))
    assert done.returncode == 1
    assert "error: base x mmau: eval.infer exited 2: --model: /nope/base: no such folder (log: " in done.stderr
