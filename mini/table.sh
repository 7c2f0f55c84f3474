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
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO_DIR"
source scripts/_python.sh
use_python
export PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}"
export MODELSCOPE_CACHE=${MODELSCOPE_CACHE:-$REPO_DIR/.cache/modelscope} HF_HUB_OFFLINE=1 CUDA_VISIBLE_DEVICES=""
# One thread per process: on a shared 2-core machine torch's default threads spin against each other
# (measured on this machine under load ~7: generation 5.0 s instead of 51 s, forward+backward 3.1 s
# instead of 20 s for 32 completions of the mini checkpoint).
export TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

DRY_RUN=${DRY_RUN:-0}
MINI_ROOT=$(realpath -m "${MINI_ROOT:-$REPO_DIR/output/mini}")
DEFAULT_MODEL=$(realpath -m "$REPO_DIR/.cache/mini/qwen2-audio")
MINI_MODEL=$(realpath -m "${MINI_MODEL:-$DEFAULT_MODEL}")
TASK=$MINI_ROOT/task
TABLE=mini   # recipes/catalogue.yaml: the base row and Table 1's Qwen2-Audio GRPO rows
CATALOGUE=("$PYTHON" -m recipes.catalogue)
ROWS=${MINI_ROWS:-$(for row in $("${CATALOGUE[@]}" rows "$TABLE"); do [ "$row" = qwen2-audio ] || echo "$row"; done | xargs)}
MINI_SEEDS=${MINI_SEEDS:-1 2}
MINI_SEED_ROWS=${MINI_SEED_ROWS:-grpo-b model-a}
# The prompt each row is asked with (its recipe's PROMPT): base is evaluated under each of them, so that
# every row is compared with the warm start asked the same way.
prompt_of() { "${CATALOGUE[@]}" shell "$1" | sed -n 's/.* PROMPT=\([^ ]*\).*/\1/p'; }
BASE_PROMPTS=$(for row in $ROWS; do prompt_of "$row"; done | sort -u)

# --- the same overrides for every row (recipes/_base.sh reads them) ---------------------------------
export USE_CPU=1 NPROC_PER_NODE=1 NNODES=1 DEEPSPEED=none TORCH_DTYPE=float32 DATALOADER_WORKERS=0
export REPORT_TO=none TUNER=full GRAD_ACC=1 LOGGING_STEPS=1
export MAX_STEPS=${MINI_STEPS:-50} SAVE_STEPS=${MINI_STEPS:-50} LR=${MINI_LR:-1e-4}
export PER_DEVICE_BATCH=${MINI_BATCH:-32} NUM_GENERATIONS=${MINI_GENERATIONS:-8}
export MAX_COMPLETION_LENGTH=${MINI_COMPLETION_LENGTH:-64}
# ... and for every evaluation (recipes/table.sh reads them)
export QWEN2_AUDIO_MODEL=$MINI_MODEL GRPO_DATA=$TASK/train.jsonl BENCHMARKS=mmau
export MMAU_META=$TASK/test-meta.json MMAU_AUDIO_ROOT=$TASK
export EVAL_BATCH_SIZE=${EVAL_BATCH_SIZE:-32} EVAL_MAX_NEW_TOKENS=$MAX_COMPLETION_LENGTH EVAL_CHECKPOINTS=last

start=$(date +%s)
stamp() {  # progress, also kept in MINI_ROOT/stages.log (elapsed seconds, load) for the report
  echo "[mini_table +$(( $(date +%s) - start ))s] $*"
  [ "$DRY_RUN" = 1 ] || echo "$(date -u +%FT%TZ) +$(( $(date +%s) - start ))s load $(cut -d' ' -f1-3 /proc/loadavg): $*" >> "$MINI_ROOT/stages.log"
}
run() {  # print, then run unless DRY_RUN
  echo "+ $*"
  [ "$DRY_RUN" = 1 ] || eval "$@"
}
seed_root() { echo "$MINI_ROOT/seed-$1"; }
rows_of_seed() { if [ "$1" = "${MINI_SEEDS%% *}" ]; then echo "$ROWS"; else echo "$MINI_SEED_ROWS"; fi; }

echo "mini table: overrides MAX_STEPS=$MAX_STEPS LR=$LR PER_DEVICE_BATCH=$PER_DEVICE_BATCH" \
     "NUM_GENERATIONS=$NUM_GENERATIONS MAX_COMPLETION_LENGTH=$MAX_COMPLETION_LENGTH; seeds $MINI_SEEDS;" \
     "outputs under $MINI_ROOT"
[ "$DRY_RUN" = 1 ] || { mkdir -p "$MINI_ROOT"; echo "$(date -u +%FT%TZ) start; uptime: $(uptime)" >> "$MINI_ROOT/stages.log"; }

stamp "1. task data -> $TASK"
if [ -s "$TASK/test-meta.json" ] && [ -s "$TASK/train.jsonl" ]; then echo "  (made before, kept)"
else
  run "$PYTHON" -m mini.task --out "$TASK" --seed "${MINI_TASK_SEED:-0}" --train "${MINI_TRAIN:-1200}" \
    --sft 0 --test "${MINI_TEST:-600}"
fi

stamp "2. mini checkpoint -> $MINI_MODEL"
if [ "$MINI_MODEL" = "$DEFAULT_MODEL" ]; then
  run "$PYTHON" -m mini.build   # a no-op when built before
else
  echo "  (MINI_MODEL given: not built here)"
fi

stamp "3. task judge"
JUDGE_PORT=${MINI_JUDGE_PORT:-$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
export AUDIO_THINKER_JUDGE_URL=http://127.0.0.1:$JUDGE_PORT/v1 AUDIO_THINKER_JUDGE_MODEL=judge
if [ "$DRY_RUN" = 1 ]; then
  JUDGE_BACKEND=mini-task JUDGE_PORT=$JUDGE_PORT bash recipes/judge.sh
else
  JUDGE_BACKEND=mini-task JUDGE_PORT=$JUDGE_PORT JUDGE_LOG_DIR=$MINI_ROOT/judge JUDGE_WAIT=120 bash recipes/judge.sh
  trap 'kill -- -"$(cat "$MINI_ROOT/judge/judge.pid")" 2>/dev/null || true' EXIT   # the judge's process group
fi

# recipes/table.sh exits 1 when a row failed; the other rows and the analysis go on (claims say what is missing)
# (run even in a dry run: table.sh then prints every row's command itself)
table() { echo "+ $*"; eval "$@" || echo "  (a row failed: see its status.tsv; run again to retry it)"; }
first_seed=${MINI_SEEDS%% *}
first_rows=$(rows_of_seed "$first_seed")
last_row=${first_rows##* }
lane_first_seed() {  # the first seed's rows but its last
  stamp "5. seed $first_seed: ${first_rows% *}"
  table OUTPUT_ROOT="$(seed_root "$first_seed")" SEED="$first_seed" bash recipes/table.sh $TABLE ${first_rows% *}
}
lane_the_rest() {  # base under each prompt, the other seeds' rows, then the first seed's last row
  for prompt in $BASE_PROMPTS; do
    stamp "4. base, asked with $prompt.txt"
    table OUTPUT_ROOT="$MINI_ROOT/base-$prompt" BASE_PROMPT="$prompt" bash recipes/table.sh $TABLE qwen2-audio
  done
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
  trap 'kill $lane1 $lane2 2>/dev/null || true; kill -- -"$(cat "$MINI_ROOT/judge/judge.pid")" 2>/dev/null || true' EXIT
  wait $lane1 || true
  wait $lane2 || true
fi

stamp "6. analysis -> $MINI_ROOT/report.md"
stamp "done training and evaluating; uptime: $(uptime)"
run "$PYTHON" -m mini.claims --root "$MINI_ROOT" --table $TABLE --seeds $MINI_SEEDS --rows $ROWS \
  --seed-rows $MINI_SEED_ROWS --out "$MINI_ROOT/report.md"
echo "[mini_table +$(( $(date +%s) - start ))s] report: $MINI_ROOT/report.md"
