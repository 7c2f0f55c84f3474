"""Fixtures for the evaluation tests."""
from __future__ import annotations

import json

import pytest

from tests.helpers.paths import benchmark_file


@pytest.fixture
def load_meta():
    def _load(name: str) -> list[dict]:
        return json.loads(benchmark_file(name).read_text(encoding="utf-8"))
    return _load
