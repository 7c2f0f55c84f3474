# The prologue of every script that runs the project's commands (demo.sh, rehearse_tables.sh, gpu_check.sh,
# recipes/_base.sh, recipes/judge.sh, recipes/table.sh, mini/common.sh, mini/flawed.sh,
# perf/deepspeed_cpu.sh). Sourced, never run; it changes no directory (a row script resolves the paths you
# give it from where you are).
#
# Sourcing it sets REPO_DIR (the checkout), puts the checkout first on PYTHONPATH (so its packages win over
# an installed copy) and defines `use_python [create]` (scripts/_python.sh: the one interpreter, $PYTHON).
# `use_offline_caches` is for the scripts that run on this machine's own files only (the demo, the
# rehearsal, the mini table, the DeepSpeed check): models from .cache, never the hub, no GPU, one
# tokenizer thread per process.
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$REPO_DIR/scripts/_python.sh"
export PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}"

use_offline_caches() {
  export MODELSCOPE_CACHE=${MODELSCOPE_CACHE:-$REPO_DIR/.cache/modelscope} HF_HUB_OFFLINE=1 CUDA_VISIBLE_DEVICES=""
  export TOKENIZERS_PARALLELISM=false
}
