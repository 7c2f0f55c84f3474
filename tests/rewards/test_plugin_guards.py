"""Configuration faults the plugin refuses loudly instead of training on a wrong reward."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from swift_plugins import rewards as plugin
from tests.helpers.paths import REPO
from tests.helpers.reward_calls import call, rows_kwargs

COMPLETIONS = ["<answer>Dog</answer>", "<think>Barks.</think><answer>Dog</answer>"]


@pytest.mark.parametrize("name", ["choice_accuracy", "atar"])
def test_missing_solution_column_is_an_error_not_a_negative_reward(name):
    kwargs = rows_kwargs(len(COMPLETIONS))
    del kwargs["solution"]  # a dataset without the gold answer
    with pytest.raises(ValueError, match="no 'solution' column"):
        call(plugin.orms[name](), COMPLETIONS, **kwargs)


def load_plugin_after(code: str) -> subprocess.CompletedProcess:
    """Run ``code``, then load the plugin as ``--external_plugins swift_plugins/rewards.py`` does, in a fresh
    interpreter (judge settings set, so the judge rewards can be built)."""
    code += "\nfrom swift.utils import import_external_file\nimport_external_file('swift_plugins/rewards.py')\n"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_taken_reward_name_is_refused():
    """Another plugin already registered `atar`: loading ours must fail, not silently replace it."""
    proc = load_plugin_after("from swift.rewards import orms\nclass Impostor: pass\norms['atar'] = Impostor")
    assert proc.returncode != 0
    assert "reward name 'atar' is already registered to __main__.Impostor" in proc.stderr


def test_the_same_plugin_loaded_twice_is_not_a_clash():
    """`import swift_plugins.rewards` and `--external_plugins swift_plugins/rewards.py` load the same file
    under two module names; the second registration finds the same classes."""
    proc = load_plugin_after("import swift_plugins.rewards")
    assert proc.returncode == 0, proc.stderr[-3000:]
