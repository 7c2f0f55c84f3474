"""What the backbones' audio encoders can hear: how many tokens a clip becomes, the shortest clip the
pre-flight accepts, the longest the model's feature extractor keeps, and what a WAV file's header says
(docs/bad-input.md, "Clips the model can hear"; docs/backbones.md). Standard library only.

All three backbones feed a Whisper feature extractor: 16 kHz, one mel frame per 160 samples (the
attention mask is the sample mask taken every 160th sample, so a clip of ``n`` samples has
``ceil(n / 160)`` frames). What the encoder makes of the frames differs:

- Qwen2-Audio and Qwen2.5-Omni's thinker: a stride-2 convolution and a stride-2 average pool
  (``_get_feat_extract_output_lengths`` in transformers' ``modeling_qwen2_audio`` and
  ``modeling_qwen2_5_omni``, the same two lines): 25 tokens per second, and the processor cuts every clip
  at the feature extractor's window (30 s in the released models);
- Qwen3-Omni's thinker: windows of ``2 * n_window`` frames (100 = 1 s), 13 tokens per full window and three
  stride-2 convolutions over the rest (``_get_feat_extract_output_lengths`` in ``modeling_qwen3_omni_moe``):
  about 13 tokens per second; ms-swift's ``qwen3_omni`` template turns the extractor's truncation off, so
  a clip longer than the window is heard whole (and costs its tokens).

Why the minimum is 0.2 s and not "one token":

- fewer than 321 samples (0.02 s) give 0 tokens: nothing to hear;
- 321 to 960 samples (up to 0.06 s) give exactly 1 token. transformers' Qwen2-Audio takes a batch whose
  prompts hold no two adjacent audio tokens for *unexpanded* prompts (its "legacy" merge), and that path
  dies (``TypeError: 'NoneType' object is not subscriptable``); beside a longer clip the same row goes
  through the other path. A one-token clip therefore fails or not depending on its batch;
- 0.2 s (3,200 samples) gives 5 tokens: 3x the two tokens that are needed, still far below any clip a
  data set means (AVQA prep keeps 1.5 s and more; synthetic tasks use 1-4 s).

Qwen3-Omni has no two-token condition (every non-empty window gives a token); 0.2 s gives it 3 tokens, and
the same 0.2 s minimum keeps one rule for a data set whichever backbone trains on it.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 16_000  # what the feature extractor resamples every clip to
HOP = 160  # samples per mel frame
MIN_SECONDS = 0.2  # the pre-flight's default minimum; see the module docstring
MIN_TOKENS = 2  # fewer and Qwen2-Audio's forward depends on the batch (module docstring)
QWEN3_OMNI = "qwen3_omni_moe"  # ms-swift's model_type and the checkpoint's config.json model_type
QWEN3_OMNI_N_WINDOW = 50  # its audio encoder's n_window (half a window of mel frames) in the released model
QWEN3_OMNI_TOKENS_PER_WINDOW = 13  # three stride-2 convolutions over 100 frames: ceil(ceil(ceil(100/2)/2)/2)
UNTRUNCATED = (QWEN3_OMNI,)  # model types whose clips ms-swift hands to the encoder whole


def mel_frames(samples: int, hop: int = HOP) -> int:
    """Mel frames the Whisper feature extractor's attention mask counts for ``samples`` (at 16 kHz)."""
    return -(-int(samples) // hop)


def audio_tokens(frames: int) -> int:
    """Audio tokens the encoder emits for ``frames`` mel frames (conv stride 2, then avg-pool 2)."""
    return max(0, (((int(frames) - 1) // 2 + 1) - 2) // 2 + 1)


def qwen3_omni_audio_tokens(frames: int, n_window: int = QWEN3_OMNI_N_WINDOW) -> int:
    """Audio tokens Qwen3-Omni's encoder emits for ``frames`` mel frames: 13 per full window of
    ``2 * n_window`` frames, and three stride-2 convolutions over the remainder (0 frames: 0 tokens)."""
    window = 2 * n_window
    rest = int(frames) % window
    for _ in range(3):
        rest = -(-rest // 2)
    return rest + (int(frames) // window) * QWEN3_OMNI_TOKENS_PER_WINDOW


def tokens_for_frames(frames: int, model_type: str | None = None, n_window: int = QWEN3_OMNI_N_WINDOW) -> int:
    """Audio tokens of ``frames`` mel frames on the backbone ``model_type`` (ms-swift's name; None or any
    other: the Qwen2-Audio / Qwen2.5-Omni encoder)."""
    return qwen3_omni_audio_tokens(frames, n_window) if model_type == QWEN3_OMNI else audio_tokens(frames)


def tokens_for_seconds(seconds: float, model_type: str | None = None) -> int:
    """Audio tokens of a clip of ``seconds`` (at any sample rate: the extractor resamples to 16 kHz) on
    ``model_type`` (see ``tokens_for_frames``)."""
    return tokens_for_frames(mel_frames(round(seconds * SAMPLE_RATE)), model_type)


# ----------------------------------------------------------------------------- the model's audio window
FEATURE_FILES = ("preprocessor_config.json", "processor_config.json")


def model_type(model_dir: str | os.PathLike) -> str | None:
    """The ``model_type`` of the checkpoint's ``config.json`` (``qwen2_audio``, ``qwen2_5_omni``,
    ``qwen3_omni_moe``), or None when there is no readable one."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = config.get("model_type") if isinstance(config, dict) else None
    return found if isinstance(found, str) else None


def audio_window(model_dir: str | os.PathLike) -> tuple[float | None, Path] | None:
    """(seconds, file) of the longest clip the model hears whole: its feature extractor's ``n_samples`` /
    ``sampling_rate`` (else ``chunk_length``), from ``preprocessor_config.json`` or the ``feature_extractor``
    entry of ``processor_config.json``; 30 s for the 7B backbones. Seconds is None for a backbone whose
    clips are not truncated (Qwen3-Omni, read from ``config.json``): no window applies. None when no
    feature-extractor file is there."""
    if model_type(model_dir) in UNTRUNCATED:
        found = _feature_window(model_dir)
        return (None, Path(model_dir) / "config.json") if found else None
    return _feature_window(model_dir)


def _feature_window(model_dir: str | os.PathLike) -> tuple[float, Path] | None:
    """(seconds, file) of the feature extractor's own window, whether or not the model type uses it."""
    for name in FEATURE_FILES:
        path = Path(model_dir) / name
        if not path.is_file():
            continue
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        config = config.get("feature_extractor", config) if isinstance(config, dict) else {}
        if not isinstance(config, dict):
            continue
        rate, samples = config.get("sampling_rate"), config.get("n_samples")
        if isinstance(rate, (int, float)) and rate > 0 and isinstance(samples, (int, float)) and samples > 0:
            return samples / rate, path
        if isinstance(config.get("chunk_length"), (int, float)) and config["chunk_length"] > 0:
            return float(config["chunk_length"]), path
    return None


# ----------------------------------------------------------------------------- WAV headers
@dataclass(frozen=True)
class WavHeader:
    """What a RIFF/WAVE file's header declares and what the file really holds."""
    rate: int
    channels: int
    block_align: int  # bytes per frame (all channels)
    format_tag: int  # 1 PCM, 3 IEEE float, 0xFFFE extensible, ...
    bits: int
    declared_frames: int | None  # from the data chunk's size; None when the writer left it open (streaming)
    present_frames: int  # whole frames between the data chunk's start and the end of the file

    @property
    def seconds(self) -> float:
        frames = self.present_frames if self.declared_frames is None else min(self.declared_frames,
                                                                               self.present_frames)
        return frames / self.rate if self.rate else 0.0

    @property
    def truncated(self) -> bool:
        return self.declared_frames is not None and self.present_frames < self.declared_frames

    @property
    def plain(self) -> bool:
        """Uncompressed PCM or float whose fields agree with each other: the header says all a decoder
        would find (what data_prep writes). Anything else is left to a real decoder."""
        return (self.format_tag in (1, 3, 0xFFFE) and self.channels > 0 and self.rate > 0
                and self.bits in (8, 16, 24, 32, 64) and self.block_align == self.channels * self.bits // 8)


def read_wav_header(path: str | os.PathLike) -> WavHeader | None:
    """The header of a RIFF/WAVE file (plain or WAVE_FORMAT_EXTENSIBLE), or None when ``path`` is not one
    or its header is cut before the data chunk starts (libsndfile then reports it). Reads 4 KiB, at
    most 68 KiB."""
    with open(path, "rb") as fh:
        head = fh.read(4096)  # data_prep's WAVs: the data chunk starts at byte 44
        if head[:4] in (b"RIFF", b"RIFX") and b"data" not in head:
            head += fh.read(65536)  # long LIST/INFO chunks before the data
        size = os.fstat(fh.fileno()).st_size
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        return None
    endian = "<" if head[:4] == b"RIFF" else ">"
    pos, fmt = 12, None
    while pos + 8 <= len(head):
        chunk, length = head[pos:pos + 4], struct.unpack(endian + "I", head[pos + 4:pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt " and body + 16 <= len(head):
            tag, channels, rate, _, block_align, bits = struct.unpack(endian + "HHIIHH", head[body:body + 16])
            fmt = (rate, channels, block_align, tag, bits)
        elif chunk == b"data":
            if fmt is None or not fmt[2]:
                return None
            rate, channels, block_align, tag, bits = fmt
            present = max(0, size - body) // block_align
            # 0 and 0xFFFFFFFF are what writers to a pipe leave: the size was never filled in.
            declared = None if length in (0, 0xFFFFFFFF) else length // block_align
            return WavHeader(rate, channels, block_align, tag, bits, declared, present)
        pos = body + length + (length & 1)  # chunks are padded to an even size
    return None


def describe_seconds(seconds: float) -> str:
    """0.05 -> '0.050 s'; 40 -> '40.0 s'."""
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"
