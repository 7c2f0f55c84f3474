"""An ``--external_plugins`` file for tests: the disk fills up while ``checkpoint-$DISK_FULL_AT_STEP`` is
saved. transformers writes a checkpoint's weights first and its ``trainer_state.json`` last; here writing that
last file fails with ``OSError(ENOSPC)``, as a full disk would, so the folder holds weights but no state."""
from __future__ import annotations

import errno
import os

from transformers.trainer_callback import TrainerState

STEP = int(os.environ["DISK_FULL_AT_STEP"])
_save_to_json = TrainerState.save_to_json


def save_to_json(self, json_path: str) -> None:
    if self.global_step == STEP and f"checkpoint-{STEP}" in str(json_path):
        raise OSError(errno.ENOSPC, "No space left on device (simulated by tests/helpers/disk_full_plugin.py)",
                      json_path)
    _save_to_json(self, json_path)


TrainerState.save_to_json = save_to_json
