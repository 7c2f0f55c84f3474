"""eval.infer must not run without the compat package: without its Qwen2-Audio fix the model answers
without hearing the audio (docs/benchmarks.md, "Prompting and scoring decisions")."""
from __future__ import annotations

import sys

import pytest

from eval import infer


def test_a_broken_compat_package_stops_inference(monkeypatch):
    monkeypatch.setitem(sys.modules, "swift_plugins.compat", None)  # importing it now raises ImportError
    with pytest.raises(ImportError, match="swift_plugins.compat"):
        infer.Runner("/nonexistent-model", [], "transformers", 1, None, 8, 0.0)
