"""Score a prediction file in the benchmark's own format.

    python -m eval.score mmau --input preds.json [--output result.json]
    python -m eval.score mmar --input preds.json --meta MMAR-meta.json
    python -m eval.score air  --input Foundation_result.jsonl

FILE is the official metadata with the model's reply added: MMAU
``model_output``, MMAR ``answer_prediction``, AIR-Bench Foundation
``response`` (the field AIR-Bench's ``Inference_Foundation.py`` writes and its
``score_foundation.py`` reads). Rules: see ``eval/scoring.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import benchmarks
from .io import read_records, write_json
from .scoring import join_predictions, score
from .tables import FIGURE_HEADERS, figure_row, fmt_accuracy, text_table


def run(bench_name: str, input_path: str, meta: str | None = None, version: str | None = None,
        keep_items: bool = True) -> dict[str, Any]:
    bench = benchmarks.get(bench_name)
    predictions = read_records(input_path)
    reference = read_records(meta) if meta else None
    pairs, notes = join_predictions(bench, predictions, reference)
    result = score(bench, pairs)
    detected = benchmarks.detect_version(bench, [item for item, _ in pairs])
    if version and detected and version != detected:
        raise SystemExit(f"--version {version} but the metadata is the {detected} file")
    result = {"benchmark": bench.name, "version": version or detected or "unknown",
              "input": str(input_path), "reference": str(meta) if meta else None,
              **{k: v for k, v in result.items() if k != "benchmark"}, **notes}
    if not keep_items:
        result.pop("items")
    return result


def render(result: dict[str, Any]) -> str:
    """The terminal report: total, paper columns, every breakdown, oddities."""
    parts = [f"{result['benchmark']} ({result['version']})  input: {result['input']}"]
    rows = [figure_row("total", result["total"])]
    rows += [figure_row(f"paper: {k}", v) for k, v in result["paper_columns"].items()]
    rows += [figure_row(f"mode: {k}", v) for k, v in result["by_mode"].items()]
    parts.append(text_table(("", *FIGURE_HEADERS), rows))
    for breakdown, groups in result["breakdowns"].items():
        parts.append(text_table((breakdown, *FIGURE_HEADERS), [figure_row(g, f) for g, f in groups.items()]))
    odd = result["answer_not_in_choices"]
    if odd:
        parts.append(f"{len(odd)} item(s) whose official answer is not among the choices "
                     f"(kept, scored by the token rule): " + ", ".join(odd))
    for subset, info in result.get("flagged_subsets", {}).items():
        rest = info["rest_of_task"]
        parts.append(f"WARNING {subset}: {info['why']}. {subset} {fmt_accuracy(info)} % (n={info['n']}); "
                     f"rest of {rest['task']}: {fmt_accuracy(rest)} % (n={rest['n']})")
    for key in ("not_in_reference", "gold_differs_from_reference"):
        if result.get(key):
            parts.append(f"WARNING {len(result[key])} prediction row(s) {key.replace('_', ' ')}: "
                         + ", ".join(result[key][:10]) + (" ..." if len(result[key]) > 10 else ""))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", choices=sorted(benchmarks.BENCHMARKS))
    parser.add_argument("--input", required=True, help="prediction file in the benchmark's own format")
    parser.add_argument("--output", help="write the result JSON here")
    parser.add_argument("--meta", help="reference metadata: its items are the denominator and its answers "
                                       "the gold (recommended; catches dropped items)")
    parser.add_argument("--version", choices=("v0325", "v05.15.25"),
                        help="MMAU test-mini version (detected from the metadata when it is an official file)")
    parser.add_argument("--no-items", action="store_true", help="leave the per-item rows out of the JSON")
    args = parser.parse_args(argv)
    result = run(args.benchmark, args.input, args.meta, args.version, keep_items=not args.no_items)
    print(render(result))
    if args.output:
        write_json(args.output, result)
        print(f"\nwrote {Path(args.output)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
