#!/usr/bin/env bash
# Does the GPU install of docs/install.md resolve? On a fresh virtual environment: the documented torch
# command for real, then pip's resolver on the whole `.[gpu]` extra as a dry run (--dry-run --report: nothing
# of the extra is installed), and a check that the resolution keeps torch, transformers and ms-swift at the
# pinned versions and picks the pinned vLLM and DeepSpeed. Needs the package registry (not part of the test
# suite); on a CPU machine too: pip reads the wheels' requirements, nothing needs a GPU.
#
#   bash scripts/check_gpu_install.sh                 # a fresh venv under a temporary folder, removed after
#   VENV=/tmp/gpu-venv KEEP=1 bash scripts/check_gpu_install.sh   # keep it (the torch wheels are ~4 GB)
#
# Prints the resolved versions and "ok" (exit 0), or the versions that moved (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."
# The torch command of docs/install.md: the torch family the gpu extra pins (vllm 0.33.0 pins it exactly).
TORCH_GPU=$(python3 scripts/gpu_pins.py torch)
PY=${PYTHON:-python3}
VENV=${VENV:-$(mktemp -d)/venv}
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$VENV"' EXIT

echo "[gpu-install] $(date -u '+%Y-%m-%d %H:%M UTC'); $($PY --version); fresh venv $VENV"
"$PY" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip >/dev/null
echo "[gpu-install] pip install $TORCH_GPU"
# shellcheck disable=SC2086
"${pip[@]}" install -q $TORCH_GPU
report=$(mktemp)
echo "[gpu-install] pip install --dry-run --report -e .[gpu]"
"${pip[@]}" install -q --dry-run --report "$report" -e ".[gpu]" >/dev/null
"$VENV/bin/python" - "$report" "$PWD/pyproject.toml" <<'PY'
import json, re, sys, tomllib
from importlib.metadata import version

report, pyproject = sys.argv[1], sys.argv[2]
def norm(name):  # PEP 503: ms_swift, MS-Swift and ms-swift are one distribution
    return re.sub(r"[-_.]+", "-", name).lower()
resolved = {norm(item["metadata"]["name"]): item["metadata"]["version"] for item in json.load(open(report))["install"]}
project = tomllib.load(open(pyproject, "rb"))["project"]
pins = {}
for req in project["dependencies"] + project["optional-dependencies"]["gpu"]:
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)", req.split("#")[0].strip())
    if m:
        pins[norm(m.group(1))] = m.group(2)
want = {name: pins[name] for name in ("ms-swift", "transformers", "vllm", "deepspeed")}
moved = {}
for name, pinned in want.items():
    got = resolved.get(name)
    print(f"[gpu-install] {name:13s} pinned {pinned:10s} resolved {got}")
    if got != pinned:
        moved[name] = got
for name in ("torch", "torchvision", "torchaudio"):   # installed first: the resolver must leave them as they are
    have = version(name)
    print(f"[gpu-install] {name:13s} installed {have:8s} " + (f"REPLACED by {resolved[name]}" if name in resolved else "kept"))
    if name in resolved:
        moved[name] = resolved[name]
print(f"[gpu-install] {len(resolved)} distributions would be installed")
if moved:
    print(f"[gpu-install] FAILED: the resolver moves {moved}")
    sys.exit(1)
print("[gpu-install] ok: the gpu extra resolves beside the documented torch and keeps every pin")
PY
