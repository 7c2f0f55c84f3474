"""The training-row schema: what every data-prep command writes and what the rewards and evaluation read.

One row (ms-swift's multimodal JSONL, one user turn)::

    messages  [{"role": "user", "content": "<audio>Q Please choose the answer from the following options: ['a', 'b']."}]
    audios    [absolute path of the 16 kHz WAV]
    solution  the gold choice's text (the accuracy reward R_a compares the answer with it)
    choices   the choice texts, in the order the user text lists them (option letters resolve against it)
    + source-specific fields (``source_id``, ``dataset``, benchmark breakdown fields, ...)

``USER_TEMPLATE`` is R1-AQA's user text (``src/dataset/dataset.py``) without its trailing format
instruction: that instruction comes from the system prompt file the recipes pass with ``--system``. The
choices are rendered as a Python list, exactly as R1-AQA's f-string renders ``multi_choice``. The same
template serves training rows and benchmark rows, so evaluation asks questions the way training did.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

USER_TEMPLATE = "<audio>{question} Please choose the answer from the following options: {choices}."


def render_choices(choices: Sequence[str]) -> str:
    """The choices as R1-AQA's f-string prints a list of strings."""
    return str([str(c) for c in choices])


def build_user_text(question: str, choices: Sequence[str]) -> str:
    """User message content: ``<audio>`` + question + the listed options."""
    return USER_TEMPLATE.format(question=question.strip(), choices=render_choices(choices))


def training_row(question: str, choices: Sequence[str], solution: str, audio: Any, /, **extra: Any) -> dict:
    """One row of the schema above; ``extra`` fields (``question=`` among them: the four leading arguments
    are positional only) follow the four shared columns, in the order given."""
    return {"messages": [{"role": "user", "content": build_user_text(question, choices)}],
            "audios": [str(audio)], "solution": solution, "choices": list(choices), **extra}


def question_of(messages) -> str:
    """The last user turn of a row's ``messages``, without the ``<audio>`` placeholder (what the judge is
    shown as the question, and what the CoT prompt quotes)."""
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # OpenAI-style parts
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "").replace("<audio>", "").strip()
    return ""
