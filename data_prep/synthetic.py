"""A small synthetic audio-QA set for the offline demo and the tests: no download, real WAV files.

    python -m data_prep.synthetic --out-dir data/demo [--train 16] [--eval 12]

Each clip is one of four sound kinds a question asks to identify (a steady tone, white noise, a click
train, a rising chirp), 1.5-2.5 s, mono 16 kHz 16-bit PCM, seeded so that the set is identical on
every machine. Writes
- ``train.jsonl``: GRPO rows in the same schema as ``data_prep.avqa`` (``messages`` with ``<audio>``,
  ``audios``, ``solution``, ``choices``, ``source_id``);
- ``sft_answers.jsonl``: the same rows with the ``<answer>`` target (``data_prep.sft_targets``);
- ``sft_cot.jsonl``: the same rows with a templated chain of thought in ``data_prep.cot``'s format (checked
  by its ``canonical_cot``), so the SFT+CoT rows (sft-b, sft-d) run offline too;
- ``mmau-demo.json`` + ``test-mini-audios/``: an evaluation set in MMAU test-mini's own metadata
  format (with ``difficulty`` and ``task``), so the demo runs the real benchmark converter, scorer and
  think-rate analysis.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.jsonl import write_json, write_jsonl
from audio_thinker.rows import TRAINING_ROWS_EXAMPLE
from audio_thinker.rows import training_row
from data_prep.cot import canonical_cot
from data_prep.sft_targets import with_answer_target

SAMPLE_RATE = 16_000
KINDS = ["a steady tone", "white noise", "a click train", "a rising chirp"]
QUESTION = "Which sound is heard in the audio?"
DIFFICULTY = ["easy", "medium", "hard"]
# What each kind sounds like: the caption and reasoning of the templated chain of thought.
HEARD = {KINDS[0]: "one constant pitch with no change in loudness",
         KINDS[1]: "a broadband hiss with no pitch",
         KINDS[2]: "short regular clicks separated by silence",
         KINDS[3]: "a pitch that glides steadily upwards"}


def synthesize(kind: str, rng: np.random.Generator) -> np.ndarray:
    seconds = rng.uniform(1.5, 2.5)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    if kind == KINDS[0]:
        wave = np.sin(2 * np.pi * rng.uniform(200, 800) * t)
    elif kind == KINDS[1]:
        wave = rng.standard_normal(t.size) / 3
    elif kind == KINDS[2]:
        wave = np.zeros(t.size)
        wave[:: int(SAMPLE_RATE / rng.uniform(4, 12))] = 1.0
    else:
        f0, f1 = rng.uniform(200, 400), rng.uniform(1000, 3000)
        wave = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * seconds)))
    return (0.5 * wave / max(1e-9, np.abs(wave).max())).astype("float32")


def _choices(rng: np.random.Generator) -> list[str]:
    """All four kinds in a random order, so the gold option's position varies."""
    return [KINDS[i] for i in rng.permutation(len(KINDS))]


def with_cot_target(row: dict) -> dict:
    """The row with an assistant turn in data_prep.cot's format, reasoning from the clip's kind."""
    kind = row["solution"]
    reply = (f"<think><planning>Listen to the clip and compare it with each option.</planning>"
             f"<caption>The clip contains {HEARD[kind]}.</caption>"
             f"<reasoning>{HEARD[kind].capitalize()} is what {kind} sounds like; the other options "
             f"do not fit.</reasoning><summary>The sound is {kind}.</summary></think><answer>{kind}</answer>")
    assistant = canonical_cot(reply, kind, row["choices"])
    return {**row, "messages": [*row["messages"], {"role": "assistant", "content": assistant}]}


def build(out: Path, n_train: int = 16, n_eval: int = 12, seed: int = 0) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "test-mini-audios").mkdir(parents=True, exist_ok=True)
    train = []
    for i in range(n_train):
        kind = KINDS[i % len(KINDS)]
        path = (out / "audio" / f"train_{i:03d}.wav").resolve()
        sf.write(path, synthesize(kind, rng), SAMPLE_RATE, subtype="PCM_16")
        choices = _choices(rng)
        train.append(training_row(QUESTION, choices, kind, path,
                                  source_id=f"synthetic-train-{i:03d}", dataset="synthetic"))
    meta = []
    for i in range(n_eval):
        kind = KINDS[(i * 3 + 1) % len(KINDS)]
        item_id = f"synthetic-eval-{i:03d}"
        sf.write(out / "test-mini-audios" / f"{item_id}.wav", synthesize(kind, rng), SAMPLE_RATE, subtype="PCM_16")
        meta.append({"id": item_id, "audio_id": f"./test-mini-audios/{item_id}.wav", "question": QUESTION,
                     "choices": _choices(rng), "answer": kind, "dataset": "synthetic", "task": "sound",
                     "split": "test-mini", "category": "Sound Identification",
                     "sub-category": "Synthetic Signals", "difficulty": DIFFICULTY[i % 3]})
    paths = {"train": out / "train.jsonl", "sft": out / "sft_answers.jsonl", "sft_cot": out / "sft_cot.jsonl",
             "eval_meta": out / "mmau-demo.json"}
    write_jsonl(paths["train"], train)
    write_jsonl(paths["sft"], [with_answer_target(r) for r in train])
    write_jsonl(paths["sft_cot"], [with_cot_target(r) for r in train])
    write_json(paths["eval_meta"], meta)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser("data_prep.synthetic", __doc__, example=TRAINING_ROWS_EXAMPLE,
                        reads="nothing: the set is generated from --seed (no download); its train.jsonl rows have the\n"
                              "training format every other command reads, as in this example of that format",
                        writes="in --out-dir: train.jsonl (training rows), sft_answers.jsonl and sft_cot.jsonl (SFT rows),\n"
                               "audio/ (WAVs), mmau-demo.json + test-mini-audios/ (an evaluation set in MMAU's format)")
    parser.add_argument("--out-dir", "--out", dest="out_dir", type=Path, required=True,
                        help="folder to write the set into (created)")
    parser.add_argument("--train", type=int, default=16, help="training rows")
    parser.add_argument("--eval", type=int, default=12, help="evaluation items")
    parser.add_argument("--seed", type=int, default=0, help="random seed (the set is a function of it)")
    args = parser.parse_args(argv)
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise UsageError("exists and is not a directory", args.out_dir)
    for name, path in build(args.out_dir, args.train, args.eval, args.seed).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(cli_run(main))
