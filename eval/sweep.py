"""Evaluate every checkpoint of a training run on one or more benchmarks, as curves against the step.

    python -m eval.sweep --run output/model-c --out output/eval/model-c \\
        --benchmark mmau data/eval/mmau.jsonl mmau-test-mini-v0325.json \\
        [--benchmark mmar data/eval/mmar.jsonl MMAR-meta.json] [--include-base] [--last] \\
        [--batch-size 8] [--max-new-tokens 1024] [--engine vllm] [--dry-run]
    python -m eval.sweep --base-model Qwen/Qwen2-Audio-7B-Instruct --model-type qwen2_audio \\
        --system swift_plugins/prompts/answer_only.txt --out output/eval/qwen2-audio --benchmark ...

RUN is an ms-swift output directory holding ``checkpoint-N`` folders (``--add_version false``, as the
recipes train; a run with one ``vN-<time>`` folder inside is found too). Each checkpoint is evaluated as
ms-swift saved it: a LoRA checkpoint (``adapter_config.json``) as ``--adapters`` on the base model, a full
one as ``--model``. The base model, model type and system prompt are read from the checkpoint's
``args.json`` unless given. Without ``--run`` only the base model is evaluated (step 0).

``--benchmark LABEL ROWS META``: LABEL names the outputs and is ``mmau``, ``mmar``, ``air`` or one of
them followed by ``-anything`` (``mmau-v2025``: a second MMAU version); ROWS is the
``python -m data_prep.benchmarks`` output, META the official metadata (the denominator).

Each checkpoint x benchmark pair runs the existing commands in order, each logged beside its output in
``OUT/checkpoint-N/`` (``OUT/base/`` for step 0):
``eval.infer`` -> ``LABEL.preds.jsonl``, ``eval.convert`` -> ``LABEL_predictions.json``,
``eval.score`` -> ``LABEL.json``, ``eval.think_analysis`` -> ``LABEL.think.json``; then the pair's
line of the sweep table goes to ``LABEL.sweep.json``, written last: a pair with that file is finished
and skipped by a re-run; an interrupted one starts again and ``eval.infer`` continues where it stopped.
The record names the checkpoint it evaluated by identity (its folder and the digest of its
``trainer_state.json``), not by name: a checkpoint trained again into the same folder is evaluated again,
its earlier outputs kept as ``NAME.replaced-<time>``.

The sweep table (``OUT/sweep.json``, ``OUT/sweep.csv``, rebuilt from every finished pair on each run,
so a resumed sweep writes the same files) has one row per step and benchmark: accuracy (percent of all
items), its 95 % interval, n / missing / unparsable, think rate (percent of answered replies in think
mode), accuracy per mode and the mean completion length overall and per mode (``eval.think_analysis``).
``OUT/sweep.png`` draws accuracy (interval as a band) and think rate against the step.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio_thinker import benchmark_declarations as benchmarks, cli
from audio_thinker.cli import UsageError
from audio_thinker.jsonl import atomic_write_text, read_records, write_json

from recipes.launch import life

from .grading import check_items
from .infer import check_benchmark
from .run_args import saved_args

CHECKPOINT = re.compile(r"checkpoint-(\d+)$")
BASE_DIR = "base"  # OUT/base/: step 0, the model before training
COLUMNS = ("step", "checkpoint", "benchmark", "version", "accuracy", "ci95_low", "ci95_high", "n", "missing",
           "unparsable", "think_rate", "think_accuracy", "no_think_accuracy", "mean_tokens",
           "think_mean_tokens", "no_think_mean_tokens")
LENGTHS = COLUMNS[-3:]


@dataclass(frozen=True)
class Benchmark:
    label: str  # output name, e.g. mmau or mmau-v2025
    kind: str  # mmau | mmar | air (eval.benchmarks)
    rows: Path  # data_prep.benchmarks output, the input of eval.infer
    meta: Path  # official metadata: the denominator for eval.convert and eval.score


@dataclass(frozen=True)
class Checkpoint:
    step: int
    name: str  # checkpoint-N, or "base"
    model: str  # what eval.infer loads as --model
    adapters: tuple[str, ...]  # LoRA adapter directories (--adapters)

    @property
    def identity(self) -> dict[str, str]:
        """What makes this checkpoint this one, not just its name: its folder and the digest of the
        ``trainer_state.json`` transformers saved in it (its log history differs between two trainings into
        the same folder); the base model: its name."""
        folder = Path(self.adapters[0] if self.adapters else self.model)
        state = folder / "trainer_state.json"
        if self.name == BASE_DIR or not state.is_file():
            return {"model": self.model}
        return {"checkpoint": str(folder.resolve()),
                "trainer_state_sha256": hashlib.sha256(state.read_bytes()).hexdigest()}


def parse_benchmark(label: str, rows: str, meta: str) -> Benchmark:
    kind = label.split("-", 1)[0]
    if kind not in benchmarks.BENCHMARKS or not re.fullmatch(r"[A-Za-z0-9_.-]+", label):
        raise UsageError(f"LABEL must be one of {sorted(benchmarks.BENCHMARKS)}, optionally followed by "
                         f"-NAME, not {label!r}", option="--benchmark")
    for path in (rows, meta):
        if not Path(path).is_file():
            raise UsageError("no such file", path)
    return Benchmark(label, kind, Path(rows), Path(meta))


def check_inputs(bench: Benchmark) -> None:
    """The checks ``eval.infer`` and ``eval.convert`` make of a benchmark's files, made before any inference:
    the rows (ids, columns, tags and clips: :func:`eval.infer.check_benchmark`) and the metadata (every item
    with its id, choices and answer: :func:`eval.grading.check_items`)."""
    check_benchmark(str(bench.rows))
    check_items(benchmarks.get(bench.kind), read_records(bench.meta), str(bench.meta), "--meta")


def run_root(run: Path) -> Path:
    """The folder holding the checkpoints: RUN itself, or its one ms-swift version folder."""
    if not run.is_dir():
        raise UsageError("not a directory (expected an ms-swift output directory)", run, option="--run")
    if any(CHECKPOINT.match(p.name) for p in run.iterdir()):
        return run
    versions = sorted(p.parent for p in run.glob("*/checkpoint-*"))
    versions = sorted(set(versions))
    if len(versions) > 1:
        raise UsageError(f"holds several runs ({', '.join(v.name for v in versions)}): pass one of them",
                         run, option="--run")
    return versions[0] if versions else run


def find_checkpoints(root: Path, base_model: str | None) -> list[Checkpoint]:
    """Every complete ``checkpoint-N`` under ``root`` by step (:func:`recipes.launch.life.incomplete`): a folder
    without its ``trainer_state.json`` or weights is being saved or was cut off; it is left out."""
    found = []
    for path in root.iterdir():
        match = CHECKPOINT.match(path.name)
        if not match or not path.is_dir():
            continue
        why = life.incomplete(path)
        if why:
            print(f"sweep: {path} is incomplete ({why}); left out", file=sys.stderr)
            continue
        if (path / "adapter_config.json").is_file():
            base = base_model or saved_args(path).get("model") or saved_args(root).get("model")
            if not base:
                raise UsageError("LoRA checkpoint whose args.json names no base model: pass --base-model", path)
            found.append(Checkpoint(int(match.group(1)), path.name, str(base), (str(path),)))
        else:
            found.append(Checkpoint(int(match.group(1)), path.name, str(path), ()))
    return sorted(found, key=lambda c: c.step)


class Plan:
    """Where one checkpoint x benchmark pair writes, and the commands that produce it."""

    def __init__(self, out: Path, ckpt: Checkpoint, bench: Benchmark, infer_args: list[str]):
        self.ckpt, self.bench, self.out = ckpt, bench, out
        self.folder = out / ckpt.name
        stem = self.folder / bench.label
        self.preds = stem.with_name(f"{bench.label}.preds.jsonl")
        self.converted = stem.with_name(f"{bench.label}_predictions.json")
        self.result = stem.with_name(f"{bench.label}.json")
        self.think = stem.with_name(f"{bench.label}.think.json")
        self.record = stem.with_name(f"{bench.label}.sweep.json")
        py = sys.executable
        adapters = [a for path in ckpt.adapters for a in ("--adapters", path)]
        self.steps = [
            ("infer", [py, "-m", "eval.infer", "--model", ckpt.model, *adapters, "--benchmark-file",
                       str(bench.rows), "--out", str(self.preds), *infer_args]),
            ("convert", [py, "-m", "eval.convert", bench.kind, "--predictions", str(self.preds), "--meta",
                         str(bench.meta), "--out", str(self.converted)]),
            ("score", [py, "-m", "eval.score", bench.kind, "--input", str(self.converted), "--meta",
                       str(bench.meta), "--output", str(self.result)]),
            ("think", [py, "-m", "eval.think_analysis", "--input", str(self.result), "--label", bench.label,
                       "--output", str(self.think)]),
        ]

    @property
    def done(self) -> bool:
        """Finished for *this* checkpoint: the record exists and names the checkpoint as it is now. A record
        of another checkpoint of the same name (the run was trained again into the same folder) is not."""
        if not self.record.is_file():
            return False
        try:
            recorded = json.loads(self.record.read_text(encoding="utf-8")).get("checkpoint_identity")
        except json.JSONDecodeError:
            return False
        return recorded == self.ckpt.identity

    def set_aside(self, stamp: str) -> list[Path]:
        """Rename this pair's outputs of an earlier checkpoint to NAME.replaced-STAMP (kept, and no longer
        read: eval.infer would otherwise continue the old predictions, eval.report count the old score)."""
        moved = []
        for path in (self.preds, self.converted, self.result, self.think, self.record):
            if path.exists():
                target = path.with_name(f"{path.name}.replaced-{stamp}")
                path.rename(target)
                moved.append(target)
        return moved

    def log(self, step: str) -> Path:
        return self.folder / f"{self.bench.label}.{step}.log"

    def execute(self) -> str | None:
        """Run the pair's commands; None on success, else a one-line reason naming the log."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for step, cmd in self.steps:
            with self.log(step).open("w", encoding="utf-8") as log:
                log.write("$ " + shlex.join(cmd) + "\n")
                log.flush()
                code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
            if code != 0:
                cause = last_error(self.log(step))
                return (f"{self.ckpt.name} x {self.bench.label}: eval.{step} exited {code}"
                        f"{f': {cause}' if cause else ''} (log: {self.log(step)})")
        write_json(self.record, summarise(self))
        return None


def last_error(log: Path) -> str | None:
    """The failing command's own ``error: ...`` line (its last), without the prefix: the cause, repeated."""
    lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
             if line.startswith("error: ")]
    return lines[-1].removeprefix("error: ") if lines else None


def summarise(plan: Plan) -> dict[str, Any]:
    """The pair's line of the sweep table, from the files the commands wrote."""
    result = json.loads(plan.result.read_text(encoding="utf-8"))
    think = json.loads(plan.think.read_text(encoding="utf-8"))[plan.bench.label]["total"]
    total = result["total"]
    low, high = total.get("ci95") or (None, None)  # eval.score's interval, when it gives one
    no_think = think.get("no_think_rate")
    return {"step": plan.ckpt.step, "checkpoint": plan.ckpt.name, "benchmark": plan.bench.label,
            "version": result.get("version"), "accuracy": total["accuracy"], "ci95_low": low, "ci95_high": high,
            "n": total["n"], "missing": total["missing"], "unparsable": total["unparsable"],
            "think_rate": round(100.0 - no_think, 2) if no_think is not None else None,
            "think_accuracy": think.get("think_accuracy"), "no_think_accuracy": think.get("no_think_accuracy"),
            # completion lengths as eval.think_analysis counts them (tokens of eval/lengths.py)
            **{key: think.get(key) for key in LENGTHS},
            "model": plan.ckpt.model, "adapters": list(plan.ckpt.adapters), "checkpoint_identity": plan.ckpt.identity,
            "result": str(plan.result.relative_to(plan.out))}


def collect(plans: Sequence[Plan]) -> list[dict[str, Any]]:
    """Finished pairs' lines, benchmark by benchmark in the order given, by step."""
    order = {label: i for i, label in enumerate(dict.fromkeys(p.bench.label for p in plans))}
    rows = [json.loads(p.record.read_text(encoding="utf-8")) for p in plans if p.done]
    return sorted(rows, key=lambda r: (order[r["benchmark"]], r["step"]))


def write_table(out: Path, rows: list[dict[str, Any]], source: dict[str, Any]) -> None:
    write_json(out / "sweep.json", {**source, "rows": rows})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "sweep.csv", buf.getvalue())


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Accuracy with its interval as a band (top) and think rate (bottom) against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6))
    for label in dict.fromkeys(r["benchmark"] for r in rows):
        mine = [r for r in rows if r["benchmark"] == label]
        steps = [r["step"] for r in mine]
        acc = [r["accuracy"] if r["accuracy"] is not None else float("nan") for r in mine]
        line, = top.plot(steps, acc, marker="o", label=label)
        if all(r["ci95_low"] is not None for r in mine):
            top.fill_between(steps, [r["ci95_low"] for r in mine], [r["ci95_high"] for r in mine],
                             color=line.get_color(), alpha=0.2, linewidth=0)
        rate = [r["think_rate"] if r["think_rate"] is not None else float("nan") for r in mine]
        bottom.plot(steps, rate, marker="o", color=line.get_color(), label=label)
    top.set_ylabel("accuracy (%), band: 95 % interval")
    top.set_title(title)
    top.legend(fontsize=8)
    bottom.set_ylabel("think rate (%)")
    bottom.set_ylim(-3, 103)
    bottom.set_xlabel("step")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # No creation time in the PNG: a resumed sweep redraws the same file.
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def export_last(plans: Sequence[Plan], folder: Path, source: dict[str, Any]) -> list[Path]:
    """Copy the result JSON of the last evaluated step of each benchmark to FOLDER/LABEL.json: the
    files ``eval.report`` reads as this row's results, each with FOLDER/LABEL.source.json beside it naming
    the run and checkpoint it evaluates (the report names the row from that run, not from FOLDER)."""
    copied = []
    for label in dict.fromkeys(p.bench.label for p in plans):
        finished = [p for p in plans if p.bench.label == label and p.done]
        if finished:
            last = max(finished, key=lambda p: p.ckpt.step)
            target = folder / f"{label}.json"
            atomic_write_text(target, last.result.read_text(encoding="utf-8"))
            write_json(folder / f"{label}.source.json",
                       {"run": source["run_root"] if last.ckpt.name != BASE_DIR else None,
                        "checkpoint": last.ckpt.name, "base_model": source["base_model"],
                        "model_type": source["model_type"],
                        "training": source["training"] if last.ckpt.name != BASE_DIR else None})
            copied.append(target)
    return copied


def build_parser():
    parser = cli.parser("eval.sweep", __doc__,
                        reads="an ms-swift run directory (--run) with checkpoint-N folders, and per --benchmark the\n"
                              "rows of python -m data_prep.benchmarks and the benchmark's metadata",
                        example=("output/model-c/checkpoint-100/   args.json  trainer_state.json  model.safetensors ...\n"
                                 "output/model-c/checkpoint-200/   args.json  trainer_state.json  model.safetensors ..."),
                        writes="in --out: checkpoint-N/ per step (predictions, scores, think analysis and their logs,\n"
                               "LABEL.sweep.json when a pair is finished), sweep.json, sweep.csv (one row per step and\n"
                               "benchmark) and sweep.png (accuracy with its interval and think rate against the step)")
    parser.add_argument("--run", type=Path, help="ms-swift output directory with checkpoint-N folders")
    parser.add_argument("--out", type=Path, required=True, help="folder for every output of the sweep")
    parser.add_argument("--benchmark", nargs=3, action="append", required=True, metavar=("LABEL", "ROWS", "META"),
                        help="repeatable; LABEL = mmau | mmar | air [-NAME]")
    parser.add_argument("--base-model", help="base model for LoRA checkpoints and step 0 "
                                             "(default: the model in the checkpoint's args.json)")
    parser.add_argument("--model-type", help="ms-swift model_type (default: from args.json)")
    parser.add_argument("--system", help="system prompt file (default: the run's own prompt, from args.json)")
    parser.add_argument("--include-base", action="store_true", help="also evaluate the base model as step 0")
    parser.add_argument("--last", action="store_true", help="only the last checkpoint")
    parser.add_argument("--steps", type=int, nargs="+", help="only these steps")
    parser.add_argument("--export-last", type=Path, metavar="DIR",
                        help="copy the last step's result JSONs to DIR/LABEL.json (for eval.report)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=1024)
    parser.add_argument("--engine", choices=("transformers", "vllm"), default="transformers")
    parser.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    return parser


def system_file(args, run_args: dict[str, Any]) -> str | None:
    """The prompt file eval.infer gets: --system, else the run's own prompt (args.json holds its text)."""
    if args.system:
        cli.read_text(args.system)  # fail now, not in the first eval.infer
        return args.system
    text = run_args.get("system")
    if not text:
        return None
    path = args.out / "system.txt"
    if not args.dry_run:
        atomic_write_text(path, text)
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    benches = [parse_benchmark(*spec) for spec in args.benchmark]
    if len({b.label for b in benches}) != len(benches):
        raise UsageError("each LABEL once (name a second version e.g. mmau-v2025)", option="--benchmark")
    ckpts: list[Checkpoint] = []
    run_args: dict[str, Any] = {}
    if args.run:
        root = run_root(args.run)
        ckpts = find_checkpoints(root, args.base_model)
        if not ckpts:
            raise UsageError("no complete checkpoint-N folder", root, option="--run")
        run_args = saved_args(root) or saved_args(Path(ckpts[-1].model if not ckpts[-1].adapters
                                                        else ckpts[-1].adapters[0]))
        training = life.progress(root)
        if not training.finished:   # its checkpoints are intermediate ones, never the row's result
            print(f"sweep: {root} is unfinished ({training.line()} trained): its checkpoints are evaluated as "
                  f"intermediate checkpoints (the report marks the row unfinished)", file=sys.stderr)
        if args.last:
            ckpts = ckpts[-1:]
        if args.steps:
            ckpts = [c for c in ckpts if c.step in set(args.steps)]
    elif not args.base_model:
        raise UsageError("give --run, or --base-model to evaluate a model without training", option="--run")
    base = args.base_model or run_args.get("model")
    if args.include_base or not args.run:
        ckpts.insert(0, Checkpoint(0, BASE_DIR, str(base), ()))
    model_type = args.model_type or run_args.get("model_type")
    infer_args = ["--batch-size", str(args.batch_size), "--max-new-tokens", str(args.max_new_tokens),
                  "--engine", args.engine]
    if model_type:
        infer_args += ["--model-type", model_type]
    system = system_file(args, run_args)
    if system:
        infer_args += ["--system", system]
    plans = [Plan(args.out, c, b, infer_args) for c in ckpts for b in benches]

    todo = [p for p in plans if not p.done]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for p in todo:
        if p.record.is_file() and not args.dry_run:   # evaluated before, but a checkpoint since replaced
            p.set_aside(stamp)
            print(f"sweep: {p.ckpt.name} x {p.bench.label}: the checkpoint changed since it was evaluated "
                  f"(trained again); evaluating it again (the earlier outputs are kept as *.replaced-{stamp})",
                  file=sys.stderr)
    print(f"sweep: {len(ckpts)} step(s) x {len(benches)} benchmark(s): {len(plans) - len(todo)} finished, "
          f"{len(todo)} to run", file=sys.stderr)
    if args.dry_run:
        for p in plans:
            print(f"# {p.ckpt.name} x {p.bench.label}" + (" (finished, skipped)" if p.done else ""))
            if not p.done:
                for _, cmd in p.steps:
                    print(shlex.join(cmd))
        return 0
    for bench in dict.fromkeys(p.bench for p in todo):   # before the first model loads
        check_inputs(bench)
    failures = []
    for p in todo:
        print(f"sweep: {p.ckpt.name} x {p.bench.label}", file=sys.stderr, flush=True)
        failure = p.execute()
        if failure:
            failures.append(failure)
            print(f"sweep: FAILED {failure}", file=sys.stderr, flush=True)
    rows = collect(plans)
    source = {"run": str(args.run) if args.run else None, "run_root": str(root.resolve()) if args.run else None,
              "base_model": base, "model_type": model_type,
              "training": {"steps_trained": training.trained, "steps_planned": training.planned,
                           "finished": training.finished} if args.run else None,
              "benchmarks": {b.label: {"kind": b.kind, "rows": str(b.rows), "meta": str(b.meta)} for b in benches}}
    write_table(args.out, rows, source)
    if rows:
        plot(rows, args.out / "sweep.png", args.run.name if args.run else str(base))
    if args.export_last:
        export_last(plans, args.export_last, source)
    print(f"sweep: {len(rows)} row(s) in {args.out / 'sweep.json'}, {args.out / 'sweep.csv'}"
          + (f", {args.out / 'sweep.png'}" if rows else ""), file=sys.stderr)
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
