"""What the task judge makes of a checkpoint's sampled think traces: R_c's consistency verdict (Eq. 6) and
R_t's quality score (docs/rewards.md §5) for every think reply, asked through the project's own judge
client, prompts and parsers (the same path as training), summarised overall and per difficulty.

Every think trace is judged for consistency, correct or not: the warm start's consistency rate says how
much there is for R_c to fix. ``consistent_when_correct`` is the rate R_c itself sees (the judge is asked
only about correct answers in training).
"""
from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

from audio_thinker.jsonl import read_records
from audio_thinker.rows import question_of
from audio_thinker.tags import parse_completion
from eval.stats import wilson_interval
from eval.think_propensity import t_interval
from mini.held_out import evaluate
from mini.task import DIFFICULTIES
from swift_plugins.judge.client import judge_many
from swift_plugins.judge.prompts import (build_consistency_prompt, build_quality_prompt, parse_consistency,
                                         parse_quality)
from swift_plugins.judge.settings import JudgeSettings
from swift_plugins.rules import is_correct


def judge_completions(settings: JudgeSettings, questions: Sequence[str],
                      completions: Sequence[str]) -> list[tuple[float | None, float | None] | None]:
    """(consistency verdict, quality score) of each think completion, None for a no-think one; a failed
    judgment is None in its place (left out of the rates, counted as failed)."""
    parsed = [parse_completion(c or "") for c in completions]
    think = [i for i, p in enumerate(parsed) if p.is_think]
    consistency = [build_consistency_prompt(questions[i], parsed[i].reasoning or "", parsed[i].answer or "",
                                            settings.reasoning_chars) for i in think]
    quality = [build_quality_prompt(questions[i], parsed[i].reasoning or "", settings.reasoning_chars) for i in think]

    async def ask():
        return await asyncio.gather(judge_many(settings, consistency, parse_consistency),
                                    judge_many(settings, quality, parse_quality))

    verdicts, scores = asyncio.run(ask()) if think else ([], [])
    out: list[tuple[float | None, float | None] | None] = [None] * len(parsed)
    for i, v, s in zip(think, verdicts, scores):
        out[i] = (v.value, s.value)
    return out


def judge_rows(rows: Sequence[dict], settings: JudgeSettings) -> list[dict]:
    """One record per think reply among ``rows`` (``eval.infer`` prediction rows): difficulty, correct,
    consistent (0/1 or None when the judgment failed) and quality (0-1 or None)."""
    judged = judge_completions(settings, [question_of(r.get("messages")) for r in rows],
                               [r.get("output") or "" for r in rows])
    return [{"difficulty": row.get("difficulty"),
             "correct": is_correct(parse_completion(row.get("output") or ""), row.get("solution"), row.get("choices")),
             "consistent": j[0], "quality": j[1]}
            for row, j in zip(rows, judged) if j is not None]


def summary(judged: Sequence[dict]) -> dict:
    """Consistency rate (percent, Wilson interval), mean R_t (Student-t interval), the consistency rate among
    correct answers and the count of failed judgments."""
    verdicts = [j["consistent"] for j in judged if j["consistent"] is not None]
    correct = [j["consistent"] for j in judged if j["consistent"] is not None and j["correct"]]
    scores = [j["quality"] for j in judged if j["quality"] is not None]
    return {"traces": len(judged),
            "consistent": round(100.0 * sum(verdicts) / len(verdicts), 2) if verdicts else None,
            "consistent_ci": wilson_interval(int(sum(verdicts)), len(verdicts)),
            "consistent_when_correct": round(100.0 * sum(correct) / len(correct), 2) if correct else None,
            "consistent_when_correct_ci": wilson_interval(int(sum(correct)), len(correct)),
            "correct": len(correct),
            "quality": round(sum(scores) / len(scores), 4) if scores else None,
            "quality_ci": t_interval(scores),
            "failed": sum(j["consistent"] is None for j in judged) + sum(j["quality"] is None for j in judged)}


def summarise(judged: Sequence[dict], difficulties: Sequence[str]) -> dict:
    """``summary`` overall and per difficulty."""
    return {"overall": summary(judged),
            "by_difficulty": {d: summary([j for j in judged if j["difficulty"] == d]) for d in difficulties}}


def judge_sampled(url: str | None, preds: Path) -> dict:
    """The sampled replies in ``preds`` judged and summarised per difficulty, through the judge at ``url`` or,
    when it is None, the task judge (``mini.judge``) served on loopback for the call."""
    from mini import judge as mini_judge   # the task judge's server: loaded only where it is served
    server = None
    if url is None:
        server = mini_judge.start_in_thread()
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        judged = judge_rows(list(read_records(preds)), JudgeSettings(url=url, model=mini_judge.SERVED_NAME))
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    return summarise(judged, DIFFICULTIES)


def trace_lines(traces: dict) -> list[str]:
    lines = ["", "Sampled think traces (always-think prompt, temperature 1), task judge:", "",
             "| difficulty | traces | consistent % [95 % CI] | consistent when correct % [95 % CI] (n) | mean R_t [95 % CI] |",
             "|---|---|---|---|---|"]
    ci = lambda c, f: f"[{c[0]:{f}}, {c[1]:{f}}]" if c else ""  # noqa: E731
    for name, t in [*traces["by_difficulty"].items(), ("all", traces["overall"])]:
        lines.append(f"| {name} | {t['traces']} | {t['consistent']} {ci(t['consistent_ci'], '.1f')} | "
                     f"{t['consistent_when_correct']} {ci(t['consistent_when_correct_ci'], '.1f')} ({t['correct']}) | {t['quality']} {ci(t['quality_ci'], '.3f')} |")
    if traces["overall"]["failed"]:
        lines.append(f"\n{traces['overall']['failed']} judgments failed (left out of the rates)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Sample N replies of a checkpoint under the always-think prompt at temperature 1 and judge their traces
    (the precondition's sampled pass, for any checkpoint: a GRPO run's final one, say)."""
    ap = argparse.ArgumentParser(prog="python -m mini.traces", description=main.__doc__)
    ap.add_argument("--model", required=True, help="checkpoint directory")
    ap.add_argument("--task", type=Path, required=True, help="mini.task output folder (test.jsonl, test-meta.json)")
    ap.add_argument("--out", type=Path, required=True, help="folder for the sampled replies and traces.json")
    ap.add_argument("--samples", type=int, default=600, help="held-out items to sample (the first N)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--judge-url", help="an OpenAI-compatible task judge (default: mini.judge on loopback)")
    args = ap.parse_args(argv)
    if args.samples < 1:
        ap.error("--samples must be >= 1")
    args.out.mkdir(parents=True, exist_ok=True)
    evaluate(args.model, args.task, args.out, "always_think", args.samples, args.batch_size,
                          temperature=1.0)
    traces = judge_sampled(args.judge_url, args.out / "always_think-sampled" / "preds.jsonl")
    (args.out / "traces.json").write_text(json.dumps({"model": args.model, **traces}, indent=1))
    print("\n".join(trace_lines(traces)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
