"""What the encoders can hear (audio_thinker.clips): tokens per clip length, the model's audio window, and
what a WAV header declares against what the file holds."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from audio_thinker.clips import MIN_SECONDS, MIN_TOKENS, QWEN3_OMNI, audio_tokens, audio_window, mel_frames, \
    qwen3_omni_audio_tokens, read_wav_header, tokens_for_seconds


@pytest.mark.parametrize("samples, tokens", [
    (320, 0),      # 2 mel frames: nothing
    (321, 1),      # 3 frames
    (800, 1),      # 0.05 s: the clip of the report; one token takes Qwen2-Audio's batch-dependent path
    (960, 1),      # 6 frames
    (961, 2),      # 7 frames: the least that works whatever the batch
    (3200, 5),     # 0.2 s, the default minimum
    (480000, 750), # 30 s: Qwen2-Audio's 750 audio tokens
])
def test_tokens_per_clip(samples, tokens):
    assert audio_tokens(mel_frames(samples)) == tokens


@pytest.mark.parametrize("seconds, tokens", [
    (0.0, 0),
    (0.01, 1),     # 1 frame: every non-empty window gives a token
    (0.2, 3),      # the default minimum
    (1.0, 13),     # one full window of 100 frames
    (2.5, 33),     # 2 x 13 + 7
    (30.0, 390),   # about half of Qwen2-Audio's 750
    (40.0, 520),   # not truncated: all of it
])
def test_qwen3_omni_tokens_per_clip(seconds, tokens):
    assert tokens_for_seconds(seconds, QWEN3_OMNI) == tokens


def test_qwen3_omni_tokens_are_transformers_own():
    """The rule is the one transformers' Qwen3-Omni processor uses to expand the placeholder, frame by frame."""
    import torch
    from transformers.models.qwen3_omni_moe.processing_qwen3_omni_moe import _get_feat_extract_output_lengths

    frames = torch.arange(0, 3001)
    assert _get_feat_extract_output_lengths(frames).tolist() == [qwen3_omni_audio_tokens(f) for f in range(3001)]


def test_the_default_minimum_leaves_a_margin():
    assert tokens_for_seconds(MIN_SECONDS) >= 2 * MIN_TOKENS
    assert tokens_for_seconds(0.05) < MIN_TOKENS


@pytest.mark.parametrize("config, seconds", [
    ({"feature_extractor": {"chunk_length": 5, "n_samples": 80000, "sampling_rate": 16000}}, 5.0),  # tiny
    ({"chunk_length": 30, "n_samples": 480000, "sampling_rate": 16000}, 30.0),  # the 7B backbones' preprocessor
    ({"chunk_length": 30}, 30.0),
    ({"feature_extractor": {}}, None),
])
def test_audio_window_from_the_feature_extractor_config(tmp_path, config, seconds):
    name = "processor_config.json" if "feature_extractor" in config else "preprocessor_config.json"
    (tmp_path / name).write_text(json.dumps(config))
    found = audio_window(tmp_path)
    assert (found[0] if found else None) == seconds


def test_the_tiny_checkpoints_hear_5_s(tiny_checkpoints):
    assert audio_window(tiny_checkpoints / "qwen2-audio")[0] == audio_window(tiny_checkpoints / "qwen2.5-omni")[0] \
        == 5.0


def test_qwen3_omni_has_no_window(tmp_path):
    """Its feature extractor says 30 s, but ms-swift's qwen3_omni template does not truncate: no window,
    and the answer names the file it was read from (config.json's model_type)."""
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"chunk_length": 30}))
    assert audio_window(tmp_path)[0] == 30.0
    (tmp_path / "config.json").write_text(json.dumps({"model_type": QWEN3_OMNI}))
    assert audio_window(tmp_path) == (None, tmp_path / "config.json")
    (tmp_path / "preprocessor_config.json").unlink()
    assert audio_window(tmp_path) is None  # no feature extractor: not a model folder we can read


@pytest.mark.parametrize("keep, declared, present", [
    (None, 32000, 32000),   # whole
    (44 + 16, 32000, 8),    # the first 60 bytes
    (44 + 32000, 32000, 16000),
    (30, None, None),       # cut inside the header: not read here (libsndfile reports it)
])
def test_wav_header_declared_and_present(tmp_path, keep, declared, present):
    whole = tmp_path / "whole.wav"
    sf.write(whole, np.zeros(32000, dtype="float32"), 16000, subtype="PCM_16")
    path = tmp_path / "cut.wav"
    path.write_bytes(whole.read_bytes()[:keep] if keep else whole.read_bytes())
    header = read_wav_header(path)
    got = (header.declared_frames, header.present_frames) if header else (None, None)
    assert got == (declared, present)
    assert header is None or header.truncated == (present < declared)
