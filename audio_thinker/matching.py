"""Multiple-choice matching: a strict rule for training, the official rule for evaluation
(docs/rewards.md §2; docs/evaluation.md says which is used where).

**Training** (``strict_match``; every reward that needs correctness: accuracy, R_a, R_c). The
``<answer>`` content must *be* one choice: after normalising case, punctuation and spacing, and after
dropping one option-letter label ("(B) ", "B. "), it equals the gold choice's text, or it is the gold
option letter alone. Anything longer (an explanation, a hedge, reasoning that ends in the choice) is
incorrect whatever words it holds. Why: the token-set rule below accepts "The pitch climbs for two
seconds, so this is a rising chirp"; under ATAR that pays the no-think bonus (2·γ) for reasoning
written inside ``<answer>``, where no judge sees it, and a policy learns to hide its thinking there.

**Evaluation** (``match_choice``): MMAU's and MMAR's official token-set test (their
``evaluation.py``), so that numbers stay comparable with published ones: lower-case, tokenise with
``\\b\\w+\\b`` into sets; a prediction names a choice when it holds every token of that choice and
no token that belongs only to the *other* choices. It rejects an answer that names two choices ("Man,
or maybe Woman"). Two things are resolved before the token test, because the official script gets
them wrong in a way that is about the answer's *form*, not its content (predicting "(A) text" costs
points since "a" occurs in other choices):
- a bare option letter ("B", "(B)", "B.") names the choice at that position;
- an option-letter prefix ("(B) Woman", "B. Woman") is dropped.

Both rules read letters only when the row has a choice list, and take a prediction that is literally
one of the choices' texts as text first (musical-note choices such as "C" or "D" are texts, not
letters). Without a choice list both need the gold text exactly, after normalisation.
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
    """Evaluation rule: the benchmarks' official token-set test, after resolving option letters.

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


def _label(prediction: str) -> tuple[int, str] | None:
    """("(B) Woman" | "B. Woman" | "B) Woman" | "B: Woman") -> (1, "Woman"); None without a label."""
    labelled = _LETTER_PREFIX.match(prediction)
    if labelled is None:
        return None
    letter = next(g for g in labelled.groups()[:3] if g)
    return _LETTERS.index(letter.upper()), labelled.group(4)


def strict_match(prediction: str | None, gold: str, choices: Sequence[str] | None = None) -> Match:
    """Training rule: the answer is exactly one choice (its text or its letter), nothing more.

    Normalised (case, punctuation, spacing; ``normalise``), the prediction must equal the gold text, be
    the gold option letter alone (rows with ``choices``), or be one option-letter label followed by the
    gold text. A label that names another option than its text ("(A) Woman" when Woman is B) is a
    contradiction and incorrect (*ours*: docs/rewards.md §2's "drop one label" assumes the two agree).
    """
    gold = strip_answer_wrapper(gold)
    target = normalise(gold)
    if prediction is None or not normalise(prediction) or not target:
        return Match(False, None, "")
    choices = [str(c) for c in (choices or [])]
    texts = [normalise(c) for c in choices]
    gold_index = texts.index(target) if target in texts else None

    def verdict(text: str, index: int | None) -> Match:
        ok = normalise(text) == target
        return Match(ok, index if index is not None else (gold_index if ok else None), text)

    said = normalise(prediction)
    if said in texts:  # literally a choice's text: text first, never a letter
        return verdict(prediction, texts.index(said))
    if choices and _BARE_LETTER.match(prediction):
        index = _LETTERS.index(_BARE_LETTER.match(prediction).group(1).upper())
        if index >= len(choices):
            return Match(False, None, prediction)
        return verdict(choices[index], index)
    label = _label(prediction)
    if label is not None:
        index, body = label
        if choices and (index >= len(choices) or texts[index] != normalise(body)):
            return Match(False, None, body)  # a label past the options, or one that disagrees with its text
        return verdict(body, index if choices else None)
    return verdict(prediction, None)
