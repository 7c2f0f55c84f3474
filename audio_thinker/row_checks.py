"""The rows of a training or evaluation set, checked before any model loads (docs/bad-input.md).

The part of the pre-flight check both ``data_prep.preflight`` (the recipes' check, which also decodes each
clip) and ``eval.infer`` (which reads each WAV's header, and turns a clip that still fails in the engine
into an error row) use: columns each consumer reads, unique ids, lines that parse, audio paths resolved as
ms-swift resolves them, and what a row *means*: one clip per ``<audio>`` tag, a ``solution`` that is one of
the ``choices``, choices that stay distinct under the training matcher's normalisation, clips neither too
short for the encoder nor longer than the model's audio window (``audio_thinker.clips``). Standard library
only; how a clip is judged is passed in.
"""
from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError, read_text
from audio_thinker.clips import MIN_SECONDS, describe_seconds, read_wav_header
from audio_thinker.jsonl import BadLine, parse_jsonl
from audio_thinker.matching import normalise, strip_answer_wrapper


@dataclass(frozen=True)
class Clip:
    """What an audio check found about one file: why it cannot be used (None: it loads), and its length in
    seconds when the check read it (None: not known, no duration rule applies)."""
    problem: str | None = None
    seconds: float | None = None


# A function that judges distinct audio paths: one Clip per path (a bare reason or None is read as a Clip).
AudioCheck = Callable[[Sequence[str]], list]

TOO_LONG = ("refuse", "warn")


@dataclass(frozen=True)
class Limits:
    """The duration rules. ``max_seconds`` is the model's audio window (``clips.audio_window``); None when no
    model was named: long clips are then not checked. ``too_long``: a longer clip is a bad row ("refuse") or
    a warning ("warn"; the feature extractor keeps its first ``max_seconds``)."""
    min_seconds: float = MIN_SECONDS
    max_seconds: float | None = None
    too_long: str = "refuse"
    window_from: str = ""  # where max_seconds was read, for the message

    def verdict(self, seconds: float) -> tuple[str, bool] | None:
        """(what is wrong, whether it is only a warning) for a clip of ``seconds``, or None."""
        if seconds < self.min_seconds:
            return (f"{describe_seconds(seconds)}, shorter than the {self.min_seconds:g} s the encoder needs "
                    "to hear it (--min-seconds)", False)
        if self.max_seconds is not None and seconds > self.max_seconds:
            where = f" ({self.window_from})" if self.window_from else ""
            return (f"{describe_seconds(seconds)}, longer than the model's {self.max_seconds:g} s audio window"
                    f"{where}: the feature extractor keeps only its first {self.max_seconds:g} s"
                    + ("" if self.too_long == "warn" else " (--too-long warn keeps the row)"),
                    self.too_long == "warn")
        return None

REQUIRED = {
    "grpo": ("messages", "audios", "solution"),
    "sft": ("messages", "audios"),
    "eval": ("messages", "audios", "id"),
}
# Rows share their choice texts (a few hundred distinct in 40k AVQA rows): normalise each text once.
_normal = functools.lru_cache(maxsize=1 << 16)(normalise)
UNIQUE = ("id", "source_id")  # a repeated one means a file was concatenated twice or an id field is wrong

@dataclass(frozen=True)
class Problem:
    """One bad row: ``DATA:LINE: what`` (``what`` starts with the audio path when a clip is at fault)."""
    data: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.data}:{self.line}: {self.what}"


@dataclass
class Report:
    rows: list[tuple[int, str, dict[str, Any] | None]]  # (line, raw text, row or None when unparsable)
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)  # kept rows, told about (a long clip with "warn")

    @property
    def bad_lines(self) -> set[int]:
        return {p.line for p in self.problems}


# ----------------------------------------------------------------------------- one row
def row_problems(row: dict[str, Any], kind: str) -> list[str]:
    """What is wrong with a row's columns (not its audio files)."""
    missing = [c for c in REQUIRED[kind] if c not in row or row[c] is None]
    if missing:
        return [f"missing column{'s' if len(missing) > 1 else ''} {', '.join(repr(c) for c in missing)}"]
    out = []
    messages = row["messages"]
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages):
        out.append("'messages' is not a non-empty list of {role, content} objects")
    elif not any(m["role"] == "user" for m in messages):
        out.append("'messages' has no user turn")
    elif kind == "sft" and messages[-1]["role"] != "assistant":
        out.append("'messages' does not end with the assistant turn to train on")
    audios = row["audios"]
    if not isinstance(audios, list) or not audios or not all(isinstance(a, str) and a.strip() for a in audios):
        out.append("'audios' is not a non-empty list of paths")
    if kind == "grpo" and not (isinstance(row["solution"], str) and row["solution"].strip()):
        out.append("'solution' is empty (the accuracy rewards compare against it)")
    if not out:
        out += meaning_problems(row, kind)
    return out


def meaning_problems(row: dict[str, Any], kind: str) -> list[str]:
    """What a well-formed row says that is not what it means: clips and ``<audio>`` tags that do not pair,
    and (training rows) answers that cannot be graded. Evaluation rows keep the benchmark's own choices and
    gold (MMAU test-mini repeats a choice in 27 items, MMAR has 5 golds outside the choices; both are
    scored as published), so only the tag rule applies to them."""
    out = []
    tags = sum(m["content"].count("<audio>") for m in row["messages"])
    clips = len(row["audios"])
    if tags != clips:
        out.append(f"{tags} <audio> tag{'s' if tags != 1 else ''} for {clips} clip{'s' if clips != 1 else ''} "
                   "in 'audios' (each clip needs its own tag: ms-swift adds an untagged clip, and leaves a tag "
                   "without a clip as text)")
    if kind == "eval":
        return out
    problem = choices_problem(row.get("choices"))
    if problem:
        out.append(problem)
    elif isinstance(row.get("choices"), list) and isinstance(row.get("solution"), str) and row["solution"].strip():
        gold = _normal(strip_answer_wrapper(row["solution"]))
        if gold not in {_normal(str(c)) for c in row["choices"]}:
            out.append(f"'solution' {row['solution']!r} is not one of the 'choices' (after normalisation): every "
                       "accuracy reward of this row would be 0")
    return out


def choices_problem(choices: Any) -> str | None:
    """Two choices the training matcher cannot tell apart (``matching.normalise``: case, punctuation,
    spacing): ``strict_match`` would count an answer naming either as naming both. None when distinct (or
    when there is no choice list)."""
    if not isinstance(choices, list):
        return None
    seen: dict[str, str] = {}
    for choice in choices:
        key = _normal(str(choice))
        if key in seen:
            return (f"'choices' {seen[key]!r} and {str(choice)!r} are the same answer after normalisation "
                    f"({key!r}): the training matcher cannot tell them apart")
        seen[key] = str(choice)
    return None

def resolve_audio(path: str) -> Path | None:
    """Where ms-swift will look for ``path`` (``swift.template.vision_utils._check_path``): as given
    (relative to the working directory), then under ``$ROOT_IMAGE_DIR``. None when neither exists."""
    candidate = Path(path.strip()).expanduser()
    if candidate.exists():
        return candidate
    root = os.environ.get("ROOT_IMAGE_DIR")
    if root and (Path(root) / candidate).exists():
        return Path(root) / candidate
    return None


def missing_files(paths: Sequence[str]) -> list[str | None]:
    """The cheapest audio check: the file is there (and is a file)."""
    out = []
    for path in paths:
        found = resolve_audio(path)
        out.append("no such file" if found is None else "is a directory, not an audio file" if found.is_dir()
                   else None)
    return out


def wav_headers(paths: Sequence[str]) -> list[Clip]:
    """:func:`missing_files`, and for WAV files what their header says: a truncated file (fewer frames than
    declared) is a problem, the length is read for the duration rules. Other formats: existence only (the
    engine names one that does not load, ``swift_plugins.compat.audio_errors``)."""
    out = []
    for path, missing in zip(paths, missing_files(paths)):
        if missing:
            out.append(Clip(missing))
            continue
        try:
            header = read_wav_header(resolve_audio(path))
        except OSError as err:
            out.append(Clip(f"cannot read ({err.strerror})"))
            continue
        out.append(Clip() if header is None else Clip(truncation(header.declared_frames, header.present_frames),
                                                     header.seconds))
    return out


def truncation(declared: int | None, present: int) -> str | None:
    """The problem of a file that holds fewer frames than its header declares (a copy cut short)."""
    if declared is None or present >= declared:
        return None
    return f"truncated: its header declares {declared} samples, the file holds {present}"


def read_rows(data: str | os.PathLike) -> list[tuple[int, str, dict[str, Any] | None, str | None]]:
    """(line, raw text, row or None, why not) for every non-blank line of a JSONL file. ms-swift's
    ``FILE#N`` (a sample of N rows) is read as FILE."""
    path = Path(data)
    if not path.exists() and re.fullmatch(r".+#\d+", str(data)) and Path(str(data).rsplit("#", 1)[0]).exists():
        path = Path(str(data).rsplit("#", 1)[0])
    text = read_text(path)
    if text.lstrip().startswith("["):
        raise UsageError("a JSON list; the pre-flight check reads JSON Lines (one row per line), "
                         "the format data_prep writes", data)
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        bad: list[BadLine] = []
        rows = parse_jsonl(line, data, bad_lines=bad)
        out.append((number, line, rows[0] if rows else None, bad[0].reason if bad else None))
    if not out:
        raise UsageError("no rows", data)
    return out


def check_rows(data: str | os.PathLike, kind: str = "grpo", audio_check: AudioCheck = missing_files,
               limits: Limits = Limits()) -> Report:
    """Every problem of every row of ``data``; each distinct audio path is judged once by ``audio_check``,
    and its length (when the check read it) against ``limits``."""
    name = str(data)
    rows = read_rows(data)
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    audio_rows: list[tuple[int, list[str]]] = []
    for line, _, row, reason in rows:
        if row is None:
            problems.append(Problem(name, line, reason or "not a JSON object"))
            continue
        found = row_problems(row, kind)
        problems += [Problem(name, line, what) for what in found]
        for key in UNIQUE:
            if row.get(key) is None:
                continue
            value = str(row[key])
            if (key, value) in seen:
                problems.append(Problem(name, line, f"{key} {value!r} repeats line {seen[key, value]}"))
            else:
                seen[key, value] = line
        if not any("'audios'" in what or "missing column" in what for what in found):
            audio_rows.append((line, [a.strip() for a in row["audios"]]))
    # Rows often share a clip (several questions per AVQA video): check each distinct file once.
    distinct = sorted({p for _, paths in audio_rows for p in paths})
    clips = {p: c if isinstance(c, Clip) else Clip(c) for p, c in zip(distinct, audio_check(distinct))}
    warnings: list[Problem] = []
    for line, paths in audio_rows:
        for path in paths:
            clip = clips[path]
            if clip.problem:
                problems.append(Problem(name, line, f"{path}: {clip.problem}"))
            elif clip.seconds is not None and (verdict := limits.verdict(clip.seconds)):
                (warnings if verdict[1] else problems).append(Problem(name, line, f"{path}: {verdict[0]}"))
    problems.sort(key=lambda p: p.line)
    return Report([(line, raw, row) for line, raw, row, _ in rows], problems, warnings)
