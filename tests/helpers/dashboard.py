"""The per-mode dashboard figures recomputed from a completions.jsonl table (what ms-swift logged for a step)."""
from audio_thinker.tags import parse_completion
from swift_plugins import rules
from tests.conftest import CHOICES


def _mean(values):
    return sum(values) / len(values) if values else None


def recomputed(table: dict) -> dict:
    """λ, per-mode accuracy (the training rule) and mean no-think <answer> length of one table."""
    parsed = [parse_completion(c) for c in table["completion"]]
    correct = [rules.is_correct(p, s, CHOICES) for p, s in zip(parsed, table["solution"])]
    think = [ok for p, ok in zip(parsed, correct) if p.is_think]
    no_think = [ok for p, ok in zip(parsed, correct) if not p.is_think]
    return {"think_ratio": len(think) / len(parsed), "think_accuracy": _mean(think),
            "no_think_accuracy": _mean(no_think),
            "no_think_answer_chars": _mean([len(p.answer) for p in parsed if not p.is_think and p.answer is not None])}


def assert_matches(row: dict, table: dict, prefix: str = "audio_thinker/") -> None:
    import pytest

    for key, value in recomputed(table).items():
        logged = row[prefix + key]
        if value is None:
            assert logged is None, (key, row, table["completion"])
        else:
            assert logged == pytest.approx(value), (key, row, table["completion"])
