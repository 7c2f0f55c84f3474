"""The miniature's shell drivers (mini/table.sh, mini/study.sh, mini/flawed.sh) in dry-run mode, read as
the commands they would run: the plan tests of tests/mini share these."""
from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from tests.helpers.paths import REPO


def dry_run(script: str, root: Path) -> str:
    """``DRY_RUN=1 bash mini/SCRIPT`` with ``MINI_ROOT=root``: its printed plan. A dry run writes nothing."""
    env = {**os.environ, "DRY_RUN": "1", "MINI_ROOT": str(root), "PYTHONPATH": str(REPO)}
    out = subprocess.run(["bash", str(REPO / "mini" / script)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert not root.exists()
    return out.stdout


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def trainings(plan: str) -> list[list[str]]:
    """The words of every ``swift rlhf`` command of a plan."""
    return [shlex.split(line[line.index("swift rlhf"):]) for line in plan.splitlines() if " swift rlhf " in line]
