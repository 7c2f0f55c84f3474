"""The vLLM rollout settings of a GRPO row (``recipes.catalogue.ROLLOUT_SETTINGS``) as ms-swift 4.6 options, each
checked before anything loads: a value vLLM or ms-swift would refuse only after the model is loaded (or, worse,
take and reserve memory for nothing) is refused here with one line naming what to change.

* ``VLLM_LIMIT_MM_PER_PROMPT`` -> ``--vllm_limit_mm_per_prompt``: a JSON object of media -> count. Our rows carry
  one clip each; every medium vLLM is not told about is reserved for at its default (one image and one video
  on an Omni backbone), so the catalogue names them with 0.
* ``VLLM_MAX_MODEL_LEN`` -> ``--vllm_max_model_len``: prompt + completion; it must leave the prompt room beside
  ``MAX_COMPLETION_LENGTH``.
* ``VLLM_TENSOR_PARALLEL_SIZE`` -> ``--vllm_tensor_parallel_size`` (colocate): the layout rules in :mod:`.layout`.
* ``MOVE_MODEL_BATCHES`` -> ``--move_model_batches`` (``none``: ms-swift's default, the whole model gathered at
  once for the weight sync).
* ``OFFLOAD_MODEL`` / ``OFFLOAD_OPTIMIZER`` -> ``--offload_model`` / ``--offload_optimizer`` (colocate: ms-swift
  moves them to CPU memory while vLLM generates).

docs/at-scale.md ("Memory plans") gives every default per backbone and card.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

from .settings import SettingsError

# Room left for the prompt beside the completion: a 30 s clip is 750 audio tokens (25 per second) for both
# Qwen2 audio encoders, the system prompt and a question with its choices stay under 300 text tokens.
PROMPT_ROOM = 1024
MEDIA = ("audio", "image", "video")


def _whole(settings: Mapping[str, str], name: str) -> int:
    value = settings[name]
    if not (value.isdigit() and int(value) >= 1):
        raise SettingsError(f"{name}={value} must be a whole number >= 1")
    return int(value)


def _switch(settings: Mapping[str, str], name: str) -> str:
    if settings[name] not in ("true", "false"):
        raise SettingsError(f"{name}={settings[name]} must be true or false")
    return settings[name]


def media_limit(text: str) -> dict[str, int]:
    """``VLLM_LIMIT_MM_PER_PROMPT`` read and checked: one clip per prompt at least (our rows carry one)."""
    try:
        limit = json.loads(text)
    except json.JSONDecodeError:
        limit = None
    if not (isinstance(limit, dict) and set(limit) <= set(MEDIA)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in limit.values())):
        raise SettingsError(f"VLLM_LIMIT_MM_PER_PROMPT={text} must be a JSON object of {'/'.join(MEDIA)} -> count, "
                            'e.g. {"audio":1,"image":0,"video":0}')
    if limit.get("audio", 0) < 1:
        raise SettingsError(f"VLLM_LIMIT_MM_PER_PROMPT={text} allows no audio: every row carries one clip "
                            '(use {"audio":1,...})')
    return limit


def rollout_args(settings: Mapping[str, str]) -> list[str]:
    """The ms-swift options of the rollout settings. Colocate: all of them; server mode: only the weight-sync
    batching (the media limit, model length and tensor parallelism are the rollout server's own options,
    docs/at-scale.md)."""
    s = settings
    batches = s["MOVE_MODEL_BATCHES"]
    if batches != "none":
        _whole(s, "MOVE_MODEL_BATCHES")
    sync = [] if batches == "none" else ["--move_model_batches", batches]
    if s["VLLM_MODE"] != "colocate":
        return sync
    media_limit(s["VLLM_LIMIT_MM_PER_PROMPT"])
    length = _whole(s, "VLLM_MAX_MODEL_LEN")
    completion = int(s["MAX_COMPLETION_LENGTH"]) if s["MAX_COMPLETION_LENGTH"].isdigit() else 0
    if length < completion + PROMPT_ROOM:
        raise SettingsError(f"VLLM_MAX_MODEL_LEN={length} leaves no room for the prompt beside MAX_COMPLETION_LENGTH "
                            f"{completion}: set it to at least {completion + PROMPT_ROOM}")
    _whole(s, "VLLM_TENSOR_PARALLEL_SIZE")
    return ["--vllm_limit_mm_per_prompt", s["VLLM_LIMIT_MM_PER_PROMPT"], "--vllm_max_model_len", str(length),
            "--vllm_tensor_parallel_size", s["VLLM_TENSOR_PARALLEL_SIZE"], *sync,
            "--offload_model", _switch(s, "OFFLOAD_MODEL"), "--offload_optimizer", _switch(s, "OFFLOAD_OPTIMIZER")]
