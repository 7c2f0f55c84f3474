"""An audio clip that cannot be loaded names itself.

ms-swift loads a row's audio only when a batch needs it (GRPO: at the rollout of that step), through
``swift.template.vision_utils.load_audio``. A clip that is missing or corrupt then fails deep inside
librosa with a message that names no file: a missing path becomes ``TypeError: Invalid file: None``
(``_check_path`` returns None and librosa is handed that), a corrupt WAV a bare ``EOFError`` from
audioread's fallback. This wraps ``load_audio`` so that the same failure reads

    AudioLoadError: cannot load audio /data/avqa/audio/x.wav: no such file

and so does every caller that names it: a GRPO run that dies mid-run says which row's clip to fix, and
``eval.infer`` records it in the item's error row. The recipes' pre-flight check
(``data_prep.preflight``, docs/bad-input.md) catches the same files before the run starts;
this covers ``swift rlhf`` / ``swift sft`` / ``swift infer`` launched directly.

The wrapper is re-bound in every ``swift.template`` module that imported ``load_audio`` by name, so
templates (Qwen2-Audio and Qwen2.5-Omni both go through ``swift.template.templates.qwen``) see it.
"""
from __future__ import annotations

import functools
import os
import sys

MARK = "__audio_thinker_names_file__"


class AudioLoadError(ValueError):
    """A clip that could not be loaded, with its path (or what was passed instead of a path)."""


def describe(audio) -> str:
    """How to name what ``load_audio`` was given: the path, or the kind of inline data."""
    if isinstance(audio, str):
        text = audio.strip()
        if text.startswith("data:") or len(text) > 2000:
            return f"<inline data, {len(text)} characters>"
        return text
    return f"<{type(audio).__name__}>"


def _reason(audio, err: BaseException) -> str:
    if isinstance(audio, str) and not audio.strip().startswith(("data:", "http://", "https://")) \
            and len(audio) <= 2000:
        path = os.path.expanduser(audio.strip())
        root = os.environ.get("ROOT_IMAGE_DIR")
        if not os.path.exists(path) and not (root and os.path.exists(os.path.join(root, path))):
            return "no such file"
        if os.path.isdir(path):
            return "is a directory"
    message = " ".join(str(err).split())
    return f"does not decode ({type(err).__name__}{': ' + message if message else ''})"


def naming_file(load_audio):
    """``load_audio`` whose failures raise :class:`AudioLoadError` naming the clip."""
    if getattr(load_audio, MARK, False):
        return load_audio

    @functools.wraps(load_audio)
    def wrapper(audio, *args, **kwargs):
        try:
            return load_audio(audio, *args, **kwargs)
        except AudioLoadError:
            raise
        except Exception as err:  # noqa: BLE001 - re-raised with the file named, cause chained
            raise AudioLoadError(f"cannot load audio {describe(audio)}: {_reason(audio, err)}") from err

    setattr(wrapper, MARK, True)
    return wrapper


def apply() -> None:
    """Idempotent. Imports ``swift.template`` (and with it every template module)."""
    import swift.template  # noqa: F401
    from swift.template import vision_utils

    original = vision_utils.load_audio
    wrapped = naming_file(original)
    for name, module in list(sys.modules.items()):
        if name.startswith("swift.") and getattr(module, "load_audio", None) is original:
            module.load_audio = wrapped
