"""The rules: which ms-swift GRPO options are refused or warned about, and when (docs/rewards.md §10).

λ (Eq. 1–4) and the R_t batch mean are taken over the completions trained in one optimisation step on all
ranks, the advantage must be the group z-score of the Eq. 7 total (Eq. 8), and that total must be Eq. 7 and
nothing else. Each rule is a function of the argument object, registered with ``@rule`` in ``RULES``;
``check`` applies them all. Pure: the one file a rule may read is a resumed checkpoint's
``trainer_state.json``."""
from __future__ import annotations

import sys
from pathlib import Path

from swift_plugins import annealing, registry
from swift_plugins.options_guard.arguments import arg, listed, loss_type, values_given
from swift_plugins.options_guard.findings import REFUSED, WARNED, Finding, Rule, Verdicts

RULES: list[Rule] = []


def rule(*options: str, verdict: str, when: str, reason: str):
    def register(fires):
        RULES.append(Rule(options, verdict, when, reason, fires))
        return fires
    return register


# --- the total must be Eq. 7 (docs/rewards.md §6) ----------------------------------------------------------

@rule("reward_weights", verdict=REFUSED, when="absent with two or more of our rewards",
      reason="ms-swift then weights every reward 1 (R_a(1 + R_c) + R_f + R_t), not Eq. 7")
def _no_weights(args):
    names = [str(n) for n in listed(arg(args, "reward_funcs"))]
    ours = [n for n in names if n in registry.BY_NAME]
    if len(ours) < 2 or arg(args, "reward_weights") is not None:
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
    names = [str(n) for n in listed(arg(args, "reward_funcs"))]
    plugins = [Path(str(p)).name for p in listed(arg(args, "external_plugins"))]
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
    names = [str(n) for n in listed(arg(args, "reward_funcs"))]
    weights = listed(arg(args, "reward_weights")) or [1.0] * len(names)
    foreign = [n for n, w in zip(names, weights) if n not in registry.BY_NAME and float(w) != 0.0]
    return f"--reward_funcs {' '.join(foreign)}" if foreign else None


@rule("reward_model", verdict=REFUSED, when="set",
      reason="a reward model is one more reward column in the weighted sum, which is then not Eq. 7")
def _reward_model(args):
    return values_given(args, "reward_model")


@rule("reward_model_plugin", verdict=REFUSED, when="set",
      reason="it scores with a reward model: one more reward column in the weighted sum, not Eq. 7")
def _reward_model_plugin(args):
    return values_given(args, "reward_model_plugin")


_GYM = "the gym environment's total_reward joins the weighted sum (and rollouts become multi-turn): not Eq. 7"


@rule("use_gym_env", verdict=REFUSED, when="true", reason=_GYM)
def _use_gym_env(args):
    return "--use_gym_env true" if arg(args, "use_gym_env") else None


@rule("gym_env", verdict=REFUSED, when="set (it turns use_gym_env on)", reason=_GYM)
def _gym_env(args):
    env = arg(args, "gym_env")
    return f"--gym_env {env}" if env and arg(args, "use_gym_env") is not False else None


# --- the advantage must be the group z-score of the Eq. 7 total (Eq. 8) ------------------------------------

@rule("scale_rewards", verdict=REFUSED, when="gdpo",
      reason="advantages become a sum of per-reward z-scores, not the group z-score of the Eq. 7 total (Eq. 8); "
             "signs can flip against Eq. 7")
def _gdpo(args):
    return "--scale_rewards gdpo" if arg(args, "scale_rewards") == "gdpo" else None


@rule("scale_rewards", verdict=WARNED, when="batch, none",
      reason="Eq. 8 divides by the group's std; the advantage scale now differs from the paper's")
def _scale(args):
    scale = arg(args, "scale_rewards")
    return f"--scale_rewards {scale}" if scale in ("batch", "none") and loss_type(args) != "real" else None


@rule("advantage_estimator", verdict=REFUSED, when="rloo, reinforce_plus_plus",
      reason="the advantage must be GRPO's group z-score of the Eq. 7 total (Eq. 8)")
def _estimator(args):
    estimator = arg(args, "advantage_estimator") or "grpo"
    return f"--advantage_estimator {estimator}" if estimator != "grpo" else None


@rule("kl_in_reward", verdict=REFUSED, when="true with β ≠ 0",
      reason="the KL penalty would be subtracted from the Eq. 7 reward before the group z-score (Eq. 8 keeps it "
             "in the loss, Eq. 9)")
def _kl_in_reward(args):
    if arg(args, "kl_in_reward") and float(arg(args, "beta") or 0.0) != 0.0 and arg(args, "scale_rewards") != "gdpo":
        return "--kl_in_reward true"
    return None


@rule("loss_type", verdict=REFUSED, when="real",
      reason="REAL forces scale_rewards none and trains on the sign of each completion's advantage only, not "
             "the Eq. 8 z-score")
def _real(args):
    return "--loss_type real" if loss_type(args) == "real" else None


_TEACHER = "a teacher adds a per-token term to the advantage (OPD-RL), so it is no longer the Eq. 8 z-score of Eq. 7"


@rule("teacher_model", verdict=REFUSED, when="set", reason=_TEACHER)
def _teacher_model(args):
    return values_given(args, "teacher_model")


@rule("teacher_model_server", verdict=REFUSED, when="set", reason=_TEACHER)
def _teacher_server(args):
    return values_given(args, "teacher_model_server")


@rule("advantage_reweight", verdict=REFUSED, when="rlsd",
      reason="RLSD reweights each token's advantage by the teacher-student log-probability gap: not Eq. 8")
def _reweight(args):
    return values_given(args, "advantage_reweight")


@rule("sdar_loss_coef", verdict=REFUSED, when="> 0",
      reason="SDAR adds a teacher-distillation loss to the policy loss: the update is no longer Eq. 9 on Eq. 7")
def _sdar(args):
    coef = float(arg(args, "sdar_loss_coef") or 0.0)
    return f"--sdar_loss_coef {coef:g}" if coef > 0 else None


# --- λ and the R_t mean must describe one optimisation step (docs/rewards.md §10) --------------------------

@rule("multi_turn_scheduler", verdict=REFUSED, when="set",
      reason="multi-turn rollouts are not supported: the judge sees only the last turn and λ would count turns")
def _multi_turn(args):
    return values_given(args, "multi_turn_scheduler")


@rule("dynamic_sample", verdict=REFUSED, when="true",
      reason="each re-sample is scored as its own call, so λ and the R_t mean include groups that are then "
             "dropped, and which groups are kept depends on those very rewards")
def _dynamic_sample(args):
    if not arg(args, "dynamic_sample"):
        return None
    return f"--dynamic_sample true (--max_resample_times {arg(args, 'max_resample_times')})"


def _steps_per_generation(args) -> int | None:
    spg, gbs = arg(args, "steps_per_generation"), arg(args, "generation_batch_size")
    if spg is not None or gbs is None:
        return spg
    world = getattr(args, "global_world_size", None) or getattr(args, "world_size", None)
    per_step = int(arg(args, "per_device_train_batch_size") or 1) * int(world or 0)
    return int(gbs) // per_step if per_step and int(gbs) % per_step == 0 else None


@rule("steps_per_generation", "generation_batch_size", verdict=REFUSED, when="≠ one optimisation step",
      reason="one scoring call must cover exactly one optimisation step (steps_per_generation = "
             "gradient_accumulation_steps, ms-swift's default); otherwise λ and the R_t mean cover part of a "
             "step, or several steps annealed with one global_step")
def _spg(args):
    spg, gas = _steps_per_generation(args), arg(args, "gradient_accumulation_steps")
    if spg is None or gas is None or int(spg) == int(gas):
        return None
    return Finding(f"--steps_per_generation {spg} (--generation_batch_size {arg(args, 'generation_batch_size')})",
                   f"one scoring call must cover exactly one optimisation step, i.e. steps_per_generation = "
                   f"gradient_accumulation_steps = {gas} (ms-swift's default); otherwise λ and the R_t mean cover "
                   f"part of a step, or several steps annealed with one global_step")


@rule("num_iterations", verdict=REFUSED, when="> 1",
      reason="one scoring call then serves μ optimisation steps under one global_step: the steps after the "
             "first train on λ and annealing of an earlier step (as steps_per_generation > one step would)")
def _num_iterations(args):
    mu = int(arg(args, "num_iterations") or 1)
    return f"--num_iterations {mu}" if mu > 1 else None


@rule("resume_only_model", "ignore_data_skip", "resume_from_checkpoint", verdict=REFUSED,
      when="resume_only_model and ignore_data_skip true, the checkpoint's step unreadable",
      reason="the run restarts at global_step 0, so the annealing s/T (Eq. 3–4) would restart at 0; the plugin "
             "continues it from the checkpoint's trainer_state.json, which it cannot read here")
def _resume_only_model(args):
    if not (arg(args, "resume_only_model") and arg(args, "ignore_data_skip")):
        return None
    checkpoint = arg(args, "resume_from_checkpoint")
    if annealing.checkpoint_step(checkpoint) is not None:
        return None  # restored: check_pipeline_args hands the step to the annealing
    return "--resume_only_model true --ignore_data_skip true" + (
        f" (--resume_from_checkpoint {checkpoint})" if checkpoint else " (no readable --resume_from_checkpoint)")


@rule("async_generate", verdict=WARNED, when="true",
      reason="completions trained at step s were sampled by the policy of step s − 1 (one step off-policy); "
             "λ and the R_t mean still describe the trained batch")
def _async(args):
    return "--async_generate true" if arg(args, "async_generate") else None


@rule("overlong_filter", verdict=WARNED, when="true",
      reason="truncated completions leave the loss but still count in λ and the R_t mean")
def _overlong(args):
    return "--overlong_filter true" if arg(args, "overlong_filter") else None


@rule("chord_sft_dataset", verdict=WARNED, when="set",
      reason="CHORD mixes an SFT loss on another dataset into the GRPO loss; the rewards are unchanged")
def _chord(args):
    return values_given(args, "chord_sft_dataset")


@rule("callbacks", verdict=WARNED, when="without audio_thinker",
      reason="the dashboard keys are not logged, evaluation-time scoring is not told apart from training's "
             "in batch_stats files, and the judge circuit breaker does not run")
def _callbacks(args):
    callbacks = arg(args, "callbacks")
    return "--callbacks (without audio_thinker)" if callbacks is not None and "audio_thinker" not in callbacks else None



def refusals(args) -> list[Finding]:
    """Options under which the rewards would silently train a different signal."""
    return [f for r in RULES if r.verdict == REFUSED for f in [r.finding(args)] if f is not None]


def warnings(args) -> list[Finding]:
    """Options that change the training signal in a documented way, but keep λ, R_t and Eq. 7 right."""
    return [f for r in RULES if r.verdict == WARNED for f in [r.finding(args)] if f is not None]


def check(args) -> Verdicts:
    """The rule table applied to ``args`` (what ``args`` may be: the ``swift_plugins.options_guard`` docstring)."""
    return Verdicts(refused=refusals(args), warned=warnings(args))


SERVER_MULTI_TURN = Finding("--multi_turn_scheduler (on the rollout server)", "multi-turn rollouts are not "
                            "supported: the judge sees only the last turn and λ would count turns")
SERVER_GYM = Finding("--use_gym_env (reported by the rollout server)", _GYM)


def trainer_refusals(trainer) -> list[Finding]:
    """What only the built trainer knows: a rollout server that runs a multi-turn scheduler or a gym env."""
    found = [SERVER_MULTI_TURN] if getattr(trainer, "enable_server_multi_turn", False) else []
    return found + ([SERVER_GYM] if getattr(trainer, "use_gym_env", False) else [])

