"""What a training run recorded about itself: ms-swift's ``args.json`` (written into the run folder and each
``checkpoint-N``). ``eval.sweep`` reads the base model, model type and system prompt from it;
``eval.infer`` warns when the model was trained with a system prompt that the evaluation does not give."""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError


def saved_args(folder: Path) -> dict[str, Any]:
    """ms-swift's ``args.json`` of a checkpoint or run folder ({} when absent)."""
    path = Path(folder) / "args.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise UsageError("not valid JSON", path) from None


def training_system(folders: Iterable[str | Path]) -> tuple[str, Path] | None:
    """(system prompt, the args.json it is in) of the first of ``folders`` (a checkpoint, then its run folder)
    whose ``args.json`` records one; None when none does (a base model, or a run without ``--system``)."""
    for folder in folders:
        for candidate in (Path(folder), Path(folder).parent):
            if not candidate.is_dir():
                continue
            system = saved_args(candidate).get("system")
            if isinstance(system, str) and system.strip():
                return system, candidate / "args.json"
    return None
