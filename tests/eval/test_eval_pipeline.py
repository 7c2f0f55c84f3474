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
from evalhelpers import REPO

from eval import infer
from eval.io import read_jsonl

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
    before = len(read_jsonl(out))
    assert 4 <= before < 12  # interrupted mid-way
    subprocess.run([sys.executable, str(script), str(out), "0"], check=True)
    got = read_jsonl(out)
    assert [r["id"] for r in got] == [f"q{i}" for i in range(12)]
    assert all(r["output"] == f"<answer>{r['id']}</answer>" for r in got)


def test_duplicate_input_ids_are_refused(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
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
