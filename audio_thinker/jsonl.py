"""The one JSON / JSON Lines policy of the project: how files are read, how a bad line is treated, how
files are written.

Reading. A bad line (not JSON, or JSON that is not an object) is a :class:`~audio_thinker.cli.UsageError`
naming the file and line, unless the caller passes a ``bad_lines`` list, in which case it is recorded there
(with its line number and reason) and reading goes on: scoring counts such a line as a missing prediction
and reports it, it never drops it silently. One exception, for append-only files this project writes
itself (inference output, journals): with ``torn_tail=True`` a last line without its newline that does not
parse is the row a killed writer was writing; it is skipped, because a resumed run redoes it.

Numbering. A record is named by the 1-based line on which it starts in its file, in a JSON list as in JSON
Lines (``meta.json:7: has no 'id'``), and by its column too where that line holds several records (a JSON
list written on one line: ``meta.json:1:412:``): the readers return :class:`Records`, which keep where
each record starts, and :func:`where` gives it to the commands that name a bad record.

Writing. Whole files are written atomically (temp file in the same folder, then ``os.replace``), so a
reader sees the old file or the new one. Append-only files get one ``write`` + flush per row.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio_thinker.cli import UsageError, read_text


@dataclass(frozen=True)
class BadLine:
    line: int  # 1-based
    reason: str
    index: int = 0  # how many good rows came before it: where it stood among the returned rows


class Records(list):
    """Records read from a file, each with the 1-based line and column at which it starts there
    (``lines[i]``, ``columns[i]`` for ``self[i]``). A plain list otherwise: a copy or a slice is a plain
    list and has no places."""

    def __init__(self, rows: Iterable[Any] = (), lines: Iterable[int] = (), columns: Iterable[int] | None = None):
        super().__init__(rows)
        self.lines = list(lines)
        self.columns = [1] * len(self.lines) if columns is None else list(columns)

    def add(self, row: Any, line: int, column: int = 1) -> None:
        self.append(row)
        self.lines.append(line)
        self.columns.append(column)


def where(records: Sequence[Any], index: int) -> str | None:
    """Where ``records[index]`` starts in its file (:class:`Records`): its 1-based line, with ``:COLUMN``
    (1-based) where another record starts on that line too; None for a list not read from a file."""
    lines = getattr(records, "lines", None)
    if lines is None or not 0 <= index < len(lines):
        return None
    line = lines[index]
    shared = (index > 0 and lines[index - 1] == line) or (index + 1 < len(lines) and lines[index + 1] == line)
    return f"{line}:{records.columns[index]}" if shared else str(line)


def dumps(row: Any) -> str:
    """One JSON line; UTF-8 kept readable, key order as built (deterministic)."""
    return json.dumps(row, ensure_ascii=False)


def _parse_line(line: str, objects_only: bool = True) -> tuple[Any, str | None]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as err:
        return None, f"not JSON ({err.msg} at column {err.colno})"
    if objects_only and not isinstance(value, dict):
        return None, f"not a JSON object (a {type(value).__name__})"
    return value, None


def parse_jsonl(text: str, path: str | os.PathLike, *, bad_lines: list[BadLine] | None = None,
                torn_tail: bool = False, objects_only: bool = True) -> Records:
    """Rows of JSON Lines ``text`` read from ``path`` (used in messages), with their lines (:class:`Records`).
    Blank lines are skipped.
    ``objects_only=False`` returns JSON values that are not objects as they are, for a caller that
    rejects bad records one by one (a data-prep command counting them as rejects)."""
    lines = text.split("\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    rows = Records()
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        row, reason = _parse_line(line, objects_only)
        if reason is None:
            rows.add(row, index + 1)
            continue
        unterminated = index == last and index == len(lines) - 1  # no newline after it
        if torn_tail and unterminated:
            break
        if bad_lines is None:
            raise UsageError(reason, path, index + 1)
        bad_lines.append(BadLine(index + 1, reason, len(rows)))
    return rows


def read_jsonl(path: str | os.PathLike, *, bad_lines: list[BadLine] | None = None,
               torn_tail: bool = False) -> Records:
    """Rows of a JSON Lines file (see the module docstring for bad lines and ``torn_tail``)."""
    return parse_jsonl(read_text(path), path, bad_lines=bad_lines, torn_tail=torn_tail)


def read_completion_tables(path: str | os.PathLike) -> Records:
    """The tables of an ms-swift GRPO ``completions.jsonl``, one per logging call, each logged once.

    ms-swift appends a table at every ``log`` call, and the end-of-training summary is one more such call
    with nothing new rolled out: the last table comes again, the same step and the same rows. A table
    equal to an earlier one of the same step is that repeat and is dropped, so one table is one logged
    step (training or evaluation), as on ``logging.jsonl``. Every reader of the file goes through here."""
    rows, tables, seen = read_jsonl(path), Records(), set()
    for table, line in zip(rows, rows.lines):
        key = json.dumps(table, sort_keys=True, ensure_ascii=False)
        if key in seen:
            continue
        seen.add(key)
        tables.add(table, line)
    return tables


def read_records(path: str | os.PathLike, *, bad_lines: list[BadLine] | None = None,
                 torn_tail: bool = False, objects_only: bool = True) -> Records:
    """Item dicts from the shapes other tools write: a JSON list (MMAU/MMAR metadata, AVQA), a JSON object
    wrapping exactly one such list, or JSON Lines (our own rows, AIR-Bench results), each with the line on
    which it starts (:class:`Records`). ``torn_tail`` applies to JSON Lines only (prediction files that
    ``eval.infer`` appends to); ``objects_only`` as in :func:`parse_jsonl`."""
    text = read_text(path)
    head = text.lstrip()[:1]
    if head not in ("[", "{"):
        if not text.strip():
            raise UsageError("empty file, expected a JSON list or JSON Lines", path)
        return parse_jsonl(text, path, bad_lines=bad_lines, torn_tail=torn_tail, objects_only=objects_only)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        if head == "{":  # one object per line
            return parse_jsonl(text, path, bad_lines=bad_lines, torn_tail=torn_tail,
                               objects_only=objects_only)
        raise UsageError("not valid JSON (a list that does not parse)", path) from None
    starts = _element_starts(text)
    if isinstance(data, dict):
        lists = [k for k, v in data.items() if isinstance(v, list)]
        if len(lists) == 1 and all(isinstance(v, dict) for v in data[lists[0]]):
            data, starts = data[lists[0]], starts[lists[0]]
        else:
            data, starts = [data], [len(text) - len(text.lstrip())]  # a JSON Lines file with a single row
    records = Records(data, *_places(text, starts))
    for index, row in enumerate(records):
        if objects_only and not isinstance(row, dict):
            raise UsageError(f"not a JSON object (a {type(row).__name__})", path, where(records, index))
    return records


_SPACE = re.compile(r"[ \t\n\r]*")   # JSON's whitespace
_DECODER = json.JSONDecoder()


def _array_starts(text: str, at: int) -> tuple[list[int], int]:
    """Where each element of the JSON array opening at ``text[at]`` starts, and where the array ends (the
    text parsed already: ``raw_decode`` reads one element at a time, from its start)."""
    starts: list[int] = []
    pos = _SPACE.match(text, at + 1).end()
    if text.startswith("]", pos):
        return starts, pos + 1
    while True:
        starts.append(pos)
        _, end = _DECODER.raw_decode(text, pos)
        pos = _SPACE.match(text, end).end()
        if text.startswith("]", pos):
            return starts, pos + 1
        pos = _SPACE.match(text, pos + 1).end()   # past the comma


def _element_starts(text: str) -> Any:
    """For a JSON list: where each element starts. For a JSON object: where each element of each member
    that is a list starts, by key (the last member of a repeated key, as ``json.loads`` keeps it)."""
    pos = _SPACE.match(text).end()
    if text.startswith("[", pos):
        return _array_starts(text, pos)[0]
    members: dict[str, list[int]] = {}
    pos = _SPACE.match(text, pos + 1).end()
    while not text.startswith("}", pos):
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _SPACE.match(text, _SPACE.match(text, pos).end() + 1).end()   # past the colon
        if text.startswith("[", pos):
            members[key], pos = _array_starts(text, pos)
        else:
            members.pop(key, None)
            _, pos = _DECODER.raw_decode(text, pos)
        pos = _SPACE.match(text, pos).end()
        if text.startswith(",", pos):
            pos = _SPACE.match(text, pos + 1).end()
    return members


def _places(text: str, offsets: list[int]) -> tuple[list[int], list[int]]:
    """The 1-based line and column of each offset (in increasing order) of ``text``."""
    lines, columns, line, previous = [], [], 1, 0
    for offset in offsets:
        line += text.count("\n", previous, offset)
        previous = offset
        lines.append(line)
        columns.append(offset - text.rfind("\n", 0, offset))
    return lines, columns


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


def cut_torn_tail(path: str | os.PathLike) -> bool:
    """Cut a last line without its newline (the row a killed writer was writing) off an append-only file,
    so that appending goes on after the last whole row. Returns whether anything was cut."""
    path = Path(path)
    data = path.read_bytes() if path.exists() else b""
    if not data or data.endswith(b"\n"):
        return False
    with open(path, "r+b") as fh:
        fh.truncate(data.rfind(b"\n") + 1)
    return True


def read_journal(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of an append-only file this project writes (a data-prep journal, inference output), after
    cutting off a torn tail; none when the file does not exist yet. Any other bad line is an error: it
    cannot come from our writer, so the file is not what we think it is."""
    if not Path(path).exists():
        return []
    cut_torn_tail(path)
    return read_jsonl(path)


class Journal:
    """Append-only JSON Lines of finished work (the resume state of a long command). A torn last line is cut
    off when the journal is opened; each entry is one ``write`` and a flush, so a kill loses at most the
    entry being written, whose work is redone."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        cut_torn_tail(self.path)
        self._fh = open(self.path, "a", encoding="utf-8")

    def append(self, entry: dict) -> None:
        append_jsonl(self._fh, entry)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
