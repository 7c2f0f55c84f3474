"""Grade benchmark items with an explicit denominator (docs/benchmarks.md): the library behind
``python -m eval.score`` (the command), ``eval.think_analysis`` and ``eval.compare``.

Per item: the reply is taken from the benchmark's own prediction field; the
``<answer>`` content is scored when there is one, otherwise the whole reply
(``audio_thinker.tags.extract_answer``); the choice is matched with the one
matcher shared with the training rewards (``audio_thinker.matching``), which
is MMAU's and MMAR's official token-set rule after resolving option letters.

Where we differ from the official scripts, on purpose:
- a missing or empty reply is *wrong* and counted as ``missing`` (MMAU's and
  MMAR's scripts skip it, which inflates accuracy when outputs are missing);
- a reply that names no single choice is wrong and counted as ``unparsable``
  (AIR-Bench's script drops such replies from the denominator);
- items whose official answer is not among the choices are kept, scored by the
  token rule against the official answer, and listed (``answer_not_in_choices``);
- with a reference metadata file, every reference item is in the denominator:
  an item absent from the prediction file is ``missing``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any

from audio_thinker.cli import UsageError
from audio_thinker.jsonl import where
from audio_thinker.benchmark_declarations import MACRO, TOTAL, Benchmark
from audio_thinker.matching import match_choice, official_token_match
from audio_thinker.tags import extract_answer, parse_completion

from .air_letters import LETTERS, air_letter
from .lengths import count_tokens
from .stats import macro_interval, wilson_interval


# A result JSON as eval.score writes it (abridged to two lines), for the --help of the commands that read one.
RESULT_EXAMPLE = (
    '{"benchmark": "mmau", "version": "v0325", "total": {"accuracy": 61.2, "ci95": [58.1, 64.2], "correct": 612, '
    '"n": 1000, "missing": 3, "unparsable": 5},\n'
    ' "breakdowns": {...}, "paper_columns": {...}, "by_mode": {...}, "items": [{"id": "a1b2", "correct": true, '
    '"mode": "think", ...}, ...]}')


@dataclass(frozen=True)
class ItemScore:
    id: str
    correct: bool
    missing: bool
    unparsable: bool
    mode: str | None  # "think" / "no_think"; None when the reply is missing
    picked: int | None  # index of the single choice the reply names
    groups: dict[str, str]  # breakdown -> group
    # Lengths for the token-savings figures of eval.think_analysis (eval/lengths.py; None when missing).
    reply_tokens: int | None = None  # the whole reply, think block included
    answer_tokens: int | None = None  # what is scored: the <answer> content, or the reply without tags


def _reply(item: dict[str, Any] | None, field: str) -> str | None:
    if item is None:
        return None
    value = item.get(field)
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def score_item(bench: Benchmark, item: dict[str, Any], reply: str | None) -> ItemScore:
    """Score one reply against one metadata item."""
    groups = {b: bench.group(item, b) for b in bench.breakdowns}
    ident = bench.item_id(item)
    if reply is None or not str(reply).strip():
        return ItemScore(ident, False, True, False, None, None, groups)
    mode = parse_completion(reply).mode.value
    answer = extract_answer(reply)
    choices, gold = bench.choices(item), bench.gold(item)
    match = match_choice(answer, gold, choices)
    correct, picked = match.correct, match.picked
    # Several choices are "named" only when their token sets are equal
    # (duplicated choices, reordered lists): a definite answer, not an unparsable one.
    named = picked is not None or any(official_token_match(match.resolved_text, c, choices) for c in choices)
    if bench.letter_rule and not correct and not named:
        letter = air_letter(answer)
        index = LETTERS.index(letter) if letter else None
        if index is not None and index < len(choices):
            picked, named = index, True
            correct = official_token_match(choices[index], gold, choices)
    unparsable = not correct and not named
    return ItemScore(ident, correct, False, unparsable, mode, picked, groups, count_tokens(reply),
                     count_tokens(answer))


def figures(scores: Sequence[ItemScore]) -> dict[str, Any]:
    """accuracy (percent of *all* items) with its 95 % Wilson interval
    ``ci95`` (percent), correct, n, missing, unparsable."""
    n = len(scores)
    correct = sum(s.correct for s in scores)
    return {
        "accuracy": round(100.0 * correct / n, 4) if n else None,
        "ci95": wilson_interval(correct, n),
        "correct": correct,
        "n": n,
        "missing": sum(s.missing for s in scores),
        "unparsable": sum(s.unparsable for s in scores),
    }


def figures_of_rows(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """:func:`figures` of per-item rows as a result JSON stores them (``correct``, ``missing``, ``unparsable``)."""
    return figures([SimpleNamespace(**r) for r in rows])


def _by_group(scores: Sequence[ItemScore], breakdown: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[ItemScore]] = {}
    for s in scores:
        groups.setdefault(s.groups[breakdown], []).append(s)
    return {g: figures(groups[g]) for g in sorted(groups)}


def paper_columns(bench: Benchmark, scores: Sequence[ItemScore]) -> dict[str, dict[str, Any]]:
    """The figures behind each of the paper's columns for this benchmark."""
    out = {}
    for column, (kind, breakdown, values) in bench.paper_columns.items():
        if kind == TOTAL:
            out[column] = figures(scores)
        elif kind == MACRO:
            groups = _by_group(scores, breakdown)
            accs = [g["accuracy"] for g in groups.values() if g["accuracy"] is not None]
            summed = figures(scores)
            summed["accuracy"] = round(sum(accs) / len(accs), 4) if accs else None
            summed["ci95"] = macro_interval([(g["correct"], g["n"]) for g in groups.values()])
            summed["macro_over"] = f"{len(accs)} {breakdown} groups"
            out[column] = summed
        else:
            out[column] = figures([s for s in scores if s.groups[breakdown] in values])
    return out


def check_items(bench: Benchmark, items: list[dict[str, Any]], path: str | None, role: str) -> None:
    """Refuse a file that is not this benchmark's: every item needs its id, and (metadata) its choices
    and gold answer. ``role`` names the file in the message ("--meta" or the prediction file)."""
    if not items:
        raise UsageError(f"no items in the {role} file", path)
    choice_field = bench.choice_fields[0] if bench.choice_fields else "choices"
    for index, item in enumerate(items):
        missing = [f for f in (bench.id_field, bench.answer_field, choice_field) if item.get(f) in (None, "", [])]
        if missing:
            found = ", ".join(sorted(item)[:8])
            raise UsageError(f"not {bench.name} metadata: no {', '.join(repr(f) for f in missing)} "
                             f"(it has: {found}); expected the benchmark's official metadata or "
                             f"eval.convert output", path, where(items, index))


def _index_by_id(bench: Benchmark, rows: list[dict[str, Any]], path: str | None) -> dict[str, dict[str, Any]]:
    """Rows by id; a row without an id, or an id given twice, is an error (either would change the
    denominator: rows without ids collapse into one, a repeated item counts twice)."""
    by_id: dict[str, dict[str, Any]] = {}
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.get(bench.id_field) in (None, ""):
            raise UsageError(f"has no {bench.id_field!r} ({bench.name} ids are in that field)", path,
                             where(rows, index))
        key = bench.item_id(row)
        if key in by_id:
            earlier = where(rows, first[key])
            raise UsageError(f"id {key!r} appears twice" + (f" (first on line {earlier})" if earlier else ""), path,
                             where(rows, index))
        by_id[key], first[key] = row, index
    return by_id


def unreadable_item(bench: Benchmark, bad: Any, path: str | None) -> dict[str, Any]:
    """A stand-in for a prediction line that could not be read, scored as missing: without reference
    metadata nothing else knows the item was there. Its groups read "(unreadable line)"."""
    label = "(unreadable line)"
    item = {bench.id_field: f"{path or 'predictions'}:{bad.line} {label}", **{b: label for b in bench.breakdowns},
            bench.answer_field: label}
    item.update({bench.choice_fields[0]: label} if bench.choice_fields else {"choices": [label]})
    return item


def join_predictions(bench: Benchmark, predictions: list[dict[str, Any]],
                     reference: list[dict[str, Any]] | None = None, *, source: str | None = None,
                     meta_source: str | None = None, bad_lines: list[Any] | None = None
                     ) -> tuple[list[tuple[dict[str, Any], str | None]], dict[str, Any]]:
    """Pair each item to score with its reply, refusing inputs that would give a wrong denominator.

    Without ``reference`` the prediction file is the item list. With it, the reference decides the items
    and their gold answers; prediction rows are found by id. Errors (:class:`UsageError`, naming
    ``source`` / ``meta_source``): a row without an id, an id given twice, no row carrying the
    benchmark's prediction field, reference metadata that is not this benchmark's, no prediction id in
    the reference (the wrong benchmark). ``bad_lines`` (lines of the prediction file that did not parse)
    are reported in the notes and scored as missing, never dropped."""
    bad_lines = list(bad_lines or [])
    notes: dict[str, Any] = {}
    if bad_lines:
        notes["unreadable_lines"] = [{"line": b.line, "reason": b.reason} for b in bad_lines]
    if predictions and not any(bench.prediction_field in row for row in predictions):
        fields = ", ".join(sorted(set().union(*(row.keys() for row in predictions[:50])))[:12])
        raise UsageError(f"no row has {bench.prediction_field!r}, the field {bench.name} predictions are read from "
                         f"(rows have: {fields}); convert eval.infer output with python -m eval.convert", source)
    if reference is None:
        check_items(bench, predictions, source, "prediction")
        by_id = _index_by_id(bench, predictions, source)
        pairs = [(it, _reply(it, bench.prediction_field)) for it in by_id.values()]
        pairs += [(unreadable_item(bench, b, source), None) for b in bad_lines]
        return pairs, notes
    check_items(bench, reference, meta_source, "--meta")
    ref_ids = _index_by_id(bench, reference, meta_source)
    by_id = _index_by_id(bench, predictions, source)
    if by_id and not ref_ids.keys() & by_id.keys():
        raise UsageError(f"none of its {len(by_id)} ids is in --meta {meta_source} (e.g. {next(iter(by_id))!r}); "
                         f"scoring the wrong benchmark or the wrong metadata file?", source)
    notes["not_in_reference"] = sorted(k for k in by_id if k not in ref_ids)
    notes["gold_differs_from_reference"] = sorted(
        key for key, it in ref_ids.items() if key in by_id and bench.gold(by_id[key]) not in ("", bench.gold(it)))
    pairs = [(it, _reply(by_id.get(key), bench.prediction_field)) for key, it in ref_ids.items()]
    return pairs, notes


def score(bench: Benchmark, pairs: Iterable[tuple[dict[str, Any], str | None]]) -> dict[str, Any]:
    """The result document: total, every breakdown, the paper's columns, the
    by-mode split, the listed oddities and one row per item."""
    pairs = list(pairs)
    scores = [score_item(bench, item, reply) for item, reply in pairs]
    not_in_choices = [bench.item_id(item) for item, _ in pairs
                      if bench.gold(item) not in bench.choices(item)]
    by_mode = {m: figures([s for s in scores if s.mode == m]) for m in ("think", "no_think")}
    flagged = {}
    for subset, why in bench.flags.items():
        members = [s for s in scores if s.groups.get("subset") == subset]
        if members:
            # The same task without the flagged subset, to judge the overlap's effect.
            task = members[0].groups.get("task_name")
            rest = [s for s in scores if s.groups.get("task_name") == task and s.groups.get("subset") != subset]
            flagged[subset] = {"why": why, **figures(members), "rest_of_task": {"task": task, **figures(rest)}}
    return {
        "benchmark": bench.name,
        "prediction_field": bench.prediction_field,
        "total": figures(scores),
        "breakdowns": {b: _by_group(scores, b) for b in bench.breakdowns},
        "paper_columns": paper_columns(bench, scores),
        "by_mode": by_mode,
        "answer_not_in_choices": not_in_choices,
        "flagged_subsets": flagged,
        "items": [asdict(s) for s in scores],
    }
