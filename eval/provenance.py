"""Which run a result JSON evaluates, and the name it carries in the report.

``eval.sweep`` leaves a trail beside every result: ``OUT/sweep.json`` names the run (or the base model) whose
``OUT/checkpoint-N/`` and ``OUT/base/`` folders it evaluated, and an ``--export-last`` copy ``DIR/LABEL.json``
has ``DIR/LABEL.source.json`` beside it. From the run's own ``args.json`` the catalogue tells which row it was
trained as (:meth:`recipes.catalogue.Catalogue.identify`); a base model is its backbone's base row. A
folder name is never the row's name: ``base`` and ``checkpoint-4`` are names of steps, and two runs both have
a ``checkpoint-4``. Only a result with no trail at all (a file written by hand) is named by its folder.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipes.catalogue import Catalogue
from recipes.launch import life

SOURCE_SUFFIX = ".source.json"  # DIR/LABEL.source.json beside an exported DIR/LABEL.json


@dataclass(frozen=True)
class Source:
    row: str                # the catalogue row (or the run's output directory's name)
    where: str              # the run root, the base model, or the result's folder: tells two runs apart
    step: str               # checkpoint-N, base, or "" (a result without a trail)
    order: int              # the row's place in the catalogue (unknown rows last)


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def trail(result: Path) -> dict[str, Any] | None:
    """{"run": run root or None, "checkpoint": name, "base_model", "model_type"} of a result file written by
    eval.sweep, or None."""
    exported = result.with_name(result.stem + SOURCE_SUFFIX)
    if exported.is_file():
        return _json(exported) or None
    sweep = _json(result.parent.parent / "sweep.json")
    step = result.parent.name
    if not sweep or not (step == "base" or step.startswith("checkpoint-")):
        return None
    return {"run": sweep.get("run_root") or sweep.get("run") if step != "base" else None, "checkpoint": step,
            "base_model": sweep.get("base_model"), "model_type": sweep.get("model_type")}


def training(result: Path) -> dict[str, Any] | None:
    """How far the run a result evaluates had trained at the checkpoint evaluated: {"steps_trained",
    "steps_planned", "finished"} (finished: that checkpoint is the run's last and the run reached its planned
    step, :func:`recipes.launch.life.progress`); None for a base model or a result without a trail."""
    found = trail(result)
    step = life.CHECKPOINT.search(str((found or {}).get("checkpoint") or ""))
    if not found or not found.get("run") or not step:
        return None
    done = life.progress(Path(found["run"]))
    trained = int(step.group(1))
    return {"steps_trained": trained, "steps_planned": done.planned,
            "finished": done.finished and done.checkpoint is not None and done.checkpoint.name == step.group(0)}


def run_args(run: Path, checkpoint: str) -> dict[str, Any]:
    """ms-swift's args.json of the checkpoint (it saves one in each), else of the run."""
    return _json(run / checkpoint / "args.json") or _json(run / "args.json")


def source_of(result: Path, cat: Catalogue) -> Source:
    order = {name: i for i, name in enumerate(cat.rows)}

    def named(name: str, where: str, step: str) -> Source:
        known = cat.by_name(name)
        return Source(known.name if known else name, where, step,
                      order.get(known.name, len(order)) if known else len(order))

    found = trail(result)
    if not found:
        return named(result.parent.name, str(result.parent), "")
    step = str(found.get("checkpoint") or "")
    if found.get("run"):
        run = Path(found["run"])
        args = run_args(run, step)
        row = cat.identify(args) if args else None
        name = row.name if row else Path(args.get("output_dir") or run).name
        return named(name, str(run), step)
    backbone = next((b for b in cat.backbones.values() if b.model_type == found.get("model_type")), None)
    base = cat.base_row(backbone.name) if backbone else None
    model = str(found.get("base_model") or "")
    return named(base.name if base else Path(model).name or result.parent.name, model, step or "base")


def label_results(found: list[tuple[Path, dict[str, Any]]], cat: Catalogue) -> list[tuple[str, dict[str, Any]]]:
    """(label, result) in the catalogue's row order. A label is the row's name, followed by `` (checkpoint-N)``
    or `` (checkpoint-N of RUN)`` where one row has results from several checkpoints or runs."""
    sources = [(source_of(path, cat), path, result) for path, result in found]
    keys: dict[str, set[tuple[str, str]]] = {}
    for src, _, _ in sources:
        keys.setdefault(src.row, set()).add((src.where, src.step))
    labelled = []
    for src, path, result in sources:
        label = src.row
        group = keys[src.row]
        if len(group) > 1:
            several_runs = len({where for where, _ in group}) > 1
            label += f" ({src.step or path.parent.name}{f' of {src.where}' if several_runs else ''})"
        labelled.append((src.order, label, result))
    labelled.sort(key=lambda item: item[:2])
    return [(label, result) for _, label, result in labelled]
