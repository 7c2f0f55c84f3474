"""One interpreter for every script, and a virtual environment when the system Python is externally managed
(PEP 668). The managed interpreter is this machine's own Debian /usr/bin/python3 with its EXTERNALLY-MANAGED
marker (no simulation); the README's two commands were also run end to end on it (docs/measured.md)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import REPO
SCRIPTS = ["scripts/demo.sh", "scripts/setup.sh", "scripts/test.sh", "recipes/_base.sh", "recipes/judge.sh",
           "perf/deepspeed_cpu.sh"]
SYSTEM_PYTHON = Path("/usr/bin/python3")


def is_managed(python: Path) -> bool:
    probe = ("import os, sys, sysconfig; print(sys.prefix == sys.base_prefix and "
             "os.path.isfile(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))")
    return python.exists() and subprocess.run([str(python), "-c", probe], capture_output=True,
                                              text=True).stdout.strip() == "True"


def use_python(path: str, create: bool, **env) -> subprocess.CompletedProcess:
    script = (f"set -euo pipefail; source {REPO}/scripts/_python.sh; use_python {'create' if create else ''}; "
              'echo "PYTHON=$PYTHON"; echo "python3=$(command -v python3)"; '
              '"$PYTHON" -c "import sys; print(\'venv\' if sys.prefix != sys.base_prefix else \'system\')"')
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300,
                          env={"PATH": path, "HOME": "/tmp", **env})


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_run_python_only_through_PYTHON(script):
    """No bare `python`/`python3` command (it may not exist, or be another interpreter than setup used)."""
    bare = re.compile(r"(^|[;&|(`!]|\$\(|\bthen|\bdo|\S=\S+)\s*python3?\s")
    offending = [(n, line) for n, line in enumerate((REPO / script).read_text().splitlines(), 1)
                 if not line.lstrip().startswith("#") and (bare.search(line.split(" #")[0]) or ":-python" in line)]
    assert not offending, offending


def test_an_unmanaged_python_is_used_as_it_is(tmp_path):
    """pyenv/conda/container Pythons: no second environment (this machine's and CI's case)."""
    here = Path(sys.executable)
    out = use_python(f"{here.parent}:/usr/bin:/bin", create=True, VENV_DIR=str(tmp_path / "venv"))
    assert out.returncode == 0, out.stderr
    assert "externally managed" not in out.stdout and not (tmp_path / "venv").exists()
    assert out.stdout.splitlines()[-1] == ("venv" if sys.prefix != sys.base_prefix else "system")


def test_PYTHON_wins_and_leads_PATH(tmp_path):
    out = use_python("/usr/bin:/bin", create=True, PYTHON=sys.executable, VENV_DIR=str(tmp_path / "venv"))
    assert out.returncode == 0, out.stderr
    assert f"PYTHON={sys.executable}" in out.stdout and not (tmp_path / "venv").exists()


@pytest.mark.slow  # makes a virtual environment (ensurepip: seconds)
@pytest.mark.skipif(not is_managed(SYSTEM_PYTHON), reason="no externally managed system Python on this machine")
def test_a_managed_system_python_gets_a_virtual_environment(tmp_path):
    venv = tmp_path / "venv"
    refused = subprocess.run([str(SYSTEM_PYTHON), "-m", "pip", "install", "--no-index", "nothing-here"],
                             capture_output=True, text=True)
    assert "externally-managed-environment" in refused.stderr   # what a bare setup would hit

    out = use_python("/usr/bin:/bin", create=True, VENV_DIR=str(venv))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"[python] {SYSTEM_PYTHON} is externally managed (PEP 668): using a virtual environment at {venv}"
    assert f"PYTHON={venv}/bin/python" in lines and f"python3={venv}/bin/python3" in lines and lines[-1] == "venv"
    accepted = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", "nothing-here"],
                              capture_output=True, text=True)
    assert "externally-managed-environment" not in accepted.stderr   # pip installs there

    again = use_python("/usr/bin:/bin", create=True, VENV_DIR=str(venv))   # the next command reuses it
    assert again.returncode == 0 and "externally managed" not in again.stdout
    assert f"PYTHON={venv}/bin/python" in again.stdout
