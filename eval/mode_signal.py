"""What a GRPO run taught its decision token, read from the run's own completion log.

    python -m eval.mode_signal --run RUN_DIR --data TRAIN.jsonl --out OUT.json [--window 10] [--tokenizer DIR]

From ``RUN_DIR/completions.jsonl`` (ms-swift's table of every logged step's completions, their rewards and
advantages), ``RUN_DIR/args.json`` and the training rows (``difficulty`` per prompt), per difficulty and per
window of steps: the think share; the mean reward and mean advantage of think and of no-think completions;
how many groups (the completions of one prompt) hold both modes, the contrast GRPO learns the mode from, out
of how many; and the net push on the decision token under the run's loss type. docs/training-signal.md,
"The mode signal", says how to read it.

Decisions:
- the mode of a completion is ``audio_thinker.tags.parse_completion`` (the rewards' own reading); a
  completion's reward is ms-swift's weighted sum of the logged reward columns (``reward_weights`` of
  ``args.json``, a missing value counting 0, as ``nansum``); the advantages are the logged ones;
- ms-swift writes the last table again at the end of training: repeats are dropped
  (``audio_thinker.jsonl.read_completion_tables``); with ``logging_steps`` > 1 only the last step of each
  logging window is in the file, and only those steps are counted;
- a group is ``num_generations`` consecutive rows of one table with the same prompt (ms-swift's order);
- a prompt's difficulty is that of the training row whose user message the prompt contains (the longest
  such row); a prompt matching no row, or rows of different difficulties, counts under ``unknown``;
- the decision push of one step is Σ_i s_i · A_i · w_i over its completions, s_i = +1 for think and −1 for
  no-think (raising one mode's first token lowers the other's), A_i the advantage and w_i the weight the
  step's loss gives ONE token of completion i (``LOSS_TOKEN_WEIGHTS``: grpo 1/(len_i · N); bnpo and dapo
  1/Σ_j len_j; dr_grpo 1/(N · max_completion_length); N completions in the step). Positive pushes towards
  thinking. A summary's push is the mean over its steps of the push of its completions, so the pushes of
  the difficulties add up to the overall push. Token lengths come from the run's tokenizer: the completion's
  text re-encoded plus its end-of-turn token, capped at ``max_completion_length``.
"""
from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.jsonl import atomic_write_text, read_completion_tables, read_records, where
from audio_thinker.tags import parse_completion

UNKNOWN = "unknown"
FIXED_COLUMNS = ("step", "prompt", "completion")  # then the reward columns, then "advantages" (ms-swift's order)


def _grpo(lengths: Sequence[int], max_length: int) -> list[float]:
    n = len(lengths)
    return [1.0 / (max(length, 1) * n) for length in lengths]


def _token_level(lengths: Sequence[int], max_length: int) -> list[float]:
    total = max(sum(lengths), 1)
    return [1.0 / total] * len(lengths)


def _dr_grpo(lengths: Sequence[int], max_length: int) -> list[float]:
    return [1.0 / (len(lengths) * max_length)] * len(lengths)


# loss_type -> the weight of one token of each completion in one step's loss (ms-swift 4.6,
# rlhf_trainers/grpo_trainer.py, GRPOTrainer._compute_loss: docs/training-signal.md cites the lines)
LOSS_TOKEN_WEIGHTS: dict[str, Callable[[Sequence[int], int], list[float]]] = {
    "grpo": _grpo, "sapo": _grpo, "bnpo": _token_level, "dapo": _token_level, "cispo": _token_level,
    "fipo": _token_level, "dr_grpo": _dr_grpo,
}


@dataclass
class Completion:
    step: int
    group: int  # index of its group in the whole run
    difficulty: str
    think: bool
    reward: float
    advantage: float
    weight: float | None  # weight of one of its tokens in its step's loss; None for an unknown loss type


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None


def summarise(completions: Sequence[Completion], steps: int) -> dict[str, Any]:
    """One summary entry over ``completions`` seen in ``steps`` logged steps."""
    think = [c for c in completions if c.think]
    no_think = [c for c in completions if not c.think]
    groups: dict[int, set[bool]] = defaultdict(set)
    for c in completions:
        groups[c.group].add(c.think)
    push = None
    if completions and all(c.weight is not None for c in completions):
        push = sum((1 if c.think else -1) * c.advantage * c.weight for c in completions) / max(steps, 1)
    return {
        "think_share": _mean([1.0 if c.think else 0.0 for c in completions]),
        "think_reward": _mean([c.reward for c in think]), "no_think_reward": _mean([c.reward for c in no_think]),
        "think_advantage": _mean([c.advantage for c in think]),
        "no_think_advantage": _mean([c.advantage for c in no_think]),
        "groups": len(groups), "contrast_groups": sum(1 for modes in groups.values() if len(modes) == 2),
        "decision_push": None if push is None else round(push, 9),
        "completions": len(completions), "logged_steps": steps,
    }


def by_difficulty(completions: Sequence[Completion], steps: int) -> dict[str, Any]:
    found: dict[str, list[Completion]] = defaultdict(list)
    for c in completions:
        found[c.difficulty].append(c)
    return {name: summarise(found[name], steps) for name in sorted(found)}


def report(completions: Sequence[Completion], window: int) -> dict[str, Any]:
    """OUT.json: ``overall``, ``by_difficulty``, ``windows`` (consecutive spans of ``window`` logged steps, each
    with its own ``by_difficulty``) and ``steps`` (one entry per logged step: ``think_share``)."""
    steps = sorted({c.step for c in completions})
    windows = []
    for first in range(0, len(steps), window):
        span = steps[first:first + window]
        members = [c for c in completions if span[0] <= c.step <= span[-1]]
        windows.append({"steps": [span[0], span[-1]], **summarise(members, len(span)),
                        "by_difficulty": by_difficulty(members, len(span))})
    per_step = {str(s): summarise([c for c in completions if c.step == s], 1)["think_share"] for s in steps}
    return {"overall": summarise(completions, len(steps)), "by_difficulty": by_difficulty(completions, len(steps)),
            "windows": windows, "steps": per_step}


class DifficultyIndex:
    """A prompt's difficulty: that of the training row whose last user message the prompt holds (the longest
    such message). Found by looking up every window of the prompt of the shortest message's length (up to 40
    characters) in a table of the messages' openings, so a run of many prompts over many rows stays fast."""

    def __init__(self, rows: Sequence[dict[str, Any]]):
        by_text: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            text = user_text(row)
            if text:
                by_text[text].add(str(row["difficulty"]) if row.get("difficulty") is not None else UNKNOWN)
        self.by_text = {text: (d.pop() if len(d) == 1 else UNKNOWN) for text, d in by_text.items()}
        self.key = min([40, *map(len, self.by_text)]) if self.by_text else 0
        self.openings: dict[str, list[str]] = defaultdict(list)
        for text in self.by_text:
            self.openings[text[:self.key]].append(text)
        self.cache: dict[str, str] = {}

    def __call__(self, prompt: str) -> str:
        if prompt not in self.cache:
            best = ""
            for i in range(len(prompt) - self.key + 1) if self.key else ():
                for text in self.openings.get(prompt[i:i + self.key], ()):
                    if len(text) > len(best) and prompt.startswith(text, i):
                        best = text
            self.cache[prompt] = self.by_text[best] if best else UNKNOWN
        return self.cache[prompt]


def user_text(row: dict[str, Any]) -> str | None:
    users = [m.get("content") for m in row.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    return users[-1] if users and isinstance(users[-1], str) else None


def read_run(run: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's ``args.json`` and its de-duplicated completion tables, or a one-line error."""
    args_path, tables_path = run / "args.json", run / "completions.jsonl"
    if not run.is_dir():
        raise UsageError("no such run directory", option="--run")
    for path in (args_path, tables_path):
        if not path.is_file():
            raise UsageError("missing: not an ms-swift GRPO output directory (log_completions writes it)", path)
    args = json.loads(args_path.read_text(encoding="utf-8"))
    tables = read_completion_tables(tables_path)
    if not tables:
        raise UsageError("no completion tables", tables_path)
    for index, table in enumerate(tables):
        missing = [k for k in (*FIXED_COLUMNS, "advantages") if k not in table]
        if missing:
            raise UsageError(f"the table has no column {missing[0]!r}", tables_path, where(tables, index))
    return args, tables


def completions_of(args: dict[str, Any], tables: Sequence[dict[str, Any]], difficulty: Callable[[str], str],
                   token_count: Callable[[str], int] | None, run: Path) -> list[Completion]:
    """One :class:`Completion` per logged row, grouped and weighted as the run's loss saw them."""
    g = int(args.get("num_generations") or 0)
    max_length = int(args.get("max_completion_length") or 0)
    weights_of = LOSS_TOKEN_WEIGHTS.get(str(args.get("loss_type") or "grpo"))
    out: list[Completion] = []
    group_base = 0
    for index, table in enumerate(tables):
        line = where(tables, index)   # where the table is in completions.jsonl
        names = list(table)
        rewards = names[names.index("completion") + 1:names.index("advantages")]
        reward_weights = args.get("reward_weights") or [1.0] * len(rewards)
        if len(reward_weights) != len(rewards):
            raise UsageError(f"the table has {len(rewards)} reward columns, args.json {len(reward_weights)} "
                             "reward_weights", run / "completions.jsonl", line)
        n = len(table["completion"])
        if g < 1 or n % g:
            raise UsageError(f"the table has {n} rows, not a multiple of num_generations={g}",
                             run / "completions.jsonl", line)
        for first in range(0, n, g):
            if len(set(table["prompt"][first:first + g])) != 1:
                raise UsageError(f"the table's rows {first + 1}-{first + g}: one group holds several prompts",
                                 run / "completions.jsonl", line)
        texts = [str(t or "") for t in table["completion"]]
        if weights_of is None:
            weights: list[float | None] = [None] * n
        elif weights_of is _dr_grpo:
            weights = list(weights_of([0] * n, max_length))
        else:
            lengths = [min(token_count(t) + 1, max_length or 10**9) for t in texts]
            weights = list(weights_of(lengths, max_length))
        for i in range(n):
            reward = sum(w * float(table[name][i]) for w, name in zip(reward_weights, rewards)
                         if table[name][i] is not None and not math.isnan(float(table[name][i])))
            out.append(Completion(step=int(table["step"][i]), group=group_base + i // g,
                                  difficulty=difficulty(table["prompt"][i]),
                                  think=parse_completion(texts[i]).is_think, reward=reward,
                                  advantage=float(table["advantages"][i]), weight=weights[i]))
        group_base += n // g
    return out


def tokenizer_counter(path: str) -> Callable[[str], int]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser(
        "eval.mode_signal", __doc__,
        example='{"step": ["1", "1"], "prompt": ["<|im_start|>system ...", "..."], "completion": ["<answer>A</answer>",\n'
                '  "<think>..</think><answer>B</answer>"], "AdaptiveThinkAccuracy": [1.2, -0.3], "advantages": [0.7, -0.7]}\n'
                '(the training rows, --data:) {"messages": [{"role": "user", "content": "<audio>Which tone is higher?"}],\n'
                '  "audios": ["a.wav"], "solution": "the first", "difficulty": "hard"}',
        reads="a GRPO run directory (--run: ms-swift's completions.jsonl, one table per logged step, and args.json)\n"
              "and its training rows (--data, JSONL with difficulty)",
        writes="--out: JSON with overall, by_difficulty, windows (each with by_difficulty) and steps; every entry has\n"
               "think_share, think_reward, no_think_reward, think_advantage, no_think_advantage, groups,\n"
               "contrast_groups, decision_push")
    parser.add_argument("--run", required=True, help="the run's output directory (holds completions.jsonl)")
    parser.add_argument("--data", required=True, help="the run's training rows (JSONL with a difficulty field)")
    parser.add_argument("--out", required=True, help="output JSON file")
    parser.add_argument("--window", type=int, default=10, help="logged steps per window")
    parser.add_argument("--tokenizer", help="tokenizer directory for completion lengths (default: the run's "
                                            "--model from args.json)")
    args = parser.parse_args(argv)

    if args.window < 1:
        raise UsageError("must be at least 1", option="--window")
    run = Path(args.run)
    run_args, tables = read_run(run)
    rows = read_records(args.data)
    if not any(user_text(r) for r in rows):
        raise UsageError("no row has a user message", args.data)
    counter = None
    if LOSS_TOKEN_WEIGHTS.get(str(run_args.get("loss_type") or "grpo")) not in (None, _dr_grpo):
        source = args.tokenizer or run_args.get("model")
        if not source or not Path(source).is_dir():
            raise UsageError(f"the tokenizer {source!r} is not a directory here; pass --tokenizer DIR", option="--run")
        counter = tokenizer_counter(source)
    completions = completions_of(run_args, tables, DifficultyIndex(rows), counter, run)
    result = {**report(completions, args.window),
              "settings": {k: run_args.get(k) for k in ("loss_type", "scale_rewards", "num_generations",
                                                         "max_completion_length", "reward_weights", "reward_funcs")}}
    atomic_write_text(args.out, json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    overall = result["overall"]
    print(f"{overall['completions']} completions in {overall['logged_steps']} logged steps: think share "
          f"{overall['think_share']}, {overall['contrast_groups']} of {overall['groups']} groups hold both modes, "
          f"decision push {overall['decision_push']} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_run(main))
