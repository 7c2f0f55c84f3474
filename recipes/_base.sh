# Shared base of every results row. A row script sets ROW (its name in swift_plugins/catalogue.yaml, also
# its output directory's name) and sources this file, which reads the row's facts from the catalogue:
#
#   BACKBONE  qwen2-audio | qwen2.5-omni
#   METHOD    sft | grpo
#   PROMPT    adaptive_think | answer_only | always_think   (swift_plugins/prompts/<PROMPT>.txt)
#   REWARDS / WEIGHTS   (grpo) --reward_funcs and --reward_weights of the row
#   SFT_TARGET          (sft)  answers | cot
#
# Everything else has the paper's setting as default (section 5.1: 1000 steps, lr 1e-6, temperature 1.0,
# 8 completions, KL 0.04, per-device batch 1 x grad. accumulation 2 x 8 GPUs = 16) and can be overridden
# from the environment; see docs/recipes.md for the full list. Multi-node runs use ms-swift's own
# launcher variables (NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, NPROC_PER_NODE), passed through.
#
#   DRY_RUN=1 bash recipes/<row>.sh    prints the exact command(s) and runs nothing.

set -euo pipefail
: "${ROW:?row script must set ROW}"

RECIPES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$RECIPES_DIR")
source "$REPO_DIR/scripts/_python.sh"
source "$RECIPES_DIR/_layout.sh"
use_python   # $PYTHON and the `swift` beside it: the environment setup.sh installed into
# The row's facts (BACKBONE METHOD PROMPT REWARDS WEIGHTS SFT_TARGET NEEDS_JUDGE), from the catalogue.
facts=$(PYTHONPATH="$REPO_DIR" "$PYTHON" -m swift_plugins.catalogue shell "$ROW") || exit 2
eval "$facts"

case "$BACKBONE" in
  qwen2-audio)  DEFAULT_MODEL=Qwen/Qwen2-Audio-7B-Instruct; DEFAULT_MODEL_TYPE=qwen2_audio ;;
  qwen2.5-omni) DEFAULT_MODEL=Qwen/Qwen2.5-Omni-7B;          DEFAULT_MODEL_TYPE=qwen2_5_omni
                # thinker only: no talker, no audio output (required with ZeRO-3)
                export ENABLE_AUDIO_OUTPUT=${ENABLE_AUDIO_OUTPUT:-0} ;;
  *) echo "unknown BACKBONE=$BACKBONE" >&2; exit 2 ;;
esac

MODEL=${MODEL:-$DEFAULT_MODEL}
MODEL_TYPE=${MODEL_TYPE:-$DEFAULT_MODEL_TYPE}
OUTPUT_ROOT=${OUTPUT_ROOT:-$REPO_DIR/output}
OUTPUT_DIR=$OUTPUT_ROOT/$ROW
SYSTEM_PROMPT=$REPO_DIR/swift_plugins/prompts/$PROMPT.txt

# hardware and scale
export NPROC_PER_NODE=${NPROC_PER_NODE:-8}
export NNODES=${NNODES:-1}
USE_CPU=${USE_CPU:-0}                      # 1: CPU run (tiny checkpoints, the offline demo)
TUNER=${TUNER:-full}                       # full | lora
LORA_RANK=${LORA_RANK:-64}
# zero2 | zero3 | none; on CPU none unless asked for (DeepSpeed's CPU accelerator: docs/at-scale.md).
DEEPSPEED=${DEEPSPEED:-$([ "$USE_CPU" = 1 ] && echo none || echo zero3)}
TORCH_DTYPE=${TORCH_DTYPE:-bfloat16}
PER_DEVICE_BATCH=${PER_DEVICE_BATCH:-1}
GRAD_ACC=${GRAD_ACC:-2}
SAVE_STEPS=${SAVE_STEPS:-100}
LOGGING_STEPS=${LOGGING_STEPS:-1}
SEED=${SEED:-42}
DATALOADER_WORKERS=${DATALOADER_WORKERS:-4}
EXTRA_ARGS=${EXTRA_ARGS:-}                 # appended verbatim, e.g. "--max_length 4096"

common=(--model "$MODEL" --model_type "$MODEL_TYPE" --system "$SYSTEM_PROMPT"
        --output_dir "$OUTPUT_DIR" --add_version false --tuner_type "$TUNER"
        --torch_dtype "$TORCH_DTYPE" --per_device_train_batch_size "$PER_DEVICE_BATCH"
        --gradient_accumulation_steps "$GRAD_ACC" --save_steps "$SAVE_STEPS" --logging_steps "$LOGGING_STEPS"
        --seed "$SEED" --dataloader_num_workers "$DATALOADER_WORKERS" --report_to "${REPORT_TO:-tensorboard}")
# A local checkpoint needs no hub lookup (without this ms-swift retries one for seconds offline).
[ -d "$MODEL" ] && common+=(--check_model false)
[ "$TUNER" = lora ] && common+=(--lora_rank "$LORA_RANK" --lora_alpha "$((2 * LORA_RANK))" --target_modules all-linear)
extra_plugins=()
if [ "$USE_CPU" = 1 ]; then
  common+=(--use_cpu true)
  [ "$((NPROC_PER_NODE * NNODES))" -gt 1 ] && common+=(--ddp_backend gloo)
  if [ "$DEEPSPEED" != none ]; then
    # DeepSpeed's CPU accelerator: its comm layer started by a plugin (accelerate skips it with --use_cpu),
    # and no fp16, which ms-swift turns on for float32 weights and DeepSpeed refuses on CPU.
    extra_plugins+=("$REPO_DIR/swift_plugins/cpu_deepspeed.py")
    [ "$TORCH_DTYPE" = float32 ] && common+=(--fp16 false)
  fi
fi
[ "$DEEPSPEED" != none ] && common+=(--deepspeed "$DEEPSPEED")

case "$METHOD" in
  grpo)
    : "${REWARDS:?grpo rows must set REWARDS}" "${WEIGHTS:?grpo rows must set WEIGHTS}"
    DATA=${DATA:-$REPO_DIR/data/avqa/train.jsonl}
    # Monitors at weight 0: accuracy and think rate on the dashboard of every GRPO row, reward unchanged.
    funcs=($REWARDS); weights=($WEIGHTS)
    for monitor in choice_accuracy think_rate; do
      [[ " ${funcs[*]} " == *" $monitor "* ]] || { funcs+=("$monitor"); weights+=(0); }
    done
    cmd=(swift rlhf --rlhf_type grpo "${common[@]}" --dataset "$DATA"
         --external_plugins "$REPO_DIR/swift_plugins/rewards.py" "${extra_plugins[@]}" --callbacks audio_thinker  # also applies compat
         --reward_funcs "${funcs[@]}" --reward_weights "${weights[@]}"
         --max_steps "${MAX_STEPS:-1000}" --learning_rate "${LR:-1e-6}" --temperature "${TEMPERATURE:-1.0}"
         --num_generations "${NUM_GENERATIONS:-8}" --beta "${BETA:-0.04}"
         --max_completion_length "${MAX_COMPLETION_LENGTH:-1024}" --log_completions true)
    NUM_GENERATIONS=${NUM_GENERATIONS:-8}
    [ -n "${GENERATION_BATCH_SIZE:-}" ] && cmd+=(--generation_batch_size "$GENERATION_BATCH_SIZE")
    [ -n "${STEPS_PER_GENERATION:-}" ] && cmd+=(--steps_per_generation "$STEPS_PER_GENERATION")
    VLLM_ON=${USE_VLLM:-$([ "$USE_CPU" = 1 ] && echo false || echo true)}
    VLLM_MODE=${VLLM_MODE:-colocate}
    check_grpo_layout   # refuses, with the settings to change, a layout ms-swift would refuse after loading
    if [ "$VLLM_ON" = true ]; then
      cmd+=(--use_vllm true --vllm_mode "$VLLM_MODE")
      if [ "$VLLM_MODE" = server ]; then
        cmd+=(--vllm_server_host "${VLLM_SERVER_HOST:-127.0.0.1}" --vllm_server_port "${VLLM_SERVER_PORT:-8001}")
      else
        cmd+=(--vllm_gpu_memory_utilization "${VLLM_GPU_MEMORY_UTILIZATION:-0.4}" --sleep_level "${SLEEP_LEVEL:-1}")
      fi
    fi
    # Which rewards ask the judge is declared in swift_plugins/registry.py; the catalogue applies it to the row.
    needs_judge=$NEEDS_JUDGE
    ;;
  sft)
    : "${SFT_TARGET:?sft rows must set SFT_TARGET}"
    if [ "$SFT_TARGET" = cot ]; then DATA=${DATA:-$REPO_DIR/data/avqa_cot/sft_cot.jsonl}
    else DATA=${DATA:-$REPO_DIR/data/avqa/sft_answers.jsonl}; fi
    # The paper gives no SFT hyper-parameters; these are ours (docs/recipes.md).
    cmd=(swift sft "${common[@]}" --dataset "$DATA" --num_train_epochs "${EPOCHS:-1}"
         --external_plugins "$REPO_DIR/swift_plugins/compat_plugin.py" "${extra_plugins[@]}"
         --learning_rate "${LR:-1e-5}" --max_steps "${MAX_STEPS:--1}")
    needs_judge=0
    ;;
  *) echo "unknown METHOD=$METHOD" >&2; exit 2 ;;
esac
# shellcheck disable=SC2206
cmd+=($EXTRA_ARGS)

if [ "$needs_judge" = 1 ]; then
  # No default address: a judge that happens to answer on 127.0.0.1:8000 may be someone else's.
  export AUDIO_THINKER_JUDGE_URL=${AUDIO_THINKER_JUDGE_URL:-${JUDGE_URL:-}}
  if [ -z "$AUDIO_THINKER_JUDGE_URL" ]; then
    no_judge="row $ROW uses the judge (think_consistency / think_quality): set AUDIO_THINKER_JUDGE_URL (e.g. http://127.0.0.1:8000/v1; bash recipes/judge.sh starts one and prints it)"
    [ "${DRY_RUN:-0}" = 1 ] || { echo "error: $no_judge" >&2; exit 2; }
    echo "note: $no_judge" >&2   # a dry run still shows the commands
  fi
  export AUDIO_THINKER_JUDGE_MODEL=${AUDIO_THINKER_JUDGE_MODEL:-${JUDGE_MODEL:-judge}}
  check=("$PYTHON" -m swift_plugins.judge.check --wait "${JUDGE_CHECK_WAIT:-30}")
fi

[ "$METHOD" = grpo ] && echo "[$ROW] $LAYOUT" >&2
# Pre-flight check of the data (docs/bad-input.md): bad rows stop the run here, naming file, line
# and clip, instead of killing ms-swift mid-run. PREFLIGHT=header (default) | full | off;
# PREFLIGHT_DROP_BAD=1 trains on a cleaned copy without the bad rows (listed in <copy>.dropped.jsonl).
PREFLIGHT=${PREFLIGHT:-header}
if [ "$PREFLIGHT" != off ]; then
  # --model: clips longer than the model's audio window (its feature-extractor config) are bad rows too.
  preflight=("$PYTHON" -m data_prep.preflight "$DATA" --kind "$METHOD" --check "$PREFLIGHT" --model "$MODEL")
  if [ "${PREFLIGHT_DROP_BAD:-0}" = 1 ]; then
    clean=$OUTPUT_DIR/dataset.clean.jsonl
    preflight+=(--clean-out "$clean")
    for i in "${!cmd[@]}"; do [ "${cmd[$i]}" = "$DATA" ] && cmd[$i]=$clean; done
  fi
fi

if [ "${DRY_RUN:-0}" = 1 ]; then
  [ "$PREFLIGHT" != off ] && echo "$(printf '%q ' "${preflight[@]}")"
  [ "$needs_judge" = 1 ] && echo "AUDIO_THINKER_JUDGE_URL=$AUDIO_THINKER_JUDGE_URL AUDIO_THINKER_JUDGE_MODEL=$AUDIO_THINKER_JUDGE_MODEL $(printf '%q ' "${check[@]}")"
  echo "NPROC_PER_NODE=$NPROC_PER_NODE NNODES=$NNODES${ENABLE_AUDIO_OUTPUT:+ ENABLE_AUDIO_OUTPUT=$ENABLE_AUDIO_OUTPUT} $(printf '%q ' "${cmd[@]}")"
  exit 0
fi

cd "$REPO_DIR"
export PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}"
if [ "$PREFLIGHT" != off ]; then
  mkdir -p "$OUTPUT_DIR"
  "${preflight[@]}"
fi
if [ "$needs_judge" = 1 ]; then
  "${check[@]}"   # fail before loading a 7B model if the judge does not answer in format
fi
mkdir -p "$OUTPUT_DIR"
echo "[$ROW] $(printf '%q ' "${cmd[@]}")" | tee "$OUTPUT_DIR/command.txt"
exec "${cmd[@]}"
