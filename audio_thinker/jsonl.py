"""The one JSON / JSON Lines policy of the project: how files are read, how a bad line is treated, how
files are written.

Reading. A bad line (not JSON, or JSON that is not an object) is a :class:`~audio_thinker.cli.UsageError`
naming the file and line, unless the caller passes a ``bad_lines`` list, in which case it is recorded there
(with its line number and reason) and reading goes on: scoring counts such a line as a missing prediction
and reports it, it never drops it silently. One exception, for append-only files this project writes
itself (inference output, journals): with ``torn_tail=True`` a last line without its newline that does not
parse is the row a killed writer was writing; it is skipped, because a resumed run redoes it.

Writing. Whole files are written atomically (temp file in the same folder, then ``os.replace``), so a
reader sees the old file or the new one. Append-only files get one ``write`` + flush per row.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError, read_text


@dataclass(frozen=True)
class BadLine:
    line: int  # 1-based
    reason: str


def dumps(row: Any) -> str:
    """One JSON line; UTF-8 kept readable, key order as built (deterministic)."""
    return json.dumps(row, ensure_ascii=False)


def _parse_line(line: str) -> tuple[Any, str | None]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as err:
        return None, f"not JSON ({err.msg} at column {err.colno})"
    if not isinstance(value, dict):
        return None, f"not a JSON object (a {type(value).__name__})"
    return value, None


def parse_jsonl(text: str, path: str | os.PathLike, *, bad_lines: list[BadLine] | None = None,
                torn_tail: bool = False) -> list[dict[str, Any]]:
    """Rows of JSON Lines ``text`` read from ``path`` (used in messages). Blank lines are skipped."""
    lines = text.split("\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    rows: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        row, reason = _parse_line(line)
        if reason is None:
            rows.append(row)
            continue
        unterminated = index == last and index == len(lines) - 1  # no newline after it
        if torn_tail and unterminated:
            break
        if bad_lines is None:
            raise UsageError(reason, path, index + 1)
        bad_lines.append(BadLine(index + 1, reason))
    return rows


def read_jsonl(path: str | os.PathLike, *, bad_lines: list[BadLine] | None = None,
               torn_tail: bool = False) -> list[dict[str, Any]]:
    """Rows of a JSON Lines file (see the module docstring for bad lines and ``torn_tail``)."""
    return parse_jsonl(read_text(path), path, bad_lines=bad_lines, torn_tail=torn_tail)


def read_records(path: str | os.PathLike, *, bad_lines: list[BadLine] | None = None) -> list[dict[str, Any]]:
    """Item dicts from the shapes other tools write: a JSON list (MMAU/MMAR metadata, AVQA), a JSON object
    wrapping exactly one such list, or JSON Lines (our own rows, AIR-Bench results)."""
    text = read_text(path)
    head = text.lstrip()[:1]
    if head not in ("[", "{"):
        if not text.strip():
            raise UsageError("empty file, expected a JSON list or JSON Lines", path)
        return parse_jsonl(text, path, bad_lines=bad_lines)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        if head == "{":  # one object per line
            return parse_jsonl(text, path, bad_lines=bad_lines)
        raise UsageError("not valid JSON (a list that does not parse)", path) from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1 and all(isinstance(v, dict) for v in lists[0]):
            data = lists[0]
        else:
            data = [data]  # a JSON Lines file with a single row
    for number, row in enumerate(data, 1):
        if not isinstance(row, dict):
            raise UsageError(f"item {number} is not a JSON object (a {type(row).__name__})", path)
    return data


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write via a temp file in the same folder and ``os.replace`` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> int:
    """Write rows as JSON Lines atomically; returns the number of rows."""
    lines = [dumps(r) for r in rows]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def append_jsonl(handle, row: Any) -> None:
    """Append one row to an open append-only file: one ``write`` and a flush, so a kill loses at most the
    row being written (read back with ``torn_tail=True``)."""
    handle.write(dumps(row) + "\n")
    handle.flush()
