"""Which ms-swift GRPO options keep the Audio-Thinker rewards meaning what the paper says (docs/rewards.md §10).

Every option of ms-swift 4.6's GRPO arguments is classified once, in one of two places: ``rules`` (refused
or warned, with the condition: ``RULES``) or ``supported`` (the data: why each other option is harmless,
``SUPPORTED_REASONS``). docs/options.md is generated from both (``table.options_table``) and a test checks
them against ms-swift's argument classes, so a new ms-swift option cannot go unclassified.

The modules: ``findings`` (what a check returns), ``arguments`` (how an argument object is read, with
ms-swift's defaults), ``rules``, ``supported``, ``table`` and ``plugin`` (the entry inside ``swift rlhf``).

Entry points, all importable from here:

- ``check(args) -> Verdicts`` — the pure rule table: ``args`` is any object with the attribute names of
  ms-swift's ``RLHFArguments`` (or ``GRPOConfig``) holding parsed values (bools, numbers, lists); a missing
  attribute counts as ms-swift's default. It reads no global state; the one file it may read is the resumed
  checkpoint's ``trainer_state.json``. It assumes our rewards are in ``--reward_funcs``. A launcher can call
  it on the command line it is about to run; ``refusals`` / ``warnings`` are its two halves.
- ``check_pipeline_args`` — the plugin's own check of ``swift rlhf``: run on the full ``RLHFArguments``
  before any model is loaded (``install`` wraps ms-swift's ``SwiftRLHF._prepare_model_tokenizer``; ms-swift
  imports the plugin while parsing the arguments, before that method runs).
- ``check_trainer_args`` — called by every reward class when built (before step 1): the same rules on the
  trainer's ``GRPOConfig`` when the pipeline check did not run (rewards used outside ``swift rlhf``), and
  what only the built trainer knows (a rollout server's multi-turn scheduler or gym env).

A refused option prints one line per option on stderr (``error: audio-thinker: --OPTION ... is refused:
why``) and exits with status 2, on every rank (all ranks hold the same arguments, so all of them stop at the
same point; only local rank 0 prints, so a node shows each line once).
"""
from swift_plugins.options_guard.findings import DOCS, REFUSED, SUPPORTED, WARNED, Finding, Rule, Verdicts
from swift_plugins.options_guard.plugin import (REFUSED_EXIT_STATUS, check_pipeline_args, check_trainer_args,
                                                install, refuse)
from swift_plugins.options_guard.rules import (RULES, SERVER_GYM, SERVER_MULTI_TURN, check, refusals,
                                               trainer_refusals, warnings)
from swift_plugins.options_guard.supported import BASE_OPTIONS, SUPPORTED_REASONS
from swift_plugins.options_guard.table import options_markdown, options_table

__all__ = ["BASE_OPTIONS", "DOCS", "REFUSED", "REFUSED_EXIT_STATUS", "RULES", "SERVER_GYM", "SERVER_MULTI_TURN",
           "SUPPORTED", "SUPPORTED_REASONS", "WARNED", "Finding", "Rule", "Verdicts", "check", "check_pipeline_args",
           "check_trainer_args", "install", "options_markdown", "options_table", "refusals", "refuse",
           "trainer_refusals", "warnings"]
