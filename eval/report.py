"""Gather several rows' results into markdown tables laid out like the paper's.

    python -m eval.report --results runs/ [more files or dirs] --out report.md

Each ``eval.score`` result JSON is named after the run it evaluates, not after
its folder (:mod:`eval.provenance`): a result written by ``eval.sweep`` (a
checkpoint folder, ``base``, or its ``--export-last`` copy) is traced to its
run's own ``args.json``, and the row of ``recipes/catalogue.yaml`` with
exactly those settings names it (a run of no row keeps its output directory's
name; the same checkpoint of two runs stays two rows). A result without that
trail (a file written by hand) is named by its directory. Rows are listed in
the catalogue's order (the paper's). Paper numbers come from
``eval/paper_numbers.yaml`` (transcribed with table and line); a row is put
beside the paper row the catalogue names for it (``--alias ours=row`` maps a
name of one's own to a catalogue row). Each row shows ours (with its 95 % interval), the paper's and the
difference; a paired section measures each Table 1 ablation step on the items
both rows were scored on (``eval/report_paired.py``; ``--pair A:B`` adds any
two rows), and a last table gives every result's denominator (n, missing,
unparsable).

MMAU results go to Tables 1-2 when scored on the v0325 file and to Table 5
when on v05.15.25 (the version is in the result, detected from the metadata).
A result on any other MMAU-format item set (a miniature such as the mini task's
held-out items, a subset, an edited file) has no paper number to stand beside:
it goes to a table of its own, by item set, with accuracy per difficulty and
the share of think replies, and no paper row, difference or Table 1 ablation
step (a pair asked for with ``--pair`` is still compared on its items). The
report opens with a summary of at most five lines: each row's overall accuracy
and where it was measured.

Rows beyond the paper (the Qwen3-Omni rows, catalogue table ``qwen3``) are kept
out of the paper's tables and get a table of their own after them, laid out
like Table 1, with a sentence saying why no paper number stands beside them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from audio_thinker.cli import UsageError, parser as cli_parser, read_text, run as cli_run
from audio_thinker.jsonl import atomic_write_text

from recipes import catalogue

from . import audio_control, provenance
from .report_paired import ablation_step_lines, our_row, paired_section, paper_entry, requested_pair_lines
from .tables import fmt, fmt_accuracy, fmt_interval, markdown_table

PAPER_NUMBERS = Path(__file__).with_name("paper_numbers.yaml")
V0325, V2025 = "v0325", "v05.15.25"

# table key -> (title, [(header, benchmark, mmau version, our paper column, paper's column key)])
_MMAU_T1 = [(f"MMAU {c}", "mmau", V0325, c, f"mmau_{c.lower()}") for c in ("Sound", "Music", "Speech", "Avg")]
_MMAR_T1 = [(f"MMAR {c}", "mmar", None, c, f"mmar_{c.lower()}") for c in ("Sound", "Music", "Speech", "Avg")]
TABLES = {
    "table1": ("Table 1: MMAU test-mini (v0325), MMAR, AIR-Bench Foundation",
               _MMAU_T1 + _MMAR_T1 + [("AIR Avg", "air", None, "Avg", "air_avg")]),
    "table2": ("Table 2: MMAU test-mini, old version (v0325)",
               [(c, "mmau", V0325, c, f"{c.lower()}_testmini") for c in ("Sound", "Music", "Speech", "Avg")]),
    "table3": ("Table 3: AIR-Bench Foundation (column mapping inferred)",
               [(c, "air", None, c, c) for c in ("SoundAQA", "MusicAQA", "SER", "VSC", "SNV", "Avg")]),
    "table4": ("Table 4: MMAR", [(c, "mmar", None, c, c) for c in ("Sound", "Music", "Speech", "Avg")]),
    "table5": ("Table 5: MMAU test-mini v05.15.25",
               [(c, "mmau", V2025, c, f"{c.lower()}_testmini") for c in ("Sound", "Music", "Speech", "Avg")]),
    "table6": ("Table 6: MMAR by modality",
               [(c, "mmar", None, c, c) for c in ("Sound", "Music", "Speech", "Sound-Music", "Sound-Speech",
                                                  "Music-Speech", "Sound-Music-Speech", "Avg")]),
    "qwen3": ("Qwen3-Omni rows (beyond the paper): MMAU test-mini (v0325), MMAR, AIR-Bench Foundation",
              _MMAU_T1 + _MMAR_T1 + [("AIR Avg", "air", None, "Avg", "air_avg")]),
}
# Tables of rows the paper did not run (catalogue tables of the same name), and what the report says in place of
# the paper's line. Their rows appear in no paper table.
BEYOND_THE_PAPER = {
    "qwen3": "No paper numbers: Audio-Thinker's paper trains Qwen2-Audio and Qwen2.5-Omni only, so these rows have "
             "no paper figure to sit beside (docs/backbones.md, \"Qwen3-Omni\").",
}


def find_results(paths: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(row label, result) for every eval.score result JSON under the given paths, in the catalogue's row
    order; the label comes from the result's run (:func:`eval.provenance.label_results`)."""
    files: list[tuple[Path, bool]] = []  # (file, named on the command line)
    for p in map(Path, paths):
        if not p.exists():
            raise UsageError("no such file or directory", p)
        files += [(f, False) for f in sorted(p.rglob("*.json"))] if p.is_dir() else [(p, True)]
    found = []
    for f, named in files:
        try:
            data = json.loads(read_text(f))
        except json.JSONDecodeError as err:
            if named:
                raise UsageError(f"not JSON ({err.msg} at column {err.colno})", f, err.lineno) from None
            data = None
        except UsageError:
            if named:
                raise
            data = None
        if isinstance(data, dict) and "benchmark" in data and "paper_columns" in data:
            found.append((f.resolve(), {**data, "training": provenance.training(f.resolve())}))
        elif named:  # a file the user named must be a result; other JSON in a folder is skipped
            raise UsageError("not an eval.score result JSON (no 'benchmark' and 'paper_columns')", f)
    return provenance.label_results(found, catalogue.load())


def beside_the_paper(result: dict[str, Any]) -> bool:
    """Whether the paper's numbers apply, read from the tables' columns: a benchmark whose columns name no
    version (MMAR, AIR: one official file each) always; one whose columns name versions (MMAU) only when scored
    on one of those official files."""
    versions = {version for _, entries in TABLES.values() for _, name, version, _, _ in entries
                if name == result["benchmark"]}
    return None in versions or result.get("version") in versions


def _fits(result: dict[str, Any], version: str | None) -> bool:
    """Whether a result belongs in a paper column of this MMAU version (None: a benchmark without versions)."""
    return version is None or result.get("version") == version


def paper_row(paper: dict[str, Any], table: str, label: str, aliases: dict[str, str] | None = None
              ) -> dict[str, Any] | None:
    """The paper's line for one of our rows in one table (the catalogue says which paper row it is)."""
    return paper_entry(paper, table, our_row(label, catalogue.load(), aliases or {}))


def _cell(results, row: str, bench: str, version: str | None, column: str) -> dict[str, Any] | None:
    """Our figures (accuracy, ci95, ...) for one column of one row."""
    for r, res in results:
        if r == row and res["benchmark"] == bench and _fits(res, version):
            fig = res["paper_columns"].get(column)
            return fig if fig and fig.get("accuracy") is not None else None
    return None


def _shown_in(key: str, label: str, aliases: dict[str, str]) -> bool:
    """A row beyond the paper goes to its own table only; every other row to the paper's tables."""
    row = our_row(label, catalogue.load(), aliases)
    beyond = [t for t in (row.tables if row else ()) if t in BEYOND_THE_PAPER]
    return key in beyond if key in BEYOND_THE_PAPER else not beyond


def build_table(key: str, results: list[tuple[str, dict[str, Any]]], paper: dict[str, Any],
                aliases: dict[str, str]) -> str | None:
    title, columns = TABLES[key]
    rows_out = []
    for row in dict.fromkeys(r for r, _ in results):
        if not _shown_in(key, row, aliases):
            continue
        ours = [_cell(results, row, bench, version, column) for _, bench, version, column, _ in columns]
        if all(v is None for v in ours):
            continue
        rows_out.append([f"**{row}** (ours{unfinished_mark(results, row)})", *[fmt_accuracy(v) for v in ours]])
        entry = None if key in BEYOND_THE_PAPER else paper_row(paper, key, row, aliases)
        if entry:
            theirs = [entry["values"].get(paper_key) for *_, paper_key in columns]
            rows_out.append([f"paper: {entry['name']} (l. {entry['line']})", *[fmt(v) for v in theirs]])
            rows_out.append(["difference", *[fmt(round(o["accuracy"] - t, 2)) if o is not None and t is not None
                                             else "-" for o, t in zip(ours, theirs)]])
    if not rows_out:
        return None
    text = f"### {title}\n\n" + markdown_table(["row", *[h for h, *_ in columns]], rows_out)
    return text + "\n\n" + BEYOND_THE_PAPER[key] if key in BEYOND_THE_PAPER else text


def item_set(result: dict[str, Any]) -> str:
    """The item set a result was scored on: its metadata file's name (or the input's)."""
    return Path(str(result.get("reference") or result.get("input") or "?")).name


def own_item_sets_section(results: list[tuple[str, dict[str, Any]]]) -> str | None:
    """The results the paper's numbers do not apply to, one table per item set: accuracy with its interval,
    per difficulty, and the share of think replies among the answered ones."""
    own = [(row, res) for row, res in results if not beside_the_paper(res)]
    if not own:
        return None
    parts = ["### Results on item sets of our own (no paper numbers)",
             "Scored on MMAU-format metadata that is not an official MMAU file (a miniature, a subset): the "
             "paper's figures do not apply, so none is shown and no difference is taken."]
    for name in dict.fromkeys(item_set(res) for _, res in own):
        members = [(row, res) for row, res in own if item_set(res) == name]
        levels = [d for d in ("easy", "medium", "hard")
                  if any(d in (res.get("breakdowns") or {}).get("difficulty", {}) for _, res in members)]
        lines = []
        for row, res in members:
            modes = res.get("by_mode") or {}
            answered = sum((modes.get(m) or {}).get("n", 0) for m in ("think", "no_think"))
            think = (modes.get("think") or {}).get("n", 0)
            lines.append([f"**{row}**{_unfinished(res)}",
                          res["total"]["n"], fmt_accuracy(res["total"]),
                          *[fmt_accuracy(res["breakdowns"]["difficulty"].get(d)) for d in levels],
                          f"{100 * think / answered:.0f}" if answered else "-"])
        parts.append(f"Items: `{name}`\n\n" + markdown_table(
            ["row", "n", "accuracy % (95 % CI)", *levels, "think replies %"], lines))
    return "\n\n".join(parts)


def summary(results: list[tuple[str, dict[str, Any]]]) -> str:
    """At most five lines: each result's overall accuracy, with its interval, and the items it was measured on."""
    lines = [f"- **{row}**{_unfinished(res)}: {fmt(res['total']['accuracy'])} % right (95 % CI {fmt_interval(res['total'].get('ci95'))}) "
             f"of {res['total']['n']} items, "
             + (f"{res['benchmark'].upper()} {res.get('version') or ''}".strip() if beside_the_paper(res)
                else f"own item set `{item_set(res)}` (no paper numbers)")
             for row, res in results]
    if len(lines) > 5:
        lines = lines[:4] + [f"- … and {len(lines) - 4} more results in the tables below"]
    return "## Summary\n\n" + "\n".join(lines)


def steps(res: dict[str, Any]) -> str:
    """"4 of 30" for a result of a trained run's checkpoint, "-" for a base model."""
    done = res.get("training")
    if not done:
        return "-"
    planned = done["steps_planned"] if done["steps_planned"] is not None else "?"
    return f"{done['steps_trained']} of {planned}" + ("" if done["finished"] else " (unfinished)")


def unfinished_mark(results: list[tuple[str, dict[str, Any]]], row: str) -> str:
    """", unfinished: 4 of 30 steps" where the row's result is not of its finished run."""
    for r, res in results:
        if r == row and res.get("training") and not res["training"]["finished"]:
            return f", unfinished: {steps(res).removesuffix(' (unfinished)')} steps"
    return ""


def _unfinished(res: dict[str, Any]) -> str:
    """" (unfinished: 4 of 30 steps)" for a result of an unfinished run's checkpoint, else nothing."""
    mark = unfinished_mark([("", res)], "")
    return f" ({mark.removeprefix(', ')})" if mark else ""


def training_section(results: list[tuple[str, dict[str, Any]]]) -> str:
    """Every row's steps trained of steps planned at the checkpoint evaluated; an unfinished row is marked.
    Nothing when no result carries a training trail (predictions made by eval.infer alone, as the demo's):
    a column of dashes would read as "not trained"."""
    if not any(res.get("training") for _, res in results):
        return ""
    rows = [[row, steps(res)] for row, res in dict((row, res) for row, res in results).items()]
    return "### Training\n\nSteps trained (the checkpoint evaluated) of the steps planned.\n\n" + markdown_table(
        ["row", "steps trained"], rows)


def denominators(results: list[tuple[str, dict[str, Any]]]) -> str:
    rows = [[row, res["benchmark"], res.get("version", "-"), res["total"]["accuracy"],
             fmt_interval(res["total"].get("ci95")), res["total"]["n"], res["total"]["missing"],
             res["total"]["unparsable"], len(res.get("answer_not_in_choices", []))]
            for row, res in results]
    return "### Denominators\n\n" + markdown_table(
        ["row", "benchmark", "version", "accuracy %", "95 % CI", "n", "missing", "unparsable",
         "answer not in choices"], rows)


def controls_section(results: list[tuple[str, dict[str, Any]]]) -> str | None:
    """The silent-audio and choice-order controls of every result that has them."""
    parts = []
    audio = [(row, res) for row, res in results if res.get("audio_control")]
    if audio:
        parts.append("Silent-audio control (docs/evaluation.md, \"Reading the silent-audio control\"): the same items with "
                     "every clip replaced by silence.\n\n" + markdown_table(
                         ["row", "benchmark", "version", *audio_control.HEADERS],
                         [[row, res["benchmark"], res.get("version", "-"), *audio_control.summary_cells(res)]
                          for row, res in audio]))
    rotated = [(row, res) for row, res in results if res.get("choice_order")]
    if rotated:
        positions = sorted({p for _, res in rotated for p in res["choice_order"]["by_gold_position"]})
        parts.append("Choice-order control (docs/evaluation.md, \"Reading the choice-order control\"): circular = right "
                     "under every rotation of the options; then accuracy by the gold option's position.\n\n"
                     + markdown_table(
                         ["row", "benchmark", "version", "rotations", "accuracy %", "circular %",
                          *[f"gold at {p} %" for p in positions]],
                         [[row, res["benchmark"], res.get("version", "-"), res["choice_order"]["rotations"],
                           fmt_accuracy(res["total"]), fmt_accuracy(res["choice_order"]["circular"]),
                           *[fmt_accuracy(res["choice_order"]["by_gold_position"].get(p)) for p in positions]]
                          for row, res in rotated]))
    alone = [(row, res) for row, res in results if res.get("control_run")]
    if alone:
        parts.append("Control runs scored on their own (kept out of the tables above): " + ", ".join(
            f"{row} {res['benchmark']} ({res['control_run']}) {fmt_accuracy(res['total'])}" for row, res in alone))
    return "### Controls\n\n" + "\n\n".join(parts) if parts else None


def build_report(results: list[tuple[str, dict[str, Any]]], paper: dict[str, Any] | None = None,
                 aliases: dict[str, str] | None = None, pairs: list[tuple[str, str]] = ()) -> str:
    paper = paper or yaml.safe_load(PAPER_NUMBERS.read_text(encoding="utf-8"))
    cat = catalogue.load()
    rank = {name: i for i, name in enumerate(cat.rows)}

    def in_catalogue_order(label: str) -> int:
        row = our_row(label, cat, aliases or {})
        return rank[row.name] if row else len(rank)
    results = sorted(results, key=lambda item: in_catalogue_order(item[0]))  # the paper's order; stable
    everything, results = results, [(row, res) for row, res in results if not res.get("control_run")]
    official = [(row, res) for row, res in results if beside_the_paper(res)]
    parts = ["# Results beside the paper" if official else "# Results",
             summary(results),
             "Accuracy in percent of *all* items (missing and unparsable replies count as wrong), with its "
             "95 % interval in parentheses (docs/evaluation.md, \"Reading the intervals\")."
             + (f" Paper numbers: `eval/paper_numbers.yaml` (from {paper['source']}); its notes list known "
                "inconsistencies in the paper's tables." if official else "")]
    for key in TABLES:
        table = build_table(key, official, paper, aliases or {})
        if table:
            parts.append(table)
    own = own_item_sets_section(results)
    if own:
        parts.append(own)
    # Table 1's ablation steps only beside the paper; a pair asked for with --pair on any item set (an item set
    # of our own fits every column of its benchmark: it is the one set those rows were scored on)
    paired = paired_section(
        ablation_step_lines([(row, res) for row, res in everything if beside_the_paper(res)], paper, aliases or {},
                            TABLES["table1"][1], _fits)
        + requested_pair_lines(everything, pairs, TABLES["table1"][1],
                               lambda res, version: _fits(res, version) or not beside_the_paper(res)))
    if paired:
        parts.append(paired)
    controls = controls_section(everything)
    if controls:
        parts.append(controls)
    training = training_section(everything)
    if training:
        parts.append(training)
    parts.append(denominators(everything))
    flags = [(row, s, info) for row, res in results for s, info in (res.get("flagged_subsets") or {}).items()]
    if flags:
        parts.append("### Flags\n\n" + "\n".join(
            f"- {row}: `{s}` {fmt_accuracy(info)} (n={info['n']}): {info['why']}." for row, s, info in flags))
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser("eval.report", __doc__,
                        reads="eval.score result JSONs (--results: files, or folders searched for them), one folder per\n"
                              "results row, named after the row",
                        example="runs/model-c/mmau.json   runs/model-c/mmar.json\nruns/grpo-a/mmau.json    runs/grpo-a/mmar.json",
                        writes="--out: a markdown report: tables laid out like the paper's with each row's accuracy (95 %\n"
                               "interval) beside the paper's number, paired differences of the ablation steps, the\n"
                               "controls, and every result's denominator")
    parser.add_argument("--results", nargs="+", required=True, help="result JSON files or directories")
    parser.add_argument("--out", required=True, help="markdown file to write")
    parser.add_argument("--alias", action="append", default=[], help="OURS=ROW, e.g. my-run=model-c (a catalogue row)")
    parser.add_argument("--pair", action="append", default=[],
                        help="ROW_A:ROW_B, a paired comparison of two rows beyond the paper's ablation steps")
    args = parser.parse_args(argv)
    bad_alias = [a for a in args.alias if "=" not in a]
    if bad_alias:
        raise UsageError(f"{bad_alias[0]!r} is not OURS=ROW", option="--alias")
    if any(":" not in p for p in args.pair):
        raise UsageError("takes ROW_A:ROW_B", option="--pair")
    pairs = [tuple(p.split(":", 1)) for p in args.pair]
    results = find_results(args.results)
    if not results:
        raise UsageError("no eval.score result JSON found in " + ", ".join(args.results), option="--results")
    aliases = dict(a.split("=", 1) for a in args.alias)
    atomic_write_text(args.out, build_report(results, aliases=aliases, pairs=pairs))
    print(f"{args.out}: {len(results)} result(s) from {len({r for r, _ in results})} row(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli_run(main))
