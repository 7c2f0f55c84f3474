"""The versions a GPU install must have: the `gpu` extra's pins and the project's own, read from pyproject.toml.

    python scripts/gpu_pins.py torch     # the torch command's requirements: torch==... torchvision==... torchaudio==...
    python scripts/gpu_pins.py check     # installed versions against the pins, and CUDA visible to torch

``check`` prints one line per package and exits 1 when one differs or torch sees no GPU.
"""
from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")


def pins() -> dict[str, str]:
    """name -> pinned version: the project's ``==`` dependencies, then the gpu extra's (which win)."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    out = {}
    for req in project["dependencies"] + project["optional-dependencies"]["gpu"]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)", req.strip())
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def check() -> int:
    bad = 0
    for name, pinned in pins().items():
        try:
            have = version(name)
        except PackageNotFoundError:
            have = None
        ok = have is not None and have.split("+")[0] == pinned
        bad += not ok
        print(f"[gpu-pins] {name:13s} pinned {pinned:10s} installed {have}{'' if ok else '  <- differs'}")
    import torch
    cuda = torch.cuda.is_available()
    print(f"[gpu-pins] CUDA visible to torch: {cuda}" + (f" ({torch.cuda.get_device_name(0)}, CUDA "
                                                          f"{torch.version.cuda})" if cuda else ""))
    return 1 if bad or not cuda else 0


def main(argv: list[str]) -> int:
    if argv == ["torch"]:
        print(" ".join(f"{n}=={v}" for n, v in pins().items() if n in TORCH_FAMILY))
        return 0
    if argv == ["check"]:
        return check()
    print("usage: python scripts/gpu_pins.py torch | check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
