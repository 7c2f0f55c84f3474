"""How long a reply is, counted the same way for every model.

A "token" here is a word (a run of letters, digits or underscores) or a single
punctuation mark: ``<think>I hear a dog.</think>`` is 12 tokens (``<``,
``think``, ``>``, ``I``, ``hear``, ``a``, ``dog``, ``.``, ``<``, ``/``,
``think``, ``>``).
Chosen over a model's own tokenizer because the figures compare backbones
whose tokenizers differ (Qwen2-Audio, Qwen2.5-Omni) and must be computable
from any prediction file, without the checkpoint. docs/evaluation.md, "Reading the token
savings".
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str | None) -> int | None:
    """Words and punctuation marks in ``text`` (None for no text)."""
    if text is None:
        return None
    return len(_TOKEN.findall(str(text)))
