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


# Two rows as a training file holds them (one JSON object per line), shown by the commands that read such
# files (``--help`` of data_prep.sft_targets, data_prep.cot, data_prep.preflight, ...).
TRAINING_ROWS_EXAMPLE = """\
{"messages": [{"role": "user", "content": "<audio>What is making the sound in the audio? Please choose the answer from the following options: ['dog', 'piano']."}], "audios": ["/data/avqa/audio/clip_0001.wav"], "solution": "piano", "choices": ["dog", "piano"], "source_id": 1}
{"messages": [{"role": "user", "content": "<audio>How many people are speaking? Please choose the answer from the following options: ['one', 'two']."}], "audios": ["/data/avqa/audio/clip_0002.wav"], "solution": "two", "choices": ["one", "two"], "source_id": 2}
"""
# The same for an evaluation set (python -m data_prep.benchmarks): the benchmark's own ``id`` is added.
BENCHMARK_ROWS_EXAMPLE = """\
{"id": "a1b2", "benchmark": "mmau", "messages": [{"role": "user", "content": "<audio>Which sound is heard? Please choose the answer from the following options: ['dog barking', 'a rising chirp']."}], "audios": ["/data/mmau/test-mini-audios/a1b2.wav"], "solution": "a rising chirp", "choices": ["dog barking", "a rising chirp"]}
{"id": "c3d4", "benchmark": "mmau", "messages": [{"role": "user", "content": "<audio>Is the speaker happy or sad? Please choose the answer from the following options: ['happy', 'sad']."}], "audios": ["/data/mmau/test-mini-audios/c3d4.wav"], "solution": "sad", "choices": ["happy", "sad"]}
"""
# And eval.infer's output: the benchmark row plus the reply (``output``) and its mode.
PREDICTION_ROWS_EXAMPLE = """\
{"id": "a1b2", "benchmark": "mmau", "messages": [...], "audios": [...], "solution": "a rising chirp", "output": "<think>The pitch climbs.</think><answer>a rising chirp</answer>", "mode": "think", "infer": {...}}
{"id": "c3d4", "benchmark": "mmau", "messages": [...], "audios": [...], "solution": "sad", "output": "<answer>happy</answer>", "mode": "no_think", "infer": {...}}
"""


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
