"""What `pip install` puts on a user's sys.path: exactly the six documented top-level packages
(docs/layout.md), with their data files, and nothing of the checkout's tooling (tests, perf, scripts)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from tests.helpers.paths import REPO

PACKAGES = {"audio_thinker", "swift_plugins", "recipes", "data_prep", "eval", "mini"}


def test_wheel_holds_exactly_the_documented_packages(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".cache", ".git", "__pycache__", "*.egg-info", "build", "dist", "output", "runs", "data", "artifacts",
        ".hypothesis", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(src)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top == PACKAGES
    # data files the packages read at run time (data_prep.avqa reads its annotation format at import)
    assert {"swift_plugins/prompts/adaptive_think.txt", "recipes/catalogue.yaml", "eval/paper_numbers.yaml",
            "data_prep/avqa_annotations.txt"} <= set(names)
