"""Turn ``eval.infer`` output into the benchmark's own prediction format.

    python -m eval.convert mmau --predictions preds.jsonl --meta mmau-test-mini-v0325.json --out mmau_preds.json
    python -m eval.score mmau --input mmau_preds.json --output result.json

With ``--meta`` (recommended) the official metadata is copied item by item and
the raw reply of the inference row with the same id is added under the
benchmark's field (MMAU ``model_output``, MMAR ``answer_prediction``, AIR
``response``); an item with no reply gets no field, and ``eval.score`` counts
it as missing. The raw reply is kept whole (think block included) so that any
scorer sees what the model wrote; ``eval.score`` reads the ``<answer>`` part.

Without ``--meta`` the inference rows themselves are rewritten into the
format, taking the gold answer from ``answer`` or ``solution`` and the options
from ``choices``; the rows must then carry the breakdown fields.
"""
from __future__ import annotations

import sys
from typing import Any

from audio_thinker import benchmark_declarations as benchmarks
from audio_thinker.benchmark_declarations import Benchmark
from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.rows import PREDICTION_ROWS_EXAMPLE
from audio_thinker.jsonl import BadLine, read_records, where, write_json, write_jsonl
from audio_thinker.matching import strip_answer_wrapper

from . import audio_control, choice_order
from .grading import check_items

# Fields of an ms-swift row that are not benchmark metadata.
_SWIFT_FIELDS = {"messages", "audios", "images", "videos", "solution", "output", "finish_reason", "infer",
                 "error", "mode"}


def replies_by_id(rows: list[dict[str, Any]], id_field: str = "id", path: str | None = None
                  ) -> dict[str, str | None]:
    """The raw reply of each inference row by id; a row without the id field, or an id given twice with
    different outputs, is an error naming ``path``."""
    out: dict[str, str | None] = {}
    for index, row in enumerate(rows):
        if row.get(id_field) in (None, ""):
            raise UsageError(f"has no {id_field!r} (set --id-field to the field holding the benchmark id)", path,
                             where(rows, index))
        key = str(row.get(id_field))
        if key in out and out[key] != row.get("output"):
            raise UsageError(f"id {key!r} appears twice with different outputs", path)
        out[key] = row.get("output")
    return out


def unknown_ids(bench: Benchmark, meta: list[dict[str, Any]], replies: dict[str, Any]) -> list[str]:
    """Ids of inference rows that are not in the metadata (a wrong benchmark file, or another split)."""
    known = {bench.item_id(entry) for entry in meta}
    return [key for key in replies if key not in known]


def from_meta(bench: Benchmark, meta: list[dict[str, Any]], replies: dict[str, str | None]) -> list[dict[str, Any]]:
    items = []
    for entry in meta:
        item = dict(entry)
        reply = replies.get(bench.item_id(entry))
        if reply is not None:
            item[bench.prediction_field] = reply
        items.append(item)
    return items


def from_rows(bench: Benchmark, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = []
    for row in rows:
        item = {k: v for k, v in row.items() if k not in _SWIFT_FIELDS}
        gold = row.get(bench.answer_field)
        if gold is None:
            gold = strip_answer_wrapper(str(row.get("solution", "")))
        item[bench.answer_field] = gold
        if bench.id_field != "id":  # our rows call it "id"
            item.setdefault(bench.id_field, row["id"])
        for key, choice in zip(bench.choice_fields, row.get("choices") or []):
            item.setdefault(key, choice)
        if row.get("output") is not None:
            item[bench.prediction_field] = row["output"]
        items.append(item)
    return items


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser("eval.convert", __doc__, example=PREDICTION_ROWS_EXAMPLE,
                        reads="eval.infer's prediction rows (--predictions, JSONL) and, with --meta, the benchmark's\n"
                              "metadata as released",
                        writes="--out: the benchmark's own prediction format: the metadata items (a JSON list; JSONL for\n"
                               "AIR) with each reply under the benchmark's field (MMAU model_output, MMAR\n"
                               "answer_prediction, AIR response), ready for eval.score or the official scripts")
    parser.add_argument("benchmark", choices=sorted(benchmarks.BENCHMARKS), help="which benchmark's format to write")
    parser.add_argument("--predictions", required=True, help="eval.infer output (JSONL)")
    parser.add_argument("--meta", help="official metadata (MMAU/MMAR JSON, AIR Foundation_meta.json)")
    parser.add_argument("--id-field", default="id", help="field of the inference rows holding the benchmark id")
    parser.add_argument("--out", required=True, help=".json (list) or .jsonl (AIR's result format)")
    args = parser.parse_args(argv)

    bench = benchmarks.get(args.benchmark)
    bad: list[BadLine] = []
    rows = read_records(args.predictions, bad_lines=bad)
    for line in bad:  # its item gets no reply: eval.score counts it as missing
        print(f"warning: {args.predictions}:{line.line}: {line.reason}; its item is left without a reply",
              file=sys.stderr)
    if choice_order.is_rotated(rows):  # --rotate-choices run: one item per rotation (eval/choice_order.py)
        items = (choice_order.rotated_items(bench, read_records(args.meta), rows) if args.meta
                 else choice_order.restore_ids(bench, from_rows(bench, rows)))
    elif args.meta:
        meta = read_records(args.meta)
        check_items(bench, meta, args.meta, "--meta")
        replies = replies_by_id(rows, args.id_field, args.predictions)
        unknown = unknown_ids(bench, meta, replies)
        if replies and len(unknown) == len(replies):
            raise UsageError(f"none of its {len(replies)} ids is in --meta {args.meta} (e.g. {unknown[0]!r}); "
                             "the wrong benchmark or metadata file?", args.predictions)
        if unknown:
            print(f"warning: {args.predictions}: {len(unknown)} id(s) not in {args.meta}, not converted: "
                  + ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else ""), file=sys.stderr)
        items = from_meta(bench, meta, replies)
    else:
        replies_by_id(rows, args.id_field, args.predictions)  # ids present and unique
        items = from_rows(bench, rows)
    control = audio_control.control_of(rows)
    if control:  # --audio-control run: every item says so, for eval.score --silent-input to check
        items = [{**item, "audio_control": control} for item in items]
    (write_jsonl if args.out.endswith(".jsonl") else write_json)(args.out, items)
    with_reply = sum(bench.prediction_field in it for it in items)
    print(f"{args.out}: {len(items)} items, {with_reply} with a reply, {len(items) - with_reply} without",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_run(main))
