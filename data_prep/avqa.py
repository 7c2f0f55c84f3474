"""AVQA videos + annotations -> audio-QA rows for ms-swift (paper appendix C).

    python -m data_prep.avqa --video-dir VIDEOS --annotations train_qa.json \\
        --out-dir data/avqa [--workers N]

Inputs: AVQA annotation files as distributed, several allowed, and the folder
of videos; ``ANNOTATION_FORMAT`` (the text of ``avqa_annotations.txt`` beside
this file, which ``--help`` and docs/data-preparation.md show) spells them out.

Outputs in ``--out-dir``:

- ``audio/<video_name>.wav`` mono 16 kHz 16-bit PCM (names with characters
  outside ``[A-Za-z0-9._-]`` are sanitised and get a hash suffix);
- ``train.jsonl``, one row per kept item, in input order::

    {"messages": [{"role": "user", "content": "<audio>Q? Please choose ... ['a', 'b']."}],
     "audios": ["/abs/out/audio/NAME.wav"], "solution": "<gold choice text>",
     "choices": [...], "source_id": <AVQA id>, "dataset": "avqa",
     "video_name": ..., "question": <rewritten question>, "answer_index": int,
     "question_type": ..., "question_relation": ...,
     "duration_s": float, "snr_db": float}

  (``audio_thinker.rows.USER_TEMPLATE`` is the user text; the format instruction
  is the recipes' ``--system`` prompt);
- ``rejects.jsonl``, one row per dropped item, in input order, with ``reason``
  from ``REJECT_REASONS`` and a human-readable ``message``;
- ``summary.json``: counts by outcome. kept + rejected == input, always.
- ``journal.jsonl``: per-video results; the resume state.

Filter order for one video: decode (missing_video / no_audio_stream /
undecodable), then duration >= 1.5 s (too_short) and <= ``--max-seconds``, 30 s
by default, the 7B backbones' audio window (too_long: the feature extractor
would cut it), then SNR > 10 dB (low_snr; method in ``data_prep.snr``). Items
whose record is malformed are ``bad_annotation``, a record whose ``id`` an
earlier record already has is ``duplicate_id``, one whose choices the training
matcher cannot tell apart (``['Tone', 'tone', 'Tone.']``) is
``duplicate_choices``; these never touch a video. So the output passes the
recipes' pre-flight (``data_prep.preflight``), which refuses each of them.

Resumability: a worker writes each WAV to a temp name and renames it; the main
process then appends the video's result to ``journal.jsonl``. A re-run skips
every video in the journal (same settings, same source size and mtime, WAV
present), deletes stale temp files and WAVs no kept row refers to, and
rebuilds ``train.jsonl`` / ``rejects.jsonl`` from the annotations and the
journal, atomically. A kill at any point therefore leaves no partial WAV and
no duplicate row, and the resumed outputs equal a clean run's byte for byte.
"""
from __future__ import annotations

import hashlib
import os
import re
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.jsonl import Journal, read_journal, read_records, where, write_json, write_jsonl
from audio_thinker.row_checks import choices_problem
from audio_thinker.rows import training_row
from data_prep.audio import TARGET_RATE, MediaError, decode_mono_16k, write_wav_atomic
from data_prep.pool import worker_pool
from data_prep.snr import estimate_snr_db
from data_prep.text import rewrite_question

REJECT_REASONS = ("missing_video", "no_audio_stream", "undecodable", "too_short", "low_snr", "bad_annotation",
                  "duplicate_id", "duplicate_choices", "too_long")
MIN_DURATION_S = 1.5
MAX_DURATION_S = 30.0  # the audio window of both 7B backbones' feature extractors (audio_thinker.clips)
MIN_SNR_DB = 10.0  # kept when snr > MIN_SNR_DB (strictly)
PIPELINE_VERSION = 1  # bump when the audio written for the same input changes
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".flv", ".m4v", ".mpg", ".mpeg",
                    ".ts", ".3gp", ".wmv", ".ogv", ".ogg", ".m4a", ".mp3", ".wav", ".opus", ".flac")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")

# The annotation and video input, spelled out once: --help prints it and docs/data-preparation.md includes it.
ANNOTATION_FORMAT = Path(__file__).with_name("avqa_annotations.txt").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Settings:
    min_duration_s: float = MIN_DURATION_S
    min_snr_db: float = MIN_SNR_DB
    rate: int = TARGET_RATE
    version: int = PIPELINE_VERSION
    max_duration_s: float = MAX_DURATION_S

    def __post_init__(self) -> None:
        if self.min_duration_s < 0:
            raise ValueError(f"min_duration_s must be >= 0, got {self.min_duration_s}")
        if self.max_duration_s <= self.min_duration_s:
            raise ValueError(f"max_duration_s must be more than min_duration_s, got {self.max_duration_s}")

    @property
    def key(self) -> str:
        return f"v{self.version}-r{self.rate}-d{self.min_duration_s}-s{self.min_snr_db}-m{self.max_duration_s}"


class BadAnnotation(ValueError):
    pass


def parse_record(rec: Any) -> dict:
    """Validate one AVQA record; raise BadAnnotation naming what is wrong."""
    if not isinstance(rec, dict):
        raise BadAnnotation(f"record is a {type(rec).__name__}, not an object")
    missing = [k for k in ("id", "video_name", "question_text", "multi_choice", "answer") if k not in rec]
    if missing:
        raise BadAnnotation(f"missing field(s): {', '.join(missing)}")
    rid, name, question, choices, answer = (rec[k] for k in
                                            ("id", "video_name", "question_text", "multi_choice", "answer"))
    if isinstance(rid, bool) or not isinstance(rid, (int, str)) or rid == "":
        raise BadAnnotation(f"id must be an int or a non-empty string, got {rid!r}")
    if not isinstance(name, str) or not name.strip() or "/" in name or "\\" in name or name in (".", ".."):
        raise BadAnnotation(f"video_name must be a plain file name, got {name!r}")
    if not isinstance(question, str) or not question.strip():
        raise BadAnnotation("question_text is empty or not a string")
    if (not isinstance(choices, list) or len(choices) < 2
            or not all(isinstance(c, str) and c.strip() for c in choices)):
        raise BadAnnotation(f"multi_choice must be a list of >= 2 non-empty strings, got {choices!r}")
    if isinstance(answer, str) and answer.strip().isdigit():
        answer = int(answer)
    if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(choices):
        raise BadAnnotation(f"answer must be an index into {len(choices)} choices, got {answer!r}")
    return {"id": rid, "video_name": name, "question_text": question, "multi_choice": choices,
            "answer": answer, "question_relation": rec.get("question_relation"),
            "question_type": rec.get("question_type")}


def wav_name(video_name: str) -> str:
    """File name of a video's WAV: the video name without its extension when it is
    plain ASCII, otherwise sanitised with a hash suffix (unique, portable)."""
    stem = video_name
    if Path(video_name).suffix.lower() in VIDEO_EXTENSIONS:
        stem = Path(video_name).stem
    safe = _SAFE.sub("_", stem)[:120]
    if safe.startswith("."):
        safe = "_" + safe[1:]
    if safe != stem:
        safe = f"{safe}_{hashlib.sha1(video_name.encode('utf-8')).hexdigest()[:10]}"
    return safe + ".wav"


def index_videos(video_dir: Path) -> dict[str, Path]:
    """Map file name and stem -> path for every file under ``video_dir``; for a
    stem shared by several files the first extension in VIDEO_EXTENSIONS wins."""
    rank = {ext: i for i, ext in enumerate(VIDEO_EXTENSIONS)}
    by_name: dict[str, Path] = {}
    by_stem: dict[str, tuple[int, Path]] = {}
    for root, _dirs, files in os.walk(video_dir):
        for f in sorted(files):
            if f.startswith(".tmp-"):
                continue
            path = Path(root) / f
            by_name.setdefault(f, path)
            stem, ext = os.path.splitext(f)
            r = rank.get(ext.lower(), len(rank))
            if stem not in by_stem or r < by_stem[stem][0]:
                by_stem[stem] = (r, path)
    index = {stem: p for stem, (_r, p) in by_stem.items()}
    index.update(by_name)  # an exact file name beats a stem
    return index


def _source_key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def process_video(task: tuple[str, str, str, Settings]) -> dict:
    """Worker: decode, filter, write the WAV if kept. Never raises: every failure
    becomes an outcome with a message."""
    video_name, src, wav, settings = task
    result: dict[str, Any] = {"video_name": video_name, "outcome": None, "message": ""}
    cpu0 = time.process_time()
    try:
        _extract(src, wav, settings, result)
    except MediaError as exc:
        result.update(outcome=exc.reason, message=exc.message)
    except Exception as exc:  # noqa: BLE001 - a bad file must never stop the run
        result.update(outcome="undecodable", message=f"{type(exc).__name__}: {exc}")
    result["cpu_s"] = round(time.process_time() - cpu0, 4)  # journal only: for throughput reports
    return result


def _extract(src: str, wav: str, settings: Settings, result: dict) -> None:
    """Decode, filter, write the WAV if kept; fills ``result`` in place."""
    decoded = decode_mono_16k(src)
    dur = decoded.duration_s
    result.update(duration_s=round(dur, 4), source_rate=decoded.source_rate,
                  source_channels=decoded.source_channels, codec=decoded.codec)
    if dur < settings.min_duration_s:
        result.update(outcome="too_short", message=f"{dur:.3f} s < {settings.min_duration_s} s")
        return
    if dur > settings.max_duration_s:
        result.update(outcome="too_long", message=f"{dur:.3f} s > {settings.max_duration_s:g} s (--max-seconds: "
                                                  "the model's audio window would cut it)")
        return
    snr = estimate_snr_db(decoded.samples, TARGET_RATE)
    result["snr_db"] = None if snr == float("-inf") else round(snr, 3)
    if not snr > settings.min_snr_db:
        msg = ("silent (no audible signal)" if snr == float("-inf")
               else f"SNR {snr:.2f} dB <= {settings.min_snr_db} dB")
        result.update(outcome="low_snr", message=msg)
        return
    write_wav_atomic(Path(wav), decoded.samples)
    result.update(outcome="kept", samples=len(decoded.samples))


def process_batch(batch: list[tuple[str, str, str, Settings]]) -> list[dict]:
    """Worker: ``process_video`` for each task of a batch."""
    return [process_video(task) for task in batch]


def batch_tasks(tasks: list, workers: int, max_size: int = 16) -> list[list]:
    """Cut ``tasks`` into batches for the pool, largest first ("guided" scheduling):
    each batch is 1/(4*workers) of what is left, at most ``max_size``, at least 1.

    One pool message per video costs the main process ~1 ms of CPU (pickling and
    the handoffs between the pool's threads), taken from the cores the workers
    decode on; large batches early cut that cost, single-video batches at the end
    keep the workers finishing together."""
    batches, i = [], 0
    while i < len(tasks):
        size = max(1, min(max_size, (len(tasks) - i) // (4 * workers)))
        batches.append(tasks[i:i + size])
        i += size
    return batches


@dataclass
class Summary:
    input: int
    kept: int
    rejected: dict[str, int]
    videos_total: int
    videos_processed_now: int
    videos_from_journal: int

    def check(self) -> None:
        if self.kept + sum(self.rejected.values()) != self.input:
            raise RuntimeError(f"accounting error: kept {self.kept} + rejected "
                               f"{sum(self.rejected.values())} != input {self.input}")


def load_items(annotations: list[Path]) -> list[dict]:
    """Every record of every annotation file, in order, parsed or marked bad: ``error`` for a malformed
    record, ``reject`` (reason, message) for one the pre-flight would refuse (a repeated id: the first
    record keeps it; choices equal after normalisation)."""
    items = []
    first: dict[str, dict] = {}
    for ann in annotations:
        records = read_records(ann, objects_only=False)  # a non-object is a bad_annotation reject
        for number, rec in enumerate(records):
            item = {"index": len(items), "annotation_file": Path(ann).name, "where": where(records, number),
                    "raw": rec}
            try:
                item["rec"] = parse_record(rec)
            except BadAnnotation as exc:
                item["error"] = str(exc)
            items.append(item)
            if "rec" not in item:
                continue
            rid = str(item["rec"]["id"])  # as the pre-flight compares source_id
            if rid in first:
                earlier = first[rid]
                item["reject"] = ("duplicate_id", f"id {item['rec']['id']!r} repeats the record at "
                                                  f"{earlier['annotation_file']}:{earlier['where']}")
                continue
            first[rid] = item
            problem = choices_problem(item["rec"]["multi_choice"])
            if problem:
                item["reject"] = ("duplicate_choices", problem)
    return items


def run(video_dir: Path, annotations: list[Path], out_dir: Path, workers: int = 1,
        settings: Settings = Settings(), progress: bool = True) -> Summary:
    out_dir = Path(out_dir).resolve()
    audio_dir = out_dir / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    for stale in audio_dir.glob(".tmp-*"):  # left by a killed run
        stale.unlink()

    items = load_items(annotations)
    index = index_videos(Path(video_dir))

    # One task per distinct video (several questions can share a video).
    videos: dict[str, dict] = {}
    for item in items:
        if "rec" not in item or "reject" in item:
            continue
        name = item["rec"]["video_name"]
        if name in videos:
            continue
        src = index.get(name)
        videos[name] = {"src": src, "wav": audio_dir / wav_name(name),
                        "key": f"{settings.key}|{src.relative_to(video_dir) if src else ''}|"
                               f"{_source_key(src) if src else ''}"}

    journal_path = out_dir / "journal.jsonl"
    done: dict[str, dict] = {}
    for entry in read_journal(journal_path):
        video = videos.get(entry.get("video_name"))
        if video is None or entry.get("key") != video["key"]:
            continue
        if entry["outcome"] == "kept" and not video["wav"].exists():
            continue
        done[entry["video_name"]] = entry
    from_journal = len(done)

    tasks = [(name, str(v["src"]), str(v["wav"]), settings)
             for name, v in videos.items() if v["src"] is not None and name not in done]
    with Journal(journal_path) as journal, tqdm(total=len(tasks), disable=not progress,
                                                 desc="extract", unit="video") as bar:
        def record(result: dict) -> None:
            result["key"] = videos[result["video_name"]]["key"]
            journal.append(result)
            done[result["video_name"]] = result
            bar.update(1)

        if workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                record(process_video(task))
        else:
            with worker_pool(workers) as pool:
                for results in pool.imap_unordered(process_batch, batch_tasks(tasks, workers)):
                    for result in results:
                        record(result)

    summary = _rebuild(items, videos, done, out_dir, from_journal)
    summary.check()
    return summary


def _rebuild(items: list[dict], videos: dict[str, dict], done: dict[str, dict],
             out_dir: Path, from_journal: int) -> Summary:
    """Write train.jsonl / rejects.jsonl / summary.json from items + results, in input order."""
    kept_rows, reject_rows = [], []
    for item in items:
        rec = item.get("rec")
        base = {"index": item["index"], "annotation_file": item["annotation_file"]}
        if rec is None:
            raw = item["raw"] if isinstance(item["raw"], dict) else {}
            reject_rows.append({**base, "source_id": raw.get("id"), "video_name": raw.get("video_name"),
                                "reason": "bad_annotation", "message": item["error"]})
            continue
        base.update(source_id=rec["id"], video_name=rec["video_name"])
        if "reject" in item:
            reason, message = item["reject"]
            reject_rows.append({**base, "reason": reason, "message": message})
            continue
        video = videos[rec["video_name"]]
        if video["src"] is None:
            reject_rows.append({**base, "reason": "missing_video",
                                "message": f"no file for video_name {rec['video_name']!r} in the video dir"})
            continue
        result = done[rec["video_name"]]
        if result["outcome"] != "kept":
            row = {**base, "reason": result["outcome"], "message": result["message"]}
            row.update({k: result[k] for k in ("duration_s", "snr_db") if k in result})
            reject_rows.append(row)
            continue
        choices = rec["multi_choice"]
        question = rewrite_question(rec["question_text"].strip())
        kept_rows.append(training_row(
            question, choices, choices[rec["answer"]], video["wav"],
            source_id=rec["id"],
            dataset="avqa",
            video_name=rec["video_name"],
            question=question,
            answer_index=rec["answer"],
            question_type=rec["question_type"],
            question_relation=rec["question_relation"],
            duration_s=result.get("duration_s"),
            snr_db=result.get("snr_db"),
        ))
    # WAVs no kept row refers to (a kill between rename and journal, changed settings).
    wanted = {Path(r["audios"][0]).name for r in kept_rows}
    for wav in (out_dir / "audio").glob("*.wav"):
        if wav.name not in wanted:
            wav.unlink()

    write_jsonl(out_dir / "train.jsonl", kept_rows)
    write_jsonl(out_dir / "rejects.jsonl", reject_rows)
    counts = Counter(r["reason"] for r in reject_rows)
    processed = [v for v in done.values()]
    summary = Summary(input=len(items), kept=len(kept_rows),
                      rejected={r: counts.get(r, 0) for r in REJECT_REASONS},
                      videos_total=len(videos), videos_processed_now=len(processed) - from_journal,
                      videos_from_journal=from_journal)
    summary.check()
    write_json(out_dir / "summary.json", {"input": summary.input, "kept": summary.kept,
                                                 "rejected": summary.rejected,
                                                 "rejected_total": sum(summary.rejected.values())})
    return summary


class Stopped(Exception):
    """SIGTERM arrived (``kill``, ``timeout``, a job scheduler): unwind like Ctrl-C does."""


def _raise_stopped(signum, frame) -> None:
    raise Stopped()


def main(argv: list[str] | None = None) -> int:
    reads, example = ANNOTATION_FORMAT.split("\nexample:\n")
    parser = cli_parser("data_prep.avqa", __doc__, reads=reads, example=example, writes=(
        "in --out-dir: train.jsonl (one training row per kept question, input order), rejects.jsonl (one row\n"
        "per dropped question with its reason), summary.json (counts: kept + rejected = input), audio/\n"
        "(mono 16 kHz 16-bit WAVs) and journal.jsonl (the resume state)"))
    parser.add_argument("--video-dir", type=Path, required=True, help="folder of AVQA videos (searched recursively)")
    parser.add_argument("--annotations", type=Path, nargs="+", required=True,
                        help="AVQA annotation JSON file(s), e.g. train_qa.json [val_qa.json]")
    parser.add_argument("--out-dir", type=Path, required=True,
                        help="folder for train.jsonl, rejects.jsonl, summary.json, audio/ and the journal")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="extraction processes")
    parser.add_argument("--min-duration", type=float, default=MIN_DURATION_S, help="shortest clip kept, seconds")
    parser.add_argument("--max-seconds", type=float, default=MAX_DURATION_S,
                        help="longest clip kept, seconds: the model's audio window (30 s on both 7B backbones)")
    parser.add_argument("--min-snr-db", type=float, default=MIN_SNR_DB, help="a clip is kept above this SNR (dB)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.video_dir.is_dir():
        raise UsageError(f"{args.video_dir} is not a directory", option="--video-dir")
    if args.workers < 1:
        raise UsageError("must be at least 1", option="--workers")
    try:
        settings = Settings(args.min_duration, args.min_snr_db, max_duration_s=args.max_seconds)
    except ValueError as exc:
        raise UsageError(str(exc), option="--max-seconds" if "max_" in str(exc) else "--min-duration") from None
    # SIGTERM unwinds through the pool's ``with`` (terminate, join) and the journal's, as Ctrl-C does; left to
    # its default it killed this process alone, and the workers then wrote their results into a closed pipe
    # (BrokenPipeError tracebacks) and the semaphores were never released ("leaked semaphore" warnings). The
    # workers ignore it: this process stops them (data_prep.pool says why).
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        summary = run(args.video_dir, args.annotations, args.out_dir, workers=args.workers,
                      settings=settings, progress=not args.no_progress)
    except (Stopped, KeyboardInterrupt) as stop:
        done = len(read_journal(Path(args.out_dir) / "journal.jsonl"))
        print(f"stopped: {done} video result(s) kept in {Path(args.out_dir) / 'journal.jsonl'}; the same command "
              "resumes from there", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(stop, Stopped) else signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)
    rejected = {k: v for k, v in summary.rejected.items() if v}
    print(f"input {summary.input}: kept {summary.kept}, rejected {sum(rejected.values())} {rejected} "
          f"({summary.videos_processed_now} videos processed now, {summary.videos_from_journal} from journal)")
    print(f"wrote {Path(args.out_dir) / 'train.jsonl'} and rejects.jsonl")
    return 0


if __name__ == "__main__":
    sys.exit(cli_run(main))
