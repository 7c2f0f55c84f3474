"""Rows that load but do not mean what they say, each alone in an otherwise clean file: the pre-flight's
header check names it (file, line, what), and AVQA prep rejects it where it can arise there, so that
prep's output always passes the pre-flight."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from audio_thinker.cli import run as cli_run
from audio_thinker.jsonl import read_jsonl
from data_prep import avqa, preflight
from tests.helpers.media import add_noise, encode, needs_ffmpeg, record, tone_bursts, write_annotations

TINY = "tiny-window"  # a model folder whose feature extractor keeps 5 s, as the tiny checkpoints' do


def tone(path, seconds, rate=16000):
    t = np.arange(int(rate * seconds)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32"), rate, subtype="PCM_16")
    return str(path)


def cut(path, source, keep_bytes):
    path.write_bytes(source.read_bytes()[:keep_bytes])
    return str(path)


def row(audio, sid, content="<audio>What is it? ['tone', 'noise']", solution="tone", choices=("tone", "noise"),
        audios=None):
    return {"messages": [{"role": "user", "content": content}], "audios": audios or [audio],
            "solution": solution, "choices": list(choices), "source_id": sid}


# name: (how row 2 of three is made, the extra command-line arguments, what the pre-flight says of it)
# `{clip}` in a message is the clip row 2 names; `{d}` the folder.
CASES = {
    # the first 60 bytes of a 2 s clip: a 44-byte header and 8 samples; libsndfile reads the 8
    "truncated_to_60_bytes": (lambda d, ok: row(cut(d / "c.wav", d / "two.wav", 60), "2"), [],
                              "{clip}: truncated: its header declares 32000 samples, the file holds 8"),
    # the first half of it: 1 s that is long enough, and still not the clip the row names
    "truncated_to_half": (lambda d, ok: row(cut(d / "c.wav", d / "two.wav", 44 + 32000), "2"), [],
                          "{clip}: truncated: its header declares 32000 samples, the file holds 16000"),
    # 800 samples: one audio token, which Qwen2-Audio's forward handles or not depending on the batch
    "shorter_than_the_encoder_needs": (lambda d, ok: row(tone(d / "c.wav", 0.05), "2"), [],
                                       "{clip}: 0.050 s, shorter than the 0.2 s the encoder needs to hear it "
                                       "(--min-seconds)"),
    # the tiny checkpoints' feature extractor keeps 5 s; the rest would be cut without notice
    "longer_than_the_models_window": (lambda d, ok: row(tone(d / "c.wav", 6.0), "2"), ["--model", "{d}/" + TINY],
                                      "{clip}: 6.000 s, longer than the model's 5 s audio window "
                                      "({d}/" + TINY + "/processor_config.json): the feature extractor keeps "
                                      "only its first 5 s (--too-long warn keeps the row)"),
    # a 7B backbone's window (30 s), given as a number
    "longer_than_30_s": (lambda d, ok: row(tone(d / "c.wav", 40.0, 8000), "2"), ["--max-seconds", "30"],
                         "{clip}: 40.0 s, longer than the model's 30 s audio window (--max-seconds): the "
                         "feature extractor keeps only its first 30 s (--too-long warn keeps the row)"),
    # every accuracy reward of the row is 0, forever
    "solution_not_a_choice": (lambda d, ok: row(ok, "2", solution="Tone burst"), [],
                              "'solution' 'Tone burst' is not one of the 'choices' (after normalisation): every "
                              "accuracy reward of this row would be 0"),
    # strict_match counts A, B and C all correct
    "choices_equal_after_normalising": (lambda d, ok: row(ok, "2", choices=("Tone", "tone", "Tone.")), [],
                                        "'choices' 'Tone' and 'tone' are the same answer after normalisation "
                                        "('tone'): the training matcher cannot tell them apart"),
    # ms-swift silently adds the second clip
    "two_clips_one_tag": (lambda d, ok: row(ok, "2", audios=[ok, ok]), [],
                          "1 <audio> tag for 2 clips in 'audios' (each clip needs its own tag: ms-swift adds an "
                          "untagged clip, and leaves a tag without a clip as text)"),
    # the second tag stays literal text
    "two_tags_one_clip": (lambda d, ok: row(ok, "2", content="<audio><audio>Same or different?"), [],
                          "2 <audio> tags for 1 clip in 'audios' (each clip needs its own tag: ms-swift adds an "
                          "untagged clip, and leaves a tag without a clip as text)"),
    # a concatenated file; the refusal must say how to train on the rest
    "repeated_source_id": (lambda d, ok: row(ok, "1"), [], "source_id '1' repeats line 1"),
}


@pytest.fixture
def folder(tmp_path):
    tone(tmp_path / "two.wav", 2.0)
    (tmp_path / TINY).mkdir()
    # what the window check reads of a model folder: its feature extractor's settings (the tiny checkpoints'
    # own; tests/core/test_clips.py checks that they keep 5 s)
    (tmp_path / TINY / "processor_config.json").write_text(json.dumps(
        {"feature_extractor": {"chunk_length": 5, "n_samples": 80000, "sampling_rate": 16000}}))
    return tmp_path


@pytest.mark.parametrize("name", CASES)
def test_the_header_check_names_the_row(folder, capsys, name):
    make, extra, says = CASES[name]
    ok = tone(folder / "ok.wav", 1.5)
    data = folder / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in [row(ok, "1"), make(folder, ok), row(ok, "3")]))
    args = [a.replace("{d}", str(folder)) for a in extra]
    assert cli_run(preflight.main, [str(data), "--check", "header", *args]) == 2
    err = capsys.readouterr().err.splitlines()
    expected = says.replace("{clip}", str(folder / "c.wav")).replace("{d}", str(folder))
    assert err == [f"error: {data}:2: {expected}",
                   f"preflight: {data}: 3 row(s), 1 bad (header check); PREFLIGHT_DROP_BAD=1 makes the recipes "
                   "train on the good rows (this command's --clean-out FILE writes them)"]


def test_a_long_clip_can_be_kept_with_a_warning(folder, capsys):
    data = folder / "train.jsonl"
    data.write_text(json.dumps(row(tone(folder / "c.wav", 6.0), "1")) + "\n")
    assert cli_run(preflight.main, [str(data), "--model", str(folder / TINY), "--too-long", "warn"]) == 0
    warning, summary = capsys.readouterr().err.splitlines()
    assert warning.startswith(f"warning: {data}:1: {folder / 'c.wav'}: 6.000 s, longer than the model's 5 s")
    assert summary == f"preflight: {data}: 1 row(s), 0 bad (header check)"


@pytest.mark.parametrize("model_type, status", [("qwen3_omni_moe", 0), ("qwen2_5_omni", 2)])
def test_the_window_rule_follows_the_backbone(tmp_path, capsys, tiny_checkpoints, model_type, status):
    """A 31 s clip with the same 30 s feature extractor: Qwen3-Omni hears it whole (ms-swift does not
    truncate its audio), Qwen2.5-Omni keeps 30 s of it, so the pre-flight refuses it there."""
    source = tiny_checkpoints / "qwen3-omni"
    model = tmp_path / "model"
    model.mkdir()
    shutil.copy(source / "processor_config.json", model / "processor_config.json")
    config = json.loads((source / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "model_type": model_type}))
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(row(tone(tmp_path / "c.wav", 31.0, 8000), "1")) + "\n")
    assert cli_run(preflight.main, [str(data), "--model", str(model)]) == status
    err = capsys.readouterr().err
    assert ("longer than the model's 30 s audio window" in err) is (status == 2), err


@pytest.mark.parametrize("seconds, ok", [
    (1.0, True), (4.0, True),   # what a synthetic task writes: accepted
    (0.2, True),                # the default minimum itself
    (0.19, False),              # just under it
])
def test_clean_short_clips_pass(tmp_path, seconds, ok):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(row(tone(tmp_path / "a.wav", seconds), "1")) + "\n")
    assert (preflight.preflight(data).problems == []) is ok


# ----------------------------------------------------------------------------- AVQA prep
def _video(folder, name, seconds):
    sig, on = tone_bursts(16000, seconds)
    return encode(folder / name, add_noise(sig, on, 25.0, seed=1), 16000, "pcm", video=False)


# id, video, choices, what AVQA prep does with it (None: kept)
AVQA_CASES = [
    (1, "a.wav", ("boat", "car"), None),
    (2, "a.wav", ("boat", "car"), None),
    (2, "a.wav", ("bus", "car"), "duplicate_id"),          # the pre-flight's "source_id '2' repeats line 2"
    (4, "a.wav", ("Tone", "tone", "Tone."), "duplicate_choices"),
    (5, "long.wav", ("boat", "car"), "too_long"),          # 31 s: over the default --max-seconds 30
]


@needs_ffmpeg
def test_avqa_prep_rejects_what_the_preflight_would_refuse(tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    _video(videos, "a.wav", 2.0)
    _video(videos, "long.wav", 31.0)
    ann = write_annotations(tmp_path / "qa.json", [record(rid, name, choices=c) for rid, name, c, _ in AVQA_CASES])
    out = tmp_path / "out"
    avqa.run(videos, [ann], out, workers=1, progress=False)
    kept, rejects = read_jsonl(out / "train.jsonl"), read_jsonl(out / "rejects.jsonl")
    assert [r["source_id"] for r in kept] == [rid for rid, _, _, why in AVQA_CASES if why is None]
    assert [(r["index"], r["reason"]) for r in rejects] == [(i, why) for i, (_, _, _, why) in enumerate(AVQA_CASES)
                                                           if why]
    assert all(r["message"] for r in rejects)
    assert json.loads((out / "summary.json").read_text())["rejected"]["duplicate_id"] == 1
    # what it kept passes the pre-flight, with the 7B backbones' window
    capsys.readouterr()
    assert cli_run(preflight.main, [str(out / "train.jsonl"), "--max-seconds", "30"]) == 0, capsys.readouterr().err
