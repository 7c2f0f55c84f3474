#!/usr/bin/env bash
# Evidence that the recipes' DeepSpeed path runs: a GRPO row (model-a: ATAR, whose λ is all-reduced across
# ranks) through recipes/model-a.sh on 2 CPU processes, ZeRO-3 and ZeRO-2, on the tiny Qwen2-Audio checkpoint.
#
#   bash perf/deepspeed_cpu.sh            # prints one line per stage and a summary; exit 1 if a check fails
#
# DeepSpeed is not a test dependency (on this machine kind its import adds seconds to every ms-swift start),
# so it goes into a virtual environment of its own that sees the project's packages (--system-site-packages):
# DS_VENV (default output/deepspeed-venv), DEEPSPEED_SPEC (default deepspeed==0.19.8; its sdist builds
# without a compiler, ~1 min: every op is compiled just in time, and none is needed here).
# Checks per stage: the run exits 0; 2 optimisation steps logged; the checkpoint holds one ZeRO partition
# per rank (*zero_pp_rank_{0,1}_*optim_states.pt) beside the gathered model.safetensors; both ranks used
# the same λ.
# docs/at-scale.md has the output of a run.
set -euo pipefail
source "$(dirname "$0")/../scripts/_env.sh"   # REPO_DIR, PYTHONPATH, use_python, use_offline_caches
cd "$REPO_DIR"
use_python
WORK=${WORK_DIR:-$REPO_DIR/output/deepspeed-cpu}
DS_VENV=${DS_VENV:-$REPO_DIR/output/deepspeed-venv}
DEEPSPEED_SPEC=${DEEPSPEED_SPEC:-deepspeed==0.19.8}

if ! "$DS_VENV/bin/python" -c "import deepspeed" > /dev/null 2>&1; then
  echo "[deepspeed-cpu] installing $DEEPSPEED_SPEC into $DS_VENV"
  t0=$(date +%s)
  "$PYTHON" -m venv --system-site-packages "$DS_VENV"
  "$DS_VENV/bin/python" -m pip install -q --disable-pip-version-check wheel
  # no build isolation: its setup.py imports the torch already installed instead of downloading another
  "$DS_VENV/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation "$DEEPSPEED_SPEC"
  echo "[deepspeed-cpu] installed in $(( $(date +%s) - t0 )) s"
fi
# `swift` must run on the DeepSpeed interpreter: a launcher script for it inside the venv.
printf '#!%s\nimport sys\nfrom swift.cli.main import cli_main\nsys.exit(cli_main())\n' "$DS_VENV/bin/python" > "$DS_VENV/bin/swift"
chmod +x "$DS_VENV/bin/swift"
DS_PY=$DS_VENV/bin/python
echo "[deepspeed-cpu] $("$DS_PY" -c 'import deepspeed, torch; print("deepspeed", deepspeed.__version__, "torch", torch.__version__)' 2>/dev/null | tail -n 1)"

rm -rf "$WORK"; mkdir -p "$WORK"
"$DS_PY" -m data_prep.synthetic --out "$WORK/data" --train 8 --eval 4 > /dev/null
use_offline_caches
export OMP_NUM_THREADS=1

status=0
for stage in zero3 zero2; do
  out=$WORK/$stage
  t0=$(date +%s)
  if PYTHON=$DS_PY MODEL=$REPO_DIR/.cache/tiny/qwen2-audio DATA=$WORK/data/train.jsonl OUTPUT_ROOT=$out \
     USE_CPU=1 NPROC_PER_NODE=2 DEEPSPEED=$stage TORCH_DTYPE=float32 DATALOADER_WORKERS=0 REPORT_TO=none \
     PER_DEVICE_BATCH=2 GRAD_ACC=1 NUM_GENERATIONS=4 MAX_STEPS=2 SAVE_STEPS=2 MAX_COMPLETION_LENGTH=24 \
     MASTER_PORT=$((29700 + RANDOM % 200)) bash recipes/model-a.sh > "$WORK/$stage.log" 2>&1; then rc=0; else rc=$?; fi
  wall=$(( $(date +%s) - t0 ))
  if [ "$rc" != 0 ]; then
    echo "[deepspeed-cpu] $stage: FAILED (exit $rc, ${wall} s); last lines of $WORK/$stage.log:"; tail -n 15 "$WORK/$stage.log"
    status=1; continue
  fi
  "$DS_PY" - "$out/model-a" "$stage" "$wall" <<'PY' || status=1
import json, sys
from pathlib import Path
run, stage, wall = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
rows = lambda p: [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
steps = [r for r in rows(run / "logging.jsonl") if "reward" in r]
args = json.loads((run / "args.json").read_text())
ckpt = run / "checkpoint-2"
parts = sorted(p.name for p in ckpt.glob("global_step*/*zero_pp_rank_*_optim_states.pt"))
stats = [rows(run / "audio_thinker" / f"batch_stats.rank{r}.jsonl") for r in (0, 1)]
same_lambda = all(a["think_ratio"] == b["think_ratio"] for a, b in zip(*stats)) and len(stats[0]) == len(stats[1]) > 0
ds_stage = args["deepspeed"]["zero_optimization"]["stage"]
checks = {"2 steps logged": len(steps) == 2, f"ZeRO stage {ds_stage} in args.json": str(ds_stage) == stage[-1],
          "optimizer state partitioned, one file per rank": len(parts) == 2, "gathered model.safetensors": (ckpt / "model.safetensors").exists(),
          "same λ on both ranks": same_lambda}
print(f"[deepspeed-cpu] {stage}: {wall} s wall, 2 processes; " + "; ".join(f"{k}: {'ok' if v else 'NO'}" for k, v in checks.items())
      + f"; loss {steps[-1].get('loss') if steps else None}, grad_norm {steps[-1].get('grad_norm') if steps else None}")
sys.exit(0 if all(checks.values()) else 1)
PY
done
exit $status
