# The miniature's shared machinery, sourced by mini/table.sh and mini/study.sh (never run by itself): the
# interpreter and environment, the overrides every row gets, the progress log, and the first stages (task
# data, mini checkpoint, task judge). The caller sets MINI_NAME (its progress lines' name) and MINI_HOME (its
# outputs' folder under the checkout, unless MINI_ROOT says otherwise); docs/mini-experiment.md documents
# every MINI_* variable.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/_env.sh"   # REPO_DIR, PYTHONPATH, use_python, use_offline_caches
cd "$REPO_DIR"
use_python
use_offline_caches
# One thread per process: on a shared 2-core machine torch's default threads spin against each other
# (measured on this machine under load ~7: generation 5.0 s instead of 51 s, forward+backward 3.1 s
# instead of 20 s for 32 completions of the mini checkpoint).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

DRY_RUN=${DRY_RUN:-0}
MINI_ROOT=$(realpath -m "${MINI_ROOT:-$REPO_DIR/$MINI_HOME}")
DEFAULT_MODEL=$(realpath -m "$REPO_DIR/.cache/mini/qwen2-audio")
MINI_MODEL=$(realpath -m "${MINI_MODEL:-$DEFAULT_MODEL}")
MINI_TASK=$(realpath -m "${MINI_TASK:-$MINI_ROOT/task}")
TASK=$MINI_TASK
CATALOGUE=("$PYTHON" -m recipes.catalogue)
# The prompt each row is asked with (its recipe's PROMPT): base is evaluated under each of them, so that
# every row is compared with the warm start asked the same way.
prompt_of() { "${CATALOGUE[@]}" shell "$1" | sed -n 's/.* PROMPT=\([^ ]*\).*/\1/p'; }
trained_rows_of() {  # a catalogue table's rows but its base row
  for row in $("${CATALOGUE[@]}" rows "$1"); do [ "$row" = qwen2-audio ] || echo "$row"; done | xargs
}

# --- the same overrides for every row (recipes/_base.sh reads them) ---------------------------------
export USE_CPU=1 NPROC_PER_NODE=1 NNODES=1 DEEPSPEED=none TORCH_DTYPE=float32 DATALOADER_WORKERS=0
export REPORT_TO=none TUNER=full GRAD_ACC=1 LOGGING_STEPS=1
export MAX_STEPS=${MINI_STEPS:-50} SAVE_STEPS=${MINI_SAVE_STEPS:-${MINI_STEPS:-50}} LR=${MINI_LR:-1e-4}
export PER_DEVICE_BATCH=${MINI_BATCH:-32} NUM_GENERATIONS=${MINI_GENERATIONS:-8}
export MAX_COMPLETION_LENGTH=${MINI_COMPLETION_LENGTH:-64}
# ... and for every evaluation (recipes/table.sh reads them)
export QWEN2_AUDIO_MODEL=$MINI_MODEL GRPO_DATA=$TASK/train.jsonl BENCHMARKS=mmau
export MMAU_META=$TASK/test-meta.json MMAU_AUDIO_ROOT=$TASK
export EVAL_BATCH_SIZE=${EVAL_BATCH_SIZE:-32} EVAL_MAX_NEW_TOKENS=$MAX_COMPLETION_LENGTH EVAL_CHECKPOINTS=last

start=$(date +%s)
stamp() {  # progress, also kept in MINI_ROOT/stages.log (elapsed seconds, load) for the report
  echo "[$MINI_NAME +$(( $(date +%s) - start ))s] $*"
  [ "$DRY_RUN" = 1 ] || echo "$(date -u +%FT%TZ) +$(( $(date +%s) - start ))s load $(cut -d' ' -f1-3 /proc/loadavg): $*" >> "$MINI_ROOT/stages.log"
}
run() {  # print, then run unless DRY_RUN
  echo "+ $*"
  [ "$DRY_RUN" = 1 ] || eval "$@"
}
# recipes/table.sh exits 1 when a row failed; the other rows and the analysis go on (claims say what is missing)
# (run even in a dry run: table.sh then prints every row's command itself)
table() { echo "+ $*"; eval "$@" || echo "  (a row failed: see its status.tsv; run again to retry it)"; }
seed_root() { echo "$MINI_ROOT/seed-$1"; }
begin_log() {
  [ "$DRY_RUN" = 1 ] || { mkdir -p "$MINI_ROOT"; echo "$(date -u +%FT%TZ) start; uptime: $(uptime)" >> "$MINI_ROOT/stages.log"; }
}

task_data() {  # 1. the task data
  stamp "1. task data -> $TASK"
  if [ -s "$TASK/test-meta.json" ] && [ -s "$TASK/train.jsonl" ]; then echo "  (made before, kept)"
  else
    run "$PYTHON" -m mini.task --out "$TASK" --seed "${MINI_TASK_SEED:-0}" --train "${MINI_TRAIN:-1200}" \
      --sft 0 --test "${MINI_TEST:-600}"
  fi
}

mini_checkpoint() {  # 2. the mini checkpoint
  stamp "2. mini checkpoint -> $MINI_MODEL"
  if [ "$MINI_MODEL" = "$DEFAULT_MODEL" ]; then
    run "$PYTHON" -m mini.build   # a no-op when built before
  else
    echo "  (MINI_MODEL given: not built here)"
  fi
}

task_judge() {  # 3. the task judge (R_c, R_t); stopped when the caller exits (JUDGE_STOP)
  stamp "3. task judge"
  JUDGE_PORT=${MINI_JUDGE_PORT:-$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  export AUDIO_THINKER_JUDGE_URL=http://127.0.0.1:$JUDGE_PORT/v1 AUDIO_THINKER_JUDGE_MODEL=judge
  if [ "$DRY_RUN" = 1 ]; then
    JUDGE_BACKEND=mini-task JUDGE_PORT=$JUDGE_PORT bash recipes/judge.sh
  else
    JUDGE_BACKEND=mini-task JUDGE_PORT=$JUDGE_PORT JUDGE_LOG_DIR=$MINI_ROOT/judge JUDGE_WAIT=120 bash recipes/judge.sh
    trap "$JUDGE_STOP" EXIT
  fi
}
JUDGE_STOP='kill -- -"$(cat "$MINI_ROOT/judge/judge.pid")" 2>/dev/null || true'   # the judge's process group

base_evaluations() {  # 4. base (the warm start) of table $1 under each prompt its rows $2... use
  local tab=$1 prompt row; shift
  for prompt in $(for row in "$@"; do prompt_of "$row"; done | sort -u); do
    stamp "4. base, asked with $prompt.txt"
    table OUTPUT_ROOT="$MINI_ROOT/base-$prompt" BASE_PROMPT="$prompt" bash recipes/table.sh "$tab" qwen2-audio
  done
}
