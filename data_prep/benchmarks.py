"""Benchmarks as downloaded -> evaluation JSONL in the training row format.

    python -m data_prep.benchmarks mmau --meta mmau-test-mini.json [--audio-root DIR] --out mmau.jsonl
    python -m data_prep.benchmarks mmar --meta MMAR-meta.json [--audio-root DIR] --out mmar.jsonl
    python -m data_prep.benchmarks air  --meta Foundation/Foundation_meta.json [--audio-root DIR] --out air.jsonl
    (add --allow-missing to write the rows whose audio exists and exit 0)

``--audio-root`` defaults to the metadata file's folder: MMAU's
``./test-mini-audios/<id>.wav`` and MMAR's ``./audio/<id>.wav`` are resolved
against it (if that file is absent, the bare file name directly under the root
is tried, so the root may also be the audio folder itself); AIR-Bench audio is
``<root>/{task_name}_{dataset_name}/{path}`` with root = the ``Foundation``
folder.

Every output row (one per benchmark item, metadata order)::

    messages     [{"role": "user", "content": "<audio>Q Please choose ... [choices]."}]
                 (audio_thinker.rows.USER_TEMPLATE: the same user text as training)
    audios       [absolute path of the audio file]
    solution     gold answer text (MMAU/MMAR "answer"; AIR "answer_gt")
    choices      list of choice texts (AIR: choice_a..choice_d that are present)
    benchmark    "mmau" | "mmar" | "air"
    id           the benchmark's own id (MMAU/MMAR "id", AIR "uniq_id"), unchanged
    question     the benchmark's question, unchanged
    audio_ref    the path as written in the metadata
    answer_in_choices  False for the few items whose gold is not a choice
                 (6 in MMAR-meta.json): kept, so the denominator stays complete
    + the benchmark's ``row_fields`` (``audio_thinker.benchmark_declarations``, where every field name above comes
      from) under their original names; a one-item list (MMAU ``category`` in 13 items) is unwrapped
      to a string. AIR adds subset (= "{task_name}_{dataset_name}") and train_overlap (True for its
      ``training_overlap`` datasets: AVQA is the training set)

Audio files are checked as the pre-flight's header check does
(``data_prep.preflight``): a clip that is missing, does not decode, is a
truncated WAV or is shorter than the encoder needs (0.2 s) is one the model
cannot hear. Each is one line on stderr, ``error: META: item ID: CLIP: what``,
listed in ``<out>.missing.jsonl`` (``id``, ``audio_ref``, ``expected``,
``problem``) and counted as ``missing``; unless ``--allow-missing`` the
command then writes no rows and exits 2 (the lines say ``warning:`` with it).
Clips longer than the model's audio window are kept (``eval.infer`` names them):
the benchmarks are scored as published. A summary (items, written, missing,
answer_not_in_choices) is printed as JSON and saved as ``<out>.summary.json``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from audio_thinker import benchmark_declarations as benchmarks
from audio_thinker.benchmark_declarations import Benchmark
from audio_thinker.cli import USAGE_EXIT, UsageError, parser as cli_parser, run as cli_run
from audio_thinker.jsonl import read_records, where, write_json, write_jsonl
from audio_thinker.row_checks import Limits
from audio_thinker.rows import training_row
from data_prep.preflight import audio_clip


class InvalidItem(ValueError):
    """A record that cannot be scored; ``at``: where it starts in the metadata file
    (:func:`audio_thinker.jsonl.where`)."""

    def __init__(self, message: str, at: str | None = None):
        super().__init__(message)
        self.at = at


def _resolve(root: Path, ref: str) -> Path:
    """``root/ref``, or ``root/<file name>`` when only that exists."""
    path = (root / ref).resolve()
    if not path.exists():
        alt = (root / Path(ref).name).resolve()
        if alt.exists():
            return alt
    return path


def _unwrap(value):
    """MMAU stores some categories as a one-item list."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def benchmark_row(bench: Benchmark, rec: dict, root: Path) -> dict:
    """One evaluation row (the schema above) from one metadata record; the fields come from ``bench``."""
    item_id, question, answer = rec[bench.id_field], rec["question"], rec[bench.answer_field]
    choices, audio_ref = bench.choice_values(rec), bench.audio_ref(rec)
    # AIR's layout is fixed (<root>/<subset>/<path>); MMAU/MMAR's ./folder/<id>.wav may also sit directly
    # under the root.
    audio = (root / audio_ref).resolve() if bench.audio_in_subset else _resolve(root, audio_ref)
    extra = {k: _unwrap(rec.get(k)) for k in bench.row_fields}
    if "subset" in bench.breakdowns:
        extra["subset"] = bench.group(rec, "subset")
    if bench.training_overlap:
        extra["train_overlap"] = str(rec.get("dataset_name")).lower() in bench.training_overlap
    if not isinstance(question, str) or not question.strip():
        raise InvalidItem(f"{item_id!r}: empty question")
    if len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise InvalidItem(f"{item_id!r}: needs >= 2 string choices, got {choices!r}")
    if not isinstance(answer, str) or not answer.strip():
        raise InvalidItem(f"{item_id!r}: empty answer")
    return training_row(question, choices, answer, audio, benchmark=bench.name, id=item_id, question=question,
                        audio_ref=audio_ref, answer_in_choices=answer in choices, **extra)


def unheard(path: str, limits: Limits = Limits(too_long="warn")) -> str | None:
    """Why the model cannot hear the clip at ``path`` (the pre-flight's header check), or None."""
    clip = audio_clip(path, full=False)
    if clip.problem:
        return clip.problem
    verdict = limits.verdict(clip.seconds) if clip.seconds is not None else None
    return verdict[0] if verdict and not verdict[1] else None


def convert(benchmark: str, meta: Path, out: Path, audio_root: Path | None = None,
            allow_missing: bool = False) -> dict:
    """Convert one benchmark; returns the summary. Raises InvalidItem on records
    that cannot be scored (no question, choices or answer)."""
    meta, out = Path(meta), Path(out)
    root = Path(audio_root) if audio_root else meta.parent
    rows, missing, invalid = [], [], []
    bench = benchmarks.get(benchmark)
    records = read_records(meta)
    for index, rec in enumerate(records):
        at = where(records, index)   # a record is named by the line it starts on, as every command names it
        try:
            row = benchmark_row(bench, rec, root)
        except (KeyError, TypeError) as exc:
            invalid.append((at, f"missing or malformed field {exc}"))
            continue
        except InvalidItem as exc:
            invalid.append((at, str(exc)))
            continue
        problem = unheard(row["audios"][0])
        if problem:
            missing.append({"id": row["id"], "at": at, "audio_ref": row["audio_ref"],
                            "expected": row["audios"][0], "problem": problem})
            continue
        rows.append(row)
    if invalid:
        (first, why), others = invalid[0], [n for n, _ in invalid[1:]]
        raise InvalidItem(why + (f" ({len(invalid)} invalid items; the others on line(s) {', '.join(others[:10])}"
                                 f"{' ...' if len(others) > 10 else ''})" if others else ""), first)
    out.parent.mkdir(parents=True, exist_ok=True)
    missing_path = out.with_name(out.name + ".missing.jsonl")
    write_jsonl(missing_path, missing)
    ok = allow_missing or not missing
    summary = {"benchmark": benchmark, "meta": str(meta), "items": len(rows) + len(missing),
               "written": len(rows) if ok else 0, "missing": len(missing),
               "answer_not_in_choices": sum(not r["answer_in_choices"] for r in rows),
               "out": str(out) if ok else None, "missing_list": str(missing_path)}
    if ok:
        write_jsonl(out, rows)
    write_json(out.with_name(out.name + ".summary.json"), summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser("data_prep.benchmarks", __doc__,
                        reads="a benchmark's metadata JSON as released (--meta; MMAU test-mini, MMAR, AIR-Bench\n"
                              "Foundation), with the audio beside it (or under --audio-root); e.g. MMAU's items",
                        example=('[{"id": "a1b2", "audio_id": "./test-mini-audios/a1b2.wav", "question": "Which sound is heard?", '
                                 '"choices": ["dog barking", "a rising chirp"], "answer": "a rising chirp", "task": "sound", "difficulty": "easy", ...},\n'
                                 ' {"id": "c3d4", "audio_id": "./test-mini-audios/c3d4.wav", "question": "Is the speaker happy or sad?", '
                                 '"choices": ["happy", "sad"], "answer": "sad", "task": "speech", "difficulty": "medium", ...}]'),
                        writes="--out: benchmark rows (JSONL, one per item in metadata order: the training format plus\n"
                               "the benchmark's id and grouping fields); <out>.missing.jsonl lists clips not found\n"
                               "(exit 1 without rows unless --allow-missing)")
    parser.add_argument("benchmark", choices=sorted(benchmarks.BENCHMARKS), help="which benchmark's metadata format")
    parser.add_argument("--meta", type=Path, required=True, help="metadata JSON as downloaded")
    parser.add_argument("--audio-root", type=Path, default=None,
                        help="folder the metadata's audio paths are relative to (default: the meta's folder)")
    parser.add_argument("--out", type=Path, required=True, help="evaluation JSONL to write")
    parser.add_argument("--allow-missing", action="store_true",
                        help="write the rows whose audio exists and exit 0 even if some are missing")
    args = parser.parse_args(argv)
    if args.audio_root is not None and not args.audio_root.is_dir():
        raise UsageError(f"{args.audio_root} is not a directory", option="--audio-root")
    try:
        summary = convert(args.benchmark, args.meta, args.out, args.audio_root, args.allow_missing)
    except InvalidItem as exc:
        raise UsageError(f"not {args.benchmark} metadata: {exc}", args.meta, exc.at) from None
    print(json.dumps(summary))
    if summary["missing"]:
        label = "warning" if args.allow_missing else "error"
        for item in read_records(summary["missing_list"]):
            print(f"{label}: {args.meta}:{item['at']}: item {item['id']!r}: {item['expected']}: {item['problem']}",
                  file=sys.stderr)
        print(f"{label}: {summary['missing']} audio file(s) missing or unusable, listed in {summary['missing_list']}"
              + ("" if args.allow_missing else "; no rows written (use --allow-missing)"), file=sys.stderr)
        return 0 if args.allow_missing else USAGE_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(cli_run(main))
