"""The classification data: every ms-swift GRPO option no rule reads, with why it leaves the rewards as the
paper defines them (a test checks the set against ms-swift's argument classes, docs/options.md shows it)."""
from __future__ import annotations

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
