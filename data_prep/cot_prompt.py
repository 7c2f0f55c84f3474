"""Prompts of the CoT data generator (paper 5.1.1 and appendix A.2).

``COT_PROMPT`` is the appendix A.2 prompt exactly as quoted in
``docs/rewards.md`` §9 (block quote lines joined with single spaces;
its typos, "planning,captioning", the ``<response>`` wording and the double
spaces are the paper's and are kept). Its three ``*** … here ***`` slots are
filled by ``build_rationale_prompt`` and nothing else is changed.

``CAPTION_PROMPT`` is ours: the paper says only that captions come from
Qwen2-Audio-7B-Instruct.
"""
from __future__ import annotations

import re

COT_PROMPT = (
    "We are developing a system to generate structured audio-based chain-of-thought reasoning data. "
    "Given an audio clip, its description, a question, and an answer, your task is to reconstruct the "
    "reasoning process in two parts: the internal <think> section and the user-facing <response> section. "
    "The <think> section must follow four steps: planning,captioning, reasoning, and summarizing. Based on "
    "this, the <response> should provide a final answer. Your output must strictly follow this format: "
    "<think><planning>. Analyze the user's intent and break down complex tasks into steps if needed. "
    "</planning><caption> Examine the audio input, identify relevant segments, and describe them accurately. "
    "</caption><reasoning> Use the identified information to reason toward an answer. </reasoning><summary> "
    "Conclude based on the reasoning above. </summary></think><answer> Give the final answer here referring "
    "to the <think> part </answer> Please strictly follow the format of the sample. Note that you have both "
    "the question and the answer because it is necessary to ensure the correctness of the chain of thought. "
    "However, in your response, you can only refer to the content of the question and the audio, which leads "
    "to the answer. You must not assume that you already know the answer.  Here is the original description: "
    "*** caption here ***. The question is: *** question here ***.  The answer you can refer to: "
    "*** answer here ***."
)

CAPTION_SLOT, QUESTION_SLOT, ANSWER_SLOT = "*** caption here ***", "*** question here ***", "*** answer here ***"

_SLOTS = re.compile("|".join(re.escape(s) for s in (CAPTION_SLOT, QUESTION_SLOT, ANSWER_SLOT)))

CAPTION_PROMPT = ("Describe the audio in detail: the sound sources, speech, music and acoustic scene you hear, "
                  "in the order they occur.")


def build_rationale_prompt(caption: str, question: str, answer: str) -> str:
    """The A.2 prompt with its three slots filled (each slot occurs once)."""
    values = {CAPTION_SLOT: caption.strip(), QUESTION_SLOT: question.strip(), ANSWER_SLOT: answer.strip()}
    # one pass, so a caption that happens to contain a slot's text is not filled again
    return _SLOTS.sub(lambda m: values[m.group(0)], COT_PROMPT)
