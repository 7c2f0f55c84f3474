"""Export predictions for the withheld MMAU test split (9,000 items) for submission.

    python -m eval.export_mmau_test --meta mmau-test.json --predictions preds.jsonl --out submission.json

The answers of the test split are withheld; predictions are scored by the
benchmark's evaluation service (Eval.ai, moved to a Hugging Face Space in
January 2026, per the MMAU README). Its upload format is not documented in the
MMAU repository. Assumption, documented in docs/evaluation.md: the same JSON list
``evaluation.py`` reads for test-mini — the official ``mmau-test.json`` items,
each with the prediction added. The MMAU README calls the field
``model_prediction`` while ``evaluation.py`` reads ``model_output``: we write
both, with the same text.

What is written as the prediction: the choice text the reply names (after
taking the ``<answer>`` content and resolving option letters with the shared
matcher), so that the server's token rule sees a bare choice text and
scores the reply as ``eval.score`` does locally (the official rule would
wrongly penalise "(A) text" or reasoning that mentions other choices). A reply
that names no single choice is exported as its answer text, unchanged.

Every test item must have a reply: a missing one is an error unless
``--allow-missing`` (then it is exported as an empty string, which the
server can only score as wrong).
"""
from __future__ import annotations

import sys
from typing import Any

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.rows import PREDICTION_ROWS_EXAMPLE
from audio_thinker.jsonl import read_records, where, write_json
from audio_thinker.matching import match_choice
from audio_thinker.tags import extract_answer

from .convert import replies_by_id

FIELDS = ("model_output", "model_prediction")


def submission_text(reply: str, choices: list[str]) -> str:
    """The text to submit for one reply: the named choice, else the answer."""
    answer = extract_answer(reply)
    if not choices:
        return answer
    # The gold is unknown here; the match is only used for the choice it names.
    match = match_choice(answer, choices[0], choices)
    return choices[match.picked] if match.picked is not None else answer


def export(meta: list[dict[str, Any]], replies: dict[str, str | None], allow_missing: bool = False
           ) -> tuple[list[dict[str, Any]], list[str]]:
    items, missing = [], []
    for index, entry in enumerate(meta):
        if entry.get("id") in (None, ""):
            raise UsageError("has no 'id': not MMAU metadata", line=where(meta, index))
        reply = replies.get(str(entry["id"]))
        if reply is None or not reply.strip():
            missing.append(str(entry["id"]))
            text = ""
        else:
            text = submission_text(reply, [str(c) for c in entry.get("choices") or []])
        items.append({**entry, **{field: text for field in FIELDS}})
    if missing and not allow_missing:
        raise UsageError(f"{len(missing)} test item(s) have no reply (first: {missing[:5]}); "
                         "finish inference or pass --allow-missing")
    return items, missing


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser("eval.export_mmau_test", __doc__, example=PREDICTION_ROWS_EXAMPLE,
                        reads="MMAU's test-split metadata (--meta, answers withheld) and eval.infer's prediction rows\n"
                              "on it (--predictions, JSONL)",
                        writes="--out: the submission JSON: the metadata items, each with the named choice text under\n"
                               "model_output and model_prediction")
    parser.add_argument("--meta", required=True, help="official mmau-test.json (answers withheld)")
    parser.add_argument("--predictions", required=True, help="eval.infer output (JSONL) on the test split")
    parser.add_argument("--id-field", default="id", help="field of the inference rows holding the MMAU id")
    parser.add_argument("--out", required=True, help="submission JSON to write")
    parser.add_argument("--allow-missing", action="store_true",
                        help="export items without a reply as an empty string instead of refusing")
    args = parser.parse_args(argv)
    meta = read_records(args.meta)
    replies = replies_by_id(read_records(args.predictions, torn_tail=True), args.id_field, args.predictions)
    try:
        items, missing = export(meta, replies, args.allow_missing)
    except UsageError as err:  # name the file the problem is in
        raise UsageError(err.what, args.meta if "not MMAU" in err.what else args.predictions, err.line) from None
    write_json(args.out, items)
    print(f"{args.out}: {len(items)} items, {len(missing)} without a reply", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_run(main))
