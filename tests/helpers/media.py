"""Helpers for the data-prep tests: real media made
with real encoders (ffmpeg CLI, espeak-ng). Clips are tiny (seconds, 32x32 black video) to keep tests fast."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

FFMPEG = shutil.which("ffmpeg")
ESPEAK = shutil.which("espeak-ng")

needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg CLI not installed")

# container extension -> (audio codec args, sample rate the codec is fed)
CODECS = {
    "aac": ["-c:a", "aac", "-b:a", "96k"],
    "opus": ["-c:a", "libopus", "-b:a", "64k"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
    "flac": ["-c:a", "flac"],
    "pcm": ["-c:a", "pcm_s16le"],
}


def tone_bursts(rate: int, seconds: float, freq: float = 440.0, amp: float = 0.3,
                period: float = 0.6, duty: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A tone switched on and off (an 'event' with pauses) and its on-mask."""
    t = np.arange(int(rate * seconds)) / rate
    on = (t % period) < period * duty
    return amp * np.sin(2 * np.pi * freq * t) * on, on


def add_noise(signal: np.ndarray, active: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """White noise at ``snr_db`` = signal power over the active part / noise power."""
    rng = np.random.default_rng(seed)
    p_signal = float(np.mean(signal[active] ** 2))
    p_noise = p_signal / 10 ** (snr_db / 10)
    return signal + rng.normal(0.0, np.sqrt(p_noise), len(signal))


def speech(text: str, path: Path) -> tuple[np.ndarray, int]:
    """espeak-ng speech, float mono, with its own sample rate."""
    subprocess.run([ESPEAK, "-w", str(path), text], check=True, capture_output=True)
    data, rate = sf.read(path, dtype="float64")
    return data, rate


def encode(path: Path, audio: np.ndarray | None, rate: int, codec: str = "aac",
           video: bool = True, seconds: float | None = None) -> Path:
    """Write ``audio`` ((n,) mono or (n, ch)) into a container with a tiny black video
    stream, through the ffmpeg CLI and the given real encoder."""
    path = Path(path)
    cmd = [FFMPEG, "-nostdin", "-loglevel", "error", "-y"]
    if audio is not None:
        wav = path.with_name(path.name + ".src.wav")
        sf.write(wav, audio, rate, subtype="FLOAT")
        cmd += ["-i", str(wav)]
        seconds = len(audio) / rate
    if video:
        cmd += ["-f", "lavfi", "-i", f"color=c=black:s=32x32:r=5:d={seconds}"]
        cmd += ["-c:v", "libx264" if path.suffix in (".mp4", ".mkv", ".mov") else "libvpx",
                "-pix_fmt", "yuv420p"]
        if path.suffix == ".webm":
            cmd += ["-c:v", "libvpx", "-b:v", "50k", "-deadline", "realtime"]
    if audio is not None:
        # libopus only encodes at 8/12/16/24/48 kHz: resample anything else to 48 kHz
        out_rate = 48000 if codec == "opus" and rate not in (8000, 12000, 16000, 24000, 48000) else rate
        cmd += CODECS[codec] + ["-ar", str(out_rate)]
    cmd += ["-shortest", str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
    if audio is not None:
        wav.unlink()
    return path


def write_annotations(path: Path, records: list) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def record(rid, video_name, question="What happened in the video?", choices=("boat", "car"), answer=0):
    return {"id": rid, "video_name": video_name, "question_text": question,
            "multi_choice": list(choices), "answer": answer,
            "question_relation": "View", "question_type": "Happening"}


def good_clip_audio() -> tuple[np.ndarray, int]:
    """3 s stereo 48 kHz tone bursts at 25 dB SNR (kept by the filters)."""
    rate = 48000
    sig, on = tone_bursts(rate, 3.0)
    mono = add_noise(sig, on, 25.0, seed=1)
    return np.stack([mono, mono], axis=1), rate
