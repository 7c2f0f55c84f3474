#!/usr/bin/env bash
# CPU rehearsal of the table command: the same `bash recipes/table.sh`, on the tiny random checkpoints
# (.cache/tiny) with the synthetic audio-QA set, every row of both backbones end to end (a few steps
# each), then the report. No GPU, no hub, no network.
#
#   bash scripts/rehearse_tables.sh                   # Table 1: all 16 rows (14 trained + 2 base models)
#   bash scripts/rehearse_tables.sh table1 sft-a model-d   # some rows only
#   DRY_RUN=1 bash scripts/rehearse_tables.sh         # the table command's dry run with these settings
#
# Re-running continues where it stopped (the table command is resumable by row); REHEARSAL_FRESH=1 starts
# over. Outputs: $REHEARSAL_DIR (default output/rehearsal): data/, judge/, one folder per row, eval/,
# table1/report.md. Settings: REHEARSAL_STEPS (training steps per row, default 2; a checkpoint at each).
# The numbers mean nothing (random 2-layer models); the point is that every stage of every row runs.
# Only MMAU is rehearsed (the synthetic set is in MMAU's format): BENCHMARKS=mmau.
set -euo pipefail
source "$(dirname "$0")/_env.sh"   # REPO_DIR, PYTHONPATH, use_python, use_offline_caches
cd "$REPO_DIR"
use_python   # $PYTHON: the interpreter setup.sh installed into (a venv on a PEP 668 system Python)
REH=${REHEARSAL_DIR:-$REPO_DIR/output/rehearsal}
TABLE=${1:-table1}
[ $# -gt 0 ] && shift
start=$(date +%s)
stamp() { echo "[rehearsal +$(( $(date +%s) - start ))s] $*"; }

use_offline_caches
[ "${REHEARSAL_FRESH:-0}" = 1 ] && rm -rf "$REH"
mkdir -p "$REH"

if [ ! -s "$REH/data/mmau-demo.json" ] && [ "${DRY_RUN:-0}" != 1 ]; then
  stamp "tiny checkpoints and synthetic data"
  "$PYTHON" scripts/build_tiny_checkpoints.py --out .cache/tiny > /dev/null
  "$PYTHON" -m data_prep.synthetic --out "$REH/data" --train 16 --eval 12 > /dev/null
fi

# The GPU settings scaled to one CPU process and the tiny models, as the offline demo runs its rows.
export QWEN2_AUDIO_MODEL=$REPO_DIR/.cache/tiny/qwen2-audio QWEN2_5_OMNI_MODEL=$REPO_DIR/.cache/tiny/qwen2.5-omni
export OUTPUT_ROOT=$REH USE_CPU=1 NPROC_PER_NODE=1 DEEPSPEED=none TORCH_DTYPE=float32 DATALOADER_WORKERS=0
export REPORT_TO=none PER_DEVICE_BATCH=4 GRAD_ACC=1 NUM_GENERATIONS=4 MAX_COMPLETION_LENGTH=32
export MAX_STEPS=${REHEARSAL_STEPS:-2} SAVE_STEPS=1
export GRPO_DATA=$REH/data/train.jsonl SFT_ANSWERS_DATA=$REH/data/sft_answers.jsonl SFT_COT_DATA=$REH/data/sft_cot.jsonl
export MMAU_META=$REH/data/mmau-demo.json BENCHMARKS=mmau EVAL_BATCH_SIZE=4 EVAL_MAX_NEW_TOKENS=32

# The judge rows (model-b/c/e/f) need a judge: the local SmolLM2 stand-in on loopback, as in the demo.
# Which rows those are is the catalogue's (each row's rewards, the registry's judge rewards).
needs_judge=0
rows=${*:-$("$PYTHON" -m recipes.catalogue rows "$TABLE")}
# shellcheck disable=SC2086
"$PYTHON" -m recipes.catalogue shell $rows | grep -q "NEEDS_JUDGE=1" && needs_judge=1
if [ "$needs_judge" = 1 ] && [ "${DRY_RUN:-0}" != 1 ]; then
  JUDGE_PORT=${JUDGE_PORT:-18100}
  stamp "local judge on 127.0.0.1:$JUDGE_PORT"
  JUDGE_BACKEND=local JUDGE_PORT=$JUDGE_PORT JUDGE_LOG_DIR=$REH/judge JUDGE_WAIT=300 bash recipes/judge.sh > /dev/null
  trap 'kill -- -"$(cat "$REH/judge/judge.pid")" 2>/dev/null || true' EXIT  # the server's process group
  export AUDIO_THINKER_JUDGE_URL=http://127.0.0.1:$JUDGE_PORT/v1 AUDIO_THINKER_JUDGE_MODEL=judge
fi

stamp "bash recipes/table.sh $TABLE $*"
code=0
bash recipes/table.sh "$TABLE" "$@" || code=$?
stamp "finished (exit $code); report: $REH/$TABLE/report.md"
exit "$code"
