"""The step s and the total T of ATAR's annealing, Eq. 3–4 (docs/rewards.md §3).

s counts the optimisation steps of the run from 1, so that the step being trained when a reward is
scored is s = ``global_step`` + 1 (ms-swift's ``trainer_state.global_step`` counts the steps already
finished: 0 while step 1 is trained) and the last step has s = T: γ reaches 1 on the last step, as the paper
says, and the first step is s/T = 1/T (0.001 at T = 1000), not Eq. 1–2 exactly.

A run started with ``--resume_only_model true --ignore_data_skip true`` from a checkpoint of step c trains
the checkpoint's weights from ``global_step`` 0 for ``max_steps`` more steps (ms-swift clears
``resume_from_checkpoint`` in the trainer, so HF restores no step). Its annealing continues where the
checkpoint left it: s = c + ``global_step`` + 1 over T = c + ``max_steps``, the steps the model will have been
trained in all. The plugin reads c from the checkpoint's ``trainer_state.json`` (``checkpoint_step``).
"""
from __future__ import annotations

import json
from pathlib import Path

from swift_plugins.atar import training_progress


def progress(global_step: int | None, max_steps: int | None, resumed_from: int = 0) -> float:
    """s/T of Eq. 3–4 for the step being trained while ``global_step`` steps are finished (see module doc).

    ``max_steps`` 0 or unknown (ms-swift reports 0 before the trainer knows it) means no annealing yet.
    """
    if not max_steps or max_steps <= 0 or global_step is None:
        return 0.0
    return training_progress(resumed_from + global_step + 1, resumed_from + max_steps)


def checkpoint_step(checkpoint_dir: str | Path | None) -> int | None:
    """The ``global_step`` HF saved with a checkpoint (``trainer_state.json``), or None when unreadable."""
    if not checkpoint_dir:
        return None
    try:
        state = json.loads((Path(checkpoint_dir) / "trainer_state.json").read_text(encoding="utf-8"))
        step = int(state["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return step if step >= 0 else None
