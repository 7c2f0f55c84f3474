"""Whether a ``--model`` / ``MODEL`` names something that can load, decided before anything loads
(docs/bad-input.md, "A doomed run").

A model is a folder holding a checkpoint (``config.json``, or a LoRA adapter's ``adapter_config.json``), or a
hub id (``org/name``) that ms-swift downloads. A hub id already downloaded is found in the local caches
without asking the network: Hugging Face's (``HF_HUB_CACHE``, ``HF_HOME/hub``, ``~/.cache/huggingface/hub``:
``models--org--name/snapshots/<revision>/``) and ModelScope's (``MODELSCOPE_CACHE``,
``~/.cache/modelscope/hub``: ``[models/]org/name``, a dot in the name stored as ``___``). Offline
(``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``) a hub id found in neither cannot load.
"""
from __future__ import annotations

import os
from pathlib import Path

CONFIGS = ("config.json", "adapter_config.json")
TRUE = ("1", "true", "yes", "on")


def offline(environ=None) -> bool:
    environ = os.environ if environ is None else environ
    return any(environ.get(name, "").strip().lower() in TRUE for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_id(model: str) -> bool:
    """``org/name`` as the hubs spell a model, not a path (absolute, relative with ./ or ~, or deeper)."""
    parts = model.split("/")
    return len(parts) == 2 and all(parts) and not model.startswith((".", "~")) and not Path(model).exists()


def cached_folders(model: str, environ=None) -> list[Path]:
    """The local folders holding the hub id ``model`` (each with a config), from the caches above (also where
    the pre-flight looks for a hub id's feature-extractor config)."""
    environ = os.environ if environ is None else environ
    org, name = model.split("/")
    home = Path.home() / ".cache"
    candidates: list[Path] = []
    hf_roots = [environ.get("HF_HUB_CACHE"), environ.get("HF_HOME") and str(Path(environ["HF_HOME"]) / "hub"),
                str(home / "huggingface" / "hub")]
    for root in filter(None, hf_roots):
        candidates += sorted((Path(root) / f"models--{org}--{name}" / "snapshots").glob("*"))
    for root in filter(None, [environ.get("MODELSCOPE_CACHE"), str(home / "modelscope" / "hub")]):
        for stored in dict.fromkeys((name, name.replace(".", "___"))):
            candidates += [Path(root) / org / stored, Path(root) / "models" / org / stored,
                           Path(root) / "hub" / "models" / org / stored]
    return [c for c in candidates if any((c / config).is_file() for config in CONFIGS)]


def problem(model: str, environ=None) -> str | None:
    """Why ``model`` cannot load, in a few words, or None (a checkpoint folder, a cached hub id, or, online, a
    hub id ms-swift may download)."""
    path = Path(model).expanduser()
    if path.is_dir():
        if any((path / config).is_file() for config in CONFIGS):
            return None
        return f"a folder without {' or '.join(CONFIGS)}: not a checkpoint"
    if path.exists():
        return "a file, not a checkpoint folder"
    if not hub_id(model):
        return "no such folder"
    if cached_folders(model, environ) or not offline(environ):
        return None
    return ("no such folder, and this hub id is in no local model cache (Hugging Face's or ModelScope's) while "
            "offline (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)")
