"""Pre-flight check of a training or evaluation set: every row is usable before any model loads.

    python -m data_prep.preflight data/avqa/train.jsonl                      # GRPO rows, header check
    python -m data_prep.preflight data/eval/mmau.jsonl --kind eval --check full
    python -m data_prep.preflight data/avqa/train.jsonl --clean-out run/train.clean.jsonl

A row is bad when it is not a JSON object, lacks a column the consumer reads (``--kind grpo``:
``messages``, ``audios``, ``solution``, the columns ms-swift and the rewards read; ``sft``: ``messages``
ending with the assistant turn, ``audios``; ``eval``: ``messages``, ``audios``, ``id``), repeats an
``id`` or ``source_id`` of an earlier row, or names an audio file that is missing or does not decode to
at least one sample. It is also bad when it does not mean what it says: ``<audio>`` tags and clips that do
not pair one to one; (training rows) a ``solution`` that is not one of the ``choices``, or two choices the
training matcher cannot tell apart; a WAV that holds fewer frames than its header declares (a truncated
copy); a clip shorter than ``--min-seconds`` (default 0.2 s: what the encoder needs, with margin, see
``audio_thinker.clips``) or longer than the model's audio window (read from ``--model``'s feature-extractor
config: 30 s for the 7B backbones; ``--too-long warn`` keeps such rows with a warning; evaluation rows
warn by default, as the benchmarks are scored as published). Each bad row is one line on stderr,
``error: DATA:LINE: [<path>: ]<reason>``, and the command exits 2, so a recipe stops before ms-swift starts
instead of dying mid-run on the first unreadable clip (ms-swift loads audio only when a batch needs it).

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
from audio_thinker import model_source
from audio_thinker.clips import MIN_SECONDS, audio_window, read_wav_header
from audio_thinker.rows import TRAINING_ROWS_EXAMPLE
from audio_thinker.jsonl import atomic_write_text, write_jsonl
from audio_thinker.row_checks import (REQUIRED, TOO_LONG, Clip, Limits, Report, check_rows, resolve_audio,
                                      truncation)

CHECKS = ("header", "full")
DROP_BAD_HINT = ("PREFLIGHT_DROP_BAD=1 makes the recipes train on the good rows (this command's "
                 "--clean-out FILE writes them)")


def audio_clip(path: str, full: bool) -> Clip:
    """Whether ``path`` is usable audio and how long it is. For a plain PCM WAV (what data_prep writes) the
    header check reads the RIFF header itself: its length, and whether the file holds every frame the
    header declares (libsndfile counts the frames present, and reads a cut copy without a word). Anything
    else, and every file in the full check: soundfile first, PyAV for formats libsndfile does not read
    (ms-swift's loaders try the same two)."""
    found = resolve_audio(path)
    if found is None:
        return Clip("no such file")
    if found.is_dir():
        return Clip("is a directory, not an audio file")
    header = None
    if found.suffix.lower() in (".wav", ".wave"):
        try:
            header = read_wav_header(found)
        except OSError as err:
            return Clip(f"cannot read ({err.strerror})")
        if header is not None and (cut := truncation(header.declared_frames, header.present_frames)):
            return Clip(cut)
        if header is not None and header.plain and not full:
            return Clip("holds no audio samples") if header.present_frames <= 0 else Clip(None, header.seconds)
    try:
        frames, rate = _frames_soundfile(found, full)
    except _NotSoundfile:
        try:
            frames, rate = _frames_pyav(found, full)
        except Exception as err:  # noqa: BLE001 - any decoder failure is the reason we report
            return Clip(f"does not decode ({type(err).__name__}: {_short(err)})")
    except Exception as err:  # noqa: BLE001
        return Clip(f"does not decode ({type(err).__name__}: {_short(err)})")
    if frames <= 0:
        return Clip("holds no audio samples")
    return Clip(None, frames / rate if rate else None)


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
            return handle.frames, handle.samplerate
        total = 0
        for block in handle.blocks(blocksize=1 << 16, dtype="float32"):
            total += len(block)
        if total < handle.frames:
            raise ValueError(f"truncated: {total} of the {handle.frames} samples its header declares decode")
        return total, handle.samplerate


def _frames_pyav(path: Path, full: bool) -> tuple[int, int]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        if not full and stream.duration and stream.time_base:
            return int(stream.duration * stream.time_base * (stream.rate or 1)), stream.rate or 1
        return sum(frame.samples for frame in container.decode(stream)), stream.rate or 1


def _short(err: Exception) -> str:
    text = " ".join(str(err).split())
    text = re.sub(r"^Error opening '.*?': ", "", text)  # libsndfile repeats the path we already print
    return text.rstrip(".")[:200] or "no message"


def _check_paths(paths: Sequence[str], full: bool) -> list[Clip]:
    return [audio_clip(p, full) for p in paths]


# ----------------------------------------------------------------------------- one file
def preflight(data: str | os.PathLike, kind: str = "grpo", full: bool = False, workers: int = 1,
              limits: Limits | None = None) -> Report:
    """Every problem of every row of ``data`` (see the module docstring), each clip decoded. ``limits``
    default: the 0.2 s minimum, no window (no model named)."""
    return check_rows(data, kind, lambda paths: _run_checks(list(paths), full, workers), limits or Limits())


def model_limits(model: str | None, min_seconds: float = MIN_SECONDS, max_seconds: float | None = None,
                 too_long: str = "refuse") -> Limits:
    """The duration rules for ``model``: its audio window from its feature-extractor config, unless
    ``max_seconds`` is given. A model that is not a local folder (a hub id) is looked up in the local
    Hugging Face / ModelScope caches, never downloaded; found nowhere (a first run that has not downloaded
    it yet), long clips are not checked and a warning says so."""
    if max_seconds is not None or not model:
        return Limits(min_seconds, max_seconds, too_long, "--max-seconds" if max_seconds is not None else "")
    for folder in _model_folders(model):
        found = audio_window(folder)
        if found:
            return Limits(min_seconds, found[0], too_long, str(found[1]))
    print(f"warning: --model {model}: no feature-extractor config found locally, so clip lengths are not "
          "checked against its audio window; pass --max-seconds (30 for the 7B backbones)", file=sys.stderr)
    return Limits(min_seconds, None, too_long)


def _model_folders(model: str) -> list[Path]:
    if Path(model).is_dir():
        return [Path(model)]
    return model_source.cached_folders(model) if model_source.hub_id(model) else []


def _run_checks(paths: list[str], full: bool, workers: int) -> list[Clip]:
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
    p.add_argument("--model", help="the model the rows are for (checkpoint folder or hub id in the local "
                                   "cache): clips longer than its audio window are reported")
    p.add_argument("--min-seconds", type=float, default=MIN_SECONDS,
                   help="shortest clip accepted (the encoder needs ~0.06 s; the default leaves a margin)")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="longest clip accepted (default: --model's audio window; none without --model)")
    p.add_argument("--too-long", choices=TOO_LONG, default=None,
                   help="a clip longer than the window: a bad row, or a warning (default: refuse for "
                        "grpo/sft, warn for eval)")
    args = p.parse_args(argv)
    if args.clean_out is not None and len(args.data) != 1:
        raise UsageError("takes exactly one DATA file", option="--clean-out")
    if args.workers < 1:
        raise UsageError("must be at least 1", option="--workers")
    if args.min_seconds < 0:
        raise UsageError("must be at least 0", option="--min-seconds")
    if args.max_seconds is not None and args.max_seconds <= args.min_seconds:
        raise UsageError("must be more than --min-seconds", option="--max-seconds")
    too_long = args.too_long or ("warn" if args.kind == "eval" else "refuse")
    limits = model_limits(args.model, args.min_seconds, args.max_seconds, too_long)
    status = 0
    for data in args.data:
        if not Path(data).exists() and "/" in data and not Path(data).suffix:
            raise UsageError("no such file (a hub dataset id? the recipes skip this check with PREFLIGHT=off)",
                             data)
        report = preflight(data, args.kind, args.check == "full", args.workers, limits)
        bad = len(report.bad_lines)
        label = "dropped" if args.clean_out is not None else "error"
        for problem in report.problems:
            print(f"{label}: {problem}", file=sys.stderr)
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if args.clean_out is not None:
            kept, dropped = write_clean(report, args.clean_out)
            print(f"preflight: {data}: {kept} of {len(report.rows)} row(s) written to {args.clean_out}; "
                  f"{bad} dropped, listed in {dropped}", file=sys.stderr)
            if kept == 0:
                print(f"error: {data}: no usable row left", file=sys.stderr)
                status = 2
        else:
            hint = f"; {DROP_BAD_HINT}" if bad else ""
            print(f"preflight: {data}: {len(report.rows)} row(s), {bad} bad ({args.check} check){hint}",
                  file=sys.stderr)
            if bad:
                status = 2
    return status


if __name__ == "__main__":
    sys.exit(cli_run(main))
