"""Consistency and quality of the think traces GRPO runs sampled, over training (claim (d) on the flawed
warm start, docs/mini-experiment.md).

    python -m mini.trace_curves --root output/mini-flawed --seeds 1 2 --rows model-a model-b model-c \\
        --out output/mini-flawed/figures [--window 10]

For every run ``ROOT/seed-S/ROW`` (``mini/table.sh`` output), every think completion it sampled in training
(``completions.jsonl``) is judged again by the task judge (``mini.traces``: the judge served on loopback,
asked through the project's judge client): the consistency rate (R_c's verdict, Eq. 6, asked of every
think trace, and among those with a correct answer by the logged ``ChoiceAccuracy``: the traces R_c
judges) and the mean R_t (docs/rewards.md §5) per window of steps, for every row,
model-a included (it has no judge reward, so its own log has neither). Beside them, what the run logged
itself: ``audio_thinker/judge_consistency_rate`` (correct think completions only: what R_c saw; model-b
and model-c) and ``audio_thinker/think_quality_mean`` (model-c). A completion's question is that of the
training row it quotes (``ROOT/task/train.jsonl``). Where ``mini.traces`` has sampled held-out traces of the
warm start and of each run's last checkpoint (``ROOT/traces/base``, ``ROOT/traces/<row>-seed<s>``; mini/flawed.sh
writes them), each row is compared with the one before it (the first with the warm start): the differences
in consistency and mean R_t with their 95 % intervals. Writes ``trace_curves.json`` and ``trace_curves.png``.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.jsonl import read_completion_tables, read_jsonl
from audio_thinker.rows import question_of
from eval.plot_training import logged, training_rows
from eval.stats import wilson_interval
from mini import judge as mini_judge
from mini.claims import rate_difference
from mini.traces import judge_completions
from swift_plugins.judge.settings import JudgeSettings

ACCURACY = "ChoiceAccuracy"  # completions.jsonl column of swift_plugins.rewards.ChoiceAccuracy (1 correct, 0 not)
LOGGED = {"consistency": logged("judge_consistency_rate"), "quality": logged("think_quality_mean")}


def sampled(run_dir: Path, questions: dict[str, str]) -> list[tuple[int, str, str, bool | None]]:
    """(step, question, completion, correct) of every completion in the run's ``completions.jsonl`` whose
    prompt quotes one of ``questions`` (user text without ``<audio>`` -> the judge's question); correct is
    the logged ``ChoiceAccuracy`` column (the plain accuracy every row logs), None where it is missing."""
    out = []
    for table in read_completion_tables(run_dir / "completions.jsonl"):
        steps, prompts, completions = table.get("step") or [], table.get("prompt") or [], table.get("completion") or []
        accuracy = table.get(ACCURACY) or [None] * len(steps)
        for step, prompt, completion, acc in zip(steps, prompts, completions, accuracy):
            question = next((q for text, q in questions.items() if text in prompt), None)
            if question is not None:
                out.append((int(step), question, completion, None if acc is None else float(acc) > 0.5))
    return out


def windows(judged: Sequence[tuple[int, tuple | None, bool | None]], window: int) -> list[dict[str, Any]]:
    """Per window of ``window`` steps: completions, think traces, consistency rate (%, Wilson interval) of
    all think traces and of those with a correct answer (what R_c judges), and mean R_t of the think traces."""
    if not judged:
        return []
    last = max(step for step, _, _ in judged)
    out = []
    for start in range(1, last + 1, window):
        inside = [(j, ok) for step, j, ok in judged if start <= step < start + window]
        verdicts = [j[0] for j, _ in inside if j is not None and j[0] is not None]
        correct = [j[0] for j, ok in inside if j is not None and j[0] is not None and ok]
        scores = [j[1] for j, _ in inside if j is not None and j[1] is not None]
        out.append({"from": start, "to": min(start + window - 1, last), "completions": len(inside),
                    "think": sum(j is not None for j, _ in inside),
                    "consistent": round(100.0 * sum(verdicts) / len(verdicts), 2) if verdicts else None,
                    "consistent_ci": wilson_interval(int(sum(verdicts)), len(verdicts)),
                    "correct": len(correct),
                    "consistent_when_correct": round(100.0 * sum(correct) / len(correct), 2) if correct else None,
                    "consistent_when_correct_ci": wilson_interval(int(sum(correct)), len(correct)),
                    "quality": round(sum(scores) / len(scores), 4) if scores else None})
    return out


def logged_curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """(step, value) of the run's own logged judge means (a key the run never logged: an empty list)."""
    log = run_dir / "logging.jsonl"
    rows = training_rows(log, []) if log.exists() else []
    return {name: [(step, row[key]) for step, row in rows if row.get(key) is not None] for name, key in LOGGED.items()}


def analyse(root: Path, seeds: Sequence[str], rows: Sequence[str], window: int,
            settings: JudgeSettings) -> dict[str, Any]:
    questions = {r["messages"][-1]["content"].replace("<audio>", ""): question_of(r["messages"])
                 for r in read_jsonl(root / "task" / "train.jsonl")}
    runs = {}
    for seed in seeds:
        for row in rows:
            run_dir = root / f"seed-{seed}" / row
            if not (run_dir / "completions.jsonl").exists():
                continue
            completions = sampled(run_dir, questions)
            judged = judge_completions(settings, [q for _, q, _, _ in completions],
                                       [c for _, _, c, _ in completions])
            runs[f"{row} seed {seed}"] = {"row": row, "seed": seed,
                                          "windows": windows([(s, j, ok) for (s, _, _, ok), j in zip(completions, judged)],
                                                             window),
                                          "logged": logged_curves(run_dir)}
    return {"window": window, "runs": runs, "held_out": held_out(root, seeds, rows)}


def _difference(hi: dict[str, Any], lo: dict[str, Any], key: str) -> dict[str, Any] | None:
    """hi - lo of a rate (percent; normal interval of two independent proportions, mini.claims') or of the
    mean R_t (normal interval from the two means' own interval half-widths)."""
    if key == "quality":
        if hi["quality_ci"] is None or lo["quality_ci"] is None:
            return None
        d = hi["quality"] - lo["quality"]
        half = math.hypot((hi["quality_ci"][1] - hi["quality_ci"][0]) / 2, (lo["quality_ci"][1] - lo["quality_ci"][0]) / 2)
        return {"delta": round(d, 4), "ci95": [round(d - half, 4), round(d + half, 4)]}
    n = "traces" if key == "consistent" else "correct"
    if hi[key] is None or lo[key] is None:
        return None
    d, ci = rate_difference({"think_rate": hi[key] / 100, "answered": hi[n]}, {"think_rate": lo[key] / 100, "answered": lo[n]})
    return {"delta": round(100 * d, 2), "ci95": [round(100 * ci[0], 2), round(100 * ci[1], 2)]}


def held_out(root: Path, seeds: Sequence[str], rows: Sequence[str]) -> dict[str, Any]:
    """The held-out sampled traces (``mini.traces`` output in ``ROOT/traces/<row>-seed<s>/`` and
    ``ROOT/traces/base/``) and, per seed, each row minus the row before it in ``rows`` (and the first row minus
    the warm start): consistency over all traces, among correct answers, mean R_t."""
    found = {}
    for name in ["base", *(f"{row}-seed{seed}" for seed in seeds for row in rows)]:
        path = root / "traces" / name / "traces.json"
        if path.exists():
            found[name] = json.loads(path.read_text())["overall"]
    differences = []
    for seed in seeds:
        chain = ["base", *(f"{row}-seed{seed}" for row in rows)]
        for lo, hi in zip(chain, chain[1:]):
            if lo in found and hi in found:
                differences.append({"a": lo, "b": hi, **{key: _difference(found[hi], found[lo], key)
                                                          for key in ("consistent", "consistent_when_correct", "quality")}})
    return {"runs": found, "differences": differences, "pooled": pooled(differences)}


def pooled(differences: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each comparison's seeds together: the mean of the seeds' differences, its interval half-width the
    root sum of their squared half-widths over the seed count (independent seeds)."""
    by_pair: dict[tuple[str, str], list[dict]] = {}
    for d in differences:
        key = (d["a"].split("-seed")[0], d["b"].split("-seed")[0])
        by_pair.setdefault(key, []).append(d)
    out = []
    for (a, b), ds in by_pair.items():
        entry: dict[str, Any] = {"a": a, "b": b, "seeds": len(ds)}
        for key in ("consistent", "consistent_when_correct", "quality"):
            values = [d[key] for d in ds if d[key] is not None]
            if len(values) != len(ds):
                entry[key] = None
                continue
            mean = sum(v["delta"] for v in values) / len(values)
            half = math.sqrt(sum(((v["ci95"][1] - v["ci95"][0]) / 2) ** 2 for v in values)) / len(values)
            entry[key] = {"delta": round(mean, 4), "ci95": [round(mean - half, 4), round(mean + half, 4)]}
        out.append(entry)
    return out


def plot(doc: dict[str, Any], path: Path) -> None:
    """Four panels over the step: think share, consistency rate of the sampled think traces (all; with a
    correct answer) and their mean R_t; one colour per row, one line style per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(dict.fromkeys(r["row"] for r in doc["runs"].values()))
    seeds = list(dict.fromkeys(r["seed"] for r in doc["runs"].values()))
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    panels = (("think share of completions", lambda w: w["think"] / w["completions"] if w["completions"] else None),
              ("think traces judged consistent", lambda w: w["consistent"] / 100 if w["consistent"] is not None
               else None),
              ("... of those with a correct answer (R_c's)", lambda w: w["consistent_when_correct"] / 100
               if w["consistent_when_correct"] is not None else None),
              ("mean R_t of think traces", lambda w: w["quality"]))
    for ax, (title, value) in zip(axes, panels):
        for label, run in doc["runs"].items():
            points = [((w["from"] + w["to"]) / 2, value(w)) for w in run["windows"] if value(w) is not None]
            ax.plot([x for x, _ in points], [y for _, y in points], marker="o", markersize=2.5, label=label,
                    color=f"C{rows.index(run['row'])}", linestyle=("-", "--", ":")[seeds.index(run["seed"]) % 3])
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(f"step ({doc['window']}-step windows)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("flawed warm start: sampled think traces over training, judged by the task judge", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    cli = cli_parser("mini.trace_curves", __doc__,
                     reads="ROOT/seed-S/ROW/completions.jsonl and logging.jsonl (mini/table.sh runs), ROOT/task/train.jsonl;\n"
                           "a completions.jsonl table (ms-swift --log_completions) looks like",
                     example=('{"step": ["1", "1"], "prompt": ["<|im_start|>user\\n<audio>What is the pitch of the tone? '
                              '...<|im_end|>", "..."], "completion": ["<think>Tone 1: low. So the answer is low.</think>'
                              '<answer>low</answer>", "<answer>low</answer>"]}\n'
                              '{"step": ["2", "2"], "prompt": ["...", "..."], "completion": ["...", "..."]}'),
                     writes="in --out: trace_curves.json (per run: windows of steps with completions, think traces,\n"
                            "consistency rate and its interval, mean R_t; the run's own logged judge means) and\n"
                            "trace_curves.png")
    cli.add_argument("--root", type=Path, required=True, help="mini/table.sh's MINI_ROOT")
    cli.add_argument("--seeds", nargs="+", required=True)
    cli.add_argument("--rows", nargs="+", required=True)
    cli.add_argument("--out", type=Path, required=True, help="folder for trace_curves.json / .png (created)")
    cli.add_argument("--window", type=int, default=10, help="steps per window")
    args = cli.parse_args(argv)
    if args.window < 1:
        raise UsageError("must be >= 1", option="--window")
    if not (args.root / "task" / "train.jsonl").is_file():
        raise UsageError("no task/train.jsonl here (is this a mini/table.sh MINI_ROOT?)", args.root)
    server = mini_judge.start_in_thread()
    try:
        settings = JudgeSettings(url=f"http://127.0.0.1:{server.server_address[1]}/v1", model=mini_judge.SERVED_NAME)
        doc = analyse(args.root, args.seeds, args.rows, args.window, settings)
    finally:
        server.shutdown()
        server.server_close()
    if not doc["runs"]:
        raise UsageError("no run with a completions.jsonl under seed-*/ROW for these seeds and rows", args.root)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "trace_curves.json").write_text(json.dumps(doc, indent=1))
    plot(doc, args.out / "trace_curves.png")
    for label, run in doc["runs"].items():
        first, last = run["windows"][0], run["windows"][-1]
        print(f"{label}: consistent {first['consistent']} -> {last['consistent']} % (correct answers "
              f"{first['consistent_when_correct']} -> {last['consistent_when_correct']} %), R_t {first['quality']} -> "
              f"{last['quality']}, think traces {first['think']} -> {last['think']} per {doc['window']} steps")
    fmt = lambda d: f"{d['delta']:+} [{d['ci95'][0]:+}, {d['ci95'][1]:+}]" if d else "-"  # noqa: E731
    for d in doc["held_out"]["differences"] + doc["held_out"]["pooled"]:
        seeds = f" ({d['seeds']} seeds pooled)" if "seeds" in d else ""
        print(f"held out, {d['b']} - {d['a']}{seeds}: consistent {fmt(d['consistent'])} points, among correct "
              f"answers {fmt(d['consistent_when_correct'])}, R_t {fmt(d['quality'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_run(main))
