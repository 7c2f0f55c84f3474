"""A benchmark is declared once (audio_thinker/benchmark_declarations.py); the report layout and the paper numbers are
checked against that declaration, and no code branches on a benchmark's name."""
from __future__ import annotations

import ast

import pytest
import yaml

from audio_thinker import benchmark_declarations as benchmarks
from eval.report import BEYOND_THE_PAPER, PAPER_NUMBERS, TABLES
from tests.helpers.paths import REPO

ENTRIES = [(table, *entry) for table, (_, entries) in TABLES.items() for entry in entries]
PAPER = yaml.safe_load(PAPER_NUMBERS.read_text(encoding="utf-8"))


@pytest.mark.parametrize("table, header, name, version, column, paper_key", ENTRIES,
                         ids=[f"{e[0]}-{e[1]}" for e in ENTRIES])
def test_report_columns_are_declared_paper_columns(table, header, name, version, column, paper_key):
    bench = benchmarks.get(name)
    assert column in bench.paper_columns
    assert version is None or (name, version) in benchmarks.KNOWN_VERSIONS.values()
    if table in BEYOND_THE_PAPER:   # rows the paper did not run: no paper table to read a column from
        assert table not in PAPER["tables"]
    else:
        assert paper_key in PAPER["tables"][table]["columns"]


@pytest.mark.parametrize("bench", benchmarks.BENCHMARKS.values(), ids=list(benchmarks.BENCHMARKS))
def test_rows_carry_every_field_a_breakdown_reads(bench):
    computed = {"subset"}  # built from task_name and dataset_name
    assert set(bench.breakdowns) - computed <= set(bench.row_fields)


def test_no_code_branches_on_a_benchmark_name():
    names = set(benchmarks.BENCHMARKS)
    found = []
    for folder in ("eval", "data_prep", "swift_plugins"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Compare) and any(
                        isinstance(side, ast.Constant) and side.value in names
                        for side in [node.left, *node.comparators]):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == [], "declare the difference in audio_thinker/benchmark_declarations.py instead"
