"""No model-hub freshness check where it can only cost time: offline, or for a checkpoint that never came
from the hub.

ms-swift's trainers call ModelScope's ``check_local_model_is_latest(model_dir)`` when they are built (unless
``--check_model false``). With no network it retries the hub's repository listing for seconds (22 s measured
on this project's CPU machine with ``HF_HUB_OFFLINE=1``, 2026-12-06) before giving up with no effect on the
run. The recipes pass ``--check_model false`` for a local checkpoint; this does the same for ``swift rlhf`` /
``swift sft`` launched directly with the plugin: the check is skipped when the run is offline
(``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` set to 1) or when ``model_dir`` lies outside ModelScope's cache
(a checkpoint of ours, which the hub has no newer version of). A hub download online is still checked.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

MARK = "__audio_thinker_hub_check__"
TRUE = ("1", "true", "yes", "on")


def offline() -> bool:
    return any(os.environ.get(name, "").strip().lower() in TRUE for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _in_modelscope_cache(model_dir: str) -> bool:
    roots = [os.environ.get("MODELSCOPE_CACHE"), str(Path.home() / ".cache" / "modelscope")]
    try:
        path = Path(model_dir).resolve()
    except (OSError, TypeError):
        return True  # unknown: leave it to ms-swift
    return any(root and path.is_relative_to(Path(root).resolve()) for root in roots)


def needed(model_dir) -> bool:
    """Whether ms-swift's hub check can tell anything about ``model_dir``."""
    return not offline() and _in_modelscope_cache(str(model_dir))


def apply() -> None:
    """Idempotent. Wraps the name ms-swift's trainer mixin calls."""
    from swift.trainers import mixin

    original = mixin.check_local_model_is_latest
    if getattr(original, MARK, False):
        return

    @functools.wraps(original)
    def check_local_model_is_latest(model_dir, *args, **kwargs):
        if not needed(model_dir):
            return None
        return original(model_dir, *args, **kwargs)

    setattr(check_local_model_is_latest, MARK, True)
    mixin.check_local_model_is_latest = check_local_model_is_latest
