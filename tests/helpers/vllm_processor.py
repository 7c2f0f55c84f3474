"""vLLM's own multimodal processor for a backbone, on CPU (tests/models/test_audio_vllm_path.py; needs vllm).

Builds the processor vLLM's engine builds for the checkpoint (``MULTIMODAL_REGISTRY.create_processor`` on its
``ModelConfig``, with the catalogue's media limit and model length for the backbone), parses the
``multi_modal_data`` ms-swift hands over (resampling included) and applies it to ms-swift's prompt token ids,
as vLLM does before the model runs. No GPU and no model weights are involved.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recipes import catalogue


def apply(checkpoint: Path, backbone: str, llm_inputs: dict[str, Any]) -> tuple[list[int], dict[str, Any]]:
    """(the prompt token ids after vLLM's placeholder expansion, vLLM's processed multimodal inputs)."""
    from vllm.config import ModelConfig
    from vllm.multimodal import MULTIMODAL_REGISTRY
    from vllm.multimodal.processing.context import TimingContext
    from vllm.multimodal.processing.inputs import ProcessorInputs

    rollout = catalogue.load().backbones[backbone].rollout
    config = ModelConfig(model=str(Path(checkpoint).resolve()), dtype="float32",
                         limit_mm_per_prompt=json.loads(rollout["VLLM_LIMIT_MM_PER_PROMPT"]),
                         max_model_len=int(rollout["VLLM_MAX_MODEL_LEN"]))
    processor = MULTIMODAL_REGISTRY.create_processor(config)
    items = processor.info.get_data_parser().parse_mm_data(llm_inputs["multi_modal_data"])
    out = processor.apply(ProcessorInputs(prompt=list(llm_inputs["prompt_token_ids"]), mm_data_items=items),
                          TimingContext())
    return list(out["prompt_token_ids"]), out
