"""Choice-order control (CircularEval): is the model answering the question or picking a position?

``eval.infer --rotate-choices K`` asks every item K times, the option list
rotated by 0 … K−1 places (in the prompt and in the row's ``choices``; the
gold answer text is unchanged). Rotation 0 is the original order, so a rotated
run's ordinary figures are those of a normal run. An item with fewer than K
options is asked once per distinct rotation. ``eval.convert`` and
``eval.score`` carry the rotation along (:func:`rotated_items`,
:func:`score_rotations`) and the result gains ``choice_order``:
``circular`` (an item counts as right only when it is right under every
rotation), ``by_rotation`` and ``by_gold_position`` (accuracy by where the gold
option stood, A first). docs/evaluation.md, "Reading the choice-order control".
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audio_thinker.benchmark_declarations import Benchmark
from audio_thinker.cli import UsageError
from audio_thinker.rows import render_choices

from .grading import ItemScore, figures, join_predictions, score
from .tables import FIGURE_HEADERS, figure_row, text_table

ROTATION_SEPARATOR = "@rot"  # inference row id = f"{benchmark id}@rot{r}": unique, so resuming works
LETTERS = "ABCDEFGHIJ"


def rotate(values: Sequence[Any], r: int) -> list[Any]:
    """``values`` moved ``r`` places to the left: rotation 1 of [a, b, c, d] is [b, c, d, a]."""
    values = list(values)
    if not values:
        return values
    r %= len(values)
    return values[r:] + values[:r]


def rotations_of(n_choices: int, k: int) -> range:
    """The distinct rotations asked of an item with ``n_choices`` options."""
    return range(min(k, n_choices))


def rotate_row(row: dict[str, Any], r: int, k: int) -> dict[str, Any]:
    """One inference row asked with its options rotated by ``r``: the options list in the user text and
    ``choices`` are rotated, ``solution`` (the gold text) is not."""
    choices = [str(c) for c in row["choices"]]
    old, new = render_choices(choices), render_choices(rotate(choices, r))
    messages = [dict(m) for m in row["messages"]]
    users = [m for m in messages if m["role"] == "user" and isinstance(m.get("content"), str)
             and old in m["content"]]
    if len(users) != 1 or users[0]["content"].count(old) != 1:
        raise ValueError("its options list does not appear exactly once in the user text")
    users[0]["content"] = users[0]["content"].replace(old, new)
    return {**row, "id": f"{row['id']}{ROTATION_SEPARATOR}{r}", "source_id": row["id"], "rotation": r,
            "rotations": k, "choices": rotate(choices, r), "messages": messages}


def rotate_rows(rows: Sequence[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """Every row asked under each of its rotations, grouped by item. Refuses (before any model loads)
    rows that cannot be rotated: no ``choices``, or a user text that does not list them."""
    if k < 1:
        raise UsageError("must be at least 1", option="--rotate-choices")
    out, bad = [], []
    for row in rows:
        if not isinstance(row.get("choices"), list) or len(row["choices"]) < 1:
            bad.append(f"{row.get('id')}: no 'choices' list")
            continue
        try:
            out += [rotate_row(row, r, k) for r in rotations_of(len(row["choices"]), k)]
        except (ValueError, KeyError) as err:
            bad.append(f"{row.get('id')}: {err}")
    if bad:
        raise UsageError(f"{len(bad)} row(s) cannot be rotated (rows from python -m data_prep.benchmarks can); "
                         f"first: {bad[0]}", option="--rotate-choices")
    return out


# --- benchmark-format files ---------------------------------------------------------------------------

def rotate_item(bench: Benchmark, item: dict[str, Any], r: int) -> dict[str, Any]:
    """A benchmark-format item with its options rotated by ``r`` (a ``choices`` list, or AIR's one field
    per option, as the benchmark declares); the gold answer text is unchanged."""
    out = dict(item)
    rotated = rotate(bench.choice_values(item), r)
    if bench.choice_fields:
        for key in bench.choice_fields:
            out.pop(key, None)
        out.update(zip(bench.choice_fields, rotated))
    else:
        out["choices"] = rotated
    return out


def is_rotated(rows: Sequence[dict[str, Any]]) -> bool:
    return any("rotation" in row for row in rows)


def rotated_items(bench: Benchmark, meta: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """``eval.convert`` with ``--meta`` for a rotated run: each metadata item once per rotation, options
    rotated, ``rotation`` set and the reply of the inference row of that item and rotation (none when
    the row is absent: scored as missing)."""
    k = max(int(row.get("rotations", row["rotation"] + 1)) for row in rows if "rotation" in row)
    replies: dict[tuple[str, int], Any] = {}
    for row in rows:
        if "rotation" in row:
            replies[(str(row["source_id"]), int(row["rotation"]))] = row.get("output")
    items = []
    for entry in meta:
        for r in rotations_of(len(bench.choices(entry)), k):
            item = {**rotate_item(bench, entry, r), "rotation": r}
            reply = replies.get((bench.item_id(entry), r))
            if reply is not None:
                item[bench.prediction_field] = reply
            items.append(item)
    return items


def restore_ids(bench: Benchmark, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``eval.convert`` without ``--meta``: rows carry ``<id>@rot<r>``; the benchmark id is ``source_id``."""
    for item in items:
        if "source_id" in item:
            item[bench.id_field] = item["source_id"]
    return items


def score_rotations(bench: Benchmark, predictions: list[dict[str, Any]],
                    reference: list[dict[str, Any]] | None, *, source: str | None = None,
                    meta_source: str | None = None, bad_lines: list[Any] | None = None):
    """Score a rotated prediction file: returns (pairs, notes) of rotation 0, which are the ordinary
    result, and the ``choice_order`` section. ``source`` / ``meta_source`` name the files in errors;
    unreadable lines (``bad_lines``) cannot say their rotation and are counted as missing replies of
    the ordinary result."""
    by_rotation: dict[int, list[dict[str, Any]]] = {}
    for item in predictions:
        by_rotation.setdefault(int(item.get("rotation", 0)), []).append(item)
    k = max(by_rotation) + 1
    scored: dict[int, list[tuple[ItemScore, int | None]]] = {}
    first = None
    for r in range(k):
        ref = None
        if reference is not None:
            ref = [rotate_item(bench, it, r) for it in reference if len(bench.choices(it)) > r]
        pairs, notes = join_predictions(bench, by_rotation.get(r, []), ref, source=source, meta_source=meta_source,
                                        bad_lines=bad_lines if r == 0 else None)
        if r == 0:
            first = (pairs, notes)
        result = score(bench, pairs)
        positions = [_gold_position(bench, item) for item, _ in pairs]
        scored[r] = [(ItemScore(**row), pos) for row, pos in zip(result["items"], positions)]
    return first[0], first[1], choice_order_figures(scored, k)


def _gold_position(bench: Benchmark, item: dict[str, Any]) -> int | None:
    choices = bench.choices(item)
    gold = bench.gold(item)
    return choices.index(gold) if gold in choices else None


def choice_order_figures(scored: dict[int, list[tuple[ItemScore, int | None]]], k: int) -> dict[str, Any]:
    """Circular accuracy (an item is right only if right under every rotation it was asked; missing if
    any of its replies is), accuracy per rotation, and accuracy by the gold option's position as asked
    (over every item × rotation)."""
    by_item: dict[str, list[ItemScore]] = {}
    for r in sorted(scored):
        for s, _ in scored[r]:
            by_item.setdefault(s.id, []).append(s)
    circular = [ItemScore(ident, all(s.correct for s in runs), any(s.missing for s in runs),
                          any(s.unparsable for s in runs), None, None, runs[0].groups)
                for ident, runs in by_item.items()]
    positions: dict[str, list[ItemScore]] = {}
    for r in scored:
        for s, pos in scored[r]:
            label = LETTERS[pos] if pos is not None and pos < len(LETTERS) else "(not a choice)"
            positions.setdefault(label, []).append(s)
    return {
        "rotations": k,
        "circular": figures(circular),
        "by_rotation": {str(r): figures([s for s, _ in scored[r]]) for r in sorted(scored)},
        "by_gold_position": {p: figures(positions[p]) for p in sorted(positions)},
    }


def render(section: dict[str, Any]) -> str:
    rows = [figure_row("circular (right under every rotation)", section["circular"])]
    rows += [figure_row(f"rotation {r}", f) for r, f in section["by_rotation"].items()]
    rows += [figure_row(f"gold at {p}", f) for p, f in section["by_gold_position"].items()]
    return (f"choice-order control ({section['rotations']} rotations of the options)\n"
            + text_table(("", *FIGURE_HEADERS), rows))
