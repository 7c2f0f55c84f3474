# Shared base of every results row: a row script sets ROW (its name in recipes/catalogue.yaml, also its
# output directory's name) and sources this file, which hands the row to the launcher,
# `python -m recipes.launch ROW`, in the environment setup.sh installed into. The launcher reads the
# row's facts from the catalogue and every override from the environment (docs/recipes.md, "Overrides").
#
#   DRY_RUN=1 bash recipes/<row>.sh    prints the exact command(s) and runs nothing.
set -euo pipefail
: "${ROW:?row script must set ROW}"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/_env.sh"   # REPO_DIR, PYTHONPATH, use_python
use_python   # $PYTHON and the `swift` beside it: the environment setup.sh installed into
exec "$PYTHON" -m recipes.launch "$ROW" --root "$REPO_DIR"
