"""A row's launch settings, by the names of the documented environment overrides (docs/recipes.md,
"Overrides"), resolved in one place: the catalogue's defaults for the row's method, then the backbone's
vLLM rollout settings, then a ``PROFILE`` (``cpu``: every setting a CPU run needs; ``h100-80g``, ``h200-141g``:
what a card of that size changes, its entries for the row's backbone last), then the table's ``overrides`` (a table of existing rows with shared
settings), then the environment, which always wins. An empty variable counts as unset (as ``${VAR:-default}``
in the shell recipes did).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..catalogue import ROLLOUT_SETTINGS, Catalogue, Row, Table

# Every environment variable the launcher reads; docs/recipes.md lists each.
OVERRIDES = (
    "MODEL", "MODEL_TYPE", "DATA", "OUTPUT_ROOT", "NPROC_PER_NODE", "NNODES", "MAX_STEPS", "LR", "TEMPERATURE",
    "NUM_GENERATIONS", "BETA", "PER_DEVICE_BATCH", "GRAD_ACC", "MAX_COMPLETION_LENGTH", "TUNER", "LORA_RANK",
    "DEEPSPEED", "USE_VLLM", "VLLM_MODE", "VLLM_SERVER_HOST", "VLLM_SERVER_PORT",
    "SLEEP_LEVEL", "GENERATION_BATCH_SIZE", "STEPS_PER_GENERATION", "JUDGE_CHECK_WAIT", "USE_CPU", "TORCH_DTYPE",
    "SAVE_STEPS", "LOGGING_STEPS", "SEED", "REPORT_TO", "EPOCHS", "EXTRA_ARGS", "DATALOADER_WORKERS", "PREFLIGHT",
    "PREFLIGHT_DROP_BAD", "ENABLE_AUDIO_OUTPUT", "FRESH",
    *ROLLOUT_SETTINGS,
)
# Launch infrastructure (not a row's fact): the defaults every row shares.
LAUNCH_DEFAULTS = {"USE_CPU": "0", "VLLM_MODE": "colocate", "VLLM_SERVER_HOST": "127.0.0.1",
                   "VLLM_SERVER_PORT": "8001", "SLEEP_LEVEL": "1",
                   "JUDGE_CHECK_WAIT": "30", "PREFLIGHT": "header", "PREFLIGHT_DROP_BAD": "0", "EXTRA_ARGS": "",
                   "FRESH": "0"}


class SettingsError(ValueError):
    """A setting the launcher cannot use (an unknown profile, a bad switch)."""


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in OVERRIDES if environ.get(name)}


def resolve(cat: Catalogue, row: Row, root: Path, environ: Mapping[str, str] | None = None,
            table: Table | None = None) -> dict[str, str]:
    """Every setting of one launch of ``row`` (names as in the environment); paths of the catalogue are
    relative to ``root`` (the checkout)."""
    environ = os.environ if environ is None else environ
    profile_name = environ.get("PROFILE") or (table.overrides.get("PROFILE") if table else None)
    profile = {}
    if profile_name:
        if profile_name not in cat.profiles:
            raise SettingsError(f"PROFILE={profile_name} is not one of {', '.join(cat.profiles)}")
        profile = cat.profile(profile_name, row.backbone)
    backbone = cat.backbones[row.backbone]
    settings = {**LAUNCH_DEFAULTS, "MODEL": backbone.model, "MODEL_TYPE": backbone.model_type,
                **cat.settings(row), **backbone.rollout, **profile,
                **{k: v for k, v in (table.overrides if table else {}).items() if k != "PROFILE"},
                **from_environment(environ)}
    if "DATA" in settings and not os.path.isabs(settings["DATA"]) and "DATA" not in from_environment(environ):
        settings["DATA"] = str(root / settings["DATA"])          # the catalogue's own paths: in the checkout
    # a relative OUTPUT_ROOT is inside the checkout, where ms-swift runs (as the shell recipes had it)
    settings["OUTPUT_ROOT"] = str(root / os.path.expanduser(settings.get("OUTPUT_ROOT") or "output"))
    cpu = settings["USE_CPU"] == "1"
    settings.setdefault("DEEPSPEED", "none" if cpu else "zero3")  # on CPU only when asked (docs/at-scale.md)
    settings.setdefault("USE_VLLM", "false" if cpu else "true")
    for name, value in backbone.env.items():                     # e.g. ENABLE_AUDIO_OUTPUT=0 for Omni
        settings.setdefault(name, value)
    for switch in ("USE_CPU", "PREFLIGHT_DROP_BAD", "FRESH"):
        if settings[switch] not in ("0", "1"):
            raise SettingsError(f"{switch}={settings[switch]} must be 0 or 1")
    refuse_thinking_variant(row, settings["MODEL"], backbone.model)
    return settings


ADAPTIVE_PROMPT = "adaptive_think"  # the rows whose policy decides per question whether to think (ATAR)


def refuse_thinking_variant(row: Row, model: str, instruct: str) -> None:
    """A "Thinking" model (Qwen3-Omni-30B-A3B-Thinking) opens every reply with ``<think>``: on an adaptive row
    the decision to think (what ATAR, Eq. 5, rewards) would be made for the policy, leaving nothing to learn."""
    if row.prompt == ADAPTIVE_PROMPT and "thinking" in Path(model.rstrip("/")).name.lower():
        raise SettingsError(f"MODEL={model} is a Thinking model, which starts every reply with <think>: row "
                            f"{row.name} trains the decision whether to think (ATAR), so the policy must make "
                            f"it; use an Instruct model ({instruct})")
