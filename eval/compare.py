"""Is the difference between two runs on the same benchmark real? A paired comparison.

    python -m eval.compare A.json B.json [--output FILE]

A and B are ``eval.score`` results (with their per-item rows, i.e. scored
without ``--no-items``) of the same benchmark and version, scored against the
same items and gold answers. Items are paired by id; for the total, every
breakdown group and every paper column (except a mean over groups) it reports
``n_paired``, ``accuracy_a`` / ``accuracy_b``, ``delta`` (B − A, points),
``ci95`` of the difference (paired bootstrap over items, fixed seed),
``mcnemar_p`` (exact two-sided McNemar test) and ``only_a`` / ``only_b``, the
items only A or only B gets right. docs/evaluation.md, "Reading a paired comparison".
"""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audio_thinker import benchmark_declarations as benchmarks, cli
from audio_thinker.benchmark_declarations import MACRO, TOTAL
from audio_thinker.jsonl import write_json

from .grading import RESULT_EXAMPLE
from .stats import mcnemar_exact, paired_bootstrap
from .tables import text_table


def load_result(path: str | Path) -> dict[str, Any]:
    """An ``eval.score`` result with per-item rows, or a UsageError saying what it is not."""
    text = cli.read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise cli.UsageError(f"not JSON ({err.msg})", path, err.lineno) from None
    if not isinstance(data, dict) or "benchmark" not in data or "total" not in data:
        raise cli.UsageError("not an eval.score result (no 'benchmark' / 'total')", path)
    if not isinstance(data.get("items"), list):
        raise cli.UsageError("has no per-item outcomes ('items'); score it again without --no-items", path)
    return data


def check_comparable(a: dict[str, Any], b: dict[str, Any], a_name: str = "A", b_name: str = "B") -> None:
    """Refuse results that do not measure the same thing."""
    if a["benchmark"] != b["benchmark"]:
        raise cli.UsageError(f"{a_name} is {a['benchmark']} and {b_name} is {b['benchmark']}: "
                             "compare results of the same benchmark")
    va, vb = a.get("version", "unknown"), b.get("version", "unknown")
    if va != vb:
        raise cli.UsageError(f"{a_name} was scored on the {va} version and {b_name} on {vb}: "
                             "their gold answers differ; compare results of the same version")
    fa, fb = a.get("fingerprint"), b.get("fingerprint")
    if fa and fb and fa != fb:
        raise cli.UsageError(f"{a_name} and {b_name} were scored against different items or gold answers "
                             f"(fingerprints {fa} and {fb}); score both with the same --meta")


def paired_figures(pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """The paired figures of a list of (A item row, B item row)."""
    a = [bool(x["correct"]) for x, _ in pairs]
    b = [bool(y["correct"]) for _, y in pairs]
    n = len(pairs)
    only_a = sum(x and not y for x, y in zip(a, b))
    only_b = sum(y and not x for x, y in zip(a, b))
    acc_a = round(100.0 * sum(a) / n, 4) if n else None
    acc_b = round(100.0 * sum(b) / n, 4) if n else None
    return {
        "n_paired": n,
        "accuracy_a": acc_a,
        "accuracy_b": acc_b,
        "delta": round(100.0 * (sum(b) - sum(a)) / n, 4) if n else None,
        "ci95": paired_bootstrap(a, b),
        "mcnemar_p": mcnemar_exact(only_a, only_b) if n else None,
        "only_a": only_a,
        "only_b": only_b,
    }


def compare(a: dict[str, Any], b: dict[str, Any], a_name: str = "A", b_name: str = "B") -> dict[str, Any]:
    """The comparison document of two comparable results (see the module docstring)."""
    check_comparable(a, b, a_name, b_name)
    b_by_id = {str(it["id"]): it for it in b["items"]}
    a_ids = {str(it["id"]) for it in a["items"]}
    pairs = [(it, b_by_id[str(it["id"])]) for it in a["items"] if str(it["id"]) in b_by_id]
    if not pairs:
        raise cli.UsageError(f"{a_name} and {b_name} share no item ids: nothing to pair")
    breakdowns: dict[str, dict[str, Any]] = {}
    for breakdown in pairs[0][0]["groups"]:
        groups: dict[str, list] = {}
        for pair in pairs:
            groups.setdefault(pair[0]["groups"].get(breakdown), []).append(pair)
        breakdowns[breakdown] = {str(g): paired_figures(groups[g]) for g in sorted(groups, key=str)}
    columns = {}
    try:
        bench = benchmarks.get(a["benchmark"])
    except ValueError:
        bench = None
    for column, (kind, breakdown, values) in (bench.paper_columns.items() if bench else ()):
        if kind == TOTAL:
            columns[column] = paired_figures(pairs)
        elif kind != MACRO:  # a mean over groups is not one paired proportion: see its groups
            columns[column] = paired_figures([p for p in pairs if p[0]["groups"].get(breakdown) in values])
    return {
        "benchmark": a["benchmark"], "version": a.get("version", "unknown"),
        "a": a_name, "b": b_name,
        "n_a": len(a["items"]), "n_b": len(b["items"]),
        "unpaired_a": len(a_ids - set(b_by_id)), "unpaired_b": len(set(b_by_id) - a_ids),
        "total": paired_figures(pairs), "breakdowns": breakdowns, "paper_columns": columns,
    }


HEADERS = ("n paired", "A %", "B %", "delta (B-A)", "95 % CI", "only A", "only B", "McNemar p")


def comparison_row(name: str, f: dict[str, Any]) -> list[Any]:
    return [name, f["n_paired"], f["accuracy_a"], f["accuracy_b"], fmt_delta(f["delta"]), fmt_delta_interval(f["ci95"]),
            f["only_a"], f["only_b"], fmt_p(f["mcnemar_p"])]


def fmt_delta(delta: float | None) -> str:
    return "-" if delta is None else f"{delta:+.2f}"


def fmt_delta_interval(ci: Sequence[float] | None) -> str:
    """A signed interval, bracketed so that a minus sign is not read as a dash."""
    return "-" if not ci else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def render(comparison: dict[str, Any]) -> str:
    c = comparison
    parts = [f"{c['benchmark']} ({c['version']})  A: {c['a']}  B: {c['b']}\n"
             f"paired {c['total']['n_paired']} items; only in A: {c['unpaired_a']}, only in B: {c['unpaired_b']}"]
    rows = [comparison_row("total", c["total"])]
    rows += [comparison_row(f"paper: {k}", v) for k, v in c["paper_columns"].items()]
    parts.append(text_table(("", *HEADERS), rows))
    for breakdown, groups in c["breakdowns"].items():
        parts.append(text_table((breakdown, *HEADERS), [comparison_row(g, f) for g, f in groups.items()]))
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.parser("eval.compare", __doc__,
                        reads="two eval.score result JSONs (A.json B.json) of the same benchmark, version and items,\n"
                              "scored with their per-item rows (without --no-items)",
                        example=RESULT_EXAMPLE,
                        writes="a table on stdout: per group, n_paired, delta (B - A, points) with its 95 % interval,\n"
                               "McNemar's p and only_a / only_b; --output FILE: the same as JSON")
    parser.add_argument("a", metavar="A.json", help="eval.score result of the first run (the baseline)")
    parser.add_argument("b", metavar="B.json", help="eval.score result of the second run")
    parser.add_argument("--output", help="write the comparison as JSON")
    args = parser.parse_args(argv)
    comparison = compare(load_result(args.a), load_result(args.b), args.a, args.b)
    print(render(comparison))
    if args.output:
        write_json(args.output, comparison)
        print(f"\nwrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
