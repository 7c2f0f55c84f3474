"""The backbone tests' runner for real `swift` CLI jobs: CPU, hub off, ms-swift's caches in a fresh folder
(so that nothing cached earlier can hide a missing file). Data and checkpoints come from tests/conftest.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.swift import run_swift, swift_env


@pytest.fixture(scope="session")
def fresh_cache_env(tmp_path_factory) -> dict[str, str]:
    cache = tmp_path_factory.mktemp("swift_cache")
    return swift_env({"HF_HOME": str(cache / "hf"), "OMP_NUM_THREADS": "2"}, cache=cache)


@pytest.fixture
def swift_job(fresh_cache_env, tmp_path):
    """swift_job('sft', '--model', ..., env={...}) -> (output folder, log): runs `swift SUBCOMMAND ARGS` in
    tmp_path, log in tmp_path/SUBCOMMAND.log, and fails the test unless it exits 0."""

    def run(subcommand: str, *args: str, env: dict | None = None, timeout: int = 300) -> tuple[Path, str]:
        log = run_swift([subcommand, *args], tmp_path, {**fresh_cache_env, **(env or {})}, timeout,
                        log=f"{subcommand}.log")
        return tmp_path / f"out_{subcommand}", log

    return run
