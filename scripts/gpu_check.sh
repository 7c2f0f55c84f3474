#!/usr/bin/env bash
# The device check: the first thing to run on a GPU node (one GPU is enough; < 8 minutes by design, not yet
# measured: no GPU was lent to this work, docs/measured.md). Each stage prints one line: ok or FAILED with the
# log line that failed, its time and the GPU's peak memory during it (nvidia-smi, sampled every 0.2 s).
#
#   bash scripts/gpu_check.sh              # every stage
#   DRY_RUN=1 bash scripts/gpu_check.sh    # list the stages and their exact commands; the GRPO stages' commands
#                                          # go through the launcher's own dry run (settings, layout, options)
#   STAGES="setup grpo:tiny-qwen2-audio" bash scripts/gpu_check.sh   # some stages only
#   WHEELS=/path/to/wheelhouse             # set-up from wheels, offline: made on a connected machine with
#                                          # pip download -d DIR $(python scripts/gpu_pins.py torch) -e ".[gpu]"
#   GPU_CHECK_DIR=output/gpu-check         # where logs, data and runs go
#
# Stages, in order:
#   setup           torch / vLLM / DeepSpeed at the pinned versions (installed from WHEELS when given), CUDA
#                   visible, and the vLLM-name report (scripts/vllm_names.py)
#   checkpoints     the tiny checkpoints of each backbone, the mini backbone, the local judge, the tone task data
#   grpo:MODEL      2 GRPO steps of model-c (model-f for Qwen2.5-Omni: the same rewards) with vLLM colocate,
#                   sleep mode on, bf16, ZeRO-3 on one rank, the mini task's judge (no GPU), for MODEL in
#                   tiny-qwen2-audio, tiny-qwen2.5-omni, mini
#   judge-vllm      the same on the mini backbone with the judge behind vLLM on the same GPU (the local judge
#                   model, recipes/judge.sh with JUDGE_BACKEND=vllm)
#   infer:MODEL     eval.infer through vLLM (--engine vllm) on 8 test rows, for each MODEL
set -uo pipefail
source "$(dirname "$0")/_env.sh"   # REPO_DIR, PYTHONPATH, use_python
cd "$REPO_DIR"
use_python
# offline as use_offline_caches, but on the GPU (which that function hides)
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false MODELSCOPE_CACHE=${MODELSCOPE_CACHE:-$REPO_DIR/.cache/modelscope}
DRY=${DRY_RUN:-0}
DIR=${GPU_CHECK_DIR:-$REPO_DIR/output/gpu-check}
MODELS="tiny-qwen2-audio tiny-qwen2.5-omni mini"
ALL="setup checkpoints $(for m in $MODELS; do printf 'grpo:%s ' "$m"; done)judge-vllm $(for m in $MODELS; do printf 'infer:%s ' "$m"; done)"
STAGES=${STAGES:-$ALL}
TASK_JUDGE_PORT=${TASK_JUDGE_PORT:-18090}
VLLM_JUDGE_PORT=${VLLM_JUDGE_PORT:-18091}
mkdir -p "$DIR"

model_dir() {  # the checkpoint of a MODEL name
  case "$1" in
    tiny-qwen2-audio) echo "$REPO_DIR/.cache/tiny/qwen2-audio" ;;
    tiny-qwen2.5-omni) echo "$REPO_DIR/.cache/tiny/qwen2.5-omni" ;;
    mini) echo "$REPO_DIR/.cache/mini/qwen2-audio" ;;
  esac
}
row_of() { case "$1" in *omni*) echo model-f ;; *) echo model-c ;; esac; }
type_of() { case "$1" in *omni*) echo qwen2_5_omni ;; *) echo qwen2_audio ;; esac; }

# One GPU, one rank: the paper's row with a small batch, 2 steps; the rollout settings of the catalogue
# except a smaller vLLM share (a judge may share the GPU), a shorter model length (the tiny checkpoints hold
# 4096 positions; prompts here are < 1k tokens) and eager mode (no CUDA-graph capture: start-up time).
grpo_env() {  # MODEL JUDGE_URL [RUN_NAME]
  echo "MODEL=$(model_dir "$1") DATA=$DIR/data/train.jsonl OUTPUT_ROOT=$DIR/runs/${3:-$1} NPROC_PER_NODE=1 NNODES=1" \
       "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} DEEPSPEED=zero3 TORCH_DTYPE=bfloat16 USE_VLLM=true" \
       "VLLM_MODE=colocate SLEEP_LEVEL=1 VLLM_GPU_MEMORY_UTILIZATION=0.25 VLLM_MAX_MODEL_LEN=2048 MAX_STEPS=2" \
       "SAVE_STEPS=2 PER_DEVICE_BATCH=4 GRAD_ACC=1 NUM_GENERATIONS=4 MAX_COMPLETION_LENGTH=64 DATALOADER_WORKERS=0" \
       "REPORT_TO=none FRESH=1 AUDIO_THINKER_JUDGE_URL=$2 AUDIO_THINKER_JUDGE_MODEL=judge" \
       "EXTRA_ARGS=--vllm_enforce_eager\\ true"
}

stage_command() {  # the command of a stage, as one line of bash
  local stage=$1 name=${1#*:}
  case "$stage" in
    setup)
      local install=""
      [ -n "${WHEELS:-}" ] && install="\"$PYTHON\" -m pip install -q --no-index --find-links \"$WHEELS\" $("$PYTHON" scripts/gpu_pins.py torch) && \"$PYTHON\" -m pip install -q --no-index --find-links \"$WHEELS\" -e '.[gpu]' && "
      echo "$install\"$PYTHON\" scripts/gpu_pins.py check && \"$PYTHON\" scripts/vllm_names.py" ;;
    checkpoints)
      echo "\"$PYTHON\" scripts/build_tiny_checkpoints.py --out .cache/tiny && { [ -f .cache/mini/qwen2-audio/config.json ] || \"$PYTHON\" -m mini.build; } && \"$PYTHON\" scripts/prepare_local_judge.py --out .cache/judge/smollm2-135m-instruct && \"$PYTHON\" -m mini.task --out \"$DIR/data\" --seed 1 --train 16 --sft 0 --test 8" ;;
    grpo:*)
      echo "JUDGE_BACKEND=mini-task JUDGE_PORT=$TASK_JUDGE_PORT JUDGE_LOG_DIR=$DIR/task-judge bash recipes/judge.sh && $(grpo_env "$name" "http://127.0.0.1:$TASK_JUDGE_PORT/v1") bash recipes/$(row_of "$name").sh; rc=\$?; kill -- -\$(cat $DIR/task-judge/judge.pid) 2>/dev/null; exit \$rc" ;;
    judge-vllm)
      echo "JUDGE_BACKEND=vllm JUDGE_MODEL_PATH=.cache/judge/smollm2-135m-instruct JUDGE_GPUS=${CUDA_VISIBLE_DEVICES:-0} JUDGE_GPU_MEMORY=0.2 JUDGE_PORT=$VLLM_JUDGE_PORT JUDGE_LOG_DIR=$DIR/vllm-judge JUDGE_WAIT=300 bash recipes/judge.sh && $(grpo_env mini "http://127.0.0.1:$VLLM_JUDGE_PORT/v1" mini-vllm-judge) bash recipes/model-c.sh; rc=\$?; kill -- -\$(cat $DIR/vllm-judge/judge.pid) 2>/dev/null; exit \$rc" ;;
    infer:*)
      echo "\"$PYTHON\" -m eval.infer --engine vllm --model $(model_dir "$name") --model-type $(type_of "$name") --benchmark-file $DIR/data/test.jsonl --out $DIR/infer/$name.preds.jsonl --system swift_plugins/prompts/adaptive_think.txt --batch-size 8 --max-new-tokens 32 --limit 8" ;;
  esac
}

peak_watch() {  # sample the GPU's memory in use into $1 until killed
  command -v nvidia-smi > /dev/null || return 0
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$1" 2>/dev/null
}

for stage in $STAGES; do
  case " $ALL " in *" $stage "*) ;; *) echo "unknown stage $stage (stages: $ALL)" >&2; exit 2 ;; esac
done
failed=0
start_all=$(date +%s)
for stage in $STAGES; do
  cmd=$(stage_command "$stage")
  if [ "$DRY" = 1 ]; then
    echo "[gpu-check] stage $stage: $cmd"
    case "$stage" in   # the launcher's own dry run of the GRPO stages: settings, layout and options accepted
      grpo:*|judge-vllm)
        name=${stage#grpo:} run=${stage#grpo:}; [ "$stage" = judge-vllm ] && name=mini run=mini-vllm-judge
        if out=$(bash -c "$(grpo_env "$name" "http://127.0.0.1:$VLLM_JUDGE_PORT/v1" "$run") DRY_RUN=1 \"$PYTHON\" -m recipes.launch $(row_of "$name")" 2>&1); then
          echo "[gpu-check]   launcher: $(tail -n 1 <<<"$out")"
        else
          echo "[gpu-check]   launcher refused stage $stage: $out" >&2; failed=1
        fi ;;
    esac
    continue
  fi
  log="$DIR/${stage//:/-}.log"
  peaks="$DIR/${stage//:/-}.mem"
  peak_watch "$peaks" & watcher=$!
  t0=$(date +%s)
  timeout "${STAGE_TIMEOUT:-300}" bash -c "$cmd" > "$log" 2>&1
  rc=$?
  kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
  took=$(( $(date +%s) - t0 ))
  peak=$(sort -n "$peaks" 2>/dev/null | tail -n 1); peak=${peak:+${peak} MiB peak}
  if [ "$rc" = 0 ]; then
    echo "[gpu-check] $stage: ok (${took} s, ${peak:-no nvidia-smi})"
  else
    line=$(grep -E "Error|error:|FAILED|Traceback|Killed|out of memory" "$log" | tail -n 1)
    [ -n "$line" ] || line=$(tail -n 1 "$log")
    [ "$rc" = 124 ] && line="timed out after ${STAGE_TIMEOUT:-300} s; $line"
    echo "[gpu-check] $stage: FAILED (${took} s, ${peak:-no nvidia-smi}, log $log): $line"
    failed=1
  fi
done
[ "$DRY" = 1 ] || echo "[gpu-check] total $(( $(date +%s) - start_all )) s"
exit $failed
