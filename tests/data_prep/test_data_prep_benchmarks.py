"""Benchmark converters on the real MMAU/MMAR metadata (with generated tiny WAVs)
and a hand-made AIR-Bench Foundation meta."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_thinker.jsonl import read_jsonl
from data_prep.benchmarks import convert
from tests.helpers.paths import REPO, SHARED

BENCHMARKS = SHARED / "benchmarks"  # the shared data folder beside the checkout, as in CI
REAL = [("mmau", "mmau-test-mini.json", "audio_id"), ("mmau", "mmau-test-mini-v0325.json", "audio_id"),
        ("mmar", "MMAR-meta.json", "audio_path")]
TINY = np.zeros(4000, dtype=np.int16)  # 0.25 s of silence: just over the 0.2 s the encoder needs


def lay_out(tmp: Path, meta_name: str, key: str, skip: int = 0) -> Path:
    """Copy a real metadata file and create a tiny WAV for every referenced path
    but the first ``skip`` ones."""
    meta = tmp / meta_name
    meta.write_bytes((BENCHMARKS / meta_name).read_bytes())
    for rec in json.loads(meta.read_text())[skip:]:
        wav = tmp / rec[key]
        wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(wav, TINY, 16000, subtype="PCM_16")
    return meta


@pytest.mark.skipif(not BENCHMARKS.is_dir(), reason="shared benchmark metadata not present")
@pytest.mark.parametrize("bench,meta_name,key", REAL)
def test_real_metadata_converts_every_item(tmp_path, bench, meta_name, key):
    meta = lay_out(tmp_path, meta_name, key)
    out = tmp_path / f"{bench}.jsonl"
    summary = convert(bench, meta, out)
    rows = read_jsonl(out)
    source = json.loads(meta.read_text())
    assert summary["items"] == summary["written"] == len(rows) == len(source) == 1000
    assert summary["missing"] == 0
    assert [r["id"] for r in rows] == [s["id"] for s in source]  # ids kept, order kept
    for row, src in zip(rows, source):
        assert row["messages"][0]["content"].startswith("<audio>" + src["question"].strip())
        assert Path(row["audios"][0]).is_absolute() and Path(row["audios"][0]).is_file()
        assert row["solution"] == src["answer"] and row["choices"] == src["choices"]
        assert row["benchmark"] == bench and row["audio_ref"] == src[key]
    if bench == "mmau":
        assert all(isinstance(r["category"], str) for r in rows)  # 13 one-item lists unwrapped
        assert {r["task"] for r in rows} == {"sound", "music", "speech"}
        assert all(r["difficulty"] and r["sub-category"] for r in rows)
    else:
        assert summary["answer_not_in_choices"] == 6  # known MMAR-meta.json quirk, kept and flagged
        assert len({r["modality"] for r in rows}) == 7


@pytest.mark.skipif(not BENCHMARKS.is_dir(), reason="shared benchmark metadata not present")
def test_missing_audio_is_listed_and_fails_unless_allowed(tmp_path):
    meta = lay_out(tmp_path, "MMAR-meta.json", "audio_path", skip=3)
    out = tmp_path / "mmar.jsonl"
    cmd = [sys.executable, "-m", "data_prep.benchmarks", "mmar", "--meta", str(meta), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    first = json.loads(meta.read_text())[:3]
    starts = [n for n, line in enumerate(meta.read_text().splitlines(), 1) if line == "    {"][:3]   # indented JSON
    assert proc.returncode == 2, proc.stderr
    # one line per clip, naming the metadata file and line, the item and the clip, then what to do
    assert proc.stderr.splitlines() == [
        *(f"error: {meta}:{at}: item {r['id']!r}: {tmp_path / r['audio_path']}: no such file"
          for r, at in zip(first, starts)),
        f"error: 3 audio file(s) missing or unusable, listed in {out}.missing.jsonl; no rows written "
        "(use --allow-missing)"]
    assert not out.exists()
    missing = read_jsonl(tmp_path / "mmar.jsonl.missing.jsonl")
    assert [m["id"] for m in missing] == [r["id"] for r in first]
    proc = subprocess.run(cmd + ["--allow-missing"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0
    summary = json.loads(proc.stdout)
    assert (summary["items"], summary["written"], summary["missing"]) == (1000, 997, 3)
    assert len(read_jsonl(out)) == 997


def test_audio_root_may_be_the_audio_folder_itself(tmp_path):
    (tmp_path / "wavs").mkdir()
    sf.write(tmp_path / "wavs" / "x1.wav", TINY, 16000)
    meta = tmp_path / "m.json"
    meta.write_text(json.dumps([{"id": "x1", "audio_id": "./test-mini-audios/x1.wav", "question": "Q?",
                                 "choices": ["a", "b"], "answer": "a", "category": ["Reasoning"]}]))
    convert("mmau", meta, tmp_path / "o.jsonl", audio_root=tmp_path / "wavs")
    (row,) = read_jsonl(tmp_path / "o.jsonl")
    assert row["audios"] == [str((tmp_path / "wavs" / "x1.wav").resolve())]
    assert row["category"] == "Reasoning"


AIR_META = [
    {"path": "a1.wav", "question": "What is the sound?", "choice_a": "dog", "choice_b": "cat",
     "choice_c": "bird", "choice_d": "cow", "answer_gt": "cat", "task_name": "Sound_AQA",
     "dataset_name": "avqa", "uniq_id": 101},
    {"path": "m/b2.wav", "question": "Which instrument?", "choice_a": "piano", "choice_b": "violin",
     "answer_gt": "piano", "task_name": "Music_AQA", "dataset_name": "MusicQA", "uniq_id": 102},  # c, d absent
    {"path": "c3.wav", "question": "Emotion?", "choice_a": "happy", "choice_b": "sad", "choice_c": "",
     "choice_d": None, "answer_gt": "sad", "task_name": "Speaker_Emotion_Recontion",
     "dataset_name": "iemocap", "uniq_id": 103},                                                   # c, d empty
]


def test_air_bench_foundation_layout(tmp_path):
    foundation = tmp_path / "Foundation"
    for rec in AIR_META:
        wav = foundation / f"{rec['task_name']}_{rec['dataset_name']}" / rec["path"]
        wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(wav, TINY, 16000)
    meta = foundation / "Foundation_meta.json"
    meta.write_text(json.dumps(AIR_META))
    summary = convert("air", meta, tmp_path / "air.jsonl")
    rows = read_jsonl(tmp_path / "air.jsonl")
    assert summary["written"] == 3 and [r["id"] for r in rows] == [101, 102, 103]
    assert rows[0]["choices"] == ["dog", "cat", "bird", "cow"] and rows[0]["solution"] == "cat"
    assert rows[1]["choices"] == ["piano", "violin"] and rows[2]["choices"] == ["happy", "sad"]
    assert rows[0]["subset"] == "Sound_AQA_avqa" and rows[0]["train_overlap"] is True
    assert rows[1]["train_overlap"] is False
    assert rows[1]["audios"][0].endswith("Foundation/Music_AQA_MusicQA/m/b2.wav")


def test_invalid_record_is_an_error(tmp_path):
    meta = tmp_path / "m.json"
    good = {"id": "w", "audio_path": "a.wav", "question": "Q", "choices": ["a", "b"], "answer": "a"}
    meta.write_text(json.dumps([good, {**good, "id": "x", "choices": ["a"]}]))
    proc = subprocess.run([sys.executable, "-m", "data_prep.benchmarks", "mmar", "--meta", str(meta),
                           "--out", str(tmp_path / "o.jsonl")], capture_output=True, text=True, cwd=REPO)
    # named by the line and column it starts on (one line holds both), as every command names a record (it was
    # "record 1", then "item 2")
    column = meta.read_text().index('{"id": "x"') + 1
    assert proc.returncode == 2 and f"m.json:1:{column}: not mmar metadata: 'x': needs >= 2 string choices" in proc.stderr
