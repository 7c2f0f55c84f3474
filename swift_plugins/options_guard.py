"""Which ms-swift GRPO options keep the Audio-Thinker rewards meaning what the paper says (docs/rewards.md §10).

λ (Eq. 1–4) and the R_t batch mean are taken over the completions trained in
one optimisation step on all ranks, and the advantage must be the group
z-score of the Eq. 7 total (Eq. 8). ms-swift hands every reward class the
trainer's full GRPO arguments, so the plugin checks them itself when the first
reward is built (before step 1), and ``swift rlhf`` without our recipes is
protected too. Each option is supported, refused or warned about; docs/at-scale.md,
"Options the plugin checks", gives the same list for users.

A refused option prints one line per option on stderr (``error: audio-thinker:
--OPTION ...: why``) and exits with status 2, on every rank (all ranks hold
the same arguments, so all of them stop at the same point; only local rank 0
prints, so a node shows each line once).
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

logger = logging.getLogger("audio_thinker")

REFUSED_EXIT_STATUS = 2
AT_SCALE = "docs/at-scale.md"


@dataclass(frozen=True)
class Finding:
    option: str  # as the user types it, with its value: "--scale_rewards gdpo"
    reason: str

    def line(self, verdict: str) -> str:
        return f"{self.option} {verdict}: {self.reason} ({AT_SCALE})"


def refusals(args) -> list[Finding]:
    """Options under which the rewards would silently train a different signal."""
    found: list[Finding] = []
    scale = getattr(args, "scale_rewards", None)
    estimator = getattr(args, "advantage_estimator", "grpo") or "grpo"
    if scale == "gdpo":
        found.append(Finding("--scale_rewards gdpo", "advantages become a sum of per-reward z-scores, not the group "
                             "z-score of the Eq. 7 total (Eq. 8); signs can flip against Eq. 7"))
    if estimator != "grpo":
        found.append(Finding(f"--advantage_estimator {estimator}", "the advantage must be GRPO's group z-score of "
                             "the Eq. 7 total (Eq. 8)"))
    if getattr(args, "kl_in_reward", False) and float(getattr(args, "beta", 0.0) or 0.0) != 0.0 and scale != "gdpo":
        found.append(Finding("--kl_in_reward true", "the KL penalty would be subtracted from the Eq. 7 reward before "
                             "the group z-score (Eq. 8 keeps it in the loss, Eq. 9)"))
    if getattr(args, "multi_turn_scheduler", None):
        found.append(Finding(f"--multi_turn_scheduler {args.multi_turn_scheduler}", "multi-turn rollouts are not "
                             "supported: the judge sees only the last turn and λ would count turns"))
    if getattr(args, "dynamic_sample", False):
        found.append(Finding(f"--dynamic_sample true (--max_resample_times {getattr(args, 'max_resample_times', '?')})",
                             "each re-sample is scored as its own call, so λ and the R_t mean include groups that "
                             "are then dropped, and which groups are kept depends on those very rewards"))
    spg = getattr(args, "steps_per_generation", None)
    gas = getattr(args, "gradient_accumulation_steps", None)
    if spg is not None and gas is not None and spg != gas:
        found.append(Finding(f"--steps_per_generation {spg} (--generation_batch_size "
                             f"{getattr(args, 'generation_batch_size', '?')})",
                             f"one scoring call must cover exactly one optimisation step, i.e. steps_per_generation "
                             f"= gradient_accumulation_steps = {gas} (ms-swift's default); otherwise λ and the R_t "
                             f"mean cover part of a step, or several steps annealed with one global_step"))
    return found


SERVER_MULTI_TURN = Finding("--multi_turn_scheduler (on the rollout server)", "multi-turn rollouts are not "
                            "supported: the judge sees only the last turn and λ would count turns")


def trainer_refusals(trainer) -> list[Finding]:
    """What only the built trainer knows: a rollout server that runs a multi-turn scheduler."""
    return [SERVER_MULTI_TURN] if getattr(trainer, "enable_server_multi_turn", False) else []


def warnings(args) -> list[Finding]:
    """Options that change the training signal in a documented way, but keep λ and R_t right."""
    found: list[Finding] = []
    scale = getattr(args, "scale_rewards", None)
    if scale in ("batch", "none"):
        found.append(Finding(f"--scale_rewards {scale}", "Eq. 8 divides by the group's std; the advantage scale "
                             "now differs from the paper's"))
    if getattr(args, "overlong_filter", False):
        found.append(Finding("--overlong_filter true", "truncated completions leave the loss but still count in λ "
                             "and the R_t mean"))
    callbacks = getattr(args, "callbacks", None)
    if callbacks is not None and "audio_thinker" not in callbacks:
        found.append(Finding("--callbacks (without audio_thinker)", "the dashboard keys are not logged, and "
                             "evaluation-time scoring is not told apart from training's in batch_stats files"))
    return found


def _prints() -> bool:
    return os.environ.get("LOCAL_RANK", "0") == "0"


def refuse(found: list[Finding]) -> None:
    """Stop the process with one line per refused option (no traceback: it is a usage error)."""
    if not found:
        return
    if _prints():
        for finding in found:
            print(f"error: audio-thinker: {finding.line('is refused')}", file=sys.stderr, flush=True)
    raise SystemExit(REFUSED_EXIT_STATUS)


_checked: list = []  # the argument objects already checked (strong refs: an id could be reused)


def check_trainer_args(args, trainer=None) -> None:
    """Refuse or warn, once per arguments object (every reward class calls this when built)."""
    if args is None or any(seen is args for seen in _checked):
        return
    refuse(refusals(args) + trainer_refusals(trainer))
    _checked.append(args)
    if _prints():
        for finding in warnings(args):
            logger.warning("audio-thinker: %s", finding.line("changes the training signal"))
