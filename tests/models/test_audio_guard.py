"""The audio guard (docs/backbones.md): for each backbone (Qwen2-Audio, Qwen2.5-Omni, Qwen3-Omni), the encoded training batch (ms-swift template.encode +
data_collator, as the trainer builds it) carries audio for every sample, and the audio changes the
model's logits.  The last test proves the guard is not vacuous: on unpatched ms-swift it fails."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import swift_plugins.compat  # noqa: F401  (applies the patches in this process)
from tests.helpers import audio_guard
from tests.helpers.paths import REPO


@pytest.fixture(scope='module', params=sorted(audio_guard.BACKBONES))
def backbone(request, tiny_checkpoints):
    name = request.param
    model, processor, template = audio_guard.load(tiny_checkpoints / name, audio_guard.BACKBONES[name])
    return name, model, processor, template


def test_batch_carries_audio_for_every_sample(backbone, wavs):
    _, _, processor, template = backbone
    clips = [wavs['tone'], wavs['noise'], wavs['tone']]
    batch = audio_guard.check_batch_carries_audio(template, processor, clips)
    assert batch['input_features'].shape[0] == len(clips)


def test_a_lost_clip_is_caught(backbone, wavs, monkeypatch):
    """A row whose clip goes missing on the way to the template (ms-swift then keeps ``<audio>`` as text and
    trains on the row without a word): the guard must refuse the batch, on every backbone."""
    _, _, processor, template = backbone
    encode, calls = template.encode, []

    def losing_the_second_clip(row, *args, **kwargs):
        calls.append(row)
        return encode({**row, 'audios': []} if len(calls) == 2 else row, *args, **kwargs)

    monkeypatch.setattr(template, 'encode', losing_the_second_clip)
    with pytest.raises(AssertionError):
        audio_guard.check_batch_carries_audio(template, processor, [wavs['tone'], wavs['noise']])
    assert len(calls) == 2


def test_changing_the_audio_changes_the_logits(backbone, wavs):
    _, model, processor, template = backbone
    assert audio_guard.check_audio_changes_logits(model, template, processor, wavs) > 1e-4


def test_placeholders_follow_clip_length(backbone, tmp_path):
    """A 1 s and a 3 s clip get different token counts (the count is computed, not constant)."""
    name, _, processor, template = backbone
    counts = []
    for seconds in (1.0, 3.0):
        (tmp_path / str(seconds)).mkdir()
        clip = audio_guard.write_wavs(tmp_path / str(seconds), seconds=seconds)['tone']
        batch = audio_guard.encode_batch(template, [clip])
        counts.append(int((batch['input_ids'] == audio_guard.audio_token_id(processor)).sum()))
    # 100 mel frames per second of audio: 25 tokens per second, 13 on Qwen3-Omni
    model_type = audio_guard.BACKBONES[name]
    assert counts == [audio_guard.expected_audio_tokens(100, model_type), audio_guard.expected_audio_tokens(300, model_type)]
    assert counts == ([13, 39] if model_type == 'qwen3_omni_moe' else [25, 75])


def test_hf_processor_takes_audio_keyword(tiny_checkpoints):
    """Trap for code that calls the HF processor directly (not ms-swift): on transformers 5 the keyword
    is ``audio=``; the old ``audios=`` is dropped with only a log line, and the model hears nothing."""
    import numpy as np
    from transformers import AutoProcessor
    processor = AutoProcessor.from_pretrained(tiny_checkpoints / 'qwen2-audio')
    text = 'Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nWhat is it?'
    clip = np.zeros(16000, dtype=np.float32)
    assert 'input_features' in processor(text=text, audio=[clip], sampling_rate=16000, return_tensors='pt')
    assert 'input_features' not in processor(text=text, audios=[clip], sampling_rate=16000, return_tensors='pt')


@pytest.mark.slow
def test_guard_fails_on_unpatched_ms_swift(tiny_checkpoints, tmp_path):
    """In a fresh interpreter without swift_plugins.compat, ms-swift's Qwen2-Audio template leaves one
    <|AUDIO|> per clip: the guard must catch it.  (Qwen2.5-Omni needs no patch; its guard passes.)"""
    code = textwrap.dedent(f'''
        import sys
        from tests.helpers import audio_guard
        assert 'swift_plugins.compat' not in sys.modules
        try:
            audio_guard.run_all({str(tiny_checkpoints)!r}, 'qwen2-audio', {str(tmp_path)!r})
        except AssertionError as e:
            print('GUARD-FAILED:', e); sys.exit(3)
        print('GUARD-PASSED'); sys.exit(0)
    ''')
    proc = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert 'tokens per sample [1, 1]' in proc.stdout
