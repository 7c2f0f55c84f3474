#!/usr/bin/env bash
# One command per table of the paper: train its rows one after another through the row recipes, evaluate
# each row on the benchmarks the table needs, and write the paper-layout report.
#
#   bash recipes/table.sh table1                  # table1 ... table6, or all
#   bash recipes/table.sh table1 grpo-a model-a   # only these rows of the table (in the table's order)
#   DRY_RUN=1 bash recipes/table.sh table1        # print every command, run nothing
#
# Rows are the recipes/<row>.sh scripts, run with the environment you give them (every recipe override:
# NPROC_PER_NODE, MAX_STEPS, TUNER, USE_VLLM, ...), so distribution is ms-swift's own. Base-model rows
# (qwen2-audio, qwen2.5-omni) are only evaluated. Per backbone / method, instead of MODEL and DATA:
#   QWEN2_AUDIO_MODEL  QWEN2_5_OMNI_MODEL           (default: the recipes' own)
#   GRPO_DATA  SFT_ANSWERS_DATA  SFT_COT_DATA       (default: the recipes' own)
# Benchmarks (official metadata files; the table says which it needs, BENCHMARKS="mmau mmar" narrows it):
#   MMAU_META (test-mini v0325)  MMAU_V2025_META (test-mini v05.15.25)  MMAR_META  AIR_META
#   and MMAU_AUDIO_ROOT, MMAU_V2025_AUDIO_ROOT, MMAR_AUDIO_ROOT, AIR_AUDIO_ROOT when the audio is elsewhere
# Evaluation: EVAL_CHECKPOINTS=last (default) | all (every checkpoint: curves, see eval.sweep),
#   EVAL_BATCH_SIZE (8), EVAL_MAX_NEW_TOKENS (1024), EVAL_ENGINE (transformers | vllm),
#   BASE_PROMPT (answer_only: the prompt base-model rows are asked with).
#
# Where things go (OUTPUT_ROOT, default output/):
#   OUTPUT_ROOT/<row>/              the row's ms-swift run, as the recipe writes it, and train.log
#   OUTPUT_ROOT/eval/<row>/         eval.sweep of the row (per checkpoint, sweep.csv/png) and sweep.log
#   OUTPUT_ROOT/<table>/report.md   the report (eval.report), from OUTPUT_ROOT/<table>/results/<row>/
#   OUTPUT_ROOT/<table>/status.tsv  what happened to each row in the last run
#
# Resumable by row: a row whose ms-swift run finished (its logging.jsonl ends with ms-swift's
# last_model_checkpoint record) is not retrained; a row with checkpoints but no such record resumes from
# its last complete checkpoint (--resume_from_checkpoint); evaluation skips finished checkpoint x
# benchmark pairs. A row that fails is reported and the next rows go on (the rows of a table do not
# depend on each other: every row starts from its base model). Exit code 1 if any row failed.
set -uo pipefail
RECIPES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$RECIPES_DIR")
cd "$REPO_DIR"
export PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}"
PYTHON=${PYTHON:-python}
# The interpreter that reads the catalogue here (the printed commands keep $PYTHON as given).
CATALOGUE=("$(command -v "$PYTHON" || command -v python3 || echo python)" -m swift_plugins.catalogue)

die() { echo "table: $*" >&2; exit 2; }
TABLE=${1:-}
shift || true
# A table's rows (in the paper's order) and benchmarks come from swift_plugins/catalogue.yaml.
table_facts=$("${CATALOGUE[@]}" table "$TABLE" 2> /dev/null) \
  || die "usage: bash recipes/table.sh $("${CATALOGUE[@]}" tables | paste -sd '|') [ROW ...]  (got '${TABLE}')"
eval "$table_facts"
BENCHMARKS=${BENCHMARKS:-$TABLE_BENCHMARKS}
if [ $# -gt 0 ]; then
  for row in "$@"; do [[ " $ROWS_OF_TABLE " == *" $row "* ]] || die "$row is not a row of $TABLE ($ROWS_OF_TABLE)"; done
  ROWS=$(for row in $ROWS_OF_TABLE; do [[ " $* " == *" $row "* ]] && echo "$row"; done)
else
  ROWS=$ROWS_OF_TABLE
fi

OUTPUT_ROOT=${OUTPUT_ROOT:-$REPO_DIR/output}
EVAL_ROOT=$OUTPUT_ROOT/eval
TABLE_DIR=$OUTPUT_ROOT/$TABLE
DRY_RUN=${DRY_RUN:-0}
EVAL_CHECKPOINTS=${EVAL_CHECKPOINTS:-last}
case "$EVAL_CHECKPOINTS" in last|all) ;; *) die "EVAL_CHECKPOINTS must be last or all" ;; esac

# A row's facts (BACKBONE METHOD SFT_TARGET ...) come from the catalogue, read once per row.
declare -A FACTS
ALL_ROWS=$("${CATALOGUE[@]}" rows | tr '\n' ' ')
# shellcheck disable=SC2086
while IFS=$'\t' read -r row facts; do FACTS[$row]=$facts; done < <("${CATALOGUE[@]}" shell $ALL_ROWS)
recipe_var() { local ROW BACKBONE METHOD PROMPT REWARDS WEIGHTS SFT_TARGET NEEDS_JUDGE; eval "${FACTS[$1]}"; echo "${!2}"; }
is_base_row() { [ "$(recipe_var "$1" METHOD)" = base ]; }
backbone_of() { recipe_var "$1" BACKBONE; }

backbones=$(for row in $ROWS; do backbone_of "$row"; done | sort -u)
[ -n "${MODEL:-}" ] && [ "$(echo "$backbones" | wc -l)" -gt 1 ] && \
  die "MODEL would apply to both backbones: set QWEN2_AUDIO_MODEL and QWEN2_5_OMNI_MODEL instead"
[ -n "${DATA:-}" ] && die "DATA would apply to SFT and GRPO rows alike: set GRPO_DATA, SFT_ANSWERS_DATA, SFT_COT_DATA"

model_env_of() {  # the MODEL a row of this backbone trains from ("" = the recipe's default)
  case "$1" in
    qwen2-audio) echo "${QWEN2_AUDIO_MODEL:-${MODEL:-}}" ;;
    qwen2.5-omni) echo "${QWEN2_5_OMNI_MODEL:-${MODEL:-}}" ;;
  esac
}
data_env_of() {
  if [ "$(recipe_var "$1" METHOD)" = grpo ]; then echo "${GRPO_DATA:-}"
  elif [ "$(recipe_var "$1" SFT_TARGET)" = cot ]; then echo "${SFT_COT_DATA:-}"
  else echo "${SFT_ANSWERS_DATA:-}"; fi
}
first_trained_row_of() { for row in $ALL_ROWS; do
  is_base_row "$row" || [ "$(recipe_var "$row" BACKBONE)" != "$1" ] || { echo "$row"; return; }; done; }

# --- benchmarks: label -> (kind, metadata, rows file) -----------------------------------------------
bench_kind() { echo "${1%%-*}"; }
bench_meta() { case "$1" in mmau) echo "${MMAU_META:-}";; mmau-v2025) echo "${MMAU_V2025_META:-}";;
                            mmar) echo "${MMAR_META:-}";; air) echo "${AIR_META:-}";; esac; }
bench_meta_var() { case "$1" in mmau) echo MMAU_META;; mmau-v2025) echo MMAU_V2025_META;;
                                mmar) echo MMAR_META;; air) echo AIR_META;; *) die "unknown benchmark $1";; esac; }
bench_root() { local var; var=$(bench_meta_var "$1"); var=${var%_META}_AUDIO_ROOT; echo "${!var:-}"; }
bench_rows() { echo "$EVAL_ROOT/benchmarks/$1.jsonl"; }
missing=()
for label in $BENCHMARKS; do [ -n "$(bench_meta "$label")" ] || missing+=("$(bench_meta_var "$label")"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$DRY_RUN" = 1 ] || die "$TABLE needs ${missing[*]} (the official metadata file; docs/recipes.md), or BENCHMARKS= to narrow it"
  for var in "${missing[@]}"; do printf -v "$var" "MISSING_$var"; done   # placeholders in the dry run
fi
for label in $BENCHMARKS; do
  [ "$DRY_RUN" = 1 ] || [ -f "$(bench_meta "$label")" ] || die "$(bench_meta_var "$label")=$(bench_meta "$label"): no such file"
done
bench_cmd() {  # the data_prep.benchmarks command that builds a label's rows
  local root; root=$(bench_root "$1")
  echo "$PYTHON -m data_prep.benchmarks $(bench_kind "$1") --meta $(printf %q "$(bench_meta "$1")") --out $(bench_rows "$1")${root:+ --audio-root $(printf %q "$root")}"
}

# --- the plan -------------------------------------------------------------------------------------
train_state() {  # finished | resume:<checkpoint> | fresh
  local out=$OUTPUT_ROOT/$1 last
  if [ -f "$out/logging.jsonl" ] && grep -q '"last_model_checkpoint"' "$out/logging.jsonl"; then echo finished; return; fi
  last=$(ls -d "$out"/checkpoint-*/ 2>/dev/null | sort -V | while read -r d; do
           [ -f "$d/trainer_state.json" ] && echo "${d%/}"; done | tail -n 1)
  if [ -n "$last" ]; then echo "resume:$last"; else echo fresh; fi
}
train_cmd() {  # env assignments + recipe, as one printable line
  local row=$1 state=$2 model data extra=${EXTRA_ARGS:-}
  model=$(model_env_of "$(recipe_var "$row" BACKBONE)"); data=$(data_env_of "$row")
  [ "${state%%:*}" = resume ] && extra="${extra:+$extra }--resume_from_checkpoint ${state#resume:}"
  printf '%s ' ${model:+"MODEL=$(printf %q "$model")"} ${data:+"DATA=$(printf %q "$data")"} \
    ${extra:+"EXTRA_ARGS=$(printf %q "$extra")"}
  echo "bash recipes/row.sh $row"
}
base_model_args() {  # --base-model / --model-type of a base row: what that backbone's recipes train from
  local row line words i
  row=$(first_trained_row_of "$1")
  line=$(eval "DRY_RUN=1 $(train_cmd "$row" fresh)" | grep ' swift ')
  eval "words=($line)"
  for ((i = 0; i < ${#words[@]}; i++)); do
    case "${words[$i]}" in --model) printf -- '--base-model %q ' "${words[$((i + 1))]}" ;;
                           --model_type) printf -- '--model-type %q ' "${words[$((i + 1))]}" ;; esac
  done
}
sweep_cmd() {
  local row=$1 cmd="$PYTHON -m eval.sweep --out $EVAL_ROOT/$row --export-last $TABLE_DIR/results/$row"
  if is_base_row "$row"; then
    cmd+=" $(base_model_args "$row")--system swift_plugins/prompts/${BASE_PROMPT:-answer_only}.txt"
  else
    cmd+=" --run $OUTPUT_ROOT/$row"
    [ "$EVAL_CHECKPOINTS" = last ] && cmd+=" --last"
  fi
  for label in $BENCHMARKS; do cmd+=" --benchmark $label $(bench_rows "$label") $(printf %q "$(bench_meta "$label")")"; done
  echo "$cmd --batch-size ${EVAL_BATCH_SIZE:-8} --max-new-tokens ${EVAL_MAX_NEW_TOKENS:-1024} --engine ${EVAL_ENGINE:-transformers}"
}
report_cmd() { echo "$PYTHON -m eval.report --results $TABLE_DIR/results --out $TABLE_DIR/report.md"; }

echo "== $TABLE: rows $(echo $ROWS); benchmarks $BENCHMARKS; outputs under $OUTPUT_ROOT"
for row in $ROWS; do
  if is_base_row "$row"; then echo "  $row: base model, evaluate only"
  else state=$(train_state "$row"); echo "  $row: train ${state/resume:/resume from }, then evaluate $([ "$EVAL_CHECKPOINTS" = all ] && echo every checkpoint || echo the last checkpoint)"; fi
done
echo "  report: $TABLE_DIR/report.md"

if [ "$DRY_RUN" = 1 ]; then
  for label in $BENCHMARKS; do echo "# benchmark $label"; bench_cmd "$label"; done
  for row in $ROWS; do
    echo "# row $row"
    if ! is_base_row "$row"; then
      state=$(train_state "$row")
      if [ "$state" = finished ]; then echo "# (trained: $OUTPUT_ROOT/$row finished, not retrained)"
      else eval "DRY_RUN=1 $(train_cmd "$row" "$state")" || echo "# (the recipe's dry run failed)"; fi
    fi
    sweep_cmd "$row"
  done
  echo "# report"; report_cmd
  exit 0
fi

trap 'echo "table: interrupted; run the same command again to continue" >&2; exit 130' INT TERM
mkdir -p "$TABLE_DIR" "$EVAL_ROOT/benchmarks"
for label in $BENCHMARKS; do
  if [ ! -s "$(bench_rows "$label")" ]; then
    echo "[$TABLE] benchmark $label: $(bench_cmd "$label")"
    eval "$(bench_cmd "$label")" > "$EVAL_ROOT/benchmarks/$label.log" 2>&1 \
      || die "building the $label rows failed; see $EVAL_ROOT/benchmarks/$label.log"
  fi
done

# The judge rows' recipes each check the judge first, waiting for it to come up; when it does not, check
# once here and fail those rows at once instead of waiting once per row.
judge_check_of() {  # the recipe's own judge check line ("" for a row without the judge)
  eval "DRY_RUN=1 $(train_cmd "$1" fresh)" | grep 'swift_plugins.judge.check' || true
}
judge_ok=""
judge_answers() {
  if [ -z "$judge_ok" ]; then
    echo "[$TABLE] judge check: $1 -> $TABLE_DIR/judge_check.log"
    if eval "$1" > "$TABLE_DIR/judge_check.log" 2>&1; then judge_ok=yes; else judge_ok=no; fi
  fi
  [ "$judge_ok" = yes ]
}

status=$TABLE_DIR/status.tsv
printf 'row\ttrain\tevaluate\tlogs\n' > "$status"
failed=()
for row in $ROWS; do
  train=-; evaluate=-; logs=""
  if ! is_base_row "$row"; then
    out=$OUTPUT_ROOT/$row; state=$(train_state "$row"); logs="$out/train.log"
    if [ "$state" = finished ]; then
      train="finished before"
      echo "[$TABLE] $row: trained already ($out), not retrained"
    elif check=$(judge_check_of "$row") && [ -n "$check" ] && ! judge_answers "$check"; then
      train=FAILED
      echo "[$TABLE] $row: FAILED, the judge does not answer (see $TABLE_DIR/judge_check.log; docs/judge.md)" >&2
    else
      mkdir -p "$out"
      cmd=$(train_cmd "$row" "$state")
      echo "[$TABLE] $row: ${state/resume:/resume from } -> $out/train.log"
      echo "== $(date -u +%FT%TZ) table.sh $TABLE: $cmd" >> "$out/train.log"
      if eval "$cmd" >> "$out/train.log" 2>&1 && [ "$(train_state "$row")" = finished ]; then
        train=trained
      else
        train=FAILED
        echo "[$TABLE] $row: training FAILED; last lines of $out/train.log:" >&2
        tail -n 15 "$out/train.log" | sed 's/^/    /' >&2
      fi
    fi
  fi
  if [ "$train" != FAILED ]; then
    mkdir -p "$EVAL_ROOT/$row"
    cmd=$(sweep_cmd "$row")
    echo "[$TABLE] $row: evaluate -> $EVAL_ROOT/$row/sweep.log"
    echo "== $(date -u +%FT%TZ) table.sh $TABLE: $cmd" >> "$EVAL_ROOT/$row/sweep.log"
    if eval "$cmd" >> "$EVAL_ROOT/$row/sweep.log" 2>&1; then evaluate=done
    else
      evaluate=FAILED
      echo "[$TABLE] $row: evaluation FAILED; last lines of $EVAL_ROOT/$row/sweep.log:" >&2
      tail -n 8 "$EVAL_ROOT/$row/sweep.log" | sed 's/^/    /' >&2
    fi
    logs="${logs:+$logs }$EVAL_ROOT/$row/sweep.log"
  fi
  [ "$train" = FAILED ] || [ "$evaluate" = FAILED ] && failed+=("$row")
  printf '%s\t%s\t%s\t%s\n' "$row" "$train" "$evaluate" "$logs" >> "$status"
done

if ls "$TABLE_DIR"/results/*/*.json > /dev/null 2>&1; then
  echo "[$TABLE] report: $(report_cmd)"
  eval "$(report_cmd)" || failed+=("report")
else
  echo "[$TABLE] no row has results; no report" >&2
fi
column -t -s $'\t' "$status" 2>/dev/null || cat "$status"
if [ ${#failed[@]} -gt 0 ]; then
  echo "[$TABLE] FAILED: ${failed[*]} (the other rows are done; fix and run the same command again)" >&2
  exit 1
fi
echo "[$TABLE] done: $TABLE_DIR/report.md"
