#!/usr/bin/env python
"""Measure the miniature's precondition: does thinking help the warm-started model where it should?

    python -m mini.precondition --model .cache/mini/qwen2-audio --task DIR --out DIR [--limit N]
    python -m mini.precondition --model .cache/mini-flawed/qwen2-audio --task DIR --out DIR --traces N

``--task`` is a ``mini.task`` folder (``test.jsonl``, ``test-meta.json``). The held-out items
are answered twice by the project's evaluation, once under the answer-only prompt (grpo-a's) and once
under the always-think prompt (grpo-b's): ``eval.infer`` (greedy) -> ``eval.convert mmau`` ->
``eval.score mmau`` with the metadata, so accuracies and their 95 % Wilson intervals per difficulty are
``eval.score``'s own. Prints a markdown table and the verdict on the three conditions (always-think at
least 15 points above answer-only on hard items; within 5 points on easy items; both modes above chance
by more than their interval half-width) and writes ``precondition.json`` / ``precondition.md`` into
``--out`` with the date, the machine's load and the eval wall times.

``--traces N`` measures the flawed warm start's precondition (docs/mini-experiment.md, "The flawed warm
start") as well: N held-out items answered once more under the always-think prompt at temperature 1
(GRPO's sampling), every think trace judged by the task judge (``mini.judge``, served on loopback unless
``--judge-url`` names one) through the project's judge client (``mini.traces``). The
checks (the exit status) are then the flawed warm start's own three: always-think above answer-only on hard
items, 60-85 % of the sampled traces with a correct answer consistent (those R_c judges), mean R_t at most 0.8
(over all traces); the consistency over all traces is reported beside it; the clean warm start's are printed
beside them.
"""
from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

from mini.held_out import evaluate
from mini.task import DIFFICULTIES
from mini.traces import judge_sampled, trace_lines

PROMPTS = ("answer_only", "always_think")


def think_rates(preds: Path) -> dict[str, float]:
    """Share of replies in think mode per difficulty (eval.infer's ``mode``)."""
    counts: dict[str, list[int]] = {}
    for line in preds.read_text().splitlines():
        row = json.loads(line)
        c = counts.setdefault(row.get("difficulty"), [0, 0])
        c[0] += row.get("mode") == "think"
        c[1] += 1
    return {d: 100.0 * t / n for d, (t, n) in counts.items()}


def chance(meta: Path) -> dict[str, float]:
    """Accuracy of a random pick per difficulty (percent): the mean of 1 / options over its items."""
    sums: dict[str, list[float]] = {}
    for item in json.loads(meta.read_text()):
        s = sums.setdefault(item["difficulty"], [0.0, 0])
        s[0] += 100.0 / len(item["choices"])
        s[1] += 1
    return {d: total / n for d, (total, n) in sums.items()}


def verdict(groups: dict[str, dict[str, dict]], CHANCE: dict[str, float]) -> dict[str, bool]:
    a, t = groups["answer_only"], groups["always_think"]
    half = lambda g: (g["ci95"][1] - g["ci95"][0]) / 2  # noqa: E731
    return {
        "hard: always-think >= answer-only + 15": t["hard"]["accuracy"] - a["hard"]["accuracy"] >= 15,
        "easy: |always-think - answer-only| <= 5": abs(t["easy"]["accuracy"] - a["easy"]["accuracy"]) <= 5,
        "both modes above chance (every difficulty, beyond the CI half-width)": all(
            g[d]["accuracy"] - CHANCE[d] > half(g[d]) for g in (a, t) for d in DIFFICULTIES),
    }


def flawed_checks(groups: dict[str, dict[str, dict]], traces: dict) -> dict[str, bool]:
    """The flawed warm start's precondition: thinking still pays on hard items, and its sampled traces
    leave R_c and R_t something to fix."""
    overall = traces["overall"]
    return {
        "hard: always-think > answer-only": groups["always_think"]["hard"]["accuracy"]
        > groups["answer_only"]["hard"]["accuracy"],
        # among correct answers: the traces R_c judges (Eq. 6 asks only about those), and the rate the training
        # log's judge_consistency_rate reports (0.99 on the clean warm start)
        "sampled think traces with a correct answer: 60-85 % consistent (task judge)":
            overall["consistent_when_correct"] is not None and 60.0 <= overall["consistent_when_correct"] <= 85.0,
        "sampled think traces: mean R_t <= 0.8 (task judge)": overall["quality"] is not None
        and overall["quality"] <= 0.8,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint directory (e.g. .cache/mini/qwen2-audio)")
    ap.add_argument("--task", type=Path, required=True, help="mini.task output folder")
    ap.add_argument("--out", type=Path, required=True, help="folder for predictions, scores and the summary")
    ap.add_argument("--limit", type=int, help="only the first N held-out items")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--traces", type=int, default=0, metavar="N",
                    help="also sample N always-think replies at temperature 1 and judge their traces (the flawed "
                         "warm start's precondition)")
    ap.add_argument("--judge-url", help="an OpenAI-compatible task judge (default: mini.judge on loopback)")
    args = ap.parse_args(argv)
    if args.traces < 0:
        ap.error("--traces must be >= 0")
    args.out.mkdir(parents=True, exist_ok=True)
    groups, seconds, rates = {}, {}, {}
    for prompt in PROMPTS:
        result, seconds[prompt] = evaluate(args.model, args.task, args.out, prompt, args.limit, args.batch_size)
        groups[prompt] = result["breakdowns"]["difficulty"]
        rates[prompt] = think_rates(args.out / prompt / "preds.jsonl")
    CHANCE = chance(args.task / "test-meta.json")
    checks = verdict(groups, CHANCE)
    traces = None
    if args.traces:
        _, seconds["always_think sampled"] = evaluate(args.model, args.task, args.out, "always_think", args.traces,
                                                      args.batch_size, temperature=1.0)
        traces = judge_sampled(args.judge_url, args.out / "always_think-sampled" / "preds.jsonl")
    gate = flawed_checks(groups, traces) if traces is not None else checks
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, `uptime`: {load}",
             f"model: {args.model}; task: {args.task}; eval.infer wall time: "
             + ", ".join(f"{p} {s:.0f} s" for p, s in seconds.items()), "",
             "| difficulty | n | chance | answer-only acc [95 % CI] | always-think acc [95 % CI] | difference "
             "| think rate (answer-only / always-think) |", "|---|---|---|---|---|---|---|"]
    for d in DIFFICULTIES:
        a, t = groups["answer_only"][d], groups["always_think"][d]
        fmt = lambda g: f"{g['accuracy']:.1f} [{g['ci95'][0]:.1f}, {g['ci95'][1]:.1f}]"  # noqa: E731
        lines.append(f"| {d} | {a['n']} | {CHANCE[d]:.0f} | {fmt(a)} | {fmt(t)} | {t['accuracy'] - a['accuracy']:+.1f} "
                     f"| {rates['answer_only'].get(d, 0):.0f} % / {rates['always_think'].get(d, 0):.0f} % |")
    if traces is not None:
        lines += trace_lines(traces)
    lines += [""] + [f"- {'holds' if ok else 'FAILS'}: {name}" for name, ok in gate.items()]
    if traces is not None:
        lines += ["", "The clean warm start's checks, for reference:"]
        lines += [f"- {'holds' if ok else 'fails'}: {name}" for name, ok in checks.items()]
    text = "\n".join(lines)
    print(text)
    (args.out / "precondition.md").write_text(text + "\n")
    (args.out / "precondition.json").write_text(json.dumps(
        {"groups": groups, "think_rate": rates, "checks": gate, "clean_checks": checks, "traces": traces, "infer_seconds": seconds, "uptime": load,
         "model": args.model, "task": str(args.task)}, indent=1))
    return 0 if all(gate.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
