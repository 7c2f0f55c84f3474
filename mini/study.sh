#!/usr/bin/env bash
# The study (docs/mini-experiment.md, "Why ATAR stops thinking"): model-a and its catalogue variants (the
# `study` table of recipes/catalogue.yaml) on the miniature, with grpo-a and grpo-b as references, under the
# mini table's overrides (mini/common.sh), on several seeds; then model-a and the most difficulty-aware
# variant for 3x the steps on one seed; then the instruments on every run, the claims per variant and the
# study's figures. One command, resumable (run it again after an interruption, or after adding a row to the
# table: finished runs, evaluations and measurements are kept):
#
#   bash mini/study.sh            # everything
#   DRY_RUN=1 bash mini/study.sh  # every stage with an estimate of its time, every command; nothing run
#
# 1. the task data, 2. the mini checkpoint                      (as mini/table.sh)
# 4. base (the warm start) under each prompt the rows use       recipes/table.sh study qwen2-audio
# 5. per seed, the rows (references on the first seed only)     recipes/table.sh study ROWS (SEED)
#    two lanes side by side: the first seed | base and the other seeds; then again for rows added meanwhile
# 6. long runs: model-a and the best variant (python -m mini.study best), STUDY_LONG_FACTOR x the steps
# 7. the instruments: eval.think_propensity on every checkpoint of every run (held-out items, the row's own
#    prompt; the other seeds' runs at their last checkpoint only), eval.mode_signal on every run's
#    completions.jsonl (python -m mini.study measure)
# 8. mini.claims per variant (claims a-c with the variant as the ATAR row), python -m mini.study report
#
# Settings (besides the mini table's MINI_* overrides, mini/table.sh):
#   MINI_STEPS (60)  MINI_SAVE_STEPS (15: checkpoints for the propensity-over-training figure)
#   STUDY_SEEDS ("1 2")  STUDY_REFERENCES ("grpo-a grpo-b": on the first seed only)
#   STUDY_LONG_FACTOR (3)  STUDY_LONG_ROWS ("model-a best": best = the variant python -m mini.study best picks)
#   MINI_ROOT (output/study), MINI_TASK (MINI_ROOT/task), MINI_LANES (2; 1: one after the other)
set -euo pipefail
MINI_NAME=study MINI_HOME=output/study MINI_STEPS=${MINI_STEPS:-60} MINI_SAVE_STEPS=${MINI_SAVE_STEPS:-15}
source "$(dirname "$0")/common.sh"   # environment, overrides, stamp/run/table, stages 1-4
{  # the whole study is read before it starts: editing this file meanwhile cannot change a running study
TABLE=study
STUDY_SEEDS=${STUDY_SEEDS:-1 2}
STUDY_REFERENCES=${STUDY_REFERENCES:-grpo-a grpo-b}
STUDY_LONG_FACTOR=${STUDY_LONG_FACTOR:-3}
STUDY_LONG_ROWS=${STUDY_LONG_ROWS:-model-a best}
first_seed=${STUDY_SEEDS%% *}
rest_seeds=${STUDY_SEEDS#"$first_seed"}
LONG_ROOT=$MINI_ROOT/long
LONG_STEPS=$(( MAX_STEPS * STUDY_LONG_FACTOR ))
LONG_SAVE_STEPS=$(( SAVE_STEPS * STUDY_LONG_FACTOR ))
# the rows under study: the table's trained rows but the references (read again before each phase, so that a
# row added to the catalogue while the study runs is trained by its next phase)
study_rows() { for row in $(trained_rows_of $TABLE); do [[ " $STUDY_REFERENCES " == *" $row "* ]] || echo "$row"; done | xargs; }
rows_of_seed() { if [ "$1" = "$first_seed" ]; then echo "$STUDY_REFERENCES $(study_rows)"; else study_rows; fi; }

# Estimates for the dry run (minutes of one lane): seconds per optimizer step of each kind of row
# (docs/mini-experiment.md, run 1: grpo-a 1.4, grpo-b 2.0, the adaptive rows 4.2 s at load 3-7) and ~60 s per
# held-out evaluation.
estimate() {  # estimate STEPS ROW...
  "$PYTHON" -c 'import sys; steps = int(sys.argv[1]); s = {"grpo-a": 1.4, "grpo-b": 2.0}
print(round(sum(steps * s.get(r, 4.2) + 60 for r in sys.argv[2:]) / 60))' "$@"
}
estimated=0
plan_note() { echo "  (estimate: ~$1 min)"; estimated=$(( estimated + $1 )); }

lane_first_seed() {
  stamp "5. seed $first_seed: $(rows_of_seed "$first_seed")"
  table OUTPUT_ROOT="$(seed_root "$first_seed")" SEED="$first_seed" bash recipes/table.sh $TABLE $(rows_of_seed "$first_seed")
}
lane_the_rest() {
  base_evaluations $TABLE $(trained_rows_of $TABLE)
  for seed in $rest_seeds; do
    stamp "5. seed $seed: $(rows_of_seed "$seed")"
    table OUTPUT_ROOT="$(seed_root "$seed")" SEED="$seed" bash recipes/table.sh $TABLE $(rows_of_seed "$seed")
  done
}
long_run() {  # long_run ROW
  stamp "6. long run: $1, $LONG_STEPS steps, seed $first_seed"
  table OUTPUT_ROOT="$LONG_ROOT" SEED="$first_seed" MAX_STEPS=$LONG_STEPS SAVE_STEPS=$LONG_SAVE_STEPS \
    bash recipes/table.sh $TABLE "$1"
}
side_by_side() {  # side_by_side NAME1 FN1 NAME2 FN2: two lanes, one process each (MINI_LANES=1: in turn)
  if [ "$DRY_RUN" = 1 ] || [ "${MINI_LANES:-2}" = 1 ]; then
    $2; $4
  else
    echo "  two lanes side by side; their output: $MINI_ROOT/lane-$1.log, $MINI_ROOT/lane-$3.log"
    $2 >> "$MINI_ROOT/lane-$1.log" 2>&1 & local a=$!
    $4 >> "$MINI_ROOT/lane-$3.log" 2>&1 & local b=$!
    trap "kill $a $b 2>/dev/null || true" EXIT
    wait $a || true
    wait $b || true
    trap - EXIT
  fi
}

echo "study: overrides MAX_STEPS=$MAX_STEPS SAVE_STEPS=$SAVE_STEPS LR=$LR PER_DEVICE_BATCH=$PER_DEVICE_BATCH" \
     "NUM_GENERATIONS=$NUM_GENERATIONS MAX_COMPLETION_LENGTH=$MAX_COMPLETION_LENGTH; seeds $STUDY_SEEDS;" \
     "rows $(study_rows); references $STUDY_REFERENCES (seed $first_seed); long runs $STUDY_LONG_ROWS" \
     "x$STUDY_LONG_FACTOR; outputs under $MINI_ROOT"
begin_log
task_data
mini_checkpoint

lane1=$(estimate "$MAX_STEPS" $(rows_of_seed "$first_seed"))
lane2=$(( 2 + $(estimate "$MAX_STEPS" $(for s in $rest_seeds; do rows_of_seed "$s"; done)) ))   # + base evaluations
plan_note $(( lane1 > lane2 ? lane1 : lane2 ))
side_by_side first-seed lane_first_seed rest lane_the_rest
if [ "$DRY_RUN" != 1 ]; then
  stamp "5. rows added to the table while the first phase ran (finished runs are kept: only new rows train)"
  side_by_side first-seed lane_first_seed rest lane_the_rest
fi

# 6. the long runs
long_rows=()
for row in $STUDY_LONG_ROWS; do
  if [ "$row" = best ]; then
    variants=$(for r in $(study_rows); do [ "$r" = model-a ] || echo "$r"; done | xargs)
    if [ "$DRY_RUN" = 1 ]; then
      echo "+ $PYTHON -m mini.study best --root $MINI_ROOT --seeds $STUDY_SEEDS --rows $variants"; row="BEST"
    else
      row=$("$PYTHON" -m mini.study best --root "$MINI_ROOT" --seeds $STUDY_SEEDS --rows $variants) || {
        echo "  (no variant has training logs to choose from: the best variant's long run is left out)"; continue; }
    fi
  fi
  long_rows+=("$row")
done
plan_note "$(estimate "$LONG_STEPS" model-a)"
if [ "$DRY_RUN" = 1 ]; then
  for row in "${long_rows[@]}"; do
    stamp "6. long run: $row, $LONG_STEPS steps, seed $first_seed"
    echo "+ OUTPUT_ROOT=$LONG_ROOT SEED=$first_seed MAX_STEPS=$LONG_STEPS SAVE_STEPS=$LONG_SAVE_STEPS bash recipes/table.sh $TABLE $row"
  done
elif [ "${#long_rows[@]}" = 2 ]; then
  first_long() { long_run "${long_rows[0]}"; }
  second_long() { long_run "${long_rows[1]}"; }
  side_by_side long-1 first_long long-2 second_long
else
  for row in "${long_rows[@]}"; do long_run "$row"; done
fi

# 7. the instruments, on every run (they read the saved checkpoints and completions.jsonl)
stamp "7. instruments: think propensity per checkpoint, mode signal per run"
runs=()
for seed in $STUDY_SEEDS; do for row in $(rows_of_seed "$seed"); do runs+=("$(seed_root "$seed")/$row"); done; done
for row in "${long_rows[@]}"; do runs+=("$LONG_ROOT/$row"); done
# ~40 s per measurement (15 s start-up, ~0.17 s per item, measured under load 15), two at a time: every
# checkpoint of the first seed's and the long runs, the last of the others, and the mode signals
curve_runs=$(( $(rows_of_seed "$first_seed" | wc -w) + ${#long_rows[@]} ))
plan_note "$(( (curve_runs * (MAX_STEPS / SAVE_STEPS) + ${#runs[@]} - curve_runs + ${#runs[@]}) * 40 / 120 + 1 ))"
run "$PYTHON" -m mini.study measure --root "$MINI_ROOT" --runs "${runs[@]}" --curves "seed-$first_seed" long

# 8. the claims per variant and the study's report
stamp "8. claims per variant, figures, report -> $MINI_ROOT/report.md"
for row in $(study_rows); do
  run "$PYTHON" -m mini.claims --root "$MINI_ROOT" --table $TABLE --seeds $STUDY_SEEDS \
    --rows $STUDY_REFERENCES "$row" --out "$MINI_ROOT/claims/$row/report.md"
done
run "$PYTHON" -m mini.study report --root "$MINI_ROOT" --seeds $STUDY_SEEDS --rows $(study_rows) \
  --references $STUDY_REFERENCES --out "$MINI_ROOT/report.md"
plan_note 2
if [ "$DRY_RUN" = 1 ]; then echo "study: estimated wall time ~$estimated min (two lanes; load 3-7)"; fi
stamp "done; uptime: $(uptime)"
exit
}
