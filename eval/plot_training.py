"""Draw a GRPO run's training curves from its ``logging.jsonl`` into one PNG.

    python -m eval.plot_training RUN_DIR --out curves.png

RUN_DIR is the directory ms-swift wrote ``logging.jsonl`` into (``output/model-c/`` or its
``vN-<timestamp>/`` child; either works). Up to five panels over the global step:

    rewards       the total reward and every term, ``rewards/<Class>/mean``
    think mode    λ (``audio_thinker/think_ratio``), γ_think, γ_no-think (Eq. 1–4)
    accuracy      per-mode accuracy, the judge's consistency rate and the R_t mean
    length        mean completion length per mode (tokens) and the no-think ``<answer>`` length (chars)
    judge         judge calls and failures, per kind and per cause (timeout, HTTP error, unparsable)

A curve whose key the run never logged (an older plugin), logged only as ``null``, or, for the judge's
counters, only as 0 (a row without a judge asks none) is left out and named in a note on stdout; a panel
left without curves is left out of the figure. A logged ``null`` among values (a mode with no completions
in that logging window) is a gap in the line, not a zero. The title names the catalogue row the run was
trained as (from its ``args.json``; a run of one's own keeps its folder's name) and the run's folder.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

from audio_thinker.cli import UsageError, parser, run
from audio_thinker.jsonl import BadLine, read_jsonl
from recipes import catalogue
from swift_plugins.judge.client import CAUSES
from swift_plugins.metrics_callback import JUDGE_KINDS, PREFIX, TRAIN_KEYS


def logged(name: str) -> str:
    """The log key of one of the plugin's figures, taken from where they are defined
    (``swift_plugins.metrics_callback.TRAIN_KEYS``): a figure renamed there fails here, at import."""
    if name not in TRAIN_KEYS:
        raise KeyError(f"{name!r} is not one of swift_plugins.metrics_callback.TRAIN_KEYS")
    return PREFIX + name


# Panel title -> curves: (log key or regular expression over keys, label). ms-swift's own keys ("reward",
# "rewards/<Class>/mean", "completions/mean_length") are ms-swift's interface; ours come from logged().
# docs/training-signal.md, "The training log", says what each one means.
PANELS: dict[str, list[tuple[str, str]]] = {
    "rewards": [("reward", "total reward"), (r"re:^rewards/(.+)/mean$", "{0}")],
    "think mode (Eq. 1–4)": [(logged("think_ratio"), "λ think ratio"),
                             (logged("gamma_think"), "γ_think"),
                             (logged("gamma_no_think"), "γ_no-think")],
    "accuracy per mode": [(logged("think_accuracy"), "think"),
                          (logged("no_think_accuracy"), "no-think"),
                          (logged("judge_consistency_rate"), "judged consistent"),
                          (logged("think_quality_mean"), "R_t mean")],
    "length per mode": [(logged("think_tokens"), "think (tokens)"),
                        (logged("no_think_tokens"), "no-think (tokens)"),
                        (logged("no_think_answer_chars"), "no-think <answer> (chars)"),
                        ("completions/mean_length", "all (tokens)")],
    "judge": [(logged(name), name) for name in (*(f"judge_failures_{cause}" for cause in CAUSES),
                                                *(f"judge_{kind}_failures" for kind in JUDGE_KINDS),
                                                *(f"judge_{kind}_calls" for kind in JUDGE_KINDS))],
}
COUNTERS = {"judge"}  # panels of counts: a curve that stays 0 throughout means the run never used it
_STEP = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def find_log(run_dir: Path, notes: list[str]) -> Path:
    """``RUN_DIR/logging.jsonl``, or the newest ``RUN_DIR/*/logging.jsonl`` (ms-swift's versioned dirs)."""
    if not run_dir.is_dir():
        raise UsageError("no such run directory" if not run_dir.exists() else "not a directory", run_dir)
    direct = run_dir / "logging.jsonl"
    if direct.is_file():
        return direct
    nested = sorted(run_dir.glob("*/logging.jsonl"), key=lambda p: p.stat().st_mtime)
    if not nested:
        raise UsageError("no logging.jsonl here or in a subdirectory (is this an ms-swift output_dir?)", run_dir)
    if len(nested) > 1:
        notes.append(f"{len(nested)} runs under {run_dir}; plotting the newest, {nested[-1].parent.name}")
    return nested[-1]


def training_rows(log: Path, notes: list[str]) -> list[tuple[int, dict]]:
    """(global step, row) of every training log row, in order; evaluation and summary rows are left out."""
    bad: list[BadLine] = []
    # ms-swift appends to this file while training: a half-written last line is skipped, not an error.
    rows = read_jsonl(log, bad_lines=bad, torn_tail=True)
    if bad:
        notes.append(f"{log}: skipped {len(bad)} malformed line(s), first at line {bad[0].line}: {bad[0].reason}")
    out = []
    for row in rows:
        step = _STEP.match(str(row.get("global_step/max_steps", "")))
        if step is None or "log_history" in row or any(k.startswith("eval_") for k in row):
            continue
        if "loss" in row or "reward" in row:
            out.append((int(step.group(1)), row))
    if not out:
        raise UsageError("no training rows with a step (\"global_step/max_steps\") to plot", log)
    return out


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def curves(rows: list[tuple[int, dict]], notes: list[str]) -> dict[str, list[tuple[str, list[int], list[float]]]]:
    """Panel -> [(label, steps, values)] for the keys present; absent keys are named in ``notes``."""
    present = sorted(set().union(*(row.keys() for _, row in rows)))
    steps = [s for s, _ in rows]
    panels: dict[str, list[tuple[str, list[int], list[float]]]] = {}
    for title, wanted in PANELS.items():
        drawn = []
        for key, label in wanted:
            if key.startswith("re:"):
                pattern = re.compile(key[3:])
                keys = [(k, pattern.match(k)) for k in present]
                matched = [(k, label.format(*m.groups())) for k, m in keys if m]
                if not matched:
                    notes.append(f"no {pattern.pattern} keys in this run: skipped in '{title}'")
            elif key in present:
                matched = [(key, label)]
            else:
                matched = []
                notes.append(f"{key} is not in this run's log: skipped in '{title}'")
            for k, lab in matched:
                values = [_number(row.get(k)) for _, row in rows]
                if all(math.isnan(v) for v in values):
                    notes.append(f"{k} is null at every step of this run: skipped in '{title}'")
                elif title in COUNTERS and all(math.isnan(v) or v == 0 for v in values):
                    notes.append(f"{k} is 0 at every step of this run: skipped in '{title}'")
                else:
                    drawn.append((lab, steps, values))
        if drawn:
            panels[title] = drawn
        else:
            notes.append(f"no data for the panel '{title}' in this run: left out")
    return panels


def draw(panels: dict, out: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 1.2 + 2.3 * len(panels)), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax, (name, lines) in zip(axes, panels.items()):
        ax.set_title(name, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
        for label, xs, ys in lines:
            marker = "o" if len(xs) <= 30 else None
            ax.plot(xs, ys, label=label, marker=marker, markersize=3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    axes[-1].set_xlabel("global step")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)


def run_name(run_dir: Path) -> str:
    """"model-a, run output/mini/seed-1/model-a": the catalogue row the run's ``args.json`` says it was trained
    as (a run of one's own: its folder's name), and the run's folder."""
    from .provenance import run_args

    args = run_args(run_dir, "")
    row = catalogue.load().identify(args) if args else None
    return f"{row.name if row else run_dir.name}, run {run_dir}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = parser("eval.plot_training", __doc__,
                reads="a run directory (RUN_DIR) holding ms-swift's logging.jsonl, one JSON object per logging step",
                example=('{"loss": 0.01, "reward": 0.83, "rewards/AdaptiveThinkAccuracy/mean": 0.42, "audio_thinker/think_ratio": 0.6, "global_step/max_steps": "1/2", ...}\n'
                         '{"loss": 0.02, "reward": 0.97, "rewards/AdaptiveThinkAccuracy/mean": 0.51, "audio_thinker/think_ratio": 0.7, "global_step/max_steps": "2/2", ...}'),
                writes="--out: one PNG with up to five panels (rewards, think mode, accuracy, length, judge), titled with\n"
                       "the run's row and folder; a note: line on stdout for each key or panel left out")
    ap.add_argument("run_dir", metavar="RUN_DIR", help="an ms-swift output directory with logging.jsonl")
    ap.add_argument("--out", required=True, help="PNG file to write")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError("must name a .png file", option="--out")
    notes: list[str] = []
    log = find_log(Path(args.run_dir), notes)
    rows = training_rows(log, notes)
    panels = curves(rows, notes)
    if not panels:
        raise UsageError("no curve with data to plot (every key is absent, null or 0)", log)
    draw(panels, out, f"{run_name(log.parent)}  ({len(rows)} logged steps)")
    for note in notes:
        print(f"note: {note}")
    print(f"plot: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
