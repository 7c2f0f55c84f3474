"""How often a model skips thinking, and how accurate each mode is (paper Figure 2).

    python -m eval.think_analysis --input result.json [more.json ...] [--plot fig2.png] [--output think.json]

INPUT is an ``eval.score`` result JSON (it holds one row per item) or a
prediction file in a benchmark's own format (scored on the fly). Several
inputs are drawn side by side, as Figure 2 compares models.

Per difficulty (MMAU) and per category: ``answered`` (replies present),
``no_think_rate`` (percent of answered replies without a non-empty
``<think>`` block — the mode rule of ``audio_thinker.tags``), and the accuracy
of think and of no-think replies. Missing replies have no mode and are left
out of the rates (their count is shown).

Token savings, overall and per group: ``mean_tokens`` (mean completion length
of the answered replies), ``think_mean_tokens`` and ``no_think_mean_tokens``
(the same per mode) and ``no_think_answer_tokens`` (mean length of the
no-think replies' answer). Tokens are words and punctuation marks
(``eval/lengths.py``), the same count for every model.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audio_thinker import benchmark_declarations as benchmarks
from audio_thinker.cli import UsageError, parser as cli_parser, read_text, run as cli_run
from audio_thinker.jsonl import read_records, write_json

from .grading import RESULT_EXAMPLE, join_predictions, score
from .tables import text_table

DIFFICULTY_ORDER = ("easy", "medium", "hard")


def load_items(path: str) -> list[dict[str, Any]]:
    """Per-item rows (mode, correct, missing, groups) from a result or prediction file."""
    text = read_text(path).lstrip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and "items" in data:
            if not isinstance(data["items"], list):
                raise UsageError("'items' is not a list: not an eval.score result", path)
            return data["items"]
    records = read_records(path, torn_tail=True)
    try:
        bench = benchmarks.detect(records)
    except ValueError:
        raise UsageError("neither an eval.score result JSON (no 'items') nor a prediction file of a known "
                         "benchmark", path) from None
    return score(bench, join_predictions(bench, records, source=str(path))[0])["items"]


def mode_figures(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    answered = [it for it in items if not it["missing"]]
    think = [it for it in answered if it["mode"] == "think"]
    plain = [it for it in answered if it["mode"] == "no_think"]

    def acc(group):
        return round(100.0 * sum(it["correct"] for it in group) / len(group), 2) if group else None

    return {"n": len(items), "missing": len(items) - len(answered), "answered": len(answered),
            "no_think_rate": round(100.0 * len(plain) / len(answered), 2) if answered else None,
            "think": len(think), "no_think": len(plain), "think_accuracy": acc(think),
            "no_think_accuracy": acc(plain), "accuracy": acc(items), **length_figures(think, plain)}


def _mean(values: Sequence[int | None]) -> float | None:
    """Mean of the known values (results scored before lengths were recorded have none)."""
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 1) if known else None


def length_figures(think: Sequence[dict[str, Any]], plain: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Token savings: mean completion length of think replies, of no-think replies and of all answered
    replies, and the mean length of the no-think replies' answer (tokens as eval/lengths.py counts them)."""
    return {"mean_tokens": _mean([it.get("reply_tokens") for it in [*think, *plain]]),
            "think_mean_tokens": _mean([it.get("reply_tokens") for it in think]),
            "no_think_mean_tokens": _mean([it.get("reply_tokens") for it in plain]),
            "no_think_answer_tokens": _mean([it.get("answer_tokens") for it in plain])}


def _order(groups: Sequence[str]) -> list[str]:
    known = [g for g in DIFFICULTY_ORDER if g in groups]
    return known + sorted(g for g in groups if g not in known)


def analyse(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Figures overall and per group of every breakdown the items carry."""
    breakdowns = list(items[0]["groups"]) if items else []
    out: dict[str, Any] = {"total": mode_figures(items), "breakdowns": {}}
    for b in breakdowns:
        names = _order({it["groups"][b] for it in items})
        out["breakdowns"][b] = {g: mode_figures([it for it in items if it["groups"][b] == g]) for g in names}
    return out


def panels(analysis: dict[str, Any]) -> list[str]:
    """Which breakdowns to draw: difficulty first (Figure 2), then a category."""
    have = list(analysis["breakdowns"])
    chosen = [b for b in ("difficulty", "category", "task_name") if b in have]
    return chosen or have[:1]


def render(label: str, analysis: dict[str, Any]) -> str:
    headers = ("group", "answered", "missing", "no-think %", "think acc %", "no-think acc %", "acc %",
               "tokens", "think tokens", "no-think tokens", "no-think answer tokens")

    def row(name, f):
        return [name, f["answered"], f["missing"], f["no_think_rate"], f["think_accuracy"],
                f["no_think_accuracy"], f["accuracy"], f.get("mean_tokens"), f.get("think_mean_tokens"),
                f.get("no_think_mean_tokens"), f.get("no_think_answer_tokens")]

    parts = [f"== {label}", text_table(headers, [row("total", analysis["total"])])]
    for b in panels(analysis):
        parts.append(text_table((b, *headers[1:]), [row(g, f) for g, f in analysis["breakdowns"][b].items()]))
    return "\n\n".join(parts)


def plot(analyses: dict[str, dict[str, Any]], path: str) -> None:
    """Grouped bars of the no-thinking rate, one panel per breakdown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(analyses.values()))
    chosen = panels(first)
    fig, axes = plt.subplots(1, len(chosen), figsize=(5.5 * len(chosen), 4.2), squeeze=False)
    width = 0.8 / max(len(analyses), 1)
    for ax, b in zip(axes[0], chosen):
        groups = list(first["breakdowns"][b])
        for k, (label, analysis) in enumerate(analyses.items()):
            rates = [(analysis["breakdowns"].get(b, {}).get(g) or {}).get("no_think_rate") or 0.0 for g in groups]
            xs = [i + (k - (len(analyses) - 1) / 2) * width for i in range(len(groups))]
            bars = ax.bar(xs, rates, width, label=label)
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, rotation=20 if len(groups) > 3 else 0, ha="right" if len(groups) > 3 else "center",
                           fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel("no-thinking rate (%)")
        ax.set_title(f"No-thinking rate by {b}")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def default_labels(inputs: Sequence[str]) -> list[str]:
    """Each input named after the catalogue row whose run it evaluates (:mod:`eval.provenance`: a result of
    ``eval.sweep`` is traced to its run's ``args.json``, any other by its folder), with its checkpoint; where
    two inputs would still share a name, each also gets its folder. Never the file's name ("mmau")."""
    from recipes import catalogue

    from .provenance import source_of

    cat = catalogue.load()
    sources = [source_of(Path(p).resolve(), cat) for p in inputs]
    labels = [f"{s.row} ({s.step})" if s.step else s.row for s in sources]
    if len(set(labels)) < len(labels):
        labels = [f"{label}, {Path(p).parent}" for label, p in zip(labels, inputs)]
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser("eval.think_analysis", __doc__,
                        reads="eval.score result JSON(s) (--input; or prediction files in a benchmark's own format,\n"
                              "scored on the fly), one per model compared",
                        example=RESULT_EXAMPLE,
                        writes="a table on stdout (no-think rate and accuracy per mode, per difficulty and category, and\n"
                               "the token savings); --plot FILE: a PNG like the paper's Figure 2; --out FILE: the figures\n"
                               "as JSON")
    parser.add_argument("--input", nargs="+", required=True, help="eval.score result JSON or prediction file(s)")
    parser.add_argument("--label", nargs="*", help="one label per input (default: the row each result evaluates, "
                                                   "as eval.report names it, with its checkpoint or folder where two "
                                                   "inputs would share a name)")
    parser.add_argument("--plot", help="write a PNG like the paper's Figure 2")
    parser.add_argument("--out", "--output", dest="output", help="write the figures as JSON")
    args = parser.parse_args(argv)
    labels = args.label or default_labels(args.input)
    if len(labels) != len(args.input):
        raise UsageError(f"{len(labels)} label(s) for {len(args.input)} input(s); give one per --input",
                         option="--label")
    items = {label: load_items(p) for label, p in zip(labels, args.input)}  # every input read before any output
    analyses = {label: analyse(rows) for label, rows in items.items()}
    print("\n\n".join(render(label, a) for label, a in analyses.items()))
    if args.plot:
        plot(analyses, args.plot)
        print(f"\nplot: {args.plot}")
    if args.output:
        write_json(args.output, analyses)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_run(main))
