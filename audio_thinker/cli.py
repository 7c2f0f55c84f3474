"""How every command of this project reports a user error: one line on stderr, exit code 2, no traceback.

    error: data/train.jsonl:17: not a JSON object
    error: --meta: benchmarks/mmau.json has no item ids

Commands raise :class:`UsageError` wherever they find bad input (before any model loads, where they can)
and wrap their ``main`` with :func:`run`. Faults in our own code still raise with a traceback: only what
the user can fix is turned into one line.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

USAGE_EXIT = 2  # argparse's own exit code for a bad command line


class UsageError(Exception):
    """Bad input the user can fix. ``where`` is a file (``path``, optionally ``line``: a line number, or
    ``LINE:COLUMN`` as :func:`audio_thinker.jsonl.where` gives it) or an option name."""

    def __init__(self, what: str, path: str | os.PathLike | None = None, line: int | str | None = None,
                 option: str | None = None):
        super().__init__(what)
        self.what, self.path, self.line, self.option = what, path, line, option

    def __str__(self) -> str:
        where = [str(x) for x in (self.option, self.path, self.line) if x is not None]
        return ": ".join(where + [self.what]) if not where else ":".join(where) + ": " + self.what


def run(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Call ``main(argv)``; a :class:`UsageError` becomes ``error: …`` on stderr and exit code 2."""
    try:
        return int(main(argv) or 0)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Option defaults shown, and the description and epilog printed as written: the input example's
    lines must stay lines."""


def parser(module: str, doc: str | None, *, reads: str | None = None, example: str | None = None,
           writes: str | None = None) -> argparse.ArgumentParser:
    """An argument parser whose usage line is the command a user types (``python -m eval.score``), whose
    description is the module docstring's first paragraph, with option defaults shown in ``--help``, and
    whose help ends by teaching the command's data: what it ``reads``, with an ``example`` of that input (a few
    lines of it, as they look in the file), and what it ``writes``. Every ``data_prep`` and ``eval`` command
    gives all three (tests/test_help.py)."""
    description = (doc or "").strip().split("\n\n")[0]
    return argparse.ArgumentParser(prog=f"python -m {module}", description=description,
                                   formatter_class=_HelpFormatter,
                                   epilog=data_help(reads, example, writes) if reads or example or writes else None)


def data_help(reads: str | None, example: str | None, writes: str | None) -> str:
    """The ``input:`` / ``example:`` / ``outputs:`` block that ends every command's ``--help``."""
    lines = ["input: " + (reads or "").strip(), "example:"]
    lines += ["  " + line for line in (example or "").strip("\n").splitlines()]
    lines += ["outputs: " + (writes or "").strip()]
    return "\n".join(lines)


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file's content, or a :class:`UsageError` naming the file (missing, a directory, not
    readable, not UTF-8)."""
    path = Path(path)
    if not path.exists():
        raise UsageError("no such file", path)
    if path.is_dir():
        raise UsageError("is a directory, expected a file", path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read ({err.strerror})", path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise UsageError(f"not UTF-8 text (byte {err.start})", path, line) from None
