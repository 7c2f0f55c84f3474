"""scripts/vllm_names.py reports against an installed vLLM (docs/backbones.md, "vLLM"); where vLLM is missing,
as in the suite's environment, it says so in one line instead of reporting every name missing."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.paths import REPO


def test_without_vllm_the_report_says_where_to_run_it():
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vLLM is installed here: the report itself runs (scripts/vllm_names.py)")
    out = subprocess.run([sys.executable, str(REPO / "scripts/vllm_names.py")], capture_output=True, text=True,
                         timeout=300, cwd=REPO)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: vllm does not import here") and "gpu extra" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
