"""SFT data for the answer-only SFT rows (sft-a, sft-c): the GRPO rows plus the gold answer as the
assistant turn, written exactly as the answer-only prompt asks (``<answer>GOLD</answer>``).

    python -m data_prep.sft_targets --input data/avqa/train.jsonl --out data/avqa/sft_answers.jsonl

(The SFT+CoT rows read ``python -m data_prep.cot``'s output instead.) Rows without a ``solution``
are skipped with a message; nothing else is changed.
"""
from __future__ import annotations

import sys
from pathlib import Path

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.jsonl import read_records, where, write_jsonl
from audio_thinker.rows import TRAINING_ROWS_EXAMPLE


def with_answer_target(row: dict) -> dict | None:
    """The row with an assistant turn ``<answer>solution</answer>``; None if it has no solution."""
    solution = str(row.get("solution") or "").strip()
    if not solution:
        return None
    messages = [m for m in row.get("messages", []) if not (isinstance(m, dict) and m.get("role") == "assistant")]
    return {**row, "messages": messages + [{"role": "assistant", "content": f"<answer>{solution}</answer>"}]}


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser("data_prep.sft_targets", __doc__, example=TRAINING_ROWS_EXAMPLE,
                        reads="training rows (--input, JSONL: data_prep.avqa's or data_prep.synthetic's train.jsonl)",
                        writes="--out: SFT rows (JSONL), each input row with the assistant turn <answer>SOLUTION</answer>\n"
                               "appended to messages; rows without a solution are skipped with a warning")
    parser.add_argument("--input", type=Path, required=True, help="GRPO rows (data_prep.avqa train.jsonl)")
    parser.add_argument("--out", type=Path, required=True, help="SFT rows to write (JSONL)")
    args = parser.parse_args(argv)
    rows, skipped = [], 0
    records = read_records(args.input)
    for index, row in enumerate(records):
        at = where(records, index)
        if not isinstance(row.get("messages", []), list):
            raise UsageError("'messages' is not a list", args.input, at)
        target = with_answer_target(row)
        if target is None:
            skipped += 1
            print(f"warning: {args.input}:{at}: no solution; skipped", file=sys.stderr)
        else:
            rows.append(target)
    if not rows:
        raise UsageError("no row has a 'solution'; expected data_prep.avqa's train.jsonl", args.input)
    write_jsonl(args.out, rows)
    print(f"sft_targets: wrote {len(rows)} rows to {args.out} ({skipped} skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(cli_run(main))
