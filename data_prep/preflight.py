"""Pre-flight check of a training or evaluation set: every row is usable before any model loads.

    python -m data_prep.preflight data/avqa/train.jsonl                      # GRPO rows, header check
    python -m data_prep.preflight data/eval/mmau.jsonl --kind eval --check full
    python -m data_prep.preflight data/avqa/train.jsonl --clean-out run/train.clean.jsonl

A row is bad when it is not a JSON object, lacks a column the consumer reads (``--kind grpo``:
``messages``, ``audios``, ``solution``, the columns ms-swift and the rewards read; ``sft``: ``messages``
ending with the assistant turn, ``audios``; ``eval``: ``messages``, ``audios``, ``id``), repeats an
``id`` or ``source_id`` of an earlier row, or names an audio file that is missing or does not decode to
at least one sample. Each bad row is one line on stderr, ``error: DATA:LINE: <path>: <reason>``, and the
command exits 2, so a recipe stops before ms-swift starts instead of dying mid-run on the first
unreadable clip (ms-swift loads audio only when a batch needs it).

``--clean-out FILE`` writes the good rows (their original lines, byte for byte) to FILE instead of
refusing; the dropped rows are reported the same way (``dropped: DATA:LINE: …``) and listed in
``FILE.dropped.jsonl``. Exit 0 then, unless no row is left.

``--check header`` (default) opens each distinct audio file and reads its header (format, sample rate,
frame count; libsndfile counts the frames a truncated WAV really holds); ``--check full`` decodes every
sample too, which catches corrupt data inside compressed formats (FLAC, MP3, …). For 16-bit PCM WAV, the
format data_prep writes, the header check already sees everything a decoder would. Relative paths are
resolved as ms-swift does: against the working directory, then ``$ROOT_IMAGE_DIR``. Timings: docs/measured.md,
"When input is bad".
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.rows import TRAINING_ROWS_EXAMPLE
from audio_thinker.jsonl import atomic_write_text, write_jsonl
from audio_thinker.row_checks import REQUIRED, Report, check_rows, resolve_audio

CHECKS = ("header", "full")


def audio_problem(path: str, full: bool) -> str | None:
    """None when ``path`` is usable audio, else the reason. soundfile first, PyAV for formats libsndfile
    does not read (ms-swift's loaders try the same two)."""
    found = resolve_audio(path)
    if found is None:
        return "no such file"
    if found.is_dir():
        return "is a directory, not an audio file"
    try:
        frames = _frames_soundfile(found, full)
    except _NotSoundfile:
        try:
            frames = _frames_pyav(found, full)
        except Exception as err:  # noqa: BLE001 - any decoder failure is the reason we report
            return f"does not decode ({type(err).__name__}: {_short(err)})"
    except Exception as err:  # noqa: BLE001
        return f"does not decode ({type(err).__name__}: {_short(err)})"
    if frames <= 0:
        return "holds no audio samples"
    return None


class _NotSoundfile(Exception):
    pass


def _frames_soundfile(path: Path, full: bool) -> int:
    import soundfile as sf

    try:
        handle = sf.SoundFile(str(path))
    except sf.LibsndfileError as err:
        if path.stat().st_size == 0:
            raise ValueError("empty file") from None
        if "Format not recognised" in str(err) and path.suffix.lower() not in (".wav", ".flac", ".ogg"):
            raise _NotSoundfile() from None  # e.g. .m4a: PyAV may read it
        raise
    with handle:
        if not full:
            return handle.frames
        total = 0
        for block in handle.blocks(blocksize=1 << 16, dtype="float32"):
            total += len(block)
        if total < handle.frames:
            raise ValueError(f"truncated: {total} of the {handle.frames} samples its header declares decode")
        return total


def _frames_pyav(path: Path, full: bool) -> int:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        if not full and stream.duration and stream.time_base:
            return int(stream.duration * stream.time_base * (stream.rate or 1))
        return sum(frame.samples for frame in container.decode(stream))


def _short(err: Exception) -> str:
    text = " ".join(str(err).split())
    text = re.sub(r"^Error opening '.*?': ", "", text)  # libsndfile repeats the path we already print
    return text.rstrip(".")[:200] or "no message"


def _check_paths(paths: Sequence[str], full: bool) -> list[str | None]:
    return [audio_problem(p, full) for p in paths]


# ----------------------------------------------------------------------------- one file
def preflight(data: str | os.PathLike, kind: str = "grpo", full: bool = False, workers: int = 1) -> Report:
    """Every problem of every row of ``data`` (see the module docstring), each clip decoded."""
    return check_rows(data, kind, lambda paths: _run_checks(list(paths), full, workers))


def _run_checks(paths: list[str], full: bool, workers: int) -> list[str | None]:
    if workers <= 1 or len(paths) < 256:
        return _check_paths(paths, full)
    size = max(64, len(paths) // (workers * 8))
    chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
    with ProcessPoolExecutor(workers) as pool:
        return [v for chunk in pool.map(_check_paths, chunks, [full] * len(chunks)) for v in chunk]


def write_clean(report: Report, out: Path) -> tuple[int, Path]:
    """The good rows' original lines to ``out``, the dropped ones to ``out.dropped.jsonl``."""
    bad = report.bad_lines
    kept = [raw for line, raw, _ in report.rows if line not in bad]
    atomic_write_text(out, "".join(raw + "\n" for raw in kept))
    dropped = Path(f"{out}.dropped.jsonl")
    write_jsonl(dropped, [{"data": p.data, "line": p.line, "problem": p.what} for p in report.problems])
    return len(kept), dropped


# ----------------------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    p = cli_parser("data_prep.preflight", __doc__, example=TRAINING_ROWS_EXAMPLE,
                   reads="a data set in ms-swift's JSONL format: training rows (--kind grpo), SFT rows (sft) or\n"
                         "benchmark rows with an id (eval); relative audio paths resolve as ms-swift resolves them",
                   writes="one line per bad row on stderr (error: FILE:LINE: what), then a summary line (preflight: ...);\n"
                          "exit 2 if a row is bad. With --clean-out FILE: the good rows in FILE (lines unchanged) and\n"
                          "the dropped ones in FILE.dropped.jsonl")
    p.add_argument("data", nargs="+", help="JSONL file(s) of ms-swift rows (data_prep.avqa / benchmarks output)")
    p.add_argument("--kind", choices=sorted(REQUIRED), default="grpo",
                   help="which columns are required: grpo (messages, audios, solution), sft (messages ending "
                        "with the assistant turn, audios), eval (messages, audios, id)")
    p.add_argument("--check", choices=CHECKS, default="header",
                   help="header: open each audio file and read its header; full: decode every sample")
    p.add_argument("--clean-out", type=Path, default=None,
                   help="write the good rows here (one DATA only) and report the bad ones instead of refusing")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                   help="processes checking audio files")
    args = p.parse_args(argv)
    if args.clean_out is not None and len(args.data) != 1:
        raise UsageError("takes exactly one DATA file", option="--clean-out")
    if args.workers < 1:
        raise UsageError("must be at least 1", option="--workers")
    status = 0
    for data in args.data:
        if not Path(data).exists() and "/" in data and not Path(data).suffix:
            raise UsageError("no such file (a hub dataset id? the recipes skip this check with PREFLIGHT=off)",
                             data)
        report = preflight(data, args.kind, args.check == "full", args.workers)
        bad = len(report.bad_lines)
        label = "dropped" if args.clean_out is not None else "error"
        for problem in report.problems:
            print(f"{label}: {problem}", file=sys.stderr)
        if args.clean_out is not None:
            kept, dropped = write_clean(report, args.clean_out)
            print(f"preflight: {data}: {kept} of {len(report.rows)} row(s) written to {args.clean_out}; "
                  f"{bad} dropped, listed in {dropped}", file=sys.stderr)
            if kept == 0:
                print(f"error: {data}: no usable row left", file=sys.stderr)
                status = 2
        else:
            print(f"preflight: {data}: {len(report.rows)} row(s), {bad} bad ({args.check} check)", file=sys.stderr)
            if bad:
                status = 2
    return status


if __name__ == "__main__":
    sys.exit(cli_run(main))
