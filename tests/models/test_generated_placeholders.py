"""A completion that contains a media placeholder token (the policy generated ``<|AUDIO|>``, or Qwen3-Omni's
``<|audio_start|><|audio_pad|><|audio_end|>``) trains on every backbone: the placeholder is masked from the loss, the prompt's audio still expands and reaches the
model (swift_plugins/compat/generated_placeholders.py)."""
from __future__ import annotations

import math

import pytest

from swift_plugins.compat import generated_placeholders as gp
from tests.helpers import audio_guard

P, PAD = 7, 0  # a placeholder id and the pad id, for the table below


@pytest.mark.parametrize('ids, labels, want_ids, want_labels, n', [
    ([1, P, 2, 3], [-100, -100, 2, 3], [1, P, 2, 3], [-100, -100, 2, 3], 0),        # prompt placeholder: kept
    ([1, P, 2, P], [-100, -100, 2, P], [1, P, 2, PAD], [-100, -100, 2, -100], 1),   # generated one: masked
    ([P, P, P], [-100, P, P], [P, PAD, PAD], [-100, -100, -100], 2),                # several
    ([1, P], None, [1, P], None, 0),                                                  # inference: no labels
])
def test_only_labelled_placeholders_are_masked(ids, labels, want_ids, want_labels, n):
    assert gp.mask_response_placeholders(ids, labels, [P], PAD) == n
    assert ids == want_ids and labels == want_labels


# What the policy would write to open a clip of its own: the backbone's whole audio placeholder (on
# Qwen3-Omni, unmasked, ms-swift's _extend_tokens fails with an IndexError).
GENERATED = {'qwen2-audio': ('<|AUDIO|>', 1), 'qwen2.5-omni': ('<|AUDIO|>', 1),
             'qwen3-omni': ('<|audio_start|><|audio_pad|><|audio_end|>', 3)}


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(audio_guard.BACKBONES))
def test_generated_placeholder_trains_on_every_backbone(tiny_checkpoints, tmp_path, name):
    import torch
    model_type = audio_guard.BACKBONES[name]
    model, processor, template = audio_guard.load(tiny_checkpoints / name, model_type)
    wavs = audio_guard.write_wavs(tmp_path)
    generated, masked = GENERATED[name]
    row = {'messages': [{'role': 'user', 'content': audio_guard.QUESTION},
                        {'role': 'assistant', 'content': f'<answer>tone{generated}</answer>'}],
           'audios': [wavs['tone']]}
    before = gp.masked_total
    batch = template.data_collator([template.encode(row)])
    assert gp.masked_total == before + masked
    audio_id = audio_guard.audio_token_id(processor)
    frames = int(batch['feature_attention_mask'].sum())
    # the prompt's one placeholder expanded to the clip's length; the generated one is gone
    assert int((batch['input_ids'] == audio_id).sum()) == audio_guard.expected_audio_tokens(frames, model_type)
    assert not bool(((batch['input_ids'] == audio_id) & (batch['labels'] != -100)).any())
    with torch.no_grad():
        loss = model(**batch).loss
    assert math.isfinite(float(loss))
