"""Consistency and quality of the think traces GRPO runs sampled, over training (claim (d) on the flawed
warm start, docs/mini-experiment.md).

    python -m mini.trace_curves --root output/mini-flawed --seeds 1 2 --rows model-a model-b model-c \\
        --out output/mini-flawed/figures [--window 10]

For every run ``ROOT/seed-S/ROW`` (``mini/table.sh`` output), every think completion it sampled in training
(``completions.jsonl``) is judged again by the task judge (``mini.traces``: the judge served on loopback,
asked through the project's judge client): the consistency rate (R_c's verdict, Eq. 6, asked of every
think trace, correct or not) and the mean R_t (docs/rewards.md §5) per window of steps, for every row,
model-a included (it has no judge reward, so its own log has neither). Beside them, what the run logged
itself: ``audio_thinker/judge_consistency_rate`` (correct think completions only: what R_c saw; model-b
and model-c) and ``audio_thinker/think_quality_mean`` (model-c). A completion's question is that of the
training row it quotes (``ROOT/task/train.jsonl``). Writes ``trace_curves.json`` and ``trace_curves.png``.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.jsonl import read_completion_tables, read_jsonl
from audio_thinker.rows import question_of
from eval.plot_training import logged, training_rows
from eval.stats import wilson_interval
from mini import judge as mini_judge
from mini.traces import judge_completions
from swift_plugins.judge.settings import JudgeSettings

LOGGED = {"consistency": logged("judge_consistency_rate"), "quality": logged("think_quality_mean")}


def sampled(run_dir: Path, questions: dict[str, str]) -> list[tuple[int, str, str]]:
    """(step, question, completion) of every completion in the run's ``completions.jsonl`` whose prompt
    quotes one of ``questions`` (user text without ``<audio>`` -> the judge's question)."""
    out = []
    for table in read_completion_tables(run_dir / "completions.jsonl"):
        for step, prompt, completion in zip(table.get("step") or [], table.get("prompt") or [],
                                            table.get("completion") or []):
            question = next((q for text, q in questions.items() if text in prompt), None)
            if question is not None:
                out.append((int(step), question, completion))
    return out


def windows(judged: Sequence[tuple[int, tuple | None]], window: int) -> list[dict[str, Any]]:
    """Per window of ``window`` steps: completions, think traces, consistency rate (%, Wilson interval)
    and mean R_t of the think traces."""
    if not judged:
        return []
    last = max(step for step, _ in judged)
    out = []
    for start in range(1, last + 1, window):
        inside = [j for step, j in judged if start <= step < start + window]
        verdicts = [j[0] for j in inside if j is not None and j[0] is not None]
        scores = [j[1] for j in inside if j is not None and j[1] is not None]
        out.append({"from": start, "to": min(start + window - 1, last), "completions": len(inside),
                    "think": sum(j is not None for j in inside),
                    "consistent": round(100.0 * sum(verdicts) / len(verdicts), 2) if verdicts else None,
                    "consistent_ci": wilson_interval(int(sum(verdicts)), len(verdicts)),
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
            judged = judge_completions(settings, [q for _, q, _ in completions], [c for _, _, c in completions])
            runs[f"{row} seed {seed}"] = {"row": row, "seed": seed,
                                          "windows": windows([(s, j) for (s, _, _), j in zip(completions, judged)],
                                                             window),
                                          "logged": logged_curves(run_dir)}
    return {"window": window, "runs": runs}


def plot(doc: dict[str, Any], path: Path) -> None:
    """Three panels over the step: think share, consistency rate and mean R_t of the sampled think traces;
    one colour per row, one line style per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(dict.fromkeys(r["row"] for r in doc["runs"].values()))
    seeds = list(dict.fromkeys(r["seed"] for r in doc["runs"].values()))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    panels = (("think share of completions", lambda w: w["think"] / w["completions"] if w["completions"] else None),
              ("think traces judged consistent", lambda w: w["consistent"] / 100 if w["consistent"] is not None
               else None),
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
        print(f"{label}: consistent {first['consistent']} -> {last['consistent']} %, R_t {first['quality']} -> "
              f"{last['quality']}, think traces {first['think']} -> {last['think']} per {doc['window']} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_run(main))
