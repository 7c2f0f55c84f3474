"""Make ms-swift 4.6's ``qwen2_audio`` model type work on transformers 5.x.

ms-swift 4.6 declares ``transformers>=4.45,<4.49`` for Qwen2-Audio and only warns.  On 5.x:

1. **Template** — ``Qwen2AudioTemplate`` writes one ``<|AUDIO|>`` per clip.  transformers 5
   expects the processor to have expanded it to one token per audio frame (the
   ``Qwen2AudioProcessor`` does so; ms-swift bypasses it and calls the feature extractor).  The
   model's "legacy" path then re-expands inside ``forward``, changing the sequence length under
   ms-swift's labels/loss masks: SFT fails on ``ignore_index``, GRPO/infer/deploy on
   ``'NoneType' object is not subscriptable``.  Fix: after ms-swift's own ``_encode`` (which already
   computed ``input_features`` / ``feature_attention_mask``), expand each ``<|AUDIO|>`` to the
   number of tokens the encoder produces for that clip, exactly like ms-swift's Qwen2.5-Omni
   template does with ``_extend_tokens`` (labels -100, loss_scale copied).
2. **Module paths** — ms-swift registers ``language_model`` / ``audio_tower`` /
   ``multi_modal_projector``; in transformers 5 they live under ``model.`` (plus ``lm_head``).
   With the stale paths LoRA ``all-linear`` finds no target module and ``freeze_vit`` freezes
   nothing.  Fix: re-register the arch and swap it into every ModelMeta that uses it.
3. **requires** — replace the stale ``transformers<4.49`` pin on the model meta with the tested
   range, so the log does not tell users to downgrade.

The audio keyword trap (``audios=`` vs ``audio=`` on ``Qwen2AudioProcessor``) does not apply to
ms-swift, which calls the feature extractor directly; tests/models/test_audio_guard.py proves the
features reach the model either way.
"""
from __future__ import annotations

from typing import Any, Dict, List

from audio_thinker.clips import audio_tokens

ARCH = 'qwen2_audio'
_PATCHED_ATTR = '_audio_thinker_expands_audio_tokens'


def num_audio_tokens(mel_lengths) -> List[int]:
    """Tokens the Qwen2-Audio encoder emits for a clip of ``mel_lengths`` frames (conv stride 2, then
    avg-pool 2), i.e. ``Qwen2AudioEncoder._get_feat_extract_output_lengths`` and the HF processor; the
    formula's home is ``audio_thinker.clips.audio_tokens`` (the pre-flight's minimum comes from it)."""
    return [audio_tokens(n) for n in mel_lengths]


def _patch_template() -> None:
    from swift.template.templates.qwen import Qwen2AudioTemplate
    from swift.template.utils import findall

    if getattr(Qwen2AudioTemplate, _PATCHED_ATTR, False):
        return
    original_encode = Qwen2AudioTemplate._encode

    def _encode(self, inputs) -> Dict[str, Any]:
        encoded = original_encode(self, inputs)
        mask = encoded.get('feature_attention_mask')
        if mask is None:  # no audio in this sample
            return encoded
        token = self.processor.tokenizer.convert_tokens_to_ids('<|AUDIO|>')
        lengths = num_audio_tokens(mask.sum(-1).tolist())
        input_ids = encoded['input_ids']
        idx_list = findall(input_ids, [token])
        if len(idx_list) == sum(lengths) and len(idx_list) != len(lengths):
            return encoded  # already expanded (a fixed ms-swift): nothing to do
        if len(idx_list) != len(lengths):
            raise ValueError(f'Qwen2-Audio: {len(lengths)} audio clip(s) but {len(idx_list)} <|AUDIO|> '
                             'placeholder(s) in the prompt; put exactly one <audio> tag per clip.')
        input_ids, labels, loss_scale = self._extend_tokens(input_ids, encoded.get('labels'), encoded.get('loss_scale'),
                                                            idx_list, lambda i: [token] * lengths[i])
        encoded['input_ids'] = input_ids
        encoded['labels'] = labels
        if 'loss_scale' in encoded:
            encoded['loss_scale'] = loss_scale
        return encoded

    _encode.__doc__ = original_encode.__doc__
    Qwen2AudioTemplate._encode = _encode
    setattr(Qwen2AudioTemplate, _PATCHED_ATTR, True)


def _patch_model_arch() -> None:
    from swift.model import MODEL_MAPPING
    from swift.model.model_arch import MultiModelKeys, register_model_arch

    keys = MultiModelKeys(
        ARCH,
        language_model=['model.language_model', 'lm_head'],
        aligner='model.multi_modal_projector',
        vision_tower='model.audio_tower',
    )
    register_model_arch(keys, exist_ok=True)
    for meta in MODEL_MAPPING.values():  # ModelMeta holds the resolved object, not the name
        arch = meta.model_arch
        if arch is not None and getattr(arch, 'arch_name', None) == ARCH:
            meta.model_arch = keys
            if 'Qwen2AudioForConditionalGeneration' in meta.architectures:
                meta.requires = [r for r in meta.requires if not r.startswith('transformers')]
                meta.requires.append('transformers>=5.19,<5.20')


def apply() -> None:
    """Idempotent."""
    _patch_template()
    _patch_model_arch()
