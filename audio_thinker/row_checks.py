"""The rows of a training or evaluation set, checked before any model loads (docs/bad-input.md).

The part of the pre-flight check both ``data_prep.preflight`` (the recipes' check, which also decodes each
clip) and ``eval.infer`` (which checks that each clip exists, and turns a clip that still fails in the
engine into an error row) use: columns each consumer reads, unique ids, lines that parse, audio paths
resolved as ms-swift resolves them. Standard library only; how a clip is judged is passed in.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError, read_text
from audio_thinker.jsonl import BadLine, parse_jsonl

# A function that judges distinct audio paths: one reason per path, None when the clip is usable.
AudioCheck = Callable[[Sequence[str]], list]

REQUIRED = {
    "grpo": ("messages", "audios", "solution"),
    "sft": ("messages", "audios"),
    "eval": ("messages", "audios", "id"),
}
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
    return out

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


def check_rows(data: str | os.PathLike, kind: str = "grpo", audio_check: AudioCheck = missing_files) -> Report:
    """Every problem of every row of ``data``; each distinct audio path is judged once by ``audio_check``."""
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
    verdicts = dict(zip(distinct, audio_check(distinct)))
    for line, paths in audio_rows:
        problems += [Problem(name, line, f"{p}: {verdicts[p]}") for p in paths if verdicts[p]]
    problems.sort(key=lambda p: p.line)
    return Report([(line, raw, row) for line, raw, row, _ in rows], problems)
