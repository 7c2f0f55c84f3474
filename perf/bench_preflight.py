"""How long the pre-flight check (``data_prep.preflight``) takes on an AVQA-sized training set.

    python perf/bench_preflight.py [--rows 40000] [--distinct 500] [--seconds 10] [--workers 2]
    python perf/bench_preflight.py --compare-with REV [--rows 40000]   # header check: REV vs this tree

Writes ``--distinct`` real 16 kHz mono 16-bit WAVs of ``--seconds`` each (tone plus noise, written with
libsndfile), gives them ``--rows`` file names by hard links (every row names its own file, as AVQA's rows
do: one clip per video), writes a GRPO-format JSONL with one row per name, and times on it, in one run:

1. the header check (``--check header``) with 1 process;
2. the full decode (``--check full``) with 1 process and with ``--workers`` processes.

Each figure is wall time for the whole ``preflight()`` call (JSONL parse, column checks, audio), best of
``--repeat``. ``--compare-with REV`` times only the header check, of the code at git revision REV
(exported to a temporary folder) and of this tree, alternately in fresh processes on the same files, and
prints the ratio: what the checks added since REV cost. The files sit in the page cache (hard links share it), so the full-decode figure is decode
cost; reading 40k clips (12.8 GB) from a cold disk adds its read time on top (at 500 MB/s, ~26 s).
A script, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_prep.preflight import preflight  # noqa: E402


def make_set(root: Path, rows: int, distinct: int, seconds: float) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 16000)) / 16000
    sources = []
    for i in range(distinct):
        wave = 0.3 * np.sin(2 * np.pi * (200 + i) * t) + 0.02 * rng.standard_normal(t.size)
        path = root / "src" / f"{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wave.astype("float32"), 16000, subtype="PCM_16")
        sources.append(path)
    (root / "audio").mkdir(exist_ok=True)
    data = root / "train.jsonl"
    with data.open("w") as fh:
        for i in range(rows):
            clip = root / "audio" / f"{i:06d}.wav"
            os.link(sources[i % distinct], clip)
            fh.write(json.dumps({"messages": [{"role": "user", "content": "<audio>What is it? ['a', 'b']"}],
                                 "audios": [str(clip)], "solution": "a", "choices": ["a", "b"],
                                 "source_id": str(i)}) + "\n")
    return data


def timed(data: Path, full: bool, workers: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        report = preflight(data, "grpo", full=full, workers=workers)
        best = min(best, time.perf_counter() - start)
        assert not report.problems, report.problems[:3]
    return best


ROOT = Path(__file__).resolve().parents[1]
_TIME_ONE = ("import sys, time; sys.path.insert(0, sys.argv[1]); from data_prep.preflight import preflight; "
             "start = time.perf_counter(); r = preflight(sys.argv[2], 'grpo', full=False, workers=1); "
             "assert not r.problems, r.problems[:3]; print(time.perf_counter() - start)")


def compare(data: Path, rev: str, repeat: int, tmp: Path) -> tuple[float, float]:
    """Best header-check time of the code at ``rev`` and of this tree, each in fresh processes, alternated."""
    old = tmp / "baseline"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "audio_thinker", "data_prep"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    best = {str(old): float("inf"), str(ROOT): float("inf")}
    for _ in range(repeat):
        for code in best:
            out = subprocess.run([sys.executable, "-c", _TIME_ONE, code, str(data)], check=True,
                                 capture_output=True, text=True, cwd=tmp).stdout
            best[code] = min(best[code], float(out))
    return best[str(old)], best[str(ROOT)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=40000)
    p.add_argument("--distinct", type=int, default=500)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--compare-with", metavar="REV", help="time the header check of git revision REV and of this "
                                                         "tree on the same files")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_preflight_") as tmp:
        start = time.perf_counter()
        data = make_set(Path(tmp), args.rows, args.distinct, args.seconds)
        print(f"{args.rows} rows, {args.distinct} distinct {args.seconds:g} s clips "
              f"(made in {time.perf_counter() - start:.1f} s)")
        if args.compare_with:
            old, new = compare(data, args.compare_with, args.repeat, Path(tmp))
            per = 1e3 / args.rows
            print(f"header check, {args.compare_with}: {old:7.2f} s  ({old * per:.3f} ms/row)")
            print(f"header check, this tree:  {new:7.2f} s  ({new * per:.3f} ms/row, {new / old:.2f}x {args.compare_with})")
            return
        header = timed(data, False, 1, args.repeat)
        full1 = timed(data, True, 1, args.repeat)
        fulln = timed(data, True, args.workers, args.repeat)
    per = 1e3 / args.rows
    print(f"header check, 1 process:        {header:7.2f} s  ({header * per:.3f} ms/row)")
    print(f"full decode,  1 process:        {full1:7.2f} s  ({full1 * per:.3f} ms/row, {full1 / header:.1f}x header)")
    print(f"full decode,  {args.workers} processes:      {fulln:7.2f} s  ({full1 / fulln:.2f}x faster than 1)")


if __name__ == "__main__":
    main()
