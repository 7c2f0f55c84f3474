"""Inference resume, the converter, think analysis, report; and the real end-to-end run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import soundfile as sf

from audio_thinker.cli import UsageError
from audio_thinker.jsonl import read_jsonl
from eval import infer
from eval.tables import fmt_accuracy
from tests.helpers.paths import REPO

# --- resume ---------------------------------------------------------------


def rows(n):
    return [{"id": f"q{i}", "messages": [{"role": "user", "content": f"<audio>question {i}"},
                                         {"role": "assistant", "content": "<answer>x</answer>"}],
             "audios": [f"/a/{i}.wav"], "solution": "x", "choices": ["x", "y"]} for i in range(n)]


def fake_generate(batch, system):
    # Deterministic "model": the reply depends only on the request built from the row.
    requests = [infer.build_request_messages(r, system) for r in batch]
    return [{"output": f"<answer>{r['id']}:{m[0]['content']}:{m[-1]['content']}</answer>", "finish_reason": "stop"}
            for r, m in zip(batch, requests)]


def test_run_with_a_limit_then_rerun_gives_same_rows_without_duplicates(tmp_path):
    out, full = tmp_path / "resumed.jsonl", tmp_path / "full.jsonl"
    assert infer.run(rows(7), full, fake_generate, "SYS", batch_size=3) == 7
    assert infer.run(rows(7), out, fake_generate, "SYS", batch_size=3, limit=4) == 4
    assert infer.run(rows(7), out, fake_generate, "SYS", batch_size=3) == 3
    assert infer.run(rows(7), out, fake_generate, "SYS", batch_size=3) == 0  # nothing left
    resumed = read_jsonl(out)
    assert [r["id"] for r in resumed] == [f"q{i}" for i in range(7)]  # no duplicates, all there
    assert {r["id"]: r["output"] for r in resumed} == {r["id"]: r["output"] for r in read_jsonl(full)}
    assert resumed[0]["output"] == "<answer>q0:SYS:<audio>question 0</answer>"  # system set, assistant turn dropped
    assert resumed[0]["mode"] == "no_think" and resumed[0]["solution"] == "x"  # input fields kept


def test_a_half_written_last_line_is_redone(tmp_path):
    out = tmp_path / "p.jsonl"
    infer.run(rows(3), out, fake_generate, None, batch_size=2, limit=2)
    with out.open("a") as f:
        f.write('{"id": "q2", "output": "<answ')  # killed mid-write
    infer.run(rows(3), out, fake_generate, None, batch_size=2)
    got = read_jsonl(out)
    assert [r["id"] for r in got] == ["q0", "q1", "q2"] and got[2]["output"].endswith("</answer>")


def test_failed_rows_are_kept_as_missing_and_retried_on_request(tmp_path):
    out = tmp_path / "p.jsonl"

    def flaky(batch, system):
        return [{"output": None, "error": "OSError: no audio"} if r["id"] == "q1" else fake_generate([r], system)[0]
                for r in batch]

    infer.run(rows(3), out, flaky, None, batch_size=3)
    assert [r["output"] is None for r in read_jsonl(out)] == [False, True, False]
    assert infer.run(rows(3), out, fake_generate, None, batch_size=3) == 0  # an error row counts as done
    assert infer.run(rows(3), out, fake_generate, None, batch_size=3, retry_errors=True) == 1
    got = read_jsonl(out)
    assert sorted(r["id"] for r in got) == ["q0", "q1", "q2"] and all(r["output"] for r in got)


def test_sigkill_mid_run_then_rerun(tmp_path):
    """A real SIGKILL of a running inference process, then a resumed run."""
    script = tmp_path / "slow_infer.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from eval import infer
        def generate(batch, system):
            time.sleep(float(sys.argv[2]))
            return [{{"output": "<answer>" + r["id"] + "</answer>"}} for r in batch]
        rows = [{{"id": f"q{{i}}", "messages": [{{"role": "user", "content": "q"}}]}} for i in range(12)]
        infer.run(rows, Path(sys.argv[1]), generate, None, batch_size=2)
    """))
    out = tmp_path / "p.jsonl"
    proc = subprocess.Popen([sys.executable, str(script), str(out), "0.3"])
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 4):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(read_jsonl(out, torn_tail=True))  # the kill may have cut the last row
    assert 4 <= before < 12  # interrupted mid-way
    subprocess.run([sys.executable, str(script), str(out), "0"], check=True)
    got = read_jsonl(out)
    assert [r["id"] for r in got] == [f"q{i}" for i in range(12)]
    assert all(r["output"] == f"<answer>{r['id']}</answer>" for r in got)


def test_duplicate_input_ids_are_refused(tmp_path):
    with pytest.raises(UsageError, match="duplicate"):
        infer.run(rows(2) + rows(1), tmp_path / "p.jsonl", fake_generate, None, batch_size=2)


# --- real end-to-end ----------------------------------------------------------

TINY = REPO / ".cache" / "tiny"
CHOICES = [["Man", "Woman", "Child", "Robot"], ["Dog", "Cat", "Bird", "Car"], ["Piano", "Guitar", "Drums", "Violin"],
           ["Rain", "Wind", "Fire", "Thunder"], ["one", "two", "three", "four"], ["Happy", "Sad", "Angry", "Calm"]]


def mmau_items(audio_dir):
    """Six MMAU-format items with generated tones (numpy -> WAV)."""
    items = []
    for i, choices in enumerate(CHOICES):
        t = np.arange(16000 * 2) / 16000
        wav = (0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t)).astype("float32")
        sf.write(audio_dir / f"item{i}.wav", wav, 16000)
        items.append({"id": f"item{i}", "audio_id": f"./item{i}.wav", "question": "What do you hear?",
                      "choices": choices, "answer": choices[i % 4], "dataset": "synthetic",
                      "task": ("sound", "music", "speech")[i % 3], "split": "test-mini",
                      "category": ["Reasoning"] if i == 0 else "Information Extraction",
                      "sub-category": "tones", "difficulty": ("easy", "medium", "hard")[i % 3]})
    return items


def run_module(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "MODELSCOPE_CACHE": str(REPO / ".cache" / "modelscope")})


@pytest.mark.slow
@pytest.mark.parametrize("model,model_type", [("qwen2.5-omni", "qwen2_5_omni"), ("qwen2-audio", "qwen2_audio")])
def test_tiny_checkpoint_end_to_end(tmp_path, model, model_type):
    if not (TINY / model / "config.json").exists():
        build = subprocess.run([sys.executable, "scripts/build_tiny_checkpoints.py"], cwd=REPO,
                               capture_output=True, text=True, timeout=300)
        if build.returncode != 0 or not (TINY / model / "config.json").exists():
            pytest.skip(f"tiny checkpoint {model} could not be built: {build.stderr[-500:]}")
    if model == "qwen2-audio" and not (REPO / "swift_plugins" / "compat" / "__init__.py").exists():
        pytest.skip("Qwen2-Audio needs swift_plugins.compat (not in this checkout)")
    meta = tmp_path / "mmau-meta.json"
    meta.write_text(json.dumps(mmau_items(tmp_path)))
    rows_path, preds, bench_preds = tmp_path / "rows.jsonl", tmp_path / "preds.jsonl", tmp_path / "mmau_preds.json"
    result_path, plot = tmp_path / "result.json", tmp_path / "fig2.png"

    steps = [
        ("data_prep.benchmarks", "mmau", "--meta", str(meta), "--out", str(rows_path)),
        ("eval.infer", "--model", str(TINY / model), "--benchmark-file", str(rows_path), "--out", str(preds),
         "--system", "swift_plugins/prompts/adaptive_think.txt", "--batch-size", "3", "--max-new-tokens", "24",
         "--model-type", model_type, "--limit", "3"),  # interrupted after one batch ...
        ("eval.infer", "--model", str(TINY / model), "--benchmark-file", str(rows_path), "--out", str(preds),
         "--system", "swift_plugins/prompts/adaptive_think.txt", "--batch-size", "3", "--max-new-tokens", "24",
         "--model-type", model_type),
        ("eval.convert", "mmau", "--predictions", str(preds), "--meta", str(meta), "--out", str(bench_preds)),
        ("eval.score", "mmau", "--input", str(bench_preds), "--meta", str(meta), "--output", str(result_path)),
        ("eval.think_analysis", "--input", str(result_path), "--plot", str(plot)),
    ]
    for step in steps:
        proc = run_module(*step)
        assert proc.returncode == 0, f"{step[0]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"

    out_rows = read_jsonl(preds)
    assert [r["id"] for r in out_rows] == [f"item{i}" for i in range(6)]  # resumed, no duplicates
    assert all(isinstance(r["output"], str) and r["mode"] in ("think", "no_think") for r in out_rows)
    result = json.loads(result_path.read_text())
    assert result["total"]["n"] == 6 and result["total"]["missing"] == 0
    assert set(result["breakdowns"]["difficulty"]) == {"easy", "medium", "hard"}
    assert set(result["total"]) == {"accuracy", "ci95", "correct", "n", "missing", "unparsable"}

    import matplotlib.image as mpimg

    image = mpimg.imread(plot)
    height, width = image.shape[:2]
    assert 300 <= height <= 2000 and 500 <= width <= 4000  # a real figure, not an empty file
    assert image.std() > 0.01  # something is drawn
    if model == "qwen2.5-omni":  # the controls once, on the faster backbone (test-suite budget)
        controls_end_to_end(tmp_path, meta, rows_path, preds, result_path, [str(TINY / model), model_type])


@pytest.mark.slow
def test_qwen3_omni_is_evaluated_by_the_project_s_own_command(tmp_path):
    """eval.infer on the tiny Qwen3-Omni (its own placeholder, 13 audio tokens per second), then scored: every
    row answered, none missing (the full pipeline with resume runs on the other two backbones above)."""
    model = TINY / "qwen3-omni"
    if not (model / "config.json").exists():
        pytest.skip("tiny checkpoints not built")
    meta = tmp_path / "mmau-meta.json"
    meta.write_text(json.dumps(mmau_items(tmp_path)[:3]))
    rows_path, preds = tmp_path / "rows.jsonl", tmp_path / "preds.jsonl"
    bench_preds, result_path = tmp_path / "mmau_preds.json", tmp_path / "result.json"
    for step in [("data_prep.benchmarks", "mmau", "--meta", str(meta), "--out", str(rows_path)),
                 ("eval.infer", "--model", str(model), "--benchmark-file", str(rows_path), "--out", str(preds),
                  "--system", "swift_plugins/prompts/adaptive_think.txt", "--batch-size", "3",
                  "--max-new-tokens", "16", "--model-type", "qwen3_omni_moe"),
                 ("eval.convert", "mmau", "--predictions", str(preds), "--meta", str(meta), "--out", str(bench_preds)),
                 ("eval.score", "mmau", "--input", str(bench_preds), "--meta", str(meta), "--output",
                  str(result_path))]:
        proc = run_module(*step)
        assert proc.returncode == 0, f"{step[0]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    out_rows = read_jsonl(preds)
    assert [r["id"] for r in out_rows] == ["item0", "item1", "item2"]
    assert all(isinstance(r["output"], str) and r["mode"] in ("think", "no_think") for r in out_rows)
    result = json.loads(result_path.read_text())
    assert result["total"]["n"] == 3 and result["total"]["missing"] == 0


# What reaches the model: a spy on the feature extractor both backbones use (Qwen2-Audio's and
# Qwen2.5-Omni's processors call WhisperFeatureExtractor with the loaded waveforms). It only records
# each clip's length and peak, then calls the real method; eval.infer's real CLI runs around it.
SPY = textwrap.dedent("""
    import json, sys
    import numpy as np
    from transformers import WhisperFeatureExtractor
    seen, original = [], WhisperFeatureExtractor.__call__
    def spy(self, raw_speech, *args, **kwargs):
        clips = raw_speech if isinstance(raw_speech, (list, tuple)) else [raw_speech]
        for clip in clips:
            a = np.asarray(clip, dtype="float64")
            seen.append({"samples": int(a.shape[-1]), "peak": float(np.abs(a).max()) if a.size else 0.0})
        return original(self, raw_speech, *args, **kwargs)
    WhisperFeatureExtractor.__call__ = spy
    from eval import infer
    code = infer.main(sys.argv[2:])
    json.dump(seen, open(sys.argv[1], "w"))
    sys.exit(code)
""")


def infer_with_spy(tmp_path, name, args):
    seen = tmp_path / f"{name}.seen.json"
    proc = subprocess.run([sys.executable, "-c", SPY, str(seen), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "MODELSCOPE_CACHE": str(REPO / ".cache" / "modelscope")})
    assert proc.returncode == 0, f"{name} failed:\n{proc.stderr[-3000:]}"
    return json.loads(seen.read_text())


def controls_end_to_end(tmp_path, meta, rows_path, preds, result_path, model_args):
    """A silent-audio run and a rotated run through infer -> convert -> score -> report."""
    model, model_type = model_args
    common = ["--model", model, "--model-type", model_type, "--benchmark-file", str(rows_path),
              "--system", "swift_plugins/prompts/adaptive_think.txt", "--batch-size", "6", "--max-new-tokens", "16"]
    silent_preds, rotated_preds = tmp_path / "silent.preds.jsonl", tmp_path / "rotated.preds.jsonl"
    silent_seen = infer_with_spy(tmp_path, "silent", [*common, "--out", str(silent_preds), "--audio-control", "silence"])
    rotated_seen = infer_with_spy(tmp_path, "rotated", [*common, "--out", str(rotated_preds), "--rotate-choices", "2"])

    # What reached the processor: silence of each clip's length (2 s at 16 kHz) / the real tones.
    assert len(silent_seen) >= 6 and all(c["peak"] == 0.0 and c["samples"] == 32000 for c in silent_seen)
    assert len(rotated_seen) >= 12 and all(c["peak"] > 0.25 and c["samples"] == 32000 for c in rotated_seen)
    rotated_rows = read_jsonl(rotated_preds)
    assert [r["id"] for r in rotated_rows[:2]] == ["item0@rot0", "item0@rot1"] and len(rotated_rows) == 12
    assert "['Woman', 'Child', 'Robot', 'Man']" in rotated_rows[1]["messages"][-1]["content"]  # asked rotated

    runs = tmp_path / "runs"
    for name, path in (("grpo-a-silent", silent_preds), ("grpo-a-rotated", rotated_preds)):
        converted = tmp_path / f"{name}.mmau.json"
        for step in [("eval.convert", "mmau", "--predictions", str(path), "--meta", str(meta), "--out", str(converted)),
                     ("eval.score", "mmau", "--input", str(converted), "--meta", str(meta),
                      "--output", str(runs / name / "mmau.json"))]:
            proc = run_module(*step)
            assert proc.returncode == 0, f"{step[0]} failed:\n{proc.stderr[-3000:]}"
    proc = run_module("eval.score", "mmau", "--input", str(tmp_path / "mmau_preds.json"), "--meta", str(meta),
                      "--silent-input", str(tmp_path / "grpo-a-silent.mmau.json"),
                      "--output", str(runs / "grpo-a" / "mmau.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "silent-audio control" in proc.stdout
    report_md = tmp_path / "report.md"
    proc = run_module("eval.report", "--results", str(runs), "--out", str(report_md), "--pair", "grpo-a:grpo-a-silent")
    assert proc.returncode == 0, proc.stderr[-3000:]

    normal = json.loads((runs / "grpo-a" / "mmau.json").read_text())
    silent = json.loads((runs / "grpo-a-silent" / "mmau.json").read_text())
    rotated = json.loads((runs / "grpo-a-rotated" / "mmau.json").read_text())
    control = normal["audio_control"]
    assert silent["control_run"] == "silence" and control["n_paired"] == 6
    assert control["without_audio"]["correct"] == silent["total"]["correct"]
    needs = [it for it in normal["items"] if not next(s for s in silent["items"] if s["id"] == it["id"])["correct"]]
    assert control["needs_audio"]["n"] == len(needs)
    co = rotated["choice_order"]
    assert co["rotations"] == 2 and co["circular"]["n"] == 6 and sum(f["n"] for f in co["by_gold_position"].values()) == 12
    assert rotated["total"]["correct"] == co["by_rotation"]["0"]["correct"]

    md = report_md.read_text()
    from eval.audio_control import summary_cells
    from eval.compare import compare, fmt_p

    assert " | ".join(summary_cells(normal)) in md  # the silent-audio figures, with their intervals
    assert "circular %" in md and fmt_accuracy(co["circular"]) in md
    paired = compare(normal, silent)["paper_columns"]["Avg"]
    line = next(x for x in md.splitlines() if x.startswith("| grpo-a → grpo-a-silent | MMAU Avg |"))
    assert fmt_p(paired["mcnemar_p"]) in line and "[" in line  # a paired difference with its interval and p
    # a small item set of its own (no official MMAU file): its own table, no paper row (eval.report)
    ours = next(x for x in md.splitlines() if x.startswith("| **grpo-a** |"))
    assert fmt_accuracy(normal["paper_columns"]["Avg"]) in ours  # the accuracy with its 95 % interval
