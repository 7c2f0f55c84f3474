#!/usr/bin/env bash
# The offline demo (the README's first command): the whole pipeline on a machine with no GPU and no hub.
#
#   bash scripts/demo.sh
#
# 1. set up (packages, tiny random checkpoints, local SmolLM2 judge)    scripts/setup.sh
# 2. the mini backbone, a small Qwen2-Audio that hears pitch (cached)    python -m mini.build
# 3. the miniature's tone task (graded difficulty, held-out items)       python -m mini.task
# 4. the judge as an OpenAI-compatible server on 127.0.0.1              recipes/judge.sh (JUDGE_BACKEND=mini-task)
# 5. the model-c row (Eq. 7) for a few GRPO steps                        recipes/model-c.sh
# 6. the sft-a row                                                       recipes/sft-a.sh
# 7. evaluation of both on the held-out items (MMAU format): score by difficulty, think analysis, report
#
# The rows run through the same recipe scripts as on a GPU node, scaled down by environment settings, on
# the mini backbone (docs/mini-experiment.md), so the accuracies and think rates are those of a model that
# hears; a few steps do not train it much. MINI_MODEL=.cache/tiny/qwen2-audio runs the random tiny model
# instead (no backbone build), DEMO_JUDGE_BACKEND=local the SmolLM2 judge.
set -euo pipefail
source "$(dirname "$0")/_env.sh"   # REPO_DIR, PYTHONPATH, use_python, use_offline_caches
cd "$REPO_DIR"
DEMO=${DEMO_DIR:-$REPO_DIR/output/demo}
JUDGE_PORT=${JUDGE_PORT:-18000}
start=$(date +%s)
stamp() { echo "[demo +$(( $(date +%s) - start ))s] $*"; }

stamp "setup"
use_python create            # one interpreter for every step below (a venv on a PEP 668 system Python)
bash scripts/setup.sh
use_offline_caches
rm -rf "$DEMO"; mkdir -p "$DEMO"

MINI_MODEL=${MINI_MODEL:-$REPO_DIR/.cache/mini/qwen2-audio}
if [ "$MINI_MODEL" = "$REPO_DIR/.cache/mini/qwen2-audio" ]; then
  stamp "mini backbone (built once, then cached)"
  "$PYTHON" -m mini.build > "$DEMO/mini_build.log" 2>&1 \
    || { tail -n 30 "$DEMO/mini_build.log"; exit 1; }
fi

stamp "tone task data"
"$PYTHON" -m mini.task --out "$DEMO/data" --seed 1 --train 32 --sft 0 --test 60 > /dev/null
"$PYTHON" -m data_prep.sft_targets --input "$DEMO/data/train.jsonl" --out "$DEMO/data/sft_answers.jsonl" > /dev/null

JUDGE_BACKEND=${DEMO_JUDGE_BACKEND:-mini-task}
stamp "$JUDGE_BACKEND judge on 127.0.0.1:$JUDGE_PORT"
JUDGE_BACKEND=$JUDGE_BACKEND JUDGE_PORT=$JUDGE_PORT JUDGE_LOG_DIR=$DEMO/judge JUDGE_WAIT=300 bash recipes/judge.sh
trap 'kill -- -"$(cat "$DEMO/judge/judge.pid")" 2>/dev/null || true' EXIT  # the server's process group
export AUDIO_THINKER_JUDGE_URL=http://127.0.0.1:$JUDGE_PORT/v1 AUDIO_THINKER_JUDGE_MODEL=judge

# The GPU recipe on one CPU process (PROFILE=cpu: docs/recipes.md) and the mini backbone.
export PROFILE=cpu MODEL=$MINI_MODEL OUTPUT_ROOT=$DEMO/runs

stamp "GRPO: recipes/model-c.sh"
DATA=$DEMO/data/train.jsonl MAX_STEPS=${DEMO_STEPS:-4} SAVE_STEPS=${DEMO_STEPS:-4} MAX_COMPLETION_LENGTH=64 \
  bash recipes/model-c.sh > "$DEMO/model-c.log" 2>&1 \
  || { tail -n 40 "$DEMO/model-c.log"; exit 1; }
"$PYTHON" -m eval.plot_training "$DEMO/runs/model-c" --out "$DEMO/runs/model-c/curves.png" > "$DEMO/plot_training.log"
echo "training curves: $DEMO/runs/model-c/curves.png"

stamp "SFT: recipes/sft-a.sh"
DATA=$DEMO/data/sft_answers.jsonl LR=1e-4 bash recipes/sft-a.sh > "$DEMO/sft-a.log" 2>&1 \
  || { tail -n 40 "$DEMO/sft-a.log"; exit 1; }

stamp "evaluation"
mkdir -p "$DEMO/eval"
for row in model-c sft-a; do
  ckpt=$(ls -d "$DEMO/runs/$row"/checkpoint-* | sort -V | tail -n 1)
  prompt=adaptive_think; [ "$row" = sft-a ] && prompt=answer_only
  "$PYTHON" -m eval.infer --model "$ckpt" --model-type qwen2_audio --benchmark-file "$DEMO/data/test.jsonl" \
    --out "$DEMO/eval/$row/mmau.preds.jsonl" --system "swift_plugins/prompts/$prompt.txt" \
    --batch-size 16 --max-new-tokens 64 > "$DEMO/eval/$row.infer.log" 2>&1 \
    || { tail -n 30 "$DEMO/eval/$row.infer.log"; exit 1; }
  "$PYTHON" -m eval.convert mmau --predictions "$DEMO/eval/$row/mmau.preds.jsonl" --meta "$DEMO/data/test-meta.json" \
    --out "$DEMO/eval/$row/mmau_predictions.json" > /dev/null
  "$PYTHON" -m eval.score mmau --input "$DEMO/eval/$row/mmau_predictions.json" --meta "$DEMO/data/test-meta.json" \
    --output "$DEMO/eval/$row/mmau.json"
done
"$PYTHON" -m eval.think_analysis --input "$DEMO/eval/model-c/mmau.json" "$DEMO/eval/sft-a/mmau.json" \
  --plot "$DEMO/eval/think_rate.png"  # one legend entry per row (model-c, sft-a)
"$PYTHON" -m eval.report --results "$DEMO/eval" --out "$DEMO/report.md" > /dev/null

stamp "done"
cat <<EOF

Offline demo finished in $(( $(date +%s) - start )) s. Where things are:
  training log (rewards, think rate, λ, judge failures)  $DEMO/runs/model-c/logging.jsonl
  completions with every reward column                   $DEMO/runs/model-c/completions.jsonl
  λ / γ / judge counts per scoring call                  $DEMO/runs/model-c/audio_thinker/
  training curves (rewards, λ/γ, per-mode, judge)       $DEMO/runs/model-c/curves.png
  SFT row                                                $DEMO/runs/sft-a/
  scores by difficulty (JSON)                            $DEMO/eval/{model-c,sft-a}/mmau.json
  think rate by difficulty (Figure 2 style)              $DEMO/eval/think_rate.png
  report (the tone task's own table: no paper numbers)    $DEMO/report.md
EOF
