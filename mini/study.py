"""The study's decisions and summaries (docs/mini-experiment.md, "Why ATAR stops thinking"); mini/study.sh
calls it.

    python -m mini.study best --root output/study --seeds 1 2 --rows model-a-tok model-a-nostd ...
        # the variant whose thinking is most difficulty-aware (the one run again for 3x the steps)
    python -m mini.study measure --root output/study --runs output/study/seed-1/model-a ...
        # eval.think_propensity on every checkpoint of each run (held-out items, the row's own prompt) and
        # on the warm start; eval.mode_signal on each run's completions.jsonl -> ROOT/measure/
    python -m mini.study report --root output/study --seeds 1 2 --rows model-a ... --references grpo-a grpo-b \
        --out output/study/report.md   # the study's table, the criterion, the two figures

"Most difficulty-aware" is read from the runs' own training logs (no extra inference): per seed, the think
share of the completions sampled on hard prompts minus that on easy prompts over the last fifth of the steps
(``mini.claims.training_think_rates``), averaged over the seeds; ties go to the row listed first.
"""
from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.jsonl import write_json
from recipes import catalogue

from mini.claims import DIFFICULTIES, by_difficulty, training_think_rates
from eval.compare import load_result
from eval.stats import Z95

# The criterion of a difficulty-aware policy (docs/mini-experiment.md): at the end of training, think
# propensity on hard held-out items above easy ones by at least this much, the interval of the difference
# above 0, on every seed.
AWARE_GAP = 0.2


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


# --- measure: the instruments on every run ------------------------------------------------------------------

def _checkpoints(run: Path) -> list[tuple[int, Path]]:
    found = []
    for ckpt in run.glob("checkpoint-*"):
        if ckpt.name.split("-")[-1].isdigit() and (ckpt / "config.json").exists():
            found.append((int(ckpt.name.split("-")[-1]), ckpt))
    return sorted(found)


def _run_key(root: Path, run: Path) -> tuple[str, str]:
    """(group, row): group is ``seed-<s>`` or ``long``, the folder the run sits in under ROOT."""
    return run.parent.name, run.name


def measure_jobs(root: Path, runs: Sequence[Path], items: int, final_items: int, python: str,
                 curves: Sequence[str] | None = None) -> list[tuple[Path, list[str]]]:
    """(output, command) of every measurement not made yet: think propensity at each checkpoint (the last one
    on the first ``final_items`` held-out items, the earlier ones on the first ``items``; the held-out rows
    cycle through the difficulties, so a third of each is per difficulty), on the warm start under each prompt
    the runs use (``final_items``), and the mode signal of each run. With ``curves``, only the runs of those
    groups (``seed-1``, ``long``) are measured at every checkpoint, the others at their last."""
    task = root / "task"
    cat = catalogue.load()
    model_type = cat.backbones["qwen2-audio"].model_type   # the miniature's backbone (mini.build)
    bench = [python, "-m", "eval.think_propensity", "--model-type", model_type,
             "--benchmark-file", str(task / "test.jsonl"), "--meta", str(task / "test-meta.json")]
    jobs = []
    prompts = set()
    for run in runs:
        group, row = _run_key(root, run)
        prompt = cat.row(row).prompt_file()
        prompts.add(prompt)
        out_dir = root / "measure" / group / row
        ckpts = _checkpoints(run)
        if curves is not None and group not in curves:
            ckpts = ckpts[-1:]   # the end of training only: the curves come from the groups named
        for step, ckpt in ckpts:
            out = out_dir / f"propensity-{step}.json"
            limit = ["--limit", str(final_items if step == ckpts[-1][0] else items)]
            jobs.append((out, [*bench, "--model", str(ckpt), "--system", str(prompt), "--out", str(out), *limit]))
        if (run / "completions.jsonl").exists():
            out = out_dir / "mode_signal.json"
            jobs.append((out, [python, "-m", "eval.mode_signal", "--run", str(run), "--data",
                               str(task / "train.jsonl"), "--out", str(out)]))
    model = os.environ.get("MINI_MODEL") or str(Path(__file__).resolve().parent.parent / ".cache/mini/qwen2-audio")
    for prompt in sorted(prompts):
        out = root / "measure" / "base" / f"propensity-{prompt.stem}.json"
        jobs.append((out, [*bench, "--model", model, "--system", str(prompt), "--out", str(out),
                           "--limit", str(final_items)]))
    return [(out, cmd) for out, cmd in jobs if not out.exists()]


def measure(root: Path, runs: Sequence[Path], items: int, final_items: int, jobs: int,
            curves: Sequence[str] | None = None) -> int:
    """Run the measurements, ``jobs`` at a time (one thread each); a failure is reported and the rest go on."""
    import subprocess

    todo = measure_jobs(root, runs, items, final_items, sys.executable, curves)
    print(f"{len(todo)} measurements to make", flush=True)
    failed = 0
    running: list[tuple[Path, subprocess.Popen]] = []

    def reap(block: bool) -> None:
        nonlocal failed
        for out, proc in list(running):
            if block or proc.poll() is not None:
                if proc.wait():
                    failed += 1
                    print(f"  failed ({proc.returncode}): {out} (see {out.with_suffix('.log')})", flush=True)
                running.remove((out, proc))
                return

    for out, cmd in todo:
        while len(running) >= jobs:
            reap(block=False)
            if len(running) >= jobs:
                import time
                time.sleep(0.5)
        out.parent.mkdir(parents=True, exist_ok=True)
        log = out.with_suffix(".log").open("w")
        print("+ " + " ".join(cmd), flush=True)
        running.append((out, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                              env={**os.environ, "OMP_NUM_THREADS": "1"})))
    while running:
        reap(block=True)
    return 1 if failed else 0


# --- report --------------------------------------------------------------------------------------------------

def _read(path: Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def propensity_gap(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """Think propensity hard − easy of one measurement, with a 95 % normal interval of the difference of the
    two independent item means (from the per-item probabilities)."""
    if not doc or "items" not in doc:
        return None
    meta_groups: dict[str, list[float]] = {}
    for name in ("hard", "easy"):
        entry = doc.get("by_difficulty", {}).get(name)
        if not entry or not entry.get("n"):
            return None
    by = doc["by_difficulty"]
    # per-item values are in doc["items"]; the groups' members are not listed, so use each group's t interval
    # half-width as 1.96·se (n ≥ 50 per group here: t and normal agree to 2 %)
    def se(entry):
        lo, hi = entry["ci"]
        return (hi - lo) / (2 * Z95)
    d = by["hard"]["propensity"] - by["easy"]["propensity"]
    half = Z95 * math.sqrt(se(by["hard"]) ** 2 + se(by["easy"]) ** 2)
    return {"hard": by["hard"]["propensity"], "easy": by["easy"]["propensity"],
            "medium": by.get("medium", {}).get("propensity"), "difference": d, "ci95": [d - half, d + half],
            "n": {k: by[k]["n"] for k in by}}


def collect(root: Path, seeds: Sequence[str], rows: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """Every figure of the study's report, as one JSON-able document."""
    doc: dict[str, Any] = {"runs": {}, "aware": {}, "long": {}, "base": {}}
    for prompt_file in sorted((root / "measure" / "base").glob("propensity-*.json")):
        doc["base"][prompt_file.stem.removeprefix("propensity-")] = propensity_gap(_read(prompt_file))
    groups = [(f"seed-{s}", s) for s in seeds] + [("long", seeds[0])]
    for group, seed in groups:
        for row in [*references, *rows]:
            run = root / group / row
            if not run.exists():
                continue
            result_path = root / group / "study" / "results" / row / "mmau.json"
            figures = by_difficulty(load_result(result_path)["items"]) if result_path.exists() else None
            measured = root / "measure" / group / row
            curve = {}
            for path in sorted(measured.glob("propensity-*.json")):
                m = _read(path)
                if m:
                    curve[int(path.stem.split("-")[-1])] = {d: m["by_difficulty"].get(d, {}).get("propensity")
                                                           for d in DIFFICULTIES}
            last = max(curve) if curve else None
            entry = {"group": group, "seed": seed, "row": row, "figures": figures,
                     "propensity_curve": dict(sorted(curve.items())),
                     "end": propensity_gap(_read(measured / f"propensity-{last}.json")) if last else None,
                     "mode_signal": _read(measured / "mode_signal.json"),
                     "training": training_think_rates(run, root / "task" / "train.jsonl")}
            doc["runs"][f"{row} {group}"] = entry
    for row in rows:
        ends = [doc["runs"].get(f"{row} seed-{s}", {}).get("end") for s in seeds]
        doc["aware"][row] = {"per_seed": ends, "met": all(e and e["difference"] >= AWARE_GAP and e["ci95"][0] > 0
                                                          for e in ends)}
    return doc


def _f(x, digits=2, signed=False) -> str:
    return "–" if x is None else (f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}")


def render(doc: dict[str, Any], seeds: Sequence[str], figures: dict[str, str]) -> str:
    lines = ["# The study: why ATAR stops thinking", "",
             "## Per run: held-out accuracy, think propensity at the end of training, tokens", "",
             "| run | accuracy % | easy | medium | hard | propensity e / m / h | hard − easy (95 % CI) | "
             "tokens e / m / h | sampled think share e / h (last fifth) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in doc["runs"].items():
        f, e, t = r["figures"], r["end"], r["training"]
        acc = (" | ".join([_f(f["all"]["accuracy"], 1)] + [_f(f[d]["accuracy"], 1) for d in DIFFICULTIES])
               if f else "– | – | – | –")
        prop = " / ".join(_f(e[d]) for d in DIFFICULTIES) if e else "–"
        gap = f"{_f(e['difference'], 2, True)} [{_f(e['ci95'][0], 2, True)}, {_f(e['ci95'][1], 2, True)}]" if e else "–"
        toks = " / ".join(_f(f[d]["mean_tokens"], 1) for d in DIFFICULTIES) if f else "–"
        sampled = (f"{_f(t.get('easy', {}).get('think_rate'))} / {_f(t.get('hard', {}).get('think_rate'))}"
                   if t else "–")
        lines.append(f"| {name} | {acc} | {prop} | {gap} | {toks} | {sampled} |")
    lines += ["", f"## Difficulty-aware thinking: hard − easy ≥ {AWARE_GAP} with the interval above 0, on every "
              "seed", ""]
    for row, a in doc["aware"].items():
        per = "; ".join(f"seed {s}: " + (f"{_f(e['difference'], 2, True)} [{_f(e['ci95'][0], 2, True)}, "
                                         f"{_f(e['ci95'][1], 2, True)}]" if e else "not measured")
                        for s, e in zip(seeds, a["per_seed"]))
        lines.append(f"- {row}: **{'met' if a['met'] else 'not met'}** ({per})")
    if doc["base"]:
        lines += ["", "Warm start: " + "; ".join(
            f"{p}: e / m / h {_f(b['easy'])} / {_f(b['medium'])} / {_f(b['hard'])}" for p, b in doc["base"].items()
            if b)]
    lines += ["", "## Figures", ""] + [f"![{k}]({v})" for k, v in figures.items()]
    return "\n".join(lines) + "\n"


def plot_propensity(doc: dict[str, Any], rows: Sequence[str], path: Path) -> None:
    """Think propensity per difficulty against the step, one panel per row; seeds solid/dashed, long dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = doc["base"].get("adaptive_think")
    rows = [row for row in rows if any(r["row"] == row and r["propensity_curve"] for r in doc["runs"].values())]
    if not rows:   # nothing measured yet: no figure rather than empty panels
        return
    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.2), squeeze=False, sharey=True)
    colours = dict(zip(DIFFICULTIES, ("tab:green", "tab:orange", "tab:red")))
    styles = {"seed-1": "-", "seed-2": "--", "seed-3": "-.", "long": ":"}
    for ax, row in zip(axes[0], rows):
        for name, r in doc["runs"].items():
            if r["row"] != row or not r["propensity_curve"]:
                continue
            steps = [0, *r["propensity_curve"]] if base else list(r["propensity_curve"])
            for d in DIFFICULTIES:
                ys = ([base[d]] if base else []) + [v[d] for v in r["propensity_curve"].values()]
                ax.plot(steps, ys, styles.get(r["group"], "-"), color=colours[d], marker="o", markersize=2,
                        label=f"{d}, {r['group']}")
        ax.set_title(row, fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("think propensity (held-out, exact)")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_mode_signal(doc: dict[str, Any], rows: Sequence[str], path: Path) -> None:
    """Per row (first seed), from eval.mode_signal: the mean advantage of think and of no-think completions per
    difficulty over the windows of steps (top), and the net push on the decision token (bottom; > 0 towards
    thinking, under the run's loss type)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [row for row in rows if (doc["runs"].get(f"{row} seed-1") or {}).get("mode_signal")]
    if not shown:
        return
    fig, axes = plt.subplots(2, len(shown), figsize=(3.2 * len(shown), 5.6), squeeze=False, sharey="row")
    colours = dict(zip(DIFFICULTIES, ("tab:green", "tab:orange", "tab:red")))
    for col, row in enumerate(shown):
        signal = doc["runs"][f"{row} seed-1"]["mode_signal"]
        windows = signal.get("windows") or []
        for d in DIFFICULTIES:
            xs, think, plain, share = [], [], [], []
            for w in windows:
                entry = (w.get("by_difficulty") or {}).get(d)
                if not entry:
                    continue
                xs.append(sum(w["steps"]) / 2)   # the window's first and last logged step
                think.append(entry.get("think_advantage"))
                plain.append(entry.get("no_think_advantage"))
                share.append(entry.get("decision_push"))
            axes[0][col].plot(xs, think, "-", color=colours[d], label=f"think, {d}")
            axes[0][col].plot(xs, plain, "--", color=colours[d], label=f"no-think, {d}")
            axes[1][col].plot(xs, share, "-", color=colours[d], label=d)
        axes[0][col].axhline(0, color="grey", lw=0.5)
        axes[0][col].set_title(f"{row} (seed 1)", fontsize=9)
        axes[1][col].set_xlabel("step")
        axes[1][col].axhline(0, color="grey", lw=0.5)
    axes[0][0].set_ylabel("mean advantage")
    axes[1][0].set_ylabel("push on the decision token")
    axes[0][0].legend(fontsize=6)
    axes[1][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report(root: Path, seeds: Sequence[str], rows: Sequence[str], references: Sequence[str], out: Path) -> dict:
    doc = collect(root, seeds, rows, references)
    figures = {}
    fig_dir = out.parent / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    plot_propensity(doc, rows, fig_dir / "propensity_over_training.png")
    if (fig_dir / "propensity_over_training.png").exists():
        figures["think propensity by difficulty over training, per variant"] = "figures/propensity_over_training.png"
    plot_mode_signal(doc, rows, fig_dir / "mode_signal.png")
    if (fig_dir / "mode_signal.png").exists():
        figures["the mode signal: advantage of each mode and push on the decision token per difficulty"] = \
            "figures/mode_signal.png"
    out.write_text(render(doc, seeds, figures), encoding="utf-8")
    write_json(out.with_name("study.json"), doc)
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    cli = cli_parser("mini.study", __doc__)
    sub = cli.add_subparsers(dest="command", required=True)
    b = sub.add_parser("best", help="print the most difficulty-aware variant")
    b.add_argument("--root", type=Path, required=True, help="mini/study.sh's output folder")
    b.add_argument("--seeds", nargs="+", required=True)
    b.add_argument("--rows", nargs="+", required=True)
    m = sub.add_parser("measure", help="think propensity per checkpoint and mode signal per run")
    m.add_argument("--root", type=Path, required=True)
    m.add_argument("--runs", nargs="+", type=Path, required=True)
    m.add_argument("--items", type=int, default=90, help="held-out items at the earlier checkpoints")
    m.add_argument("--final-items", type=int, default=300, help="held-out items at the last checkpoint")
    m.add_argument("--jobs", type=int, default=2)
    m.add_argument("--curves", nargs="*", help="groups (seed-1, long) measured at every checkpoint; the others "
                   "at their last only (default: every run at every checkpoint)")
    r = sub.add_parser("report", help="the study's report and figures")
    r.add_argument("--root", type=Path, required=True)
    r.add_argument("--seeds", nargs="+", required=True)
    r.add_argument("--rows", nargs="+", required=True)
    r.add_argument("--references", nargs="*", default=[])
    r.add_argument("--out", type=Path, required=True)
    args = cli.parse_args(argv)
    if args.command == "measure":
        return measure(args.root, args.runs, args.items, args.final_items, args.jobs, args.curves)
    if args.command == "report":
        report(args.root, args.seeds, args.rows, args.references, args.out)
        print(args.out)
        return 0
    if args.command == "best":
        row, gaps = best(args.root, args.seeds, args.rows)
        for name, gap in gaps.items():
            print(f"  {name}: sampled think share hard - easy at the end of training "
                  f"{'-' if gap is None else f'{gap:+.3f}'}", file=sys.stderr)
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(cli_run(main))
