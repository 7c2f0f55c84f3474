"""An ``--external_plugins`` file for tests: the save of ``checkpoint-$HOLD_SAVE_AT_STEP`` is held, so that a
test can stop the run *during* that save, at a point it chooses.

``HOLD_SAVE_BEFORE`` names the file the save is held before:

* ``state``: the weights, optimizer and RNG state are written, ``trainer_state.json`` (which transformers
  writes last) is not;
* ``weights``: the checkpoint folder exists (ms-swift made it), its weights are not written yet.

On reaching the hold the plugin writes the step to ``$HOLD_SAVE_MARKER`` (the test waits for that file) and
then sleeps in the training process's main thread, where a Ctrl-C's ``KeyboardInterrupt`` reaches it and a
SIGKILL ends it, as either would end a slow save of a large model. Left alone, it goes on after
``$HOLD_SAVE_S`` seconds (default 600)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from swift.trainers.mixin import SwiftMixin
from transformers.trainer_callback import TrainerState

STEP = int(os.environ["HOLD_SAVE_AT_STEP"])
BEFORE = os.environ["HOLD_SAVE_BEFORE"]
MARKER = Path(os.environ["HOLD_SAVE_MARKER"])
HOLD_S = float(os.environ.get("HOLD_SAVE_S", "600"))
if BEFORE not in ("state", "weights"):
    raise ValueError(f"HOLD_SAVE_BEFORE={BEFORE!r}: state or weights")


def _hold(step: int, path: str) -> None:
    if step != STEP or f"checkpoint-{STEP}" not in str(path):
        return
    MARKER.write_text(f"{step}\n", encoding="utf-8")
    deadline = time.monotonic() + HOLD_S
    while time.monotonic() < deadline:
        time.sleep(0.1)


if BEFORE == "state":
    _save_to_json = TrainerState.save_to_json

    def save_to_json(self, json_path: str) -> None:
        _hold(self.global_step, json_path)
        _save_to_json(self, json_path)

    TrainerState.save_to_json = save_to_json
else:
    _save_model = SwiftMixin._save_model

    def _save_model_held(self, output_dir=None, state_dict=None):
        _hold(self.state.global_step, output_dir or "")
        return _save_model(self, output_dir, state_dict)

    SwiftMixin._save_model = _save_model_held
