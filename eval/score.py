"""Score a prediction file in the benchmark's own format.

    python -m eval.score mmau --input preds.json [--output result.json]
    python -m eval.score mmar --input preds.json --meta MMAR-meta.json
    python -m eval.score air  --input Foundation_result.jsonl

FILE is the official metadata with the model's reply added: MMAU
``model_output``, MMAR ``answer_prediction``, AIR-Bench Foundation
``response`` (the field AIR-Bench's ``Inference_Foundation.py`` writes and its
``score_foundation.py`` reads). Rules: see ``eval/grading.py``.

Controls: ``--silent-input`` adds the silent-audio control (the same items
asked with silence by ``eval.infer --audio-control silence``;
``eval/audio_control.py``); a prediction file of an ``eval.infer
--rotate-choices`` run is recognised and gains the choice-order control
(``eval/choice_order.py``).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from audio_thinker import benchmark_declarations as benchmarks
from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.jsonl import BadLine, read_records, write_json

from . import audio_control, choice_order
from .grading import join_predictions, score
from .tables import FIGURE_HEADERS, figure_row, fmt_accuracy, text_table


def run(bench_name: str, input_path: str, meta: str | None = None, version: str | None = None,
        keep_items: bool = True, silent_input: str | None = None) -> dict[str, Any]:
    bench = benchmarks.get(bench_name)
    # A line of the prediction file that does not parse (a cut last line included: eval.infer killed
    # mid-row) is scored as missing and reported, not dropped; the metadata must parse whole.
    bad: list[BadLine] = []
    predictions = read_records(input_path, bad_lines=bad)
    reference = read_records(meta) if meta else None
    rotated = None
    if choice_order.is_rotated(predictions):  # an eval.infer --rotate-choices run
        pairs, notes, rotated = choice_order.score_rotations(bench, predictions, reference, source=str(input_path),
                                                             meta_source=str(meta) if meta else None, bad_lines=bad)
    else:
        pairs, notes = join_predictions(bench, predictions, reference, source=str(input_path),
                                        meta_source=str(meta) if meta else None, bad_lines=bad)
    result = score(bench, pairs)
    controls = _controls(bench, result, predictions, reference, silent_input)
    if rotated:
        controls["choice_order"] = rotated
    detected = benchmarks.detect_version(bench, [item for item, _ in pairs])
    if version and detected and version != detected:
        raise UsageError(f"{version} given, but the metadata is the {detected} file", option="--version")
    result = {"benchmark": bench.name, "version": version or detected or "unknown",
              # which items and gold answers were scored: eval.compare pairs only results that agree
              "fingerprint": benchmarks.fingerprint(bench, [item for item, _ in pairs]),
              "input": str(input_path), "reference": str(meta) if meta else None,
              **{k: v for k, v in result.items() if k != "benchmark"}, **notes, **controls}
    if not keep_items:
        result.pop("items")
    return result


def _controls(bench, result: dict[str, Any], predictions: list[dict[str, Any]],
              reference: list[dict[str, Any]] | None, silent_input: str | None) -> dict[str, Any]:
    """The control sections of a result: ``control_run`` when its own replies were made without audio,
    ``audio_control`` when a silent run is put beside it (eval/audio_control.py)."""
    out: dict[str, Any] = {}
    control = audio_control.control_of(predictions)
    if control:
        out["control_run"] = control
    if silent_input:
        bad: list[BadLine] = []  # the same policy as --input: an unreadable line is a missing reply
        silent = read_records(silent_input, bad_lines=bad)
        if audio_control.control_of(silent) != audio_control.SILENCE:
            raise UsageError("its replies were not made with eval.infer --audio-control silence",
                             silent_input, option="--silent-input")
        where = {"source": str(silent_input), "meta_source": None, "bad_lines": bad}
        if choice_order.is_rotated(silent):
            pairs = choice_order.score_rotations(bench, silent, reference, **where)[0]
        else:
            pairs = join_predictions(bench, silent, reference, **where)[0]
        out["audio_control"] = {"silent_input": str(silent_input), **audio_control.audio_control_figures(
            result["items"], score(bench, pairs)["items"])}
    return out


def render(result: dict[str, Any]) -> str:
    """The terminal report: total, paper columns, every breakdown, oddities, controls."""
    parts = [f"{result['benchmark']} ({result['version']})  input: {result['input']}"
             + ("  [audio replaced by silence: a control run]" if result.get("control_run") else "")]
    rows = [figure_row("total", result["total"])]
    rows += [figure_row(f"paper: {k}", v) for k, v in result["paper_columns"].items()]
    rows += [figure_row(f"mode: {k}", v) for k, v in result["by_mode"].items()]
    parts.append(text_table(("", *FIGURE_HEADERS), rows))
    for breakdown, groups in result["breakdowns"].items():
        parts.append(text_table((breakdown, *FIGURE_HEADERS), [figure_row(g, f) for g, f in groups.items()]))
    if result.get("audio_control"):
        parts.append(audio_control.render(result))
    if result.get("choice_order"):
        parts.append(choice_order.render(result["choice_order"]))
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
    parser = cli_parser("eval.score", __doc__,
                        reads="a prediction file in the benchmark's own format (--input): its metadata items with the\n"
                              "model's reply added (MMAU model_output, MMAR answer_prediction, AIR response), as\n"
                              "eval.convert writes it",
                        example=('[{"id": "a1b2", "question": "Which sound is heard?", "choices": ["dog barking", "a rising chirp"], '
                                 '"answer": "a rising chirp", "task": "sound", "model_output": "<answer>a rising chirp</answer>", ...},\n'
                                 ' {"id": "c3d4", "question": "Is the speaker happy or sad?", "choices": ["happy", "sad"], '
                                 '"answer": "sad", "task": "speech", "model_output": "<think>Low voice.</think><answer>sad</answer>", ...}]'),
                        writes="a table on stdout (accuracy with its 95 % interval, n / missing / unparsable, per breakdown,\n"
                               "paper column and mode); --out FILE: the result JSON (total, breakdowns, paper_columns,\n"
                               "by_mode, per-item rows), read by eval.compare, eval.think_analysis and eval.report")
    parser.add_argument("benchmark", choices=sorted(benchmarks.BENCHMARKS), help="which benchmark's format and rules")
    parser.add_argument("--input", required=True, help="prediction file in the benchmark's own format "
                                                       "(python -m eval.convert writes one)")
    parser.add_argument("--out", "--output", dest="out", help="write the result JSON here")
    parser.add_argument("--meta", help="reference metadata: its items are the denominator and its answers "
                                       "the gold (recommended; catches dropped items)")
    parser.add_argument("--version", choices=benchmarks.known_versions(benchmarks.MMAU),
                        help="MMAU test-mini version (detected from the metadata when it is an official file)")
    parser.add_argument("--no-items", action="store_true", help="leave the per-item rows out of the JSON")
    parser.add_argument("--silent-input", help="predictions of the same items from an eval.infer --audio-control "
                                               "silence run (converted like --input): adds the silent-audio control")
    args = parser.parse_args(argv)
    result = run(args.benchmark, args.input, args.meta, args.version, keep_items=not args.no_items,
                 silent_input=args.silent_input)
    print(render(result))
    for bad in result.get("unreadable_lines", []):
        print(f"warning: {args.input}:{bad['line']}: {bad['reason']}; counted as missing", file=sys.stderr)
    if args.out:
        write_json(args.out, result)
        print(f"\nwrote {Path(args.out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_run(main))
