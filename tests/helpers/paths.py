"""Where things are: the checkout, its shared cache, and the real benchmark metadata."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"  # tiny checkpoints, the local judge, ms-swift's caches
SHARED = REPO.parent / "shared"
# The real metadata lives in the shared data folder beside the checkout; a copy
# in the repo's benchmarks/ or $AUDIO_THINKER_BENCHMARKS is used first.
_CANDIDATES = [os.environ.get("AUDIO_THINKER_BENCHMARKS"), REPO / "benchmarks", SHARED / "benchmarks"]


def benchmark_file(name: str) -> Path:
    for folder in _CANDIDATES:
        if folder and (Path(folder) / name).is_file():
            return Path(folder) / name
    pytest.skip(f"real metadata {name} not found (set AUDIO_THINKER_BENCHMARKS)")
