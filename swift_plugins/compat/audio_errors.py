"""An audio clip that cannot be loaded names itself.

ms-swift loads a row's audio only when a batch needs it (GRPO: at the rollout of that step), through
``swift.template.vision_utils.load_audio``. A clip that is missing or corrupt then fails deep inside
librosa with a message that names no file: a missing path becomes ``TypeError: Invalid file: None``
(``_check_path`` returns None and librosa is handed that), a corrupt WAV a bare ``EOFError`` from
audioread's fallback. This wraps ``load_audio`` so that the same failure reads

    AudioLoadError: cannot load audio /data/avqa/audio/x.wav: no such file

and so does every caller that names it: a GRPO run that dies mid-run says which row's clip to fix, and
``eval.infer`` records it in the item's error row. A clip that loads but is too short for the encoder to
hear (fewer than ``audio_thinker.clips.MIN_TOKENS`` audio tokens, under 0.06 s) is refused the same way:
otherwise transformers' Qwen2-Audio fails on it with ``TypeError: 'NoneType' object is not subscriptable``
in ``_merge_input_ids_with_audio_features`` when no longer clip shares its batch, and answers it when one
does. The template's ``encode`` adds which row the clip belongs to (its ``id`` / ``source_id``, else the
start of its question), and a process that dies of it prints that one line, ``error: cannot load audio
…``, and exits with status 2 instead of a traceback through transformers. The recipes' pre-flight check
(``data_prep.preflight``, docs/bad-input.md) catches the same files, and clips under its 0.2 s minimum,
before the run starts; this covers ``swift rlhf`` / ``swift sft`` / ``swift infer`` launched directly.

The wrapper is re-bound in every ``swift.template`` module that imported ``load_audio`` by name, so
templates (Qwen2-Audio and Qwen2.5-Omni both go through ``swift.template.templates.qwen``) see it.
"""
from __future__ import annotations

import atexit
import functools
import os
import sys

from audio_thinker.clips import MIN_TOKENS, SAMPLE_RATE, audio_tokens, describe_seconds, mel_frames

MARK = "__audio_thinker_names_file__"
ROW_KEYS = ("id", "source_id")  # what names a row in our data sets (data_prep writes them)


class AudioLoadError(ValueError):
    """A clip that could not be loaded, with its path (or what was passed instead of a path): ``audio``."""

    def __init__(self, message: str, audio=None):
        super().__init__(message)
        self.audio = audio if isinstance(audio, str) else None


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
            loaded = load_audio(audio, *args, **kwargs)
        except AudioLoadError:
            raise
        except Exception as err:  # noqa: BLE001 - re-raised with the file named, cause chained
            raise AudioLoadError(f"cannot load audio {describe(audio)}: {_reason(audio, err)}", audio) from err
        rate = args[0] if args else kwargs.get("sampling_rate", SAMPLE_RATE)
        short = _too_short(loaded[0] if isinstance(loaded, tuple) else loaded, rate)
        if short:
            raise AudioLoadError(f"cannot load audio {describe(audio)}: {short}", audio)
        return loaded

    setattr(wrapper, MARK, True)
    return wrapper


def _too_short(samples, rate) -> str | None:
    """Why a loaded clip is too short for the encoder (``audio_thinker.clips``), or None."""
    try:
        n, rate = len(samples), int(rate or SAMPLE_RATE)
    except TypeError:
        return None
    at_16k = round(n * SAMPLE_RATE / rate) if rate else n
    tokens = audio_tokens(mel_frames(at_16k)) if at_16k else 0
    if tokens >= MIN_TOKENS:
        return None
    return (f"{describe_seconds(n / rate if rate else 0.0)} long, {tokens} audio token{'s' * (tokens != 1)}; the "
            f"encoder needs at least {MIN_TOKENS} (python -m data_prep.preflight refuses clips under 0.2 s)")


def row_name(inputs, audio: str | None = None) -> str:
    """How to name a row in a message: where the training file holds it (``line N of FILE``: the row that
    names ``audio`` in a ``--dataset`` file of this process's command line, ms-swift hands the template
    no line number), else its ``id`` / ``source_id``, else the start of its last user turn."""
    get = inputs.get if isinstance(inputs, dict) else lambda key, default=None: getattr(inputs, key, default)
    found = _dataset_line(audio) if audio else None
    if found:
        return found
    for key in ROW_KEYS:
        if get(key) is not None:
            return f"{key} {get(key)!r}"
    for message in reversed(get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        if message.get("role") == "user" and isinstance(content, str):
            text = " ".join(content.replace("<audio>", " ").split())
            return f"question {text[:60] + ('…' if len(text) > 60 else '')!r}"
    return "a row without id"


def _dataset_files(argv: list[str]) -> list[str]:
    """The local files after ``--dataset`` / ``--val_dataset`` on a ms-swift command line (``FILE#N`` read
    as FILE; hub ids are not files and are skipped)."""
    files, taking = [], False
    for arg in argv:
        if arg.startswith("--"):
            taking = arg in ("--dataset", "--val_dataset")
            continue
        if taking:
            path = arg.rsplit("#", 1)[0] if not os.path.isfile(arg) else arg
            if os.path.isfile(path):
                files.append(path)
    return files


def _dataset_line(audio: str) -> str | None:
    """``line N of FILE`` (with the row's id, if any) for the first row of a ``--dataset`` file that names
    ``audio``; read only when a clip has failed, so the cost never falls on a healthy run."""
    import json

    name = os.path.basename(audio.strip())
    for path in _dataset_files(sys.argv):
        try:
            with open(path, encoding="utf-8") as fh:
                for number, line in enumerate(fh, 1):
                    if name not in line:
                        continue
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(row, dict) and audio in (row.get("audios") or []):
                        ids = [f", {k} {row[k]!r}" for k in ROW_KEYS if row.get(k) is not None][:1]
                        return f"line {number} of {path}{''.join(ids)}"
        except (OSError, UnicodeDecodeError):
            continue
    return None


def naming_row(encode):
    """``Template.encode`` whose :class:`AudioLoadError` also names the row the clip belongs to."""
    if getattr(encode, MARK, False):
        return encode

    @functools.wraps(encode)
    def wrapper(self, inputs, *args, **kwargs):
        try:
            return encode(self, inputs, *args, **kwargs)
        except AudioLoadError as err:
            if " (row: " in str(err):
                raise
            raise AudioLoadError(f"{err} (row: {row_name(inputs, err.audio)})", err.audio) from err.__cause__

    setattr(wrapper, MARK, True)
    return wrapper


def _one_line_hook(previous):
    """``sys.excepthook`` that prints a process-ending :class:`AudioLoadError` as one ``error:`` line: the
    message says which clip and row to fix, and the traceback through the trainer would bury it."""
    def hook(kind, value, traceback):
        if isinstance(value, AudioLoadError):
            print(f"error: {value}", file=sys.stderr, flush=True)
            atexit._run_exitfuncs()  # what a normal exit runs (teardown.py's process-group teardown)
            os._exit(2)  # bad input: the project's exit status for it (audio_thinker.cli)
        previous(kind, value, traceback)

    setattr(hook, MARK, True)
    return hook


def apply() -> None:
    """Idempotent. Imports ``swift.template`` (and with it every template module)."""
    import swift.template  # noqa: F401
    from swift.template import vision_utils

    from swift.template import Template

    original = vision_utils.load_audio
    wrapped = naming_file(original)
    for name, module in list(sys.modules.items()):
        if name.startswith("swift.") and getattr(module, "load_audio", None) is original:
            module.load_audio = wrapped
    Template.encode = naming_row(Template.encode)
    if not getattr(sys.excepthook, MARK, False):
        sys.excepthook = _one_line_hook(sys.excepthook)
