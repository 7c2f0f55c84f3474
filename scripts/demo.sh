#!/usr/bin/env bash
# The offline demo (the README's first command): the whole pipeline on a machine with no GPU and no hub.
#
#   bash scripts/demo.sh
#
# 1. set up (packages, tiny random Qwen2-Audio, local SmolLM2 judge)   scripts/setup.sh
# 2. a small synthetic audio-QA set                                      python -m data_prep.synthetic
# 3. the judge as an OpenAI-compatible server on 127.0.0.1              recipes/judge.sh (JUDGE_BACKEND=local)
# 4. the model-c row (Eq. 7) for a few GRPO steps                        recipes/model-c.sh
# 5. the sft-a row                                                       recipes/sft-a.sh
# 6. evaluation of both on an MMAU-format set: score, think analysis, paper-layout report
#
# The rows run through the same recipe scripts as on a GPU node, scaled down by environment settings.
# The numbers mean nothing (random tiny model); the point is that every stage runs and writes its files.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO_DIR"
DEMO=${DEMO_DIR:-$REPO_DIR/output/demo}
JUDGE_PORT=${JUDGE_PORT:-18000}
start=$(date +%s)
stamp() { echo "[demo +$(( $(date +%s) - start ))s] $*"; }

stamp "setup"
source scripts/_python.sh
use_python create            # one interpreter for every step below (a venv on a PEP 668 system Python)
bash scripts/setup.sh
export MODELSCOPE_CACHE=${MODELSCOPE_CACHE:-$REPO_DIR/.cache/modelscope} HF_HUB_OFFLINE=1 CUDA_VISIBLE_DEVICES=""
export TOKENIZERS_PARALLELISM=false PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}"
rm -rf "$DEMO"; mkdir -p "$DEMO"

stamp "synthetic audio-QA data"
"$PYTHON" -m data_prep.synthetic --out "$DEMO/data" --train 16 --eval 12

stamp "local judge on 127.0.0.1:$JUDGE_PORT"
JUDGE_BACKEND=local JUDGE_PORT=$JUDGE_PORT JUDGE_LOG_DIR=$DEMO/judge JUDGE_WAIT=300 bash recipes/judge.sh
trap 'kill -- -"$(cat "$DEMO/judge/judge.pid")" 2>/dev/null || true' EXIT  # the server's process group
export AUDIO_THINKER_JUDGE_URL=http://127.0.0.1:$JUDGE_PORT/v1 AUDIO_THINKER_JUDGE_MODEL=judge

# The GPU recipe on one CPU process (PROFILE=cpu: docs/recipes.md) and the tiny model.
export PROFILE=cpu MODEL=$REPO_DIR/.cache/tiny/qwen2-audio OUTPUT_ROOT=$DEMO/runs

stamp "GRPO: recipes/model-c.sh"
DATA=$DEMO/data/train.jsonl MAX_STEPS=${DEMO_STEPS:-4} SAVE_STEPS=${DEMO_STEPS:-4} \
  bash recipes/model-c.sh > "$DEMO/model-c.log" 2>&1 \
  || { tail -n 40 "$DEMO/model-c.log"; exit 1; }
"$PYTHON" -m eval.plot_training "$DEMO/runs/model-c" --out "$DEMO/runs/model-c/curves.png" > "$DEMO/plot_training.log"
echo "training curves: $DEMO/runs/model-c/curves.png"

stamp "SFT: recipes/sft-a.sh"
DATA=$DEMO/data/sft_answers.jsonl LR=1e-4 bash recipes/sft-a.sh > "$DEMO/sft-a.log" 2>&1 \
  || { tail -n 40 "$DEMO/sft-a.log"; exit 1; }

stamp "evaluation"
"$PYTHON" -m data_prep.benchmarks mmau --meta "$DEMO/data/mmau-demo.json" --out "$DEMO/eval/mmau_rows.jsonl" > /dev/null
for row in model-c sft-a; do
  ckpt=$(ls -d "$DEMO/runs/$row"/checkpoint-* | sort -V | tail -n 1)
  prompt=adaptive_think; [ "$row" = sft-a ] && prompt=answer_only
  "$PYTHON" -m eval.infer --model "$ckpt" --model-type qwen2_audio --benchmark-file "$DEMO/eval/mmau_rows.jsonl" \
    --out "$DEMO/eval/$row/mmau.preds.jsonl" --system "swift_plugins/prompts/$prompt.txt" \
    --batch-size 4 --max-new-tokens 48 > "$DEMO/eval/$row.infer.log" 2>&1 \
    || { tail -n 30 "$DEMO/eval/$row.infer.log"; exit 1; }
  "$PYTHON" -m eval.convert mmau --predictions "$DEMO/eval/$row/mmau.preds.jsonl" --meta "$DEMO/data/mmau-demo.json" \
    --out "$DEMO/eval/$row/mmau_predictions.json" > /dev/null
  "$PYTHON" -m eval.score mmau --input "$DEMO/eval/$row/mmau_predictions.json" --meta "$DEMO/data/mmau-demo.json" \
    --output "$DEMO/eval/$row/mmau.json"
done
"$PYTHON" -m eval.think_analysis --input "$DEMO/eval/model-c/mmau.json" --plot "$DEMO/eval/think_rate.png"
"$PYTHON" -m eval.report --results "$DEMO/eval" --out "$DEMO/report.md" > /dev/null

stamp "done"
cat <<EOF

Offline demo finished in $(( $(date +%s) - start )) s. Where things are:
  training log (rewards, think rate, λ, judge failures)  $DEMO/runs/model-c/logging.jsonl
  completions with every reward column                   $DEMO/runs/model-c/completions.jsonl
  λ / γ / judge counts per scoring call                  $DEMO/runs/model-c/audio_thinker/
  training curves (rewards, λ/γ, per-mode, judge)       $DEMO/runs/model-c/curves.png
  SFT row                                                $DEMO/runs/sft-a/
  scores (JSON)                                          $DEMO/eval/{model-c,sft-a}/mmau.json
  think rate by difficulty (Figure 2 style)              $DEMO/eval/think_rate.png
  paper-layout report                                    $DEMO/report.md
EOF
