"""A media placeholder that the policy *generates* is taken out of the loss instead of killing the run.

Qwen2-Audio and Qwen2.5-Omni mark where audio features go with a special token (``<|AUDIO|>``; Omni also
``<|IMAGE|>`` and ``<|VIDEO|>``); Qwen3-Omni with ``<|audio_start|><|audio_pad|><|audio_end|>`` (and
``<|image_pad|>``, ``<|video_pad|>``; all five are masked, as its rope index also reads the start token).
A sampled completion can contain one: the tiny checkpoints' policies did after 11–19 GRPO steps of the
learning benchmark, and nothing stops a 7B policy from doing the same.
ms-swift encodes the sampled token ids as they are (``encode_sample`` in ``swift/rlhf_trainers/utils.py``),
so the template then finds one placeholder more than there are clips: Qwen2-Audio stops with "1 audio
clip(s) but 2 <|AUDIO|> placeholder(s)", Qwen2.5-Omni with a feature/mask size mismatch in the forward
pass, Qwen3-Omni with an ``IndexError`` in ms-swift's ``_extend_tokens``. Any of them ends a 1000-step run.

Fix: right after ms-swift's base ``Template._encode`` (which every model template calls before it expands
placeholders), each placeholder id at a *response* position (label ≠ −100) becomes the pad token with label
−100: the model sees an ordinary token there and the loss skips it, while the prompt's placeholders are
untouched and expand as usual. Each occurrence is logged as a warning with the running count.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

PLACEHOLDERS = ('<|AUDIO|>', '<|IMAGE|>', '<|VIDEO|>',  # Qwen2-Audio, Qwen2.5-Omni
                '<|audio_start|>', '<|audio_pad|>', '<|audio_end|>', '<|image_pad|>', '<|video_pad|>')  # Qwen3-Omni
IGNORE_INDEX = -100  # ms-swift's and transformers' "not in the loss" label
_PATCHED_ATTR = '_audio_thinker_masks_generated_placeholders'
logger = logging.getLogger(__name__)
masked_total = 0  # placeholders masked so far in this process (for the warning and tests)


def mask_response_placeholders(input_ids: list[int], labels: list[int] | None, placeholder_ids: Sequence[int],
                               replacement_id: int) -> int:
    """Replace, in place, every placeholder id at a labelled (response) position by ``replacement_id`` and
    set its label to −100. Returns how many were replaced. Without labels (inference) nothing is a response."""
    if not labels or not placeholder_ids:
        return 0
    wanted = set(placeholder_ids)
    count = 0
    for i, (token, label) in enumerate(zip(input_ids, labels)):
        if token in wanted and label != IGNORE_INDEX:
            input_ids[i], labels[i] = replacement_id, IGNORE_INDEX
            count += 1
    return count


def _ids(tokenizer) -> tuple[list[int], int]:
    unknown = getattr(tokenizer, 'unk_token_id', None)
    ids = [tokenizer.convert_tokens_to_ids(t) for t in PLACEHOLDERS]
    ids = [i for i in ids if isinstance(i, int) and i != unknown]
    replacement = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return ids, replacement


def apply() -> None:
    """Idempotent."""
    from swift.template.base import Template

    if getattr(Template, _PATCHED_ATTR, False):
        return
    original_encode = Template._encode

    def _encode(self, inputs) -> dict[str, Any]:
        global masked_total
        encoded = original_encode(self, inputs)
        ids, replacement = _ids(self.tokenizer)
        count = mask_response_placeholders(encoded.get('input_ids'), encoded.get('labels'), ids, replacement)
        if count:
            masked_total += count
            logger.warning('audio_thinker: a completion contains %d media placeholder token(s) (%s); '
                           'masked from the loss (%d so far in this process)', count, '/'.join(PLACEHOLDERS),
                           masked_total)
        return encoded

    _encode.__doc__ = original_encode.__doc__
    Template._encode = _encode
    setattr(Template, _PATCHED_ATTR, True)
