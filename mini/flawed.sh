#!/usr/bin/env bash
# Claim (d) on the flawed warm start (docs/mini-experiment.md, "Claim (d) on the flawed warm start"):
# model-a -> model-b -> model-c on two seeds, trained from a warm start whose think traces carry flaws, so
# that R_c and R_t have something to fix. One command, resumable (mini/table.sh keeps finished work):
#
#   bash mini/flawed.sh            # flawed warm start (a no-op when built), the three rows x 2 seeds, analysis
#   DRY_RUN=1 bash mini/flawed.sh  # print every command, run nothing
#
# 1. the flawed warm start   python -m mini.build --flaws $MINI_FLAWS -> .cache/mini-flawed/qwen2-audio (MINI_MODEL)
# 2. the table               mini/table.sh with MINI_MODEL = that checkpoint, MINI_ROWS = MINI_SEED_ROWS =
#                            "model-a model-b model-c", MINI_ROOT = output/mini-flawed (base evaluated under
#                            the adaptive prompt; mini.claims' paired differences, claim (d))
# 3. the traces held out     python -m mini.traces: MINI_TRACES (300) held-out items sampled under the
#                            always-think prompt at temperature 1 from the warm start and from every run's
#                            last checkpoint, each trace judged (-> MINI_ROOT/traces/<run>/traces.json)
# 4. the traces over training  python -m mini.trace_curves (consistency rate and R_t of every sampled think
#                            trace per window of steps, judged again by the task judge; the runs' logged means)
#
# MINI_FLAWS (0.35: the rate whose precondition was measured to hold), MINI_FLAW_MIX (mini.task's default
# mix when empty); every other MINI_* of mini/table.sh passes through (MINI_STEPS, MINI_SEEDS, ...).
set -euo pipefail
source "$(dirname "$0")/../scripts/_env.sh"   # REPO_DIR, PYTHONPATH, use_python
cd "$REPO_DIR"
use_python
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

MINI_FLAWS=${MINI_FLAWS:-0.35}
export MINI_ROOT=$(realpath -m "${MINI_ROOT:-$REPO_DIR/output/mini-flawed}")
export MINI_MODEL=$(realpath -m "${MINI_MODEL:-$REPO_DIR/.cache/mini-flawed/qwen2-audio}")
export MINI_ROWS=${MINI_ROWS:-model-a model-b model-c} MINI_SEED_ROWS=${MINI_SEED_ROWS:-model-a model-b model-c}
MINI_SEEDS=${MINI_SEEDS:-1 2}
export MINI_SEEDS
build=("$PYTHON" -m mini.build --out "$(dirname "$MINI_MODEL")" --flaws "$MINI_FLAWS")
[ -z "${MINI_FLAW_MIX:-}" ] || build+=(--flaw-mix "$MINI_FLAW_MIX")

echo "+ ${build[*]}"
[ "${DRY_RUN:-0}" = 1 ] || "${build[@]}"
bash mini/table.sh
held=("$PYTHON" -m mini.traces --task "$MINI_ROOT/task" --samples "${MINI_TRACES:-300}")
echo "+ ${held[*]} --model $MINI_MODEL --out $MINI_ROOT/traces/base"
[ "${DRY_RUN:-0}" = 1 ] || [ -s "$MINI_ROOT/traces/base/traces.json" ] || \
  "${held[@]}" --model "$MINI_MODEL" --out "$MINI_ROOT/traces/base"
for seed in $MINI_SEEDS; do
  for row in $MINI_ROWS; do
    out=$MINI_ROOT/traces/$row-seed$seed
    echo "+ ${held[*]} --model $MINI_ROOT/seed-$seed/$row/last-checkpoint --out $out"
    [ "${DRY_RUN:-0}" = 1 ] || [ -s "$out/traces.json" ] || \
      "${held[@]}" --model "$MINI_ROOT/seed-$seed/$row/last-checkpoint" --out "$out" || echo "  ($row seed $seed: no traces)"
  done
done
curves=("$PYTHON" -m mini.trace_curves --root "$MINI_ROOT" --seeds $MINI_SEEDS --rows $MINI_ROWS
        --out "$MINI_ROOT/figures")
echo "+ ${curves[*]}"
[ "${DRY_RUN:-0}" = 1 ] || "${curves[@]}"
