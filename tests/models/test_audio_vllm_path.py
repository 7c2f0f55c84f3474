"""The audio survives the vLLM rollout path (docs/backbones.md, "vLLM"): for each backbone, the input ms-swift
hands vLLM for one of our GRPO rows, and the processor call vLLM 0.33 makes on it, yield audio features and as
many audio tokens as the clip's length implies.

In vLLM mode ms-swift does not encode the audio itself (``Template._encode_truncated``: the prompt keeps one
``<|AUDIO|>`` per clip and the clip goes along as ``(waveform, sampling rate)``); vLLM resamples it to the
feature extractor's rate, calls the Hugging Face processor with ``audio=[...]`` (vLLM 0.33 renames its own
``audios`` to ``audio``, ``BaseMultiModalProcessor._get_hf_mm_inputs``; Qwen2-Audio adds ``sampling_rate`` and
``truncation=True``) and expands the placeholder to the encoder's output length computed from
``feature_attention_mask``. The suite runs that call with transformers 5.19 (no vLLM needed); the test at the
end runs vLLM's own processor where vLLM is installed, and is skipped otherwise.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import soxr

import swift_plugins.compat  # noqa: F401  (the Qwen2-Audio fix, as every ms-swift process of ours has it)
from recipes import catalogue
from tests.helpers import audio_guard

SR_CLIP = 44100   # a clip at a common recording rate: the resampling step is part of the path


@pytest.fixture(scope="module")
def row(audio_qa, tmp_path_factory):
    """One of our GRPO rows (tests/conftest.py builds them as data_prep writes them), its clip re-saved as a
    3 s clip at 44.1 kHz, with model-c's system prompt."""
    first = json.loads(audio_qa.read_text(encoding="utf-8").splitlines()[0])
    t = np.arange(3 * SR_CLIP) / SR_CLIP
    clip = tmp_path_factory.mktemp("vllm_path") / "clip.wav"
    sf.write(clip, (0.3 * np.sin(2 * np.pi * 330 * t)).astype("float32"), SR_CLIP)
    system = catalogue.load().row("model-c").prompt_file().read_text(encoding="utf-8")
    messages = [{"role": "system", "content": system}] + [m for m in first["messages"] if m["role"] == "user"]
    return {"messages": messages, "audios": [str(clip)]}


# The two backbones of the paper. Qwen3-Omni's vLLM path differs (its template trims the clip to the feature
# extractor's hop length, 13 audio tokens per second, other placeholder tokens) and is not covered here.
VLLM_BACKBONES = ("qwen2-audio", "qwen2.5-omni")


@pytest.fixture(scope="module", params=VLLM_BACKBONES)
def vllm_input(request, tiny_checkpoints, row):
    """(backbone, processor, what ms-swift hands vLLM: prompt token ids and multi_modal_data)."""
    from swift.model import get_processor
    from swift.template import get_template
    name = request.param
    processor = get_processor(str(tiny_checkpoints / name), model_type=audio_guard.BACKBONES[name],
                              download_model=False)
    template = get_template(processor, template_type=processor.model_meta.template)
    template.set_mode("vllm")
    encoded = template.encode(dict(row))
    # swift.infer_engine.VllmEngine._add_request (vLLM >= 0.6): one item per medium unless it is a tuple
    media = encoded.get("audios") or []
    audio = media[0] if len(media) == 1 and not isinstance(media[0], tuple) else media
    return name, processor, {"prompt_token_ids": list(encoded["input_ids"]), "multi_modal_data": {"audio": audio}}


def vllm_processor_call(processor, clips, keyword="audio"):
    """The Hugging Face processor call vLLM 0.33 makes for audio items: resampled to the feature extractor's
    rate, under ``audio=``, beside its dummy text (one placeholder per clip)."""
    extractor = processor.feature_extractor
    waves = [soxr.resample(wave, sr, extractor.sampling_rate) for wave, sr in clips]
    text = "<|audio_bos|><|AUDIO|><|audio_eos|>" * len(waves)
    return processor(text=text, **{keyword: waves}, sampling_rate=extractor.sampling_rate, truncation=True,
                     return_tensors="pt"), waves


def test_ms_swift_hands_vllm_one_placeholder_and_the_clip_with_its_rate(vllm_input):
    _, processor, llm_inputs = vllm_input
    audio_id = audio_guard.audio_token_id(processor)
    assert llm_inputs["prompt_token_ids"].count(audio_id) == 1           # vLLM expands it, not ms-swift
    clips = llm_inputs["multi_modal_data"]["audio"]
    assert isinstance(clips, list) and len(clips) == 1
    wave, sr = clips[0]
    assert sr == SR_CLIP and len(wave) == 3 * SR_CLIP                    # loaded at the clip's own rate


def test_the_processor_call_vllm_makes_yields_the_clip_s_audio_tokens(vllm_input):
    _, processor, llm_inputs = vllm_input
    out, waves = vllm_processor_call(processor, llm_inputs["multi_modal_data"]["audio"])
    assert len(waves[0]) == 3 * processor.feature_extractor.sampling_rate
    frames = int(out["feature_attention_mask"].sum(-1)[0])
    assert frames == 300                                                  # 100 mel frames per second
    assert out["input_features"].abs().sum() > 0
    # the placeholder vLLM substitutes: the encoder's output length from the mask (25 tokens per second)
    assert audio_guard.expected_audio_tokens(frames) == 75
    assert int((out["input_ids"] == audio_guard.audio_token_id(processor)).sum()) == 75


def test_the_old_keyword_would_lose_the_audio_silently(vllm_input):
    """Why the vLLM pin matters: a vLLM that passes ``audios=`` (as older releases did) to transformers 5.19's
    processor gets no features and no error."""
    _, processor, llm_inputs = vllm_input
    out, _ = vllm_processor_call(processor, llm_inputs["multi_modal_data"]["audio"], keyword="audios")
    assert "input_features" not in out


def test_vllm_s_own_processor_expands_the_placeholder(vllm_input, tiny_checkpoints):
    """With the pinned vLLM installed (the gpu extra): its multimodal processor for the backbone, with the
    catalogue's media limit, on the input above. Skipped where vLLM is not installed (the suite's environment);
    what it cannot exercise on CPU: the audio encoder's forward pass inside vLLM (docs/backbones.md)."""
    pytest.importorskip("vllm", reason="vLLM is not installed here (pip install -e '.[gpu]')")
    from tests.helpers.vllm_processor import apply
    name, processor, llm_inputs = vllm_input
    ids, out = apply(tiny_checkpoints / name, name, llm_inputs)
    assert ids.count(audio_guard.audio_token_id(processor)) == 75          # 3 s at 25 tokens per second
    assert len(out["mm_placeholders"]["audio"]) == 1 and out["mm_placeholders"]["audio"][0].length == 75
