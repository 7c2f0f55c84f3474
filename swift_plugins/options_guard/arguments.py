"""How the guard reads an argument object: ms-swift's parsed ``RLHFArguments`` / ``GRPOConfig``, or a
launcher's namespace holding only some fields (an absent field counts as ms-swift's default)."""
from __future__ import annotations

# ms-swift 4.6's defaults of the fields the rules read (a launcher's namespace may lack them).
DEFAULTS = dict(scale_rewards=None, advantage_estimator="grpo", kl_in_reward=None, beta=0.04,
                 multi_turn_scheduler=None, dynamic_sample=False, max_resample_times=3, overlong_filter=False,
                 gradient_accumulation_steps=1, steps_per_generation=None, generation_batch_size=None,
                 per_device_train_batch_size=1, callbacks=None, reward_funcs=(), reward_weights=None,
                 reward_model=None, reward_model_plugin=None, use_gym_env=None, gym_env=None, teacher_model=None,
                 teacher_model_server=None, advantage_reweight=None, sdar_loss_coef=0.0, loss_type=None,
                 num_iterations=1, resume_only_model=False, ignore_data_skip=False, resume_from_checkpoint=None,
                 async_generate=False, chord_sft_dataset=())


def arg(args, name: str):
    return getattr(args, name, DEFAULTS.get(name))


def listed(value) -> list:
    """ms-swift's list options arrive as lists; a launcher's single value as a scalar."""
    if value is None:
        return []
    return [value] if isinstance(value, (str, int, float)) else list(value)


def values_given(args, name: str) -> str | None:
    """``--name v1 v2`` when an option is set (a list option's values, or one value), else None: what a rule
    that fires on "set" reports."""
    values = listed(arg(args, name))
    return f"--{name} {' '.join(map(str, values))}" if values else None


def loss_type(args) -> str | None:
    value = listed(arg(args, "loss_type"))
    return value[0] if len(value) == 1 else None

