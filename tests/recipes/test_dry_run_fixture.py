"""Every row's and table's ``DRY_RUN=1`` output is the one recorded on the shell recipes before the catalogue
and the launcher replaced them (``dry_runs.json``, ``dry_run_cases.py``), except the differences below, each
made on purpose."""
from __future__ import annotations

import json

import pytest

from tests.recipes.dry_run_cases import CASES, FIXTURE, run_case

RECORDED = json.loads(FIXTURE.read_text(encoding="utf-8"))

# case -> (field, recorded text, text now, why): the only differences allowed. None today: the one deliberate
# change of the move (table.sh's usage line lists the catalogue's tables instead of "table1|...|table6|all")
# landed with the catalogue, before the fixture was last recorded from main's shell recipes.
DELIBERATE: dict[str, tuple[str, str, str, str]] = {}


def expected(name: str) -> dict:
    want = dict(RECORDED[name])
    if name in DELIBERATE:
        field, before, after, _ = DELIBERATE[name]
        assert before in want[field], f"{name}: the recorded output no longer holds {before!r}"
        want[field] = want[field].replace(before, after)
    return want


@pytest.mark.parametrize("name", list(CASES))
def test_dry_run_is_the_recorded_one(name):
    assert run_case(name) == expected(name)


def test_every_case_was_recorded():
    assert set(RECORDED) == set(CASES)
