#!/usr/bin/env bash
# The README's test command: set up (idempotent), then run the whole suite.
#   bash scripts/test.sh [pytest args]      e.g.  bash scripts/test.sh -m "not slow"
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_python.sh
use_python create            # the interpreter setup.sh installs into (a venv on a PEP 668 system Python)
bash scripts/setup.sh
exec "$PYTHON" -m pytest -q "$@"
