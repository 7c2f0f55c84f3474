"""Parse a completion into its output mode, reasoning and answer (docs/rewards.md §1).

Two shapes are well formed under the adaptive-think prompt:

    think mode:    <think>REASONING</think><answer>ANSWER</answer>
    no-think mode: <answer>ANSWER</answer>

Everything the rewards need about a completion's *shape* is decided here, once,
so that R_f, R_a, R_c and R_t can never disagree about what the mode was.

Decisions (docs/rewards.md §1, and ours where it is silent):
- surrounding whitespace is allowed, and so is whitespace between
  ``</think>`` and ``<answer>`` (chat models put a newline there); any other
  text outside the tags makes the completion malformed;
- an empty or whitespace-only ``<think></think>`` counts as no-think mode;
- an empty ``<answer></answer>`` is malformed (there is no answer to score);
- tags are matched case-sensitively, exactly as the prompt spells them;
- the mode is think iff a closed, non-empty ``<think>`` block is present,
  even in an otherwise malformed completion;
- the answer is the content of the one ``<answer>…</answer>`` block; two
  blocks, an unclosed block or a tag nested inside it give *no* answer,
  which every accuracy reward scores as incorrect.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_TAG = re.compile(r"</?(?:think|answer)>")
_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_THINK_SHAPE = re.compile(r"\s*<think>(.*?)</think>\s*<answer>(.*?)</answer>\s*", re.DOTALL)
_ANSWER_SHAPE = re.compile(r"\s*<answer>(.*?)</answer>\s*", re.DOTALL)


class Mode(str, Enum):
    THINK = "think"
    NO_THINK = "no_think"


class Shape(str, Enum):
    """The well-formed shapes; a malformed completion has none."""

    THINK = "think"  # <think>REASONING</think><answer>ANSWER</answer>
    EMPTY_THINK = "empty_think"  # <think> </think><answer>ANSWER</answer>: no-think mode
    ANSWER_ONLY = "answer_only"  # <answer>ANSWER</answer>


@dataclass(frozen=True)
class ParsedCompletion:
    """What the rewards read from one completion."""

    mode: Mode
    reasoning: str | None  # stripped <think> content; None in no-think mode
    answer: str | None  # stripped <answer> content; None when absent or ambiguous
    shape: Shape | None  # which well-formed shape it is, None when malformed

    @property
    def is_think(self) -> bool:
        return self.mode is Mode.THINK


def _clean(inner: str) -> str | None:
    """Content of a block, or None when it holds another tag (nesting)."""
    if _TAG.search(inner):
        return None
    return inner.strip()


def _only_block(text: str, tag: str, block: re.Pattern) -> str | None:
    """The cleaned, non-empty content of the one ``<tag>`` block: exactly one opening and one closing tag,
    in that order; None otherwise."""
    if text.count(f"<{tag}>") != 1 or text.count(f"</{tag}>") != 1:
        return None
    match = block.search(text)
    if match is None:
        return None
    return _clean(match.group(1)) or None


def _single_answer(text: str) -> str | None:
    return _only_block(text, "answer", _ANSWER_BLOCK)


def _reasoning(text: str) -> str | None:
    return _only_block(text, "think", _THINK_BLOCK)


def _shape(text: str, reasoning: str | None, answer: str | None) -> Shape | None:
    if answer is None:
        return None
    think = _THINK_SHAPE.fullmatch(text)
    if think is not None and _clean(think.group(1)) is not None:
        # An empty think block is the no-think shape wearing an empty wrapper.
        return Shape.THINK if reasoning else Shape.EMPTY_THINK
    if _ANSWER_SHAPE.fullmatch(text) is not None and "<think>" not in text and "</think>" not in text:
        return Shape.ANSWER_ONLY
    return None


def parse_completion(text: str) -> ParsedCompletion:
    """Split a completion into mode, reasoning and answer (docs/rewards.md §1)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    reasoning = _reasoning(text)
    answer = _single_answer(text)
    mode = Mode.THINK if reasoning else Mode.NO_THINK
    return ParsedCompletion(mode=mode, reasoning=reasoning, answer=answer,
                            shape=_shape(text, reasoning, answer))


def extract_answer(text: str) -> str:
    """The text to score in evaluation: the <answer> content when there is one,
    otherwise the whole output (docs/benchmarks.md: the official scripts score the whole reply)."""
    parsed = parse_completion(text)
    if parsed.answer is not None:
        return parsed.answer
    return (text or "").strip()
