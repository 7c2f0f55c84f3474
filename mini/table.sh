#!/usr/bin/env bash
# The mini table (docs/mini-experiment.md): the paper's claims in miniature, on CPU, through the project's
# own recipes and table command. One command, resumable (run it again after an interruption: finished data,
# checkpoint, rows and evaluations are kept):
#
#   bash mini/table.sh            # everything: data, mini checkpoint, task judge, rows, report
#   DRY_RUN=1 bash mini/table.sh  # print every command, run nothing
#
# 1. the task data                 python -m mini.task (train + held-out items, 1/3 per difficulty)
# 2. the mini checkpoint           python -m mini.build -> .cache/mini/qwen2-audio
# 3. the task judge                JUDGE_BACKEND=mini-task bash recipes/judge.sh (R_c, R_t of model-b/c)
# 4. base (the warm start)         recipes/table.sh mini qwen2-audio, under each prompt a GRPO row uses
# 5. the GRPO rows, per seed       recipes/table.sh mini grpo-a grpo-b model-a model-b model-c (SEED)
#                                  (the `mini` table of recipes/catalogue.yaml)
#                                  (train, then eval.infer -> eval.convert -> eval.score -> eval.think_analysis)
# 6. the analysis                  eval.compare (paired, vs base and vs each ablation parent),
#                                  eval.think_analysis (Figure 2), eval.plot_training, eval.report,
#                                  mini.claims (the claims met / not met, the step-time breakdown)
#
# Every row gets the same overrides (MINI_*; the recipes' own defaults are never changed):
#   MINI_STEPS (50)  MINI_LR (1e-4: a tenth of the warm start's SFT rate; the paper's 1e-6 is for 7B weights
#   and barely moves a 1.2M-parameter model in 50 steps)  MINI_BATCH (32 completions per step = MINI_BATCH / MINI_GENERATIONS
#   prompts)  MINI_GENERATIONS (8)  MINI_COMPLETION_LENGTH (64 tokens; also the evaluation's reply budget)
# Rows: MINI_ROWS (the first seed's rows; default every GRPO row of the table; base is evaluated under the
#   prompts of these rows only).
# Sizes: MINI_TRAIN (1200 training items), MINI_TEST (600 held-out items: 200 per difficulty),
#   MINI_SEEDS ("1 2": seeds of the rows in MINI_SEED_ROWS), MINI_SEED_ROWS ("grpo-b model-a": the rows
#   run on every seed; the others run on the first seed only), MINI_TASK_SEED (0).
# Where: MINI_ROOT (output/mini), MINI_MODEL (.cache/mini/qwen2-audio; another checkpoint skips step 2),
#   MINI_JUDGE_PORT (a free port).
set -euo pipefail
MINI_NAME=mini_table MINI_HOME=output/mini
source "$(dirname "$0")/common.sh"   # environment, overrides, stamp/run/table, stages 1-4
TABLE=mini   # recipes/catalogue.yaml: the base row and Table 1's Qwen2-Audio GRPO rows
ROWS=${MINI_ROWS:-$(trained_rows_of "$TABLE")}
MINI_SEEDS=${MINI_SEEDS:-1 2}
MINI_SEED_ROWS=${MINI_SEED_ROWS:-grpo-b model-a}
rows_of_seed() { if [ "$1" = "${MINI_SEEDS%% *}" ]; then echo "$ROWS"; else echo "$MINI_SEED_ROWS"; fi; }

echo "mini table: overrides MAX_STEPS=$MAX_STEPS LR=$LR PER_DEVICE_BATCH=$PER_DEVICE_BATCH" \
     "NUM_GENERATIONS=$NUM_GENERATIONS MAX_COMPLETION_LENGTH=$MAX_COMPLETION_LENGTH; seeds $MINI_SEEDS;" \
     "outputs under $MINI_ROOT"
begin_log
task_data
mini_checkpoint
task_judge

first_seed=${MINI_SEEDS%% *}
first_rows=$(rows_of_seed "$first_seed")
last_row=${first_rows##* }
lane_first_seed() {  # the first seed's rows but its last
  stamp "5. seed $first_seed: ${first_rows% *}"
  table OUTPUT_ROOT="$(seed_root "$first_seed")" SEED="$first_seed" bash recipes/table.sh $TABLE ${first_rows% *}
}
lane_the_rest() {  # base under each prompt, the other seeds' rows, then the first seed's last row
  base_evaluations $TABLE $ROWS
  for seed in ${MINI_SEEDS#"$first_seed"}; do
    stamp "5. seed $seed: $(rows_of_seed "$seed")"
    table OUTPUT_ROOT="$(seed_root "$seed")" SEED="$seed" bash recipes/table.sh $TABLE $(rows_of_seed "$seed")
  done
  stamp "5. seed $first_seed: $last_row"
  table OUTPUT_ROOT="$(seed_root "$first_seed")" SEED="$first_seed" bash recipes/table.sh $TABLE $last_row
}
# MINI_LANES=2 (default): the two lanes run side by side, one single-threaded process each, so both cores
# work, and take about as long as each other (the first lane has built seed 1's benchmark rows long before
# the second reaches seed 1's last row); 1: one after the other.
if [ "$DRY_RUN" = 1 ] || [ "${MINI_LANES:-2}" = 1 ]; then
  lane_the_rest
  lane_first_seed
else
  echo "  two lanes side by side; their output: $MINI_ROOT/lane-{first-seed,rest}.log"
  lane_first_seed > "$MINI_ROOT/lane-first-seed.log" 2>&1 & lane1=$!
  lane_the_rest > "$MINI_ROOT/lane-rest.log" 2>&1 & lane2=$!
  trap "kill \$lane1 \$lane2 2>/dev/null || true; $JUDGE_STOP" EXIT
  wait $lane1 || true
  wait $lane2 || true
fi

stamp "6. analysis -> $MINI_ROOT/report.md"
stamp "done training and evaluating; uptime: $(uptime)"
run "$PYTHON" -m mini.claims --root "$MINI_ROOT" --table $TABLE --seeds $MINI_SEEDS --rows $ROWS \
  --seed-rows $MINI_SEED_ROWS --out "$MINI_ROOT/report.md"
echo "[mini_table +$(( $(date +%s) - start ))s] report: $MINI_ROOT/report.md"
