"""data_prep.preflight: every bad row named with its file, line and reason; nothing good dropped."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from audio_thinker.cli import run as cli_run
from data_prep import preflight


def clip(path, seconds=0.5, fmt=None):
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32"), 16000, format=fmt)
    return str(path)


def grpo_row(audio, sid):
    return {"messages": [{"role": "user", "content": "<audio>What is it? ['tone', 'noise']"}],
            "audios": [audio], "solution": "tone", "choices": ["tone", "noise"], "source_id": sid}


@pytest.fixture
def bad_set(tmp_path):
    """One good row, then one row per trap; returns (file, the exact expected problems)."""
    good = clip(tmp_path / "good.wav")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 8)  # a WAV header that is not one
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype="float32"), 16000)  # a valid header and no samples
    missing = str(tmp_path / "missing.wav")
    lines = [
        json.dumps(grpo_row(good, "s1")),                        # 1 good
        json.dumps(grpo_row(missing, "s2")),                     # 2 missing clip
        json.dumps(grpo_row(str(corrupt), "s3")),                # 3 corrupt clip
        json.dumps(grpo_row(str(empty), "s4")),                  # 4 no samples
        json.dumps(grpo_row(good, "s1")),                        # 5 source_id repeated
        '{"messages": [',                                        # 6 not JSON
        json.dumps({k: v for k, v in grpo_row(good, "s7").items() if k != "solution"}),  # 7 no solution
        json.dumps({**grpo_row(good, "s8"), "audios": "x.wav"}),  # 8 audios not a list
        "",                                                      # blank lines are skipped
        json.dumps(grpo_row(str(tmp_path), "s10")),              # 10 a directory
        json.dumps(grpo_row(good, "s11")),                       # 11 good
    ]
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(lines) + "\n")
    d = str(data)
    expected = [
        f"{d}:2: {missing}: no such file",
        f"{d}:3: {corrupt}: does not decode (LibsndfileError: Error in WAV file. No 'data' chunk marker)",
        f"{d}:4: {empty}: holds no audio samples",
        f"{d}:5: source_id 's1' repeats line 1",
        f"{d}:6: not JSON (Expecting value at column 15)",
        f"{d}:7: missing column 'solution'",
        f"{d}:8: 'audios' is not a non-empty list of paths",
        f"{d}:10: {tmp_path}: is a directory, not an audio file",
    ]
    return data, expected


def test_every_bad_row_is_one_line_and_the_set_is_refused(bad_set, capsys):
    data, expected = bad_set
    assert cli_run(preflight.main, [str(data)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == [f"error: {line}" for line in expected]
    assert err[-1] == (f"preflight: {data}: 10 row(s), 8 bad (header check); PREFLIGHT_DROP_BAD=1 makes the recipes "
                       "train on the good rows (this command's --clean-out FILE writes them)")


def test_clean_copy_keeps_the_good_lines_byte_for_byte_and_lists_the_dropped(bad_set, tmp_path, capsys):
    data, expected = bad_set
    clean = tmp_path / "run" / "clean.jsonl"
    assert cli_run(preflight.main, [str(data), "--clean-out", str(clean)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == [f"dropped: {line}" for line in expected]
    source = data.read_text().splitlines()
    assert clean.read_text().splitlines() == [source[0], source[10]]  # lines 1 and 11, unchanged
    dropped = [json.loads(x) for x in (tmp_path / "run" / "clean.jsonl.dropped.jsonl").read_text().splitlines()]
    assert [f"{r['data']}:{r['line']}: {r['problem']}" for r in dropped] == expected


def test_a_good_set_passes(tmp_path, capsys):
    data = tmp_path / "ok.jsonl"
    data.write_text("".join(json.dumps(grpo_row(clip(tmp_path / f"{i}.wav"), str(i))) + "\n" for i in range(3)))
    assert cli_run(preflight.main, [str(data), "--check", "full"]) == 0
    assert capsys.readouterr().err == f"preflight: {data}: 3 row(s), 0 bad (full check)\n"


def test_full_check_decodes_what_the_header_check_cannot_see(tmp_path):
    """A FLAC cut in half: its header still declares every sample; only decoding finds the cut."""
    whole = tmp_path / "whole.flac"
    clip(whole, seconds=4.0, fmt="FLAC")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(grpo_row(str(cut), "a")) + "\n")
    assert preflight.preflight(data, full=False).problems == []
    (problem,) = preflight.preflight(data, full=True).problems
    assert problem.line == 1 and problem.what.startswith(f"{cut}: does not decode (")


@pytest.mark.parametrize("kind, row, problem", [
    ("eval", {"messages": [{"role": "user", "content": "<audio>q"}], "audios": ["A"]}, "missing column 'id'"),
    ("sft", {"messages": [{"role": "user", "content": "<audio>q"}], "audios": ["A"]},
     "'messages' does not end with the assistant turn to train on"),
    ("grpo", {"messages": [{"role": "system", "content": "s"}], "audios": ["A"], "solution": "x"},
     "'messages' has no user turn"),
    ("grpo", {"messages": [{"role": "user", "content": "q"}], "audios": ["A"], "solution": " "},
     "'solution' is empty (the accuracy rewards compare against it)"),
])
def test_columns_each_consumer_reads(tmp_path, kind, row, problem):
    row = json.loads(json.dumps(row).replace('"A"', json.dumps(clip(tmp_path / "a.wav"))))
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(row) + "\n")
    assert [p.what for p in preflight.preflight(data, kind).problems] == [problem]


def test_relative_paths_resolve_like_ms_swift(tmp_path, monkeypatch):
    """Against the working directory, then $ROOT_IMAGE_DIR (swift.template.vision_utils._check_path)."""
    clip(tmp_path / "a.wav")
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(grpo_row("a.wav", "x")) + "\n")
    monkeypatch.chdir(tmp_path.parent)
    assert [p.what for p in preflight.preflight(data).problems] == ["a.wav: no such file"]
    monkeypatch.setenv("ROOT_IMAGE_DIR", str(tmp_path))
    assert preflight.preflight(data).problems == []


def test_a_hub_id_finds_its_audio_window_in_the_local_cache_offline(tmp_path, monkeypatch):
    """The pre-flight looks a hub id up where audio_thinker.model_source does (never the network)."""
    from data_prep.preflight import model_limits

    snapshot = tmp_path / "hf" / "models--Qwen--Qwen2-Audio-7B-Instruct" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot / "preprocessor_config.json").write_text(json.dumps({"n_samples": 480000, "sampling_rate": 16000}))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert model_limits("Qwen/Qwen2-Audio-7B-Instruct").max_seconds == 30.0
