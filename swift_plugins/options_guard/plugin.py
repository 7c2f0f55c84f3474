"""The guard inside ``swift rlhf``: the rules applied before any model loads (``install``), and again by
every reward class when built (``check_trainer_args``); a refusal stops the process with one line per option."""
from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Sequence
from types import SimpleNamespace

from swift_plugins import annealing, registry
from swift_plugins.options_guard.arguments import arg, listed
from swift_plugins.options_guard.findings import Finding
from swift_plugins.options_guard.rules import check, refusals, trainer_refusals, warnings

logger = logging.getLogger("audio_thinker")

REFUSED_EXIT_STATUS = 2


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


def _remove_if_empty(output_dir) -> None:
    """A refused run leaves no output folder: ms-swift made ``output_dir`` (its versioned folder with
    ``--add_version``) while it parsed the arguments, before this check. Only an empty folder is removed, so
    nothing is lost, whoever made it (docs/bad-input.md, "A doomed run")."""
    try:
        os.rmdir(output_dir)
    except (OSError, TypeError):   # not empty, already gone (another rank), or no output_dir
        pass


def check_pipeline_args(args) -> None:
    """The plugin's check of a ``swift rlhf`` run, before any model loads; restores the annealing step."""
    global _pipeline_checked
    if getattr(args, "rlhf_type", None) != "grpo" or not any(
            str(n) in registry.BY_NAME for n in listed(getattr(args, "reward_funcs", None))):
        return
    view = _full_view(args)
    verdicts = check(view)
    if verdicts.refused:
        _remove_if_empty(arg(view, "output_dir"))
    refuse(verdicts.refused)
    _warn(verdicts.warned)
    from swift_plugins.compat import versions  # here, not at the top: the launcher imports this module without ms-swift

    old_vllm = versions.old_vllm_warning(bool(arg(view, "use_vllm")), versions.installed_vllm())
    if old_vllm and _prints():
        logger.warning("audio-thinker: %s", old_vllm)
    if arg(view, "resume_only_model") and arg(view, "ignore_data_skip"):
        from swift_plugins import batch

        step = annealing.checkpoint_step(arg(view, "resume_from_checkpoint"))
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

