"""Does ``python -m data_prep.avqa`` stop on a SIGTERM to its process group, wherever the signal lands?

    python perf/stop_under_signal.py [--tries 100] [--seed 0] [--load 3] [--bound 20]

Generates 160 two-second AAC clips (every fourth one noisy), then, ``--tries`` times: starts the
extractor with 2 workers in a new session, waits until the journal holds k results (k drawn from 1 to
150, then 0-50 ms more: during start-up, mid-run, between batches, at the end), sends SIGTERM to the
whole group (as ``timeout`` and ``kill -TERM -PGID`` do) and waits ``--bound`` seconds for the exit.
A run counts as hung when it does not exit in time (the main process's stacks are printed, through
``faulthandler`` on SIGUSR1), as bad when it exits otherwise than with the one ``stopped:`` line and
143 (or 0 when it had finished), and as late when the signal came after the run had finished and its
default action ended it. ``--load N`` runs N busy loops at the lowest priority meanwhile: signals then
land at more varied points. A script, not a test (docs/data-preparation.md says how the stop works).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.media import add_noise, encode, record, tone_bursts, write_annotations  # noqa: E402

N_CLIPS = 160
# the extractor under faulthandler: SIGUSR1 prints every thread's stack when a run hangs
RUN_EXTRACTOR = ("import faulthandler, signal, sys, runpy; faulthandler.register(signal.SIGUSR1, all_threads=True); "
                 "sys.argv[0] = 'data_prep.avqa'; runpy.run_module('data_prep.avqa', run_name='__main__', alter_sys=True)")


def make_clips(root: Path) -> tuple[Path, Path]:
    videos = root / "videos"
    videos.mkdir(parents=True)
    rate = 44100
    sig, on = tone_bursts(rate, 2.0)
    good = encode(root / "g.mp4", np.stack([add_noise(sig, on, 30.0)] * 2, axis=1), rate, "aac")
    noisy = encode(root / "b.mp4", np.stack([add_noise(sig, on, 2.0)] * 2, axis=1), rate, "aac")
    records = []
    for i in range(N_CLIPS):
        shutil.copy(noisy if i % 4 == 3 else good, videos / f"clip{i:03d}.mp4")
        records.append(record(i, f"clip{i:03d}"))
    return videos, write_annotations(root / "train_qa.json", records)


def one_try(videos: Path, ann: Path, out: Path, k: int, extra_s: float, bound: float) -> tuple[str, str]:
    """('ok' | 'late' | 'bad' | 'hung', what to print)."""
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.Popen([sys.executable, "-c", RUN_EXTRACTOR, "--video-dir", str(videos), "--annotations",
                             str(ann), "--out-dir", str(out), "--workers", "2", "--no-progress"], cwd=REPO,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = out / "journal.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (journal.exists() and journal.read_text().count("\n") >= k):
        time.sleep(0.005)
    time.sleep(extra_s)
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGUSR1)
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        return "hung", err[-6000:]
    lines = err.splitlines()
    if proc.returncode == 128 + signal.SIGTERM and len(lines) == 1 and lines[0].startswith("stopped: "):
        return "ok", ""
    if proc.returncode == 0 and not err:
        return "ok", ""
    if proc.returncode == -signal.SIGTERM and not err and (out / "summary.json").exists():
        return "late", ""
    return "bad", f"exit {proc.returncode}, stderr:\n{err[-3000:]}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tries", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="draws k and the extra delay of each try")
    p.add_argument("--load", type=int, default=0, help="busy loops at nice 19 while it runs")
    p.add_argument("--bound", type=float, default=20.0, help="seconds a stop may take before it counts as hung")
    args = p.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg CLI not found")
    rng = random.Random(args.seed)
    loads = [subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", "while 1: pass"]) for _ in range(args.load)]
    counts = {"ok": 0, "late": 0, "bad": 0, "hung": 0}
    try:
        with tempfile.TemporaryDirectory(prefix="stop_under_signal_") as work:
            videos, ann = make_clips(Path(work) / "clips")
            for i in range(args.tries):
                k = rng.choice([1, 2, 5, 10, 10, 10, 20, 40, 80, 120, 150])
                outcome, text = one_try(videos, ann, Path(work) / "out", k, rng.random() * 0.05, args.bound)
                counts[outcome] += 1
                if text:
                    print(f"try {i} (k={k}): {outcome}\n{text}", flush=True)
    finally:
        for load in loads:
            load.kill()
            load.wait()
    print(f"{args.tries} tries, seed {args.seed}, load {args.load}, load average {os.getloadavg()[0]:.1f}: "
          + ", ".join(f"{n} {name}" for name, n in counts.items()))
    return 1 if counts["hung"] or counts["bad"] else 0


if __name__ == "__main__":
    sys.exit(main())
