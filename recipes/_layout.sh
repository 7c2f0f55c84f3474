# Batch-layout check of a GRPO row, sourced by _base.sh before it prints or runs anything (dry run too).
#
# It mirrors, rule for rule, what ms-swift 4.6 checks only after the model is loaded:
#   swift/rlhf_trainers/args_mixin.py  RolloutTrainerArgumentsMixin._init_generation_batch_params
#     global batch          = per_device_train_batch_size x world size
#     generation batch      = global batch x steps_per_generation   (steps_per_generation defaults to
#                             gradient_accumulation_steps; or --generation_batch_size, a multiple of the global batch)
#     generation batch % num_generations == 0, and with evaluation: per_device_eval_batch_size x world size
#     % num_generations_eval == 0
#   swift/rlhf_trainers/rollout_mixin.py  colocate: world size % vllm_tensor_parallel_size == 0
# World size is the number of training processes, NPROC_PER_NODE x NNODES. A vLLM rollout server
# (VLLM_MODE=server) runs on GPUs of its own that are not training processes: they are not counted, and the
# tensor-parallel rule does not apply to the trainer. See docs/at-scale.md for layouts that pass.
#
# Reads: NPROC_PER_NODE NNODES PER_DEVICE_BATCH GRAD_ACC NUM_GENERATIONS GENERATION_BATCH_SIZE
#        STEPS_PER_GENERATION VLLM_ON VLLM_MODE EXTRA_ARGS; sets GENERATION_BATCH and LAYOUT (a one-line summary).

_gcd() { local a=$1 b=$2 t; while [ "$b" -ne 0 ]; do t=$((a % b)); a=$b; b=$t; done; echo "$a"; }

# The value of --NAME in EXTRA_ARGS (either "--NAME v" or "--NAME=v"), empty when absent.
_extra_flag() {
  local name=$1 prev="" token
  # shellcheck disable=SC2086
  for token in $EXTRA_ARGS; do
    if [ "$prev" = "--$name" ]; then echo "$token"; return; fi
    case "$token" in "--$name="*) echo "${token#*=}"; return ;; esac
    prev=$token
  done
}

_layout_refuse() {  # what is wrong, what to change[, why it cannot run]
  echo "error: batch layout: $1 (${3:-ms-swift 4.6 refuses this at start, after loading the model}); $2; see docs/at-scale.md" >&2
  exit 2
}

check_grpo_layout() {
  local v
  for v in NPROC_PER_NODE NNODES PER_DEVICE_BATCH GRAD_ACC NUM_GENERATIONS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || _layout_refuse "$v=${!v} is not a positive integer" "set $v to a whole number >= 1" "not a batch size"
  done
  local world=$((NPROC_PER_NODE * NNODES)) per=$PER_DEVICE_BATCH gens=$NUM_GENERATIONS
  local global=$((PER_DEVICE_BATCH * NPROC_PER_NODE * NNODES))
  local gbs=${GENERATION_BATCH_SIZE:-$(_extra_flag generation_batch_size)}
  local spg=${STEPS_PER_GENERATION:-$(_extra_flag steps_per_generation)}
  for v in gbs spg; do
    [ -z "${!v}" ] || [[ "${!v}" =~ ^-?[0-9]+$ ]] || _layout_refuse "${v}=${!v} is not an integer" \
      "set GENERATION_BATCH_SIZE / STEPS_PER_GENERATION to whole numbers" "not a batch size"
  done
  local tp; tp=$(_extra_flag vllm_tensor_parallel_size)
  local term="PER_DEVICE_BATCH $per x NPROC_PER_NODE $NPROC_PER_NODE x NNODES $NNODES" source
  [ "$gens" -ge 2 ] || _layout_refuse "NUM_GENERATIONS=$gens" "GRPO needs at least 2 completions per prompt"

  if [ -z "$gbs" ] && [ -z "$spg" ]; then
    GENERATION_BATCH=$((global * GRAD_ACC)); source="$term x GRAD_ACC $GRAD_ACC"
  elif [ -n "$gbs" ] && [ -z "$spg" ]; then
    [ $((gbs % global)) -eq 0 ] || _layout_refuse \
      "generation_batch_size $gbs is not a multiple of the global batch $global ($term)" \
      "set GENERATION_BATCH_SIZE to a multiple of $global"
    GENERATION_BATCH=$gbs; source="GENERATION_BATCH_SIZE"
  elif [ -z "$gbs" ]; then
    [ "$spg" -gt 0 ] || _layout_refuse "steps_per_generation $spg" "set STEPS_PER_GENERATION >= 1"
    GENERATION_BATCH=$((global * spg)); source="$term x STEPS_PER_GENERATION $spg"
  else
    [ "$gbs" -eq $((global * spg)) ] || _layout_refuse \
      "generation_batch_size $gbs != $term x STEPS_PER_GENERATION $spg = $((global * spg))" \
      "set only one of GENERATION_BATCH_SIZE and STEPS_PER_GENERATION"
    GENERATION_BATCH=$gbs; source="GENERATION_BATCH_SIZE"
  fi

  if [ $((GENERATION_BATCH % gens)) -ne 0 ]; then
    local fixes=() n need
    if [ -z "$gbs" ]; then
      need=$((gens / $(_gcd "$gens" "$global")))   # smallest GRAD_ACC (or STEPS_PER_GENERATION) that divides
      # With STEPS_PER_GENERATION set, both must change together: the rewards plugin refuses a generation that
      # is not exactly one optimisation step (docs/at-scale.md, "Options the plugin checks").
      fixes+=("GRAD_ACC=$need${spg:+ with STEPS_PER_GENERATION=$need} (generation batch $((global * need)))")
      for ((n = NPROC_PER_NODE - 1; n >= 1; n--)); do   # or fewer training processes per node
        if [ $((per * n * NNODES * ${spg:-$GRAD_ACC} % gens)) -eq 0 ]; then
          fixes+=("NPROC_PER_NODE=$n (generation batch $((per * n * NNODES * ${spg:-$GRAD_ACC})))"); break
        fi
      done
    else
      local step=$((global * gens / $(_gcd "$global" "$gens")))
      fixes+=("GENERATION_BATCH_SIZE=$(( (gbs + step - 1) / step * step ))")
    fi
    fixes+=("NUM_GENERATIONS=a divisor (>= 2) of $GENERATION_BATCH")
    local joined; joined=$(printf '%s, or ' "${fixes[@]}"); joined=${joined%, or }
    _layout_refuse "generation batch $GENERATION_BATCH = $source is not divisible by NUM_GENERATIONS $gens" \
      "change one of: $joined"
  fi

  local eval_gens; eval_gens=$(_extra_flag num_generations_eval)
  if [ -n "$(_extra_flag val_dataset)$(_extra_flag split_dataset_ratio)$(_extra_flag eval_strategy)" ]; then
    local eval_per; eval_per=$(_extra_flag per_device_eval_batch_size); eval_per=${eval_per:-1}
    [ $((eval_per * world % ${eval_gens:-$gens})) -eq 0 ] || _layout_refuse \
      "global eval batch $eval_per x $world processes is not divisible by num_generations_eval ${eval_gens:-$gens}" \
      "set --per_device_eval_batch_size in EXTRA_ARGS so that it times $world is a multiple of ${eval_gens:-$gens}"
  fi

  if [ "$VLLM_ON" = true ] && [ "$VLLM_MODE" = colocate ] && [ -n "$tp" ] && [ $((world % tp)) -ne 0 ]; then
    _layout_refuse "vllm_tensor_parallel_size $tp does not divide the $world training processes" \
      "use a tensor-parallel size that divides $world"
  fi
  if [ -n "${CUDA_VISIBLE_DEVICES:-}" ] && [ "$CUDA_VISIBLE_DEVICES" != "-1" ]; then
    local visible; IFS=, read -r -a visible <<< "$CUDA_VISIBLE_DEVICES"
    [ "${#visible[@]}" -ge "$NPROC_PER_NODE" ] || _layout_refuse \
      "NPROC_PER_NODE $NPROC_PER_NODE processes but CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES shows ${#visible[@]} GPUs" \
      "list one GPU per training process (a rollout server's or a judge's own GPUs are not among them)" \
      "torchrun would start ranks on GPUs that are not there"
  fi
  LAYOUT="layout: $world training processes; $GENERATION_BATCH completions per generation"
  LAYOUT+=" ($((GENERATION_BATCH / gens)) prompts x $gens), $((global * GRAD_ACC)) per optimisation step"
}
