"""Multiple-choice matching, one rule for training rewards and for evaluation (docs/rewards.md §2).

The rule is MMAU's and MMAR's official token-set test (their ``evaluation.py``):
lower-case, tokenise with ``\\b\\w+\\b`` into sets; a prediction names a choice
when it holds every token of that choice and no token that belongs only to the
*other* choices. It is case- and punctuation-insensitive by construction, and it
rejects an answer that names two choices ("Man, or maybe Woman").

Two things are resolved before the token test, because the official script
gets them wrong in a way that is about the answer's *form*, not its content
(``docs/benchmarks.md``: predicting "(A) text" costs points since "a"
occurs in other choices):
- a bare option letter ("B", "(B)", "B.") names the choice at that position;
- an option-letter prefix ("(B) Woman", "B. Woman") is dropped.
Letters are read only when the row has a choice list, and a prediction that is
literally one of the choices' texts is taken as text first (musical-note
choices such as "C" or "D" are texts, not letters).

Without a choice list (a training row with only ``solution``) the prediction
must equal the gold text after normalisation: there are no "other choices" to
rule out a rambling answer that merely contains the gold words.
"""
from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\b\w+\b")
_LETTERS = string.ascii_uppercase
# "(B)", "B", "B.", "B)", "[B]", "Option B", "option (b):" as the whole answer.
_BARE_LETTER = re.compile(r"^\s*(?:option\s*)?[\(\[]?([A-Za-z])[\)\]]?\s*[.:)]?\s*$", re.IGNORECASE)
# "(B) Woman", "B. Woman", "B) Woman", "B: Woman": a letter label then text.
_LETTER_PREFIX = re.compile(r"^\s*(?:\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Za-z])[.):])\s+(\S.*)$", re.DOTALL)
_ANSWER_WRAPPER = re.compile(r"^\s*<answer>(.*)</answer>\s*$", re.DOTALL)


def tokens(text: str) -> set[str]:
    """The official token set: ``set(re.findall(r"\\b\\w+\\b", text.lower()))``."""
    return set(_WORD.findall(text.lower()))


def normalise(text: str) -> str:
    """Case-, punctuation- and spacing-insensitive form of a choice text."""
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(ch).startswith(("P", "S")) else ch for ch in text)
    return " ".join(kept.split())


def strip_answer_wrapper(solution: str) -> str:
    """``solution`` may be stored as ``<answer>Man</answer>``; keep the text."""
    match = _ANSWER_WRAPPER.match(solution or "")
    return (match.group(1) if match else (solution or "")).strip()


def official_token_match(prediction: str, answer: str, choices: Sequence[str]) -> bool:
    """MMAU/MMAR ``evaluation.py`` rule, restated: every answer token is in the
    prediction and no token that occurs only in other choices is."""
    pred, gold = tokens(prediction), tokens(answer)
    if not gold or not gold <= pred:
        return False
    others = set().union(*(tokens(c) for c in choices)) - gold if choices else set()
    return not (pred & others)


@dataclass(frozen=True)
class Match:
    """Which choice a prediction names, and whether that is the gold one."""

    correct: bool
    picked: int | None  # index into choices, None when no single choice is named
    resolved_text: str  # what the token test actually read


def _resolve_letters(prediction: str, choices: Sequence[str]) -> str:
    """Turn "B" / "(B) Woman" into choice text when the row lists choices."""
    normalised = normalise(prediction)
    if any(normalise(c) == normalised for c in choices):
        return prediction  # literally a choice's text: never a letter
    bare = _BARE_LETTER.match(prediction)
    if bare:
        index = _LETTERS.index(bare.group(1).upper())
        return choices[index] if index < len(choices) else prediction
    prefixed = _LETTER_PREFIX.match(prediction)
    if prefixed:
        letter = next(g for g in prefixed.groups()[:3] if g)
        index = _LETTERS.index(letter.upper())
        if index < len(choices):
            return prefixed.group(4)
    return prediction


def match_choice(prediction: str | None, gold: str, choices: Sequence[str] | None = None) -> Match:
    """Score a prediction against the gold choice text (docs/rewards.md §2).

    ``prediction`` is the answer content (already taken out of ``<answer>``);
    ``gold`` the gold choice text; ``choices`` the row's options, if known.
    """
    gold = strip_answer_wrapper(gold)
    if prediction is None or not prediction.strip():
        return Match(False, None, "")
    choices = [str(c) for c in (choices or [])]
    if not choices:
        ok = normalise(prediction) == normalise(gold) and bool(normalise(gold))
        return Match(ok, 0 if ok else None, prediction)
    resolved = _resolve_letters(prediction, choices)
    named = [i for i, c in enumerate(choices) if official_token_match(resolved, c, choices)]
    picked = named[0] if len(named) == 1 else None
    return Match(official_token_match(resolved, gold, choices), picked, resolved)
