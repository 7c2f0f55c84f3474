"""The study's decisions and summaries (docs/mini-experiment.md, "Why ATAR stops thinking"); mini/study.sh
calls it.

    python -m mini.study best --root output/study --seeds 1 2 --rows model-a-tok model-a-nostd ...
        # the variant whose thinking is most difficulty-aware (the one run again for 3x the steps)

"Most difficulty-aware" is read from the runs' own training logs (no extra inference): per seed, the think
share of the completions sampled on hard prompts minus that on easy prompts over the last fifth of the steps
(``mini.claims.training_think_rates``), averaged over the seeds; ties go to the row listed first.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run

from mini.claims import training_think_rates


def hard_minus_easy(root: Path, seeds: Sequence[str], row: str) -> float | None:
    """Mean over ``seeds`` of the sampled think share hard − easy at the end of training (None: no seed has both)."""
    gaps = []
    for seed in seeds:
        rates = training_think_rates(root / f"seed-{seed}" / row, root / "task" / "train.jsonl")
        if rates and "hard" in rates and "easy" in rates:
            gaps.append(rates["hard"]["think_rate"] - rates["easy"]["think_rate"])
    return sum(gaps) / len(gaps) if gaps else None


def best(root: Path, seeds: Sequence[str], rows: Sequence[str]) -> tuple[str, dict[str, float | None]]:
    gaps = {row: hard_minus_easy(root, seeds, row) for row in rows}
    known = [row for row in rows if gaps[row] is not None]
    if not known:
        raise UsageError(f"no run of {', '.join(rows)} under {root} has a completions.jsonl with hard and easy "
                         f"prompts yet (train them first)")
    return max(known, key=lambda row: gaps[row]), gaps


def main(argv: Sequence[str] | None = None) -> int:
    cli = cli_parser("mini.study", __doc__)
    sub = cli.add_subparsers(dest="command", required=True)
    b = sub.add_parser("best", help="print the most difficulty-aware variant")
    b.add_argument("--root", type=Path, required=True, help="mini/study.sh's output folder")
    b.add_argument("--seeds", nargs="+", required=True)
    b.add_argument("--rows", nargs="+", required=True)
    args = cli.parse_args(argv)
    if args.command == "best":
        row, gaps = best(args.root, args.seeds, args.rows)
        for name, gap in gaps.items():
            print(f"  {name}: sampled think share hard - easy at the end of training "
                  f"{'-' if gap is None else f'{gap:+.3f}'}", file=sys.stderr)
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(cli_run(main))
