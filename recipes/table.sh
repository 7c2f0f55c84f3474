#!/usr/bin/env bash
# One command per table of the paper: train its rows one after another through the launcher, evaluate each
# row on the benchmarks the table needs, and write the paper-layout report. The tables, their rows and
# benchmarks are recipes/catalogue.yaml's; the command is python -m recipes.launch.table.
#
#   bash recipes/table.sh table1                  # table1 ... table6, or all (the catalogue's tables)
#   bash recipes/table.sh table1 grpo-a model-a   # only these rows of the table (in the table's order)
#   DRY_RUN=1 bash recipes/table.sh table1        # print every command, run nothing
#
# Rows train with the environment you give them (every recipe override: NPROC_PER_NODE, MAX_STEPS, TUNER,
# USE_VLLM, ...), so distribution is ms-swift's own. Base-model rows (qwen2-audio, qwen2.5-omni) are only
# evaluated. Per backbone / method, instead of MODEL and DATA:
#   QWEN2_AUDIO_MODEL  QWEN2_5_OMNI_MODEL           (default: the catalogue's)
#   GRPO_DATA  SFT_ANSWERS_DATA  SFT_COT_DATA       (default: the catalogue's)
# Benchmarks (official metadata files; the table says which it needs, BENCHMARKS="mmau mmar" narrows it):
#   MMAU_META (test-mini v0325)  MMAU_V2025_META (test-mini v05.15.25)  MMAR_META  AIR_META
#   and MMAU_AUDIO_ROOT, MMAU_V2025_AUDIO_ROOT, MMAR_AUDIO_ROOT, AIR_AUDIO_ROOT when the audio is elsewhere
# Evaluation: EVAL_CHECKPOINTS=last (default) | all (every checkpoint: curves, see eval.sweep),
#   EVAL_BATCH_SIZE (8), EVAL_MAX_NEW_TOKENS (1024), EVAL_ENGINE (transformers | vllm),
#   BASE_PROMPT (answer_only: the prompt base-model rows are asked with).
#
# Where things go (OUTPUT_ROOT, default output/):
#   OUTPUT_ROOT/<row>/              the row's ms-swift run, as the launcher writes it, and train.log
#   OUTPUT_ROOT/eval/<row>/         eval.sweep of the row (per checkpoint, sweep.csv/png) and sweep.log
#   OUTPUT_ROOT/<table>/report.md   the report (eval.report), from OUTPUT_ROOT/<table>/results/<row>/
#   OUTPUT_ROOT/<table>/status.tsv  what happened to each row in the last run
#
# Resumable by row: a finished row is not retrained, a half-trained one resumes (the launcher's own resume,
# docs/recipes.md "The life of a run"), evaluation skips finished checkpoint x benchmark pairs. A row that
# fails is reported and the next rows go on. Exit code 1 if any row failed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/_env.sh"   # REPO_DIR, PYTHONPATH, use_python
cd "$REPO_DIR"
# One interpreter for the table command and every command it runs and prints (the benchmarks' conversion,
# eval.sweep, eval.report): the environment setup.sh installed into, or $PYTHON as given.
use_python
exec "$PYTHON" -m recipes.launch.table "$@"
