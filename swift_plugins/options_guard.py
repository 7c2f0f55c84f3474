"""Which ms-swift GRPO options keep the Audio-Thinker rewards meaning what the paper says (docs/rewards.md §10).

λ (Eq. 1–4) and the R_t batch mean are taken over the completions trained in
one optimisation step on all ranks, the advantage must be the group z-score of
the Eq. 7 total (Eq. 8), and that total must be Eq. 7 and nothing else. Every
option of ms-swift 4.6's GRPO arguments is classified here, once: ``RULES``
(refused or warned, with the condition) and ``SUPPORTED`` (why it is harmless);
docs/options.md is generated from them (``options_table``) and a test checks
both against ms-swift's argument classes, so a new ms-swift option cannot go
unclassified.

Entry points:

- ``check(args) -> Verdicts`` — the pure rule table: ``args`` is any object
  with the attribute names of ms-swift's ``RLHFArguments`` (or ``GRPOConfig``)
  holding parsed values (bools, numbers, lists); a missing attribute counts as
  ms-swift's default. It reads no global state; the one file it may read is the
  resumed checkpoint's ``trainer_state.json``. It assumes our rewards are in
  ``--reward_funcs``. A launcher can call it on the command line it is about
  to run; ``refusals`` / ``warnings`` are its two halves.
- ``check_pipeline_args`` — the plugin's own check of ``swift rlhf``: run on
  the full ``RLHFArguments`` before any model is loaded (``install`` wraps
  ms-swift's ``SwiftRLHF._prepare_model_tokenizer``; ms-swift imports the
  plugin while parsing the arguments, before that method runs).
- ``check_trainer_args`` — called by every reward class when built (before
  step 1): the same rules on the trainer's ``GRPOConfig`` when the pipeline
  check did not run (rewards used outside ``swift rlhf``), and what only the
  built trainer knows (a rollout server's multi-turn scheduler or gym env).

A refused option prints one line per option on stderr (``error: audio-thinker:
--OPTION ... is refused: why``) and exits with status 2, on every rank (all
ranks hold the same arguments, so all of them stop at the same point; only
local rank 0 prints, so a node shows each line once).
"""
from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from swift_plugins import annealing, registry

logger = logging.getLogger("audio_thinker")

REFUSED_EXIT_STATUS = 2
DOCS = "docs/options.md"
REFUSED, WARNED, SUPPORTED = "refused", "warned", "supported"


@dataclass(frozen=True)
class Finding:
    option: str  # as the user types it, with its value: "--scale_rewards gdpo"
    reason: str

    def line(self, verdict: str) -> str:
        return f"{self.option} {verdict}: {self.reason} ({DOCS})"


@dataclass(frozen=True)
class Verdicts:
    refused: list[Finding] = field(default_factory=list)
    warned: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Rule:
    options: tuple[str, ...]  # the ms-swift fields it reads (the first one names the rule)
    verdict: str              # REFUSED or WARNED
    when: str                 # the values it fires on, as the options table shows them
    reason: str               # why, one line (the message may add the values at hand)
    fires: Callable[[Any], str | Finding | None] = field(compare=False, repr=False)

    def finding(self, args) -> Finding | None:
        hit = self.fires(args)
        return Finding(hit, self.reason) if isinstance(hit, str) else hit


RULES: list[Rule] = []

# ms-swift 4.6's defaults of the fields the rules read (a launcher's namespace may lack them).
_DEFAULTS = dict(scale_rewards=None, advantage_estimator="grpo", kl_in_reward=None, beta=0.04,
                 multi_turn_scheduler=None, dynamic_sample=False, max_resample_times=3, overlong_filter=False,
                 gradient_accumulation_steps=1, steps_per_generation=None, generation_batch_size=None,
                 per_device_train_batch_size=1, callbacks=None, reward_funcs=(), reward_weights=None,
                 reward_model=None, reward_model_plugin=None, use_gym_env=None, gym_env=None, teacher_model=None,
                 teacher_model_server=None, advantage_reweight=None, sdar_loss_coef=0.0, loss_type=None,
                 num_iterations=1, resume_only_model=False, ignore_data_skip=False, resume_from_checkpoint=None,
                 async_generate=False, chord_sft_dataset=())


def _arg(args, name: str):
    return getattr(args, name, _DEFAULTS.get(name))


def _listed(value) -> list:
    """ms-swift's list options arrive as lists; a launcher's single value as a scalar."""
    if value is None:
        return []
    return [value] if isinstance(value, (str, int, float)) else list(value)


def _values_given(args, name: str) -> str | None:
    """``--name v1 v2`` when a list option is set (what a rule that fires on "set" reports), else None."""
    values = _listed(_arg(args, name))
    return f"--{name} {' '.join(map(str, values))}" if values else None


def _loss_type(args) -> str | None:
    value = _listed(_arg(args, "loss_type"))
    return value[0] if len(value) == 1 else None


def rule(*options: str, verdict: str, when: str, reason: str):
    def register(fires):
        RULES.append(Rule(options, verdict, when, reason, fires))
        return fires
    return register


# --- the total must be Eq. 7 (docs/rewards.md §6) ----------------------------------------------------------

@rule("reward_weights", verdict=REFUSED, when="absent with two or more of our rewards",
      reason="ms-swift then weights every reward 1 (R_a(1 + R_c) + R_f + R_t), not Eq. 7")
def _no_weights(args):
    names = [str(n) for n in _listed(_arg(args, "reward_funcs"))]
    ours = [n for n in names if n in registry.BY_NAME]
    if len(ours) < 2 or _arg(args, "reward_weights") is not None:
        return None
    weights = registry.paper_weights(names)
    shown = " ".join("W" if w is None else f"{w:g}" for w in weights)
    named = ", ".join(f"{n} {'W' if w is None else f'{w:g}'}" for n, w in zip(names, weights))
    return Finding(f"--reward_funcs {' '.join(names)} without --reward_weights",
                   f"ms-swift then weights every reward 1, not Eq. 7; give the weights, e.g. the paper's "
                   f"--reward_weights {shown} ({named}; W: yours)")


def ms_swift_reward_names() -> set[str] | None:
    """The reward names ms-swift resolves (``swift.rewards.orms``): the live table inside ``swift rlhf`` (with
    every plugin's registrations), else the keys of its literal in ``swift/rewards/orm.py``, read without
    importing ms-swift (tens of seconds; the launcher decides before anything loads). None: not readable."""
    live = sys.modules.get("swift.rewards")
    if live is not None and isinstance(getattr(live, "orms", None), dict):
        return set(live.orms)
    import ast
    import importlib.util
    try:
        spec = importlib.util.find_spec("swift")
        source = Path(next(iter(spec.submodule_search_locations))) / "rewards" / "orm.py"
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (ImportError, AttributeError, StopIteration, TypeError, OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "orms" for t in node.targets) \
                and isinstance(node.value, ast.Dict):
            return {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    return None


@rule("reward_funcs", verdict=REFUSED, when="a name that neither this plugin nor ms-swift registers",
      reason="ms-swift would stop on it only after the model has loaded")
def _unknown_reward(args):
    names = [str(n) for n in _listed(_arg(args, "reward_funcs"))]
    plugins = [Path(str(p)).name for p in _listed(_arg(args, "external_plugins"))]
    theirs = ms_swift_reward_names()
    if theirs is None or ("swift.rewards" not in sys.modules and any(
            p not in ("rewards.py", "compat_plugin.py", "cpu_deepspeed.py") for p in plugins)):
        return None   # not readable, or another plugin may register names: ms-swift itself decides
    known = sorted(set(registry.BY_NAME) | theirs)
    unknown = [n for n in names if n not in known]
    if not unknown:
        return None
    import difflib
    hints = [f"{n} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(n, known, 1)) else n
             for n in unknown]
    return Finding(f"--reward_funcs {' '.join(hints)}", "no such reward in swift_plugins/registry.py or ms-swift's "
                   "swift.rewards.orms; ms-swift would stop on it only after the model has loaded")


@rule("reward_funcs", verdict=WARNED, when="a reward that is not ours, weighted ≠ 0",
      reason="it adds a term to the Eq. 7 total")
def _foreign_reward(args):
    names = [str(n) for n in _listed(_arg(args, "reward_funcs"))]
    weights = _listed(_arg(args, "reward_weights")) or [1.0] * len(names)
    foreign = [n for n, w in zip(names, weights) if n not in registry.BY_NAME and float(w) != 0.0]
    return f"--reward_funcs {' '.join(foreign)}" if foreign else None


@rule("reward_model", verdict=REFUSED, when="set",
      reason="a reward model is one more reward column in the weighted sum, which is then not Eq. 7")
def _reward_model(args):
    return _values_given(args, "reward_model")


@rule("reward_model_plugin", verdict=REFUSED, when="set",
      reason="it scores with a reward model: one more reward column in the weighted sum, not Eq. 7")
def _reward_model_plugin(args):
    return _values_given(args, "reward_model_plugin")


_GYM = "the gym environment's total_reward joins the weighted sum (and rollouts become multi-turn): not Eq. 7"


@rule("use_gym_env", verdict=REFUSED, when="true", reason=_GYM)
def _use_gym_env(args):
    return "--use_gym_env true" if _arg(args, "use_gym_env") else None


@rule("gym_env", verdict=REFUSED, when="set (it turns use_gym_env on)", reason=_GYM)
def _gym_env(args):
    env = _arg(args, "gym_env")
    return f"--gym_env {env}" if env and _arg(args, "use_gym_env") is not False else None


# --- the advantage must be the group z-score of the Eq. 7 total (Eq. 8) ------------------------------------

@rule("scale_rewards", verdict=REFUSED, when="gdpo",
      reason="advantages become a sum of per-reward z-scores, not the group z-score of the Eq. 7 total (Eq. 8); "
             "signs can flip against Eq. 7")
def _gdpo(args):
    return "--scale_rewards gdpo" if _arg(args, "scale_rewards") == "gdpo" else None


@rule("scale_rewards", verdict=WARNED, when="batch, none",
      reason="Eq. 8 divides by the group's std; the advantage scale now differs from the paper's")
def _scale(args):
    scale = _arg(args, "scale_rewards")
    return f"--scale_rewards {scale}" if scale in ("batch", "none") and _loss_type(args) != "real" else None


@rule("advantage_estimator", verdict=REFUSED, when="rloo, reinforce_plus_plus",
      reason="the advantage must be GRPO's group z-score of the Eq. 7 total (Eq. 8)")
def _estimator(args):
    estimator = _arg(args, "advantage_estimator") or "grpo"
    return f"--advantage_estimator {estimator}" if estimator != "grpo" else None


@rule("kl_in_reward", verdict=REFUSED, when="true with β ≠ 0",
      reason="the KL penalty would be subtracted from the Eq. 7 reward before the group z-score (Eq. 8 keeps it "
             "in the loss, Eq. 9)")
def _kl_in_reward(args):
    if _arg(args, "kl_in_reward") and float(_arg(args, "beta") or 0.0) != 0.0 and _arg(args, "scale_rewards") != "gdpo":
        return "--kl_in_reward true"
    return None


@rule("loss_type", verdict=REFUSED, when="real",
      reason="REAL forces scale_rewards none and trains on the sign of each completion's advantage only, not "
             "the Eq. 8 z-score")
def _real(args):
    return "--loss_type real" if _loss_type(args) == "real" else None


_TEACHER = "a teacher adds a per-token term to the advantage (OPD-RL), so it is no longer the Eq. 8 z-score of Eq. 7"


@rule("teacher_model", verdict=REFUSED, when="set", reason=_TEACHER)
def _teacher_model(args):
    teacher = _arg(args, "teacher_model")
    return f"--teacher_model {teacher}" if teacher else None


@rule("teacher_model_server", verdict=REFUSED, when="set", reason=_TEACHER)
def _teacher_server(args):
    server = _arg(args, "teacher_model_server")
    return f"--teacher_model_server {server}" if server else None


@rule("advantage_reweight", verdict=REFUSED, when="rlsd",
      reason="RLSD reweights each token's advantage by the teacher-student log-probability gap: not Eq. 8")
def _reweight(args):
    how = _arg(args, "advantage_reweight")
    return f"--advantage_reweight {how}" if how else None


@rule("sdar_loss_coef", verdict=REFUSED, when="> 0",
      reason="SDAR adds a teacher-distillation loss to the policy loss: the update is no longer Eq. 9 on Eq. 7")
def _sdar(args):
    coef = float(_arg(args, "sdar_loss_coef") or 0.0)
    return f"--sdar_loss_coef {coef:g}" if coef > 0 else None


# --- λ and the R_t mean must describe one optimisation step (docs/rewards.md §10) --------------------------

@rule("multi_turn_scheduler", verdict=REFUSED, when="set",
      reason="multi-turn rollouts are not supported: the judge sees only the last turn and λ would count turns")
def _multi_turn(args):
    scheduler = _arg(args, "multi_turn_scheduler")
    return f"--multi_turn_scheduler {scheduler}" if scheduler else None


@rule("dynamic_sample", verdict=REFUSED, when="true",
      reason="each re-sample is scored as its own call, so λ and the R_t mean include groups that are then "
             "dropped, and which groups are kept depends on those very rewards")
def _dynamic_sample(args):
    if not _arg(args, "dynamic_sample"):
        return None
    return f"--dynamic_sample true (--max_resample_times {_arg(args, 'max_resample_times')})"


def _steps_per_generation(args) -> int | None:
    spg, gbs = _arg(args, "steps_per_generation"), _arg(args, "generation_batch_size")
    if spg is not None or gbs is None:
        return spg
    world = getattr(args, "global_world_size", None) or getattr(args, "world_size", None)
    per_step = int(_arg(args, "per_device_train_batch_size") or 1) * int(world or 0)
    return int(gbs) // per_step if per_step and int(gbs) % per_step == 0 else None


@rule("steps_per_generation", "generation_batch_size", verdict=REFUSED, when="≠ one optimisation step",
      reason="one scoring call must cover exactly one optimisation step (steps_per_generation = "
             "gradient_accumulation_steps, ms-swift's default); otherwise λ and the R_t mean cover part of a "
             "step, or several steps annealed with one global_step")
def _spg(args):
    spg, gas = _steps_per_generation(args), _arg(args, "gradient_accumulation_steps")
    if spg is None or gas is None or int(spg) == int(gas):
        return None
    return Finding(f"--steps_per_generation {spg} (--generation_batch_size {_arg(args, 'generation_batch_size')})",
                   f"one scoring call must cover exactly one optimisation step, i.e. steps_per_generation = "
                   f"gradient_accumulation_steps = {gas} (ms-swift's default); otherwise λ and the R_t mean cover "
                   f"part of a step, or several steps annealed with one global_step")


@rule("num_iterations", verdict=REFUSED, when="> 1",
      reason="one scoring call then serves μ optimisation steps under one global_step: the steps after the "
             "first train on λ and annealing of an earlier step (as steps_per_generation > one step would)")
def _num_iterations(args):
    mu = int(_arg(args, "num_iterations") or 1)
    return f"--num_iterations {mu}" if mu > 1 else None


@rule("resume_only_model", "ignore_data_skip", "resume_from_checkpoint", verdict=REFUSED,
      when="resume_only_model and ignore_data_skip true, the checkpoint's step unreadable",
      reason="the run restarts at global_step 0, so the annealing s/T (Eq. 3–4) would restart at 0; the plugin "
             "continues it from the checkpoint's trainer_state.json, which it cannot read here")
def _resume_only_model(args):
    if not (_arg(args, "resume_only_model") and _arg(args, "ignore_data_skip")):
        return None
    checkpoint = _arg(args, "resume_from_checkpoint")
    if annealing.checkpoint_step(checkpoint) is not None:
        return None  # restored: check_pipeline_args hands the step to the annealing
    return "--resume_only_model true --ignore_data_skip true" + (
        f" (--resume_from_checkpoint {checkpoint})" if checkpoint else " (no readable --resume_from_checkpoint)")


@rule("async_generate", verdict=WARNED, when="true",
      reason="completions trained at step s were sampled by the policy of step s − 1 (one step off-policy); "
             "λ and the R_t mean still describe the trained batch")
def _async(args):
    return "--async_generate true" if _arg(args, "async_generate") else None


@rule("overlong_filter", verdict=WARNED, when="true",
      reason="truncated completions leave the loss but still count in λ and the R_t mean")
def _overlong(args):
    return "--overlong_filter true" if _arg(args, "overlong_filter") else None


@rule("chord_sft_dataset", verdict=WARNED, when="set",
      reason="CHORD mixes an SFT loss on another dataset into the GRPO loss; the rewards are unchanged")
def _chord(args):
    return _values_given(args, "chord_sft_dataset")


@rule("callbacks", verdict=WARNED, when="without audio_thinker",
      reason="the dashboard keys are not logged, evaluation-time scoring is not told apart from training's "
             "in batch_stats files, and the judge circuit breaker does not run")
def _callbacks(args):
    callbacks = _arg(args, "callbacks")
    return "--callbacks (without audio_thinker)" if callbacks is not None and "audio_thinker" not in callbacks else None


# --- every other option: why it leaves the rewards as the paper defines them -------------------------------

_ROLLOUT = "rollout engine or sampling setting: which completions are drawn, not how they are scored"
_LOSS = "loss only: the rewards, λ and the Eq. 8 advantage are unchanged"
_NOT_GRPO = "not read by --rlhf_type grpo"
_MS_REWARD = "parameter of ms-swift's own cosine / repetition / soft_overlong rewards, read only when those are " \
             "in --reward_funcs (then warned, see reward_funcs)"
_TEACHER_DETAIL = "read only with a teacher (teacher_model, teacher_model_server: refused)"
_RLSD_DETAIL = "read only with --advantage_reweight rlsd (refused)"
_SDAR_DETAIL = "read only with --sdar_loss_coef > 0 (refused)"
_MULTI_TURN_DETAIL = "read only by multi-turn rollouts (multi_turn_scheduler: refused)"
_CHORD_DETAIL = "read only with --chord_sft_dataset (warned)"

SUPPORTED_REASONS: dict[str, str] = {
    # the GRPO run itself
    "rlhf_type": "grpo is what the rewards are for",
    "reward_funcs": "the names of swift_plugins/registry.py",
    "reward_weights": "explicit weights of any value (Eq. 7: atar 1, think_consistency 0.5, adaptive_format 0.5, "
                      "think_quality 1; monitors 0)",
    "num_generations": "the group size G of Eq. 8",
    "num_generations_eval": "group size of evaluation-time scoring, which is kept apart from training's",
    "beta": "the KL coefficient of Eq. 9 (in the loss)",
    "temperature": _ROLLOUT,
    "max_completion_length": _ROLLOUT,
    "log_completions": "logging only",
    "truncation_strategy": "prompt truncation (left or delete)",
    "dataset_shuffle": "data order only",
    "scale_rewards": "group: Eq. 8 (ms-swift's default)",
    "advantage_estimator": "grpo: Eq. 8 (the default)",
    "kl_in_reward": "false (the default for grpo), or any value with β = 0",
    "loss_type": "grpo, bnpo, dr_grpo, dapo, cispo, sapo, fipo: " + _LOSS,
    "epsilon": _LOSS + " (PPO clip)",
    "epsilon_high": _LOSS + " (DAPO clip-higher)",
    "delta": _LOSS + " (two-sided clip)",
    "importance_sampling_level": _LOSS + " (token or sequence importance ratio, GSPO)",
    "top_entropy_quantile": _LOSS + " (only the highest-entropy tokens carry gradient)",
    "tau_pos": _LOSS + " (SAPO gate)",
    "tau_neg": _LOSS + " (SAPO gate)",
    "real_tau": "read only by --loss_type real (refused)",
    "fipo_decay_rate": _LOSS + " (FIPO)",
    "fipo_clip_range": _LOSS + " (FIPO)",
    "fipo_clip_high_only": _LOSS + " (FIPO)",
    "fipo_safety_threshold": _LOSS + " (FIPO)",
    "rollout_importance_sampling_mode": _LOSS + " (rollout-training mismatch correction)",
    "rollout_importance_sampling_threshold": _LOSS + " (rollout-training mismatch correction)",
    "log_rollout_offpolicy_metrics": "logging only",
    "off_policy_sequence_mask_delta": _LOSS + " (masks off-policy sequences with negative advantage)",
    "log_entropy": "logging only",
    "sync_ref_model": "moves the KL reference of Eq. 9, not the rewards",
    "ref_model_sync_steps": "moves the KL reference of Eq. 9, not the rewards",
    "ref_model_mixup_alpha": "moves the KL reference of Eq. 9, not the rewards",
    "ref_model": "the KL reference of Eq. 9",
    "ref_adapters": "the KL reference of Eq. 9",
    "ref_model_type": "the KL reference of Eq. 9",
    "ref_model_revision": "the KL reference of Eq. 9",
    "max_resample_times": "read only with --dynamic_sample (refused); alone it does nothing",
    "soft_max_length": _MS_REWARD,
    "soft_cache_length": _MS_REWARD,
    "cosine_min_len_value_wrong": _MS_REWARD,
    "cosine_max_len_value_wrong": _MS_REWARD,
    "cosine_min_len_value_correct": _MS_REWARD,
    "cosine_max_len_value_correct": _MS_REWARD,
    "cosine_max_len": _MS_REWARD,
    "repetition_n_grams": _MS_REWARD,
    "repetition_max_penalty": _MS_REWARD,
    "max_new_tokens": "old name of max_completion_length: " + _ROLLOUT,
    "loss_scale": "which completion tokens carry loss (last_round for single-turn GRPO)",
    # rollout: sampling and vLLM
    **dict.fromkeys([
        "top_k", "top_p", "min_p", "repetition_penalty", "stop_words", "use_vllm", "vllm_mode",
        "vllm_gpu_memory_utilization", "vllm_tensor_parallel_size", "vllm_pipeline_parallel_size",
        "vllm_enable_expert_parallel", "vllm_max_num_seqs", "vllm_max_model_len", "vllm_disable_custom_all_reduce",
        "vllm_enforce_eager", "vllm_limit_mm_per_prompt", "vllm_max_lora_rank", "vllm_enable_prefix_caching",
        "vllm_use_async_engine", "vllm_quantization", "vllm_reasoning_parser", "vllm_disable_cascade_attn",
        "vllm_mm_processor_cache_gb", "vllm_speculative_config", "vllm_engine_kwargs", "vllm_data_parallel_size",
        "vllm_enable_lora", "lora_rank", "vllm_server_base_url", "vllm_server_host", "vllm_server_port",
        "vllm_server_timeout", "vllm_server_group_port", "enable_flattened_weight_sync", "sleep_level",
        "move_model_batches", "offload_optimizer", "offload_model", "structured_outputs_regex"], _ROLLOUT),
    "wandb_log_unique_prompts": "logging only",
    "teacher_tag_key": _TEACHER_DETAIL,
    # teacher and self-distillation details
    **dict.fromkeys(["teacher_adapters", "teacher_model_type", "teacher_model_revision", "teacher_deepspeed",
                     "offload_teacher_model", "teacher_kl_coef"], _TEACHER_DETAIL),
    **dict.fromkeys(["rlsd_lambda", "rlsd_reweight_clip_range", "rlsd_lambda_warmup_steps",
                     "rlsd_lambda_decay_steps", "rlsd_negative_only"], _RLSD_DETAIL),
    "sdar_gate_beta": _SDAR_DETAIL,
    **dict.fromkeys(["max_turns", "completion_length_limit_scope", "vllm_server_pass_dataset"], _MULTI_TURN_DETAIL),
    **dict.fromkeys(["chord_sft_per_device_train_batch_size", "chord_enable_phi_function", "chord_mu_warmup_steps",
                     "chord_mu_decay_steps", "chord_mu_peak", "chord_mu_valley"], _CHORD_DETAIL),
    # reward-model details (reward_model itself is refused)
    **dict.fromkeys(["reward_adapters", "reward_model_type", "reward_model_revision", "reward_template"],
                    "read only with --reward_model (refused)"),
    # other RLHF algorithms
    **dict.fromkeys(["label_smoothing", "rpo_alpha", "ld_alpha", "discopop_tau", "loss_weights", "cpo_alpha",
                     "simpo_gamma", "desirable_weight", "undesirable_weight", "center_rewards_coefficient",
                     "sft_alpha", "lmbda", "seq_kd", "gkd_logits_topk", "num_ppo_epochs", "whiten_rewards",
                     "kl_coef", "cliprange", "vf_coef", "cliprange_value", "gamma", "lam", "num_mini_batches",
                     "local_rollout_forward_batch_size", "num_sample_generations", "response_length",
                     "missing_eos_penalty"], _NOT_GRPO),
    # training options outside the GRPO classes that the rules read
    "gradient_accumulation_steps": "any value; one scoring call covers one optimisation step at ms-swift's "
                                   "default steps_per_generation",
    "per_device_train_batch_size": "any value the batch layout accepts (docs: batch layouts)",
    "ignore_data_skip": "alone: data order only",
    "resume_only_model": "without --ignore_data_skip HF restores the checkpoint's global_step and with it the "
                         "annealing; with it the plugin continues the annealing from the checkpoint's step",
    "callbacks": "with audio_thinker",
    "resume_from_checkpoint": "a full resume restores global_step, and with it the annealing",
}

# Options outside ms-swift's RLHF / GRPO argument classes that the rules read (base training arguments).
BASE_OPTIONS = ("callbacks", "gradient_accumulation_steps", "per_device_train_batch_size", "resume_only_model",
                "ignore_data_skip", "resume_from_checkpoint")


def refusals(args) -> list[Finding]:
    """Options under which the rewards would silently train a different signal."""
    return [f for r in RULES if r.verdict == REFUSED for f in [r.finding(args)] if f is not None]


def warnings(args) -> list[Finding]:
    """Options that change the training signal in a documented way, but keep λ, R_t and Eq. 7 right."""
    return [f for r in RULES if r.verdict == WARNED for f in [r.finding(args)] if f is not None]


def check(args) -> Verdicts:
    """The rule table applied to ``args`` (see the module docstring for what ``args`` may be)."""
    return Verdicts(refused=refusals(args), warned=warnings(args))


def options_table() -> list[tuple[str, str, str]]:
    """(option, status, why) for every classified option, sorted: what docs/options.md lists."""
    ruled: dict[str, list[Rule]] = {}
    for r in RULES:
        for option in r.options:
            ruled.setdefault(option, []).append(r)
    rows = []
    for option in sorted(set(ruled) | set(SUPPORTED_REASONS)):
        status = [f"{r.verdict} when {r.when}" + ("" if option == r.options[0] else f" (see --{r.options[0]})")
                  for r in ruled.get(option, [])]
        why = [r.reason for r in ruled.get(option, []) if option == r.options[0]]
        if option in SUPPORTED_REASONS:
            status.append(f"{SUPPORTED} otherwise" if status else SUPPORTED)
            why.append(SUPPORTED_REASONS[option])
        rows.append((option, "; ".join(status), "; ".join(why)))
    return rows


def options_markdown() -> str:
    lines = ["| option | status | why |", "|---|---|---|"]
    lines += [f"| `--{option}` | {status} | {why} |" for option, status, why in options_table()]
    return "\n".join(lines) + "\n"


SERVER_MULTI_TURN = Finding("--multi_turn_scheduler (on the rollout server)", "multi-turn rollouts are not "
                            "supported: the judge sees only the last turn and λ would count turns")
SERVER_GYM = Finding("--use_gym_env (reported by the rollout server)", _GYM)


def trainer_refusals(trainer) -> list[Finding]:
    """What only the built trainer knows: a rollout server that runs a multi-turn scheduler or a gym env."""
    found = [SERVER_MULTI_TURN] if getattr(trainer, "enable_server_multi_turn", False) else []
    return found + ([SERVER_GYM] if getattr(trainer, "use_gym_env", False) else [])


def _prints() -> bool:
    return os.environ.get("LOCAL_RANK", "0") == "0"


def refuse(found: Sequence[Finding]) -> None:
    """Stop the process with one line per refused option (no traceback: it is a usage error)."""
    if not found:
        return
    if _prints():
        for finding in found:
            print(f"error: audio-thinker: {finding.line('is refused')}", file=sys.stderr, flush=True)
    raise SystemExit(REFUSED_EXIT_STATUS)


def _warn(found: Sequence[Finding]) -> None:
    if _prints():
        for finding in found:
            logger.warning("audio-thinker: %s", finding.line("changes the training signal"))


_checked: list = []  # the argument objects already checked (strong refs: an id could be reused)
_pipeline_checked = False


def _full_view(args) -> SimpleNamespace:
    """``RLHFArguments`` with the values ms-swift derives only in its ``GRPOConfig`` (``training_args``:
    steps_per_generation, generation_batch_size) filled in where the command line left them unset."""
    view = dict(vars(args))
    for name, value in vars(getattr(args, "training_args", None) or SimpleNamespace()).items():
        if view.get(name) is None:
            view[name] = value
    return SimpleNamespace(**view)


def check_pipeline_args(args) -> None:
    """The plugin's check of a ``swift rlhf`` run, before any model loads; restores the annealing step."""
    global _pipeline_checked
    if getattr(args, "rlhf_type", None) != "grpo" or not any(
            str(n) in registry.BY_NAME for n in _listed(getattr(args, "reward_funcs", None))):
        return
    view = _full_view(args)
    verdicts = check(view)
    refuse(verdicts.refused)
    _warn(verdicts.warned)
    from swift_plugins.compat import versions  # here, not at the top: the launcher imports this module without ms-swift

    old_vllm = versions.old_vllm_warning(bool(_arg(view, "use_vllm")), versions.installed_vllm())
    if old_vllm and _prints():
        logger.warning("audio-thinker: %s", old_vllm)
    if _arg(view, "resume_only_model") and _arg(view, "ignore_data_skip"):
        from swift_plugins import batch

        step = annealing.checkpoint_step(_arg(view, "resume_from_checkpoint"))
        batch.STATE.resumed_from = step or 0
        if _prints():
            logger.warning("audio-thinker: --resume_only_model with --ignore_data_skip: the annealing (Eq. 3–4) "
                           "continues from the checkpoint's step %d (swift_plugins/annealing.py)", step or 0)
    _pipeline_checked = True


def check_trainer_args(args, trainer=None) -> None:
    """Refuse or warn, once per arguments object (every reward class calls this when built)."""
    if args is None or any(seen is args for seen in _checked):
        return
    refuse((refusals(args) if not _pipeline_checked else []) + trainer_refusals(trainer))
    _checked.append(args)
    if not _pipeline_checked:
        _warn(warnings(args))


def install() -> None:
    """Run ``check_pipeline_args`` in ``swift rlhf`` before the models load (idempotent).

    ms-swift imports ``--external_plugins`` while it parses the arguments, and
    only then ``SwiftSft.__init__`` calls ``_prepare_model_tokenizer`` (the
    policy, reference, reward and teacher models): wrapping that method is the
    first point where the full, post-processed ``RLHFArguments`` exist.
    """
    try:
        from swift.pipelines.train.rlhf import SwiftRLHF
    except ImportError:  # pragma: no cover - another ms-swift layout: the reward-time check still runs
        return
    original = SwiftRLHF._prepare_model_tokenizer
    if getattr(original, "_audio_thinker_guard", False):
        return

    @functools.wraps(original)
    def _prepare_model_tokenizer(self, *args, **kwargs):
        check_pipeline_args(self.args)
        return original(self, *args, **kwargs)

    _prepare_model_tokenizer._audio_thinker_guard = True
    SwiftRLHF._prepare_model_tokenizer = _prepare_model_tokenizer


if __name__ == "__main__":  # python -m swift_plugins.options_guard  -> the table of docs/options.md
    sys.stdout.write(options_markdown())
