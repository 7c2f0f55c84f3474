#!/usr/bin/env bash
# Start the judge behind R_c and R_t as an OpenAI-compatible server, wait until it answers in format,
# and print the settings the training rows read.
#
#   bash recipes/judge.sh                       # the paper's judge: Qwen3-8B-Base behind vLLM
#   JUDGE_BACKEND=swift bash recipes/judge.sh   # same model behind `swift deploy` (no vLLM installed)
#   JUDGE_BACKEND=local bash recipes/judge.sh   # offline stand-in: SmolLM2-135M-Instruct on CPU
#   JUDGE_BACKEND=mini-task bash recipes/judge.sh  # the mini task's deterministic judge (mini.judge,
#                                                # docs/mini-experiment.md): checks reasoning against the task
#
#   JUDGE_MODEL_PATH  model to serve (default Qwen/Qwen3-8B-Base; local: .cache/judge/smollm2-135m-instruct)
#   JUDGE_HOST / JUDGE_PORT  bind address (default 127.0.0.1:8000; 0.0.0.0 to serve other nodes); a port
#                     already in use is refused (an older server there would answer the check instead)
#   JUDGE_GPUS        CUDA_VISIBLE_DEVICES of the judge. Beside training on one 8-GPU node: JUDGE_GPUS=7
#                     JUDGE_GPU_MEMORY=0.25, sharing GPU 7 with the 8 training processes (docs/at-scale.md;
#                     a judge on a GPU of its own leaves 7 for training, and 1 x 7 x 2 completions are refused)
#   JUDGE_GPU_MEMORY  vLLM --gpu-memory-utilization (default 0.85 on its own GPU)
#   PROFILE           a card's profile (h100-80g, h200-141g; recipes/catalogue.yaml): its JUDGE_GPUS and
#                     JUDGE_GPU_MEMORY, the judge's place beside training on that card (docs/at-scale.md,
#                     "Memory plans"), unless set; use the same PROFILE for the row
#   JUDGE_WAIT        seconds to wait for it to answer (default 900; it says so, and stops early if it dies)
#   JUDGE_LOG_DIR     where judge.log and judge.pid go (default output/judge)
#   DRY_RUN=1         print the command only
set -euo pipefail
source "$(dirname "$0")/../scripts/_env.sh"   # REPO_DIR, PYTHONPATH, use_python
cd "$REPO_DIR"
use_python

JUDGE_BACKEND=${JUDGE_BACKEND:-vllm}
if [ -n "${PROFILE:-}" ]; then
  profile_facts=$("$PYTHON" -m recipes.catalogue profile "$PROFILE") || exit 2
  JUDGE_GPUS=${JUDGE_GPUS:-$(sed -n 's/^JUDGE_GPUS=//p' <<<"$profile_facts")}
  JUDGE_GPU_MEMORY=${JUDGE_GPU_MEMORY:-$(sed -n 's/^JUDGE_GPU_MEMORY=//p' <<<"$profile_facts")}
fi
JUDGE_HOST=${JUDGE_HOST:-127.0.0.1}
JUDGE_PORT=${JUDGE_PORT:-8000}
JUDGE_LOG_DIR=${JUDGE_LOG_DIR:-$REPO_DIR/output/judge}
SERVED_NAME=judge

case "$JUDGE_BACKEND" in
  vllm)
    JUDGE_MODEL_PATH=${JUDGE_MODEL_PATH:-Qwen/Qwen3-8B-Base}
    cmd=(vllm serve "$JUDGE_MODEL_PATH" --served-model-name "$SERVED_NAME" --host "$JUDGE_HOST"
         --port "$JUDGE_PORT" --gpu-memory-utilization "${JUDGE_GPU_MEMORY:-0.85}" --max-model-len 8192) ;;
  swift)
    JUDGE_MODEL_PATH=${JUDGE_MODEL_PATH:-Qwen/Qwen3-8B-Base}
    cmd=(swift deploy --model "$JUDGE_MODEL_PATH" --served_model_name "$SERVED_NAME" --host "$JUDGE_HOST"
         --port "$JUDGE_PORT" --infer_backend "${JUDGE_INFER_BACKEND:-vllm}" --max_new_tokens 32) ;;
  local)
    JUDGE_MODEL_PATH=${JUDGE_MODEL_PATH:-$REPO_DIR/.cache/judge/smollm2-135m-instruct}
    [ -f "$JUDGE_MODEL_PATH/config.json" ] || "$PYTHON" scripts/prepare_local_judge.py --out "$JUDGE_MODEL_PATH"
    cmd=(swift deploy --model "$JUDGE_MODEL_PATH" --model_type llama --template chatml
         --infer_backend transformers --served_model_name "$SERVED_NAME" --host "$JUDGE_HOST"
         --port "$JUDGE_PORT" --max_new_tokens 32) ;;
  mini-task)
    # No model: rules over the task's reasoning grammar, served under the same name and protocol.
    cmd=("$PYTHON" -m mini.judge --host "$JUDGE_HOST" --port "$JUDGE_PORT"
         --served-model-name "$SERVED_NAME") ;;
  *) echo "unknown JUDGE_BACKEND=$JUDGE_BACKEND (vllm | swift | local | mini-task)" >&2; exit 2 ;;
esac

client_host=$JUDGE_HOST; [ "$client_host" = 0.0.0.0 ] && client_host=$(hostname -I 2>/dev/null | awk '{print $1}')
export AUDIO_THINKER_JUDGE_URL="http://${client_host:-127.0.0.1}:$JUDGE_PORT/v1"
export AUDIO_THINKER_JUDGE_MODEL=$SERVED_NAME

if [ "${DRY_RUN:-0}" = 1 ]; then
  echo "${JUDGE_GPUS:+CUDA_VISIBLE_DEVICES=$JUDGE_GPUS }$(printf '%q ' "${cmd[@]}")"
  exit 0
fi

# Refuse a taken port: `swift deploy` would move to the next free one, and whatever holds it would answer.
"$PYTHON" -m swift_plugins.judge.ports --free "$JUDGE_HOST" "$JUDGE_PORT"
mkdir -p "$JUDGE_LOG_DIR"
[ -n "${JUDGE_GPUS:-}" ] && export CUDA_VISIBLE_DEVICES=$JUDGE_GPUS
# Its own session: `swift deploy` serves from a child process, so stopping means stopping the group.
setsid nohup "${cmd[@]}" > "$JUDGE_LOG_DIR/judge.log" 2>&1 < /dev/null &
echo $! > "$JUDGE_LOG_DIR/judge.pid"
echo "[judge] $JUDGE_BACKEND server process group $(cat "$JUDGE_LOG_DIR/judge.pid"), log $JUDGE_LOG_DIR/judge.log"
# --server-pid: stop waiting if it dies, and make sure that what answers on the port is this server.
if ! "$PYTHON" -m swift_plugins.judge.check --wait "${JUDGE_WAIT:-900}" --server-pid "$(cat "$JUDGE_LOG_DIR/judge.pid")"; then
  echo "[judge] not answering in format; last log lines of $JUDGE_LOG_DIR/judge.log:" >&2
  tail -n 20 "$JUDGE_LOG_DIR/judge.log" >&2
  kill -- -"$(cat "$JUDGE_LOG_DIR/judge.pid")" 2>/dev/null || true
  exit 1
fi
echo "export AUDIO_THINKER_JUDGE_URL=$AUDIO_THINKER_JUDGE_URL AUDIO_THINKER_JUDGE_MODEL=$AUDIO_THINKER_JUDGE_MODEL"
echo "[judge] stop it with: kill -- -\$(cat $JUDGE_LOG_DIR/judge.pid)"
