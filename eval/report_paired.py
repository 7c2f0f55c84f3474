"""The report's paired section: each ablation step of the paper's Table 1 measured on the same items.

A step is a Table 1 row against the row it adds to, its ``parent`` in
``recipes/catalogue.yaml`` (:func:`ablation_steps`), e.g. ``grpo-a`` →
``grpo-b`` (GRPO → GRPO+CoT), ``model-a`` → ``model-b`` (+CR), the base model
→ ``sft-a``. When both rows of a step have ``eval.score``
results of the same benchmark and version with per-item rows, the step's
difference is ``eval.compare``'s paired one (bootstrap interval, exact
McNemar p), shown beside the paper's difference between the two rows.
``--pair A:B`` adds any two rows, with no paper difference (control runs
included: ``--pair model:model-silent`` measures what the audio adds).
"""
from __future__ import annotations

from typing import Any

from audio_thinker.cli import UsageError
from recipes import catalogue

from .compare import compare, fmt_delta, fmt_delta_interval, fmt_p
from .tables import markdown_table

STEP_TABLE = "table1"


def paper_entry(paper: dict[str, Any], table: str, row: catalogue.Row | None) -> dict[str, Any] | None:
    """The row's line in ``eval/paper_numbers.yaml`` for one table (by the name the catalogue gives it)."""
    if row is None or table not in row.tables:
        return None
    name = row.paper_name(table)
    return next((e for e in paper["tables"][table]["rows"] if e["name"] == name), None)


def ablation_steps(cat: catalogue.Catalogue) -> list[tuple[catalogue.Row, catalogue.Row]]:
    """(parent, row) pairs of Table 1, in the paper's order: each row against the row it adds to, as the
    catalogue's ``parent`` says (sft-a -> sft-b: + CoT; grpo-a -> model-a: + ATAR; the base model -> sft-a);
    then the variants of a Table 1 row (model-a -> model-a-tok, ...), which no paper table holds."""
    return [(cat.row(row.parent), row) for row in cat.rows.values()
            if row.parent and (STEP_TABLE in row.tables or STEP_TABLE in cat.row(row.parent).tables)]


def our_row(label: str, cat: catalogue.Catalogue, aliases: dict[str, str]) -> catalogue.Row | None:
    """The catalogue row a result label stands for: ``--alias`` first, then the label's row name (a label is
    a row name, followed by `` (...)`` where two runs of one row are shown apart)."""
    return cat.by_name(aliases.get(label, label.split(" ", 1)[0]))


def _labels_of(row: catalogue.Row, labels: list[str], cat, aliases) -> str | None:
    return next((r for r in labels if (ours := our_row(r, cat, aliases)) is not None and ours.name == row.name),
                None)


def _result(results, row: str, bench: str, version: str | None, fits) -> dict[str, Any] | None:
    for r, res in results:
        if r == row and res["benchmark"] == bench and fits(res, version):
            return res
    return None


def _step_lines(label: str, a: dict[str, Any] | None, b: dict[str, Any] | None, columns,
                paper_delta) -> list[list[Any]]:
    """One table line per column of one step (or one line saying why it cannot be paired)."""
    if a is None or b is None:
        return []
    if not isinstance(a.get("items"), list) or not isinstance(b.get("items"), list):
        return [[label, "-", "no per-item rows (scored with --no-items)", "-", "-", "-"]]
    try:
        comparison = compare(a, b)
    except UsageError as err:
        return [[label, "-", f"not paired: {err}", "-", "-", "-"]]
    lines = []
    for header, column, paper_key in columns:
        fig = comparison["paper_columns"].get(column)
        theirs = paper_delta(paper_key) if paper_delta else None
        if fig is None:  # a mean over groups (AIR Avg): no single paired proportion
            lines.append([label, header, "- (mean over tasks)", "-", "-", fmt_delta(theirs)])
            continue
        lines.append([label, header, f"{fmt_delta(fig['delta'])} {fmt_delta_interval(fig['ci95'])}",
                      fmt_p(fig["mcnemar_p"]), fig["n_paired"], fmt_delta(theirs)])
    return lines


def _groups(columns) -> dict[tuple[str, str | None], list[tuple[str, str, str]]]:
    """Table columns grouped by (benchmark, version): one comparison per group."""
    out: dict[tuple[str, str | None], list[tuple[str, str, str]]] = {}
    for header, bench, version, column, paper_key in columns:
        out.setdefault((bench, version), []).append((header, column, paper_key))
    return out


def ablation_step_lines(results: list[tuple[str, dict[str, Any]]], paper: dict[str, Any], aliases: dict[str, str],
                        table_columns, fits) -> list[list[Any]]:
    """The lines of Table 1's ablation steps between the rows among ``results`` (control runs left out).
    ``table_columns`` are Table 1's (header, benchmark, version, column, paper key); ``fits(result,
    version)`` says whether a result belongs in a column of that MMAU version."""
    results = [(r, res) for r, res in results if not res.get("control_run")]
    cat = catalogue.load()
    rows = list(dict.fromkeys(r for r, _ in results))
    lines: list[list[Any]] = []
    for parent, row in ablation_steps(cat):
        ours_a, ours_b = _labels_of(parent, rows, cat, aliases), _labels_of(row, rows, cat, aliases)
        if not ours_a or not ours_b:
            continue
        above, entry = paper_entry(paper, STEP_TABLE, parent), paper_entry(paper, STEP_TABLE, row)
        label = f"{ours_a} → {ours_b} ({(entry or {}).get('method') or row.summary})"
        for (bench, version), columns in _groups(table_columns).items():
            def paper_delta(key, above=above, entry=entry):
                x = (above or {}).get("values", {}).get(key)
                y = (entry or {}).get("values", {}).get(key)
                return round(y - x, 2) if x is not None and y is not None else None
            lines += _step_lines(label, _result(results, ours_a, bench, version, fits),
                                 _result(results, ours_b, bench, version, fits), columns, paper_delta)
    return lines


def requested_pair_lines(results: list[tuple[str, dict[str, Any]]], pairs: list[tuple[str, str]], table_columns,
                         fits) -> list[list[Any]]:
    """The lines of the row pairs asked for by name (``--pair A:B``), each paired on the items both rows were
    scored on, whatever the item set (control runs included: the silent-audio control is such a pair)."""
    lines: list[list[Any]] = []
    for a_row, b_row in pairs:
        for (bench, version), columns in _groups(table_columns).items():
            lines += _step_lines(f"{a_row} → {b_row}", _result(results, a_row, bench, version, fits),
                                 _result(results, b_row, bench, version, fits), columns, None)
    return lines


def paired_section(lines: list[list[Any]]) -> str | None:
    """Markdown for the paired ablation steps and the requested row pairs (None when there is none)."""
    if not lines:
        return None
    return ("### Paired differences\n\n"
            "Table 1's ablation steps (and the `--pair` rows), each measured on the items both rows were scored "
            "on: difference B − A in points with its paired-bootstrap 95 % interval, the exact McNemar p, and "
            "the paper's difference between the same two rows (docs/evaluation.md, \"Reading a paired comparison\").\n\n"
            + markdown_table(["step (A → B)", "column", "ours: delta [95 % CI]", "McNemar p", "n paired",
                              "paper: delta"], lines))
