"""AVQA extraction on real media made by real encoders."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from audio_thinker.jsonl import read_jsonl
from data_prep import avqa
from data_prep.audio import decode_mono_16k
from tests.helpers.media import ESPEAK, add_noise, encode, needs_ffmpeg, record, speech, tone_bursts, write_annotations
from tests.helpers.paths import REPO

pytestmark = needs_ffmpeg


def read_wav(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        data = np.frombuffer(w.readframes(params.nframes), dtype="<i2")
    return params, data


def check_accounting(out: Path, n_input: int) -> tuple[list[dict], list[dict]]:
    kept, rejects = read_jsonl(out / "train.jsonl"), read_jsonl(out / "rejects.jsonl")
    summary = json.loads((out / "summary.json").read_text())
    assert len(kept) + len(rejects) == n_input == summary["input"]
    assert summary["kept"] == len(kept) and summary["rejected_total"] == len(rejects)
    assert {r["reason"] for r in rejects} <= set(avqa.REJECT_REASONS)
    assert not list((out / "audio").glob(".tmp-*"))
    return kept, rejects


# ----------------------------------------------------------------------------- formats
FORMATS = [
    # name,            codec,  source rate  (stereo in every case)
    ("clip.mp4",       "aac",  44100),
    ("clip48.mp4",     "aac",  48000),
    ("clip.webm",      "opus", 48000),
    ("clip.mkv",       "mp3",  44100),
    ("clip_flac.mkv",  "flac", 48000),  # lossless: sample count exact
]


@pytest.mark.parametrize("name,codec,rate", FORMATS)
def test_real_encoders_give_mono_16k_pcm16(tmp_path, name, codec, rate):
    sig, on = tone_bursts(rate, 2.5)
    mono = add_noise(sig, on, 25.0)
    videos = tmp_path / "videos"
    videos.mkdir()
    encode(videos / name, np.stack([mono, mono], axis=1), rate, codec)
    ann = write_annotations(tmp_path / "train_qa.json", [record(7, Path(name).stem)])
    summary = avqa.run(videos, [ann], tmp_path / "out", workers=1, progress=False)
    assert summary.kept == 1, read_jsonl(tmp_path / "out" / "rejects.jsonl")
    (row,) = read_jsonl(tmp_path / "out" / "train.jsonl")
    params, data = read_wav(Path(row["audios"][0]))
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 16000)
    assert params.nframes == len(data)
    assert abs(params.nframes / 16000 - row["duration_s"]) < 1e-3
    # encoder priming/padding (AAC 1024, MP3 1105 samples) is the only slack
    assert 2.5 - 0.005 <= params.nframes / 16000 <= 2.5 + 0.05
    if codec == "flac":
        assert params.nframes == 2.5 * 16000
    assert 0.25 < np.abs(data).max() / 32768 < 0.45  # the 0.3 tone, not attenuated


def test_mixdown_is_mean_of_channels_not_first_channel(tmp_path):
    rate = 44100
    sig, on = tone_bursts(rate, 2.0, amp=0.5)
    left, right = add_noise(sig, on, 40.0), np.zeros_like(sig)
    for name, codec in [("lr.mkv", "flac"), ("lr.mp4", "aac")]:
        path = encode(tmp_path / name, np.stack([left, right], axis=1), rate, codec)
        decoded = decode_mono_16k(path)
        assert decoded.source_channels == 2 and decoded.source_rate == rate
        peak = np.percentile(np.abs(decoded.samples), 99.9)
        assert 0.22 < peak < 0.28, (name, peak)  # half of 0.5; the left channel alone would be 0.5
    # and right-only is the same as left-only (no channel preference)
    path = encode(tmp_path / "rl.mkv", np.stack([right, left], axis=1), rate, "flac")
    assert 0.22 < np.percentile(np.abs(decode_mono_16k(path).samples), 99.9) < 0.28


@pytest.mark.skipif(ESPEAK is None, reason="espeak-ng not installed")
def test_espeak_speech_in_webm_is_kept(tmp_path):
    voice, rate = speech("The boat sails past the harbour. Then a horn sounds twice.", tmp_path / "s.wav")
    gap = np.zeros(int(0.5 * rate))
    clean = np.concatenate([gap, voice, gap])
    noisy = add_noise(clean, np.abs(clean) > 1e-3, 25.0)
    videos = tmp_path / "videos"
    videos.mkdir()
    encode(videos / "talk.webm", np.stack([noisy, noisy], axis=1), rate, "opus")
    ann = write_annotations(tmp_path / "a.json", [record("s1", "talk")])
    assert avqa.run(videos, [ann], tmp_path / "out", progress=False).kept == 1


# ----------------------------------------------------------------------------- broken inputs
@pytest.fixture()
def zoo(tmp_path, good_clip_audio):
    """A video folder holding one of every kind of trouble, and annotations for it."""
    audio, rate = good_clip_audio
    v = tmp_path / "videos"
    v.mkdir()
    encode(v / "good.mp4", audio, rate, "aac")
    encode(v / "café ünïcode.mkv", audio, rate, "mp3")       # non-ASCII name
    encode(v / "with space.webm", audio, rate, "opus")        # space in name
    encode(v / "short.mp4", audio[: rate * 1], rate, "aac")   # 1 s clip
    encode(v / "silence.mp4", np.zeros((rate * 3, 2)), rate, "aac")
    noise = np.random.default_rng(3).normal(0, 0.1, (rate * 3, 2))
    encode(v / "noise.mp4", noise, rate, "aac")                # steady noise: low SNR
    encode(v / "novideo_audio.mkv", None, rate, video=True, seconds=2)  # video, no audio stream
    full = encode(tmp_path / "full.mp4", audio, rate, "aac")  # moov atom at the end
    data = full.read_bytes()
    (v / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (v / "garbage.mp4").write_bytes(b"not a video at all" * 100)
    records = [
        record(1, "good"),
        record(2, "café ünïcode"),
        record(3, "with space"),
        record(4, "short"),
        record(5, "silence"),
        record(6, "noise"),
        record(7, "novideo_audio"),
        record(8, "truncated"),
        record(9, "garbage"),
        record(10, "no_such_video"),                               # annotation -> missing file
        {"id": 11, "video_name": "good"},                          # malformed: fields missing
        record(12, "good", answer=5),                              # malformed: answer out of range
        record(13, "good", choices=["only one"]),                  # malformed: one choice
        "not an object",                                           # malformed: not a record
        record(15, "../good"),                                     # malformed: path in video_name
        record(16, "good", question="Is the VIDEO longer than two frames?"),  # shares good.mp4
    ]
    return v, write_annotations(tmp_path / "train_qa.json", records), records


EXPECTED = {  # source_id -> outcome
    1: "kept", 2: "kept", 3: "kept", 4: "too_short", 5: "low_snr", 6: "low_snr",
    7: "no_audio_stream", 8: "undecodable", 9: "undecodable", 10: "missing_video",
    11: "bad_annotation", 12: "bad_annotation", 13: "bad_annotation", None: "bad_annotation",
    15: "bad_annotation", 16: "kept",
}


def test_every_broken_input_lands_in_rejects_with_its_reason(zoo, tmp_path):
    videos, ann, records = zoo
    out = tmp_path / "out"
    summary = avqa.run(videos, [ann], out, workers=2, progress=False)
    kept, rejects = check_accounting(out, len(records))
    outcomes = {r["source_id"]: "kept" for r in kept}
    outcomes.update({r["source_id"]: r["reason"] for r in rejects})
    assert outcomes == EXPECTED
    assert all(r["message"] for r in rejects)
    assert [r["index"] for r in rejects] == sorted(r["index"] for r in rejects)  # input order
    assert [r["source_id"] for r in kept] == [1, 2, 3, 16]
    assert summary.rejected["bad_annotation"] == 5 and summary.kept == 4
    # questions 1 and 16 share one WAV; odd names get portable file names
    assert kept[0]["audios"] == kept[3]["audios"]
    names = sorted(p.name for p in (out / "audio").iterdir())
    assert len(names) == 3 and all(n.isascii() and " " not in n for n in names)
    assert kept[3]["question"] == "Is the AUDIO longer than two segments?"
    assert kept[3]["messages"][0]["content"].startswith("<audio>Is the AUDIO longer")
    assert kept[0]["solution"] == "boat" and kept[0]["choices"] == ["boat", "car"]
    snr = {r["source_id"]: r for r in rejects}
    assert snr[5]["message"].startswith("silent") and snr[6]["snr_db"] < 10
    assert snr[4]["duration_s"] < 1.5


def test_cli_reports_counts_and_reruns_without_work(zoo, tmp_path):
    videos, ann, records = zoo
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "data_prep.avqa", "--video-dir", str(videos), "--annotations", str(ann),
           "--out-dir", str(out), "--workers", "1", "--no-progress"]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=True)
    assert "input 16: kept 4, rejected 12" in first.stdout
    before = {p.name: p.stat().st_mtime_ns for p in (out / "audio").iterdir()}
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=True)
    assert "0 videos processed now, 9 from journal" in second.stdout
    assert {p.name: p.stat().st_mtime_ns for p in (out / "audio").iterdir()} == before
    check_accounting(out, len(records))


def test_unreadable_annotation_file_is_an_error_not_a_crash(tmp_path):
    (tmp_path / "v").mkdir()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json\n[also not")
    proc = subprocess.run([sys.executable, "-m", "data_prep.avqa", "--video-dir", str(tmp_path / "v"),
                           "--annotations", str(bad), "--out-dir", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "error:" in proc.stderr


# ----------------------------------------------------------------------------- kill and resume
N_MANY = 160

@pytest.fixture(scope="module")
def many_clips(tmp_path_factory):
    """N_MANY 2 s clips (AAC in mp4), every fourth one noisy (rejected): enough
    work (a few seconds) for a kill to land mid-run."""
    root = tmp_path_factory.mktemp("many")
    v = root / "videos"
    v.mkdir()
    rate = 44100
    sig, on = tone_bursts(rate, 2.0)
    records = []
    base_good = encode(root / "g.mp4", np.stack([add_noise(sig, on, 30.0)] * 2, axis=1), rate, "aac")
    base_bad = encode(root / "b.mp4", np.stack([add_noise(sig, on, 2.0)] * 2, axis=1), rate, "aac")
    for i in range(N_MANY):
        shutil.copy(base_bad if i % 4 == 3 else base_good, v / f"clip{i:03d}.mp4")
        records.append(record(i, f"clip{i:03d}"))
    return v, write_annotations(root / "train_qa.json", records), records


def test_sigkill_mid_run_then_resume_equals_clean_run(many_clips, tmp_path):
    videos, ann, records = many_clips
    clean, resumed = tmp_path / "clean", tmp_path / "resumed"
    avqa.run(videos, [ann], clean, workers=1, progress=False)

    cmd = [sys.executable, "-m", "data_prep.avqa", "--video-dir", str(videos),
           "--annotations", str(ann), "--out-dir", str(resumed), "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    journal = resumed / "journal.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if journal.exists() and journal.read_text().count("\n") >= 10:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    n_done = journal.read_text().count("\n")
    assert 10 <= n_done < len(records), "the kill must land mid-run"
    assert not (resumed / "train.jsonl").exists()

    summary = avqa.run(videos, [ann], resumed, workers=2, progress=False)
    assert summary.videos_from_journal >= 10
    assert summary.videos_processed_now == len(records) - summary.videos_from_journal
    for name in ("train.jsonl", "rejects.jsonl", "summary.json"):
        a = (clean / name).read_text().replace(str(clean.resolve()), "OUT")
        b = (resumed / name).read_text().replace(str(resumed.resolve()), "OUT")
        assert a == b, name
    wavs = sorted(p.name for p in (clean / "audio").iterdir())
    assert wavs == sorted(p.name for p in (resumed / "audio").iterdir()) and len(wavs) == N_MANY * 3 // 4
    for w in wavs:
        assert (clean / "audio" / w).read_bytes() == (resumed / "audio" / w).read_bytes()
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    assert len({x["video_name"] for x in lines}) == len(records)  # every video once...
    assert len(lines) <= len(records) + 2  # ...save what was in flight at the kill


@pytest.mark.parametrize("to_group", [True, False])  # `kill -TERM -PGID` / `timeout`; `kill PID`
def test_sigterm_stops_with_one_line_and_no_worker_tracebacks(many_clips, tmp_path, to_group):
    """SIGTERM used to kill the main process alone: the workers then wrote into a closed pipe
    (BrokenPipeError tracebacks) and the pool's semaphores leaked (resource_tracker warnings)."""
    videos, ann, records = many_clips
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "data_prep.avqa", "--video-dir", str(videos), "--annotations", str(ann),
           "--out-dir", str(out), "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    journal = out / "journal.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (journal.exists() and journal.read_text().count("\n") >= 10):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGTERM) if to_group else proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    done = journal.read_text().count("\n")
    assert done < len(records), "the signal must land mid-run"
    assert err.splitlines() == [f"stopped: {done} video result(s) kept in {journal}; the same command resumes "
                                "from there"]
    assert proc.returncode == 128 + signal.SIGTERM


def test_batch_tasks_cover_every_task_in_order_largest_first():
    from data_prep.avqa import batch_tasks
    for n, workers in [(0, 2), (1, 2), (7, 2), (300, 2), (1000, 4)]:
        batches = batch_tasks(list(range(n)), workers)
        assert [t for b in batches for t in b] == list(range(n))
        sizes = [len(b) for b in batches]
        assert all(1 <= s <= 16 for s in sizes) and sizes == sorted(sizes, reverse=True)
        if n:
            assert sizes[-1] == 1  # the workers finish together
