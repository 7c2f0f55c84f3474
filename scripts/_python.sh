# The one Python interpreter of every script (setup.sh, test.sh, and through scripts/_env.sh the others).
# Sourced, never run. After `use_python [create]`, $PYTHON is the interpreter and its bin directory leads
# PATH, so `swift`, `torchrun` and `python -m ...` all come from the same environment.
#
# Which interpreter, first match:
#   1. $PYTHON, if set                      (your choice, used as is)
#   2. the active virtual environment       ($VIRTUAL_ENV/bin/python)
#   3. $VENV_DIR/bin/python, if it exists   (default <repo>/.venv, made by a previous setup)
#   4. python3, else python, from PATH
# With `create`, a 4th-case interpreter that is externally managed (PEP 668: Debian/Ubuntu's system Python,
# an EXTERNALLY-MANAGED file beside its standard library, where `pip install` is refused) is not installed
# into: a virtual environment is made at $VENV_DIR with it and used instead. A Python that pip may install
# into (pyenv, conda, a container's own) is used directly: a venv there would be a second multi-GB torch
# install for nothing, and the suite's CI machine is such a system.

_python_is_managed() {  # exit 0 when $1 is an externally managed interpreter outside any virtual environment
  "$1" - <<'PY'
import os, sys, sysconfig
in_venv = sys.prefix != sys.base_prefix
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
sys.exit(0 if not in_venv and os.path.isfile(marker) else 1)
PY
}

use_python() {
  local create=${1:-} repo; repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  VENV_DIR=${VENV_DIR:-$repo/.venv}
  if [ -z "${PYTHON:-}" ]; then
    if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then PYTHON=$VIRTUAL_ENV/bin/python
    elif [ -x "$VENV_DIR/bin/python" ]; then PYTHON=$VENV_DIR/bin/python
    else
      PYTHON=$(command -v python3 || command -v python || true)
      [ -n "$PYTHON" ] || { echo "error: no python3 (or python) on PATH; install Python 3.10+ or set PYTHON" >&2; exit 2; }
      if [ "$create" = create ] && _python_is_managed "$PYTHON"; then
        echo "[python] $PYTHON is externally managed (PEP 668): using a virtual environment at $VENV_DIR"
        if ! "$PYTHON" -m venv "$VENV_DIR" > /dev/null; then
          local pkg; pkg=python3-venv
          pkg=$("$PYTHON" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])' 2>/dev/null || echo "$pkg")
          echo "error: '$PYTHON -m venv' failed; install $pkg (apt-get install $pkg) or set PYTHON to another interpreter" >&2
          rm -rf "$VENV_DIR"; exit 2
        fi
        PYTHON=$VENV_DIR/bin/python
      fi
    fi
  fi
  case "$PYTHON" in
    */*) ;;
    *) PYTHON=$(command -v "$PYTHON") || { echo "error: PYTHON=$PYTHON is not on PATH" >&2; exit 2; } ;;
  esac
  PATH="$(dirname "$PYTHON"):$PATH"
  export PYTHON PATH VENV_DIR
}
