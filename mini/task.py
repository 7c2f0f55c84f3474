"""The miniature's auditory reasoning task: tone sequences with graded difficulty.

    python -m mini.task --out DIR --seed N [--train 600] [--sft 3000] [--test 600]

Each clip is a sequence of 1 to 5 short tones at fixed time slots; each tone sits at one of five pitch
levels (``LEVELS``, from ``deep`` to ``shrill``, half an octave apart, with a random detune, loudness and
background noise). A question needs as many perceptions as the clip has tones:

    easy    1 tone    What is the pitch of the tone?                         4 of the 5 level words
    medium  2 tones   Is the second tone higher or lower than the first?     higher / lower
            4 tones   Which tone is the highest?                              tone 1 .. tone 4
            4 tones   How many of the later tones are higher than the first?  0 .. 3
    hard    5 tones   Which tone is the highest? / Which tone is the lowest?  tone 1 .. tone 5

so a model that names each tone's level first (the think trace below) and then reads the answer off its
own list can answer hard items that a model answering in one step finds hard. Writes

- ``train.jsonl``: GRPO rows (``audio_thinker.rows`` schema, + ``source_id``, ``difficulty``, ``kind``,
  ``levels``: the true level of each tone, for a task-aware judge);
- ``sft.jsonl``: warm-start rows of *other* clips, each with a system prompt and an assistant turn: under
  ``always_think.txt`` a think trace, under ``answer_only.txt`` a direct answer, under
  ``adaptive_think.txt`` either at random -- never chosen by difficulty, so the warm-started policy has
  both modes and no rule for when to use which;
- ``test-meta.json`` + ``test-mini-audios/``: held-out items in MMAU test-mini's metadata format (with
  ``difficulty``), and ``test.jsonl``: the same items as ``data_prep.benchmarks mmau`` writes them, for
  ``eval.infer`` / ``eval.convert mmau`` / ``eval.score mmau``.

Difficulties cycle easy, medium, hard; within one difficulty the question kind and the gold option's
position cycle, so answers are balanced over positions. Every item is a function of (seed, split, index)
alone: the same seed writes the same bytes, WAV files included, and a longer set starts with a shorter one.

The think-trace grammar (``render_thought`` / ``parse_thought``; the task-aware judge imports them)::

    <think>Tone 1: low. Tone 2: shrill. So the answer is higher.</think><answer>higher</answer>
"""
from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run
from audio_thinker.rows import TRAINING_ROWS_EXAMPLE
from audio_thinker.jsonl import write_json, write_jsonl
from audio_thinker.rows import training_row
from data_prep.benchmarks import convert as convert_benchmark

SAMPLE_RATE = 16_000
# Pitch words, lowest first, and each level's centre frequency: 6 semitones apart (A3, D#4, A4, D#5, A5).
# Each tone is detuned uniformly within +-1.5 semitones, so neighbouring levels never overlap (3 semitones
# between their ranges) but are only one or two Whisper mel bands apart at the low end: one tone's level is
# a learnable perception that a small model does not get right every time.
LEVELS = ("deep", "low", "mid", "high", "shrill")
LEVEL_HZ = (220.0, 311.1, 440.0, 622.3, 880.0)
DETUNE_SEMITONES = 1.5
TONE_S, SLOT_S, LEAD_S, TAIL_S = 0.35, 0.5, 0.1, 0.1  # a 5-tone clip lasts 2.55 s (mini window: 3 s)
NOISE_RMS = 0.03  # background hiss, ~20 dB below the tones
DIFFICULTIES = ("easy", "medium", "hard")
PROMPTS = ("always_think", "answer_only", "adaptive_think")  # swift_plugins/prompts/<name>.txt
# How often each prompt heads a warm-start row; under the adaptive prompt a fair coin picks the mode. Traces
# are most of the warm start (80 % of rows think, 20 % answer directly), as in an SFT set built from
# reasoning data, and the share is the same at every difficulty.
PROMPT_WEIGHTS = (0.7, 0.1, 0.2)
PROMPTS_DIR = Path(__file__).resolve().parent.parent / "swift_plugins" / "prompts"


# ----------------------------------------------------------------------------- questions
@dataclass(frozen=True)
class Kind:
    """One question kind: how many tones, the question text, the options, and the answer rule."""
    name: str
    difficulty: str
    tones: int
    question: str
    distinct: bool  # tone levels all different; else drawn with repeats (an extreme must still be unique)
    rule: str = ""  # the answer rule's name when it differs from the kind's (highest_of_5 -> highest)

    @property
    def how(self) -> str:
        return self.rule or self.name

    def choices(self) -> tuple[str, ...]:
        tones = tuple(f"tone {k}" for k in range(1, self.tones + 1))
        return {"level": LEVELS, "compare": ("higher", "lower"), "highest": tones, "lowest": tones,
                "count_higher": tuple(str(k) for k in range(self.tones))}[self.how]

    def answer(self, levels: Sequence[str]) -> str:
        """The answer the levels imply (the rule the think trace applies to its stated perceptions); for
        highest / lowest with a tied extreme, the first of the tied tones."""
        ranks = [LEVELS.index(level) for level in levels]
        if self.how == "level":
            return levels[0]
        if self.how == "compare":
            return "higher" if ranks[1] > ranks[0] else "lower"
        if self.how == "highest":
            return f"tone {ranks.index(max(ranks)) + 1}"
        if self.how == "lowest":
            return f"tone {ranks.index(min(ranks)) + 1}"
        return str(sum(r > ranks[0] for r in ranks[1:]))  # count_higher

    def well_posed(self, levels: Sequence[str]) -> bool:
        """False when the question would have two right options (a tied highest or lowest tone)."""
        ranks = [LEVELS.index(level) for level in levels]
        extreme = {"highest": max, "lowest": min}.get(self.how)
        return extreme is None or ranks.count(extreme(ranks)) == 1


# Difficulty is what the warm-started model finds hard to answer in one step (docs/mini-experiment.md,
# "Precondition"): count_higher needs four perceptions but the warm start's traces reason no better on it than
# its direct answers do, so it is medium; the hard kinds are the five-tone extremes, with repeated levels so
# that the extreme is not simply "the shrill tone".
KINDS = (
    Kind("level", "easy", 1, "What is the pitch of the tone?", True),
    Kind("compare", "medium", 2, "Two tones play one after the other. Is the second tone higher or lower than "
         "the first?", True),
    Kind("highest", "medium", 4, "Four tones play one after the other. Which tone is the highest?", True),
    Kind("count_higher", "medium", 4, "Four tones play one after the other. How many of the later tones are "
         "higher than the first?", False),
    Kind("highest_of_5", "hard", 5, "Five tones play one after the other. Which tone is the highest?", False,
         rule="highest"),
    Kind("lowest_of_5", "hard", 5, "Five tones play one after the other. Which tone is the lowest?", False,
         rule="lowest"),
)
KINDS_BY_DIFFICULTY = {d: [k for k in KINDS if k.difficulty == d] for d in DIFFICULTIES}
N_OPTIONS = {"level": 4}  # the level question lists 4 of the 5 words (gold + 3 others); others list all


def kind_of_question(question: str) -> Kind | None:
    """The kind whose question text ``question`` contains (a user turn quotes it with its options)."""
    for kind in KINDS:
        if kind.question in question:
            return kind
    return None


# ----------------------------------------------------------------------------- think-trace grammar
@dataclass(frozen=True)
class Thought:
    """What a think trace states: one level word per tone, in order, and the conclusion (a choice text)."""
    levels: tuple[str, ...]
    conclusion: str


_LEVEL_ALT = "|".join(LEVELS)
_STEP = re.compile(rf"Tone (\d+): ({_LEVEL_ALT})\.")
_THOUGHT = re.compile(rf"^((?:Tone \d+: (?:{_LEVEL_ALT})\. )+)So the answer is ([^.<>]+)\.$")


def render_thought(levels: Sequence[str], conclusion: str) -> str:
    """The reasoning text of a think trace (what goes between ``<think>`` and ``</think>``)."""
    return render_steps(list(enumerate(levels, start=1)), conclusion)


def render_steps(steps: Sequence[tuple[int, str]], conclusion: str) -> str:
    """A reasoning of the grammar's sentences from (tone number, level word) steps in the order given: the
    flawed traces below state a step twice or skip one."""
    sentences = " ".join(f"Tone {k}: {level}." for k, level in steps)
    return f"{sentences} So the answer is {conclusion}." if steps else f"So the answer is {conclusion}."


def parse_thought(text: str) -> Thought | None:
    """Inverse of ``render_thought``: None unless ``text`` (optionally inside ``<think>`` tags) follows the
    grammar exactly, with tones numbered 1, 2, ... in order and known level words."""
    text = text.strip()
    if text.startswith("<think>") and text.endswith("</think>"):
        text = text[len("<think>"):-len("</think>")].strip()
    match = _THOUGHT.match(text)
    if match is None:
        return None
    steps = _STEP.findall(match.group(1))
    if [int(n) for n, _ in steps] != list(range(1, len(steps) + 1)):
        return None
    return Thought(tuple(level for _, level in steps), match.group(2).strip())


def render_completion(levels: Sequence[str], answer: str, think: bool) -> str:
    """A whole reply in the paper's format: think trace + answer, or the answer alone."""
    reply = f"<answer>{answer}</answer>"
    return f"<think>{render_thought(levels, answer)}</think>{reply}" if think else reply


# ----------------------------------------------------------------------------- one item
@dataclass(frozen=True)
class Item:
    kind: Kind
    levels: tuple[str, ...]
    choices: tuple[str, ...]
    answer: str
    wave: np.ndarray


def _levels_for(kind: Kind, target: str, rng: np.random.Generator) -> tuple[str, ...]:
    """Tone levels whose answer under ``kind`` is ``target`` (rejection sampling: a few draws at most)."""
    while True:
        ranks = (rng.choice(len(LEVELS), kind.tones, replace=False) if kind.distinct
                 else rng.integers(0, len(LEVELS), kind.tones))
        levels = tuple(LEVELS[r] for r in ranks)
        if kind.answer(levels) == target and kind.well_posed(levels):
            return levels


def synthesize(levels: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    """Tones in fixed slots (slot k starts at LEAD_S + k * SLOT_S), each with a 2nd harmonic and 10 ms
    raised-cosine ramps, over faint white noise; float32 in [-1, 1]."""
    n = int(round((LEAD_S + (len(levels) - 1) * SLOT_S + TONE_S + TAIL_S) * SAMPLE_RATE))
    wave = rng.standard_normal(n) * NOISE_RMS
    t = np.arange(int(TONE_S * SAMPLE_RATE)) / SAMPLE_RATE
    ramp = np.ones(t.size)
    r = int(0.01 * SAMPLE_RATE)
    ramp[:r] = ramp[-r:][::-1] = 0.5 - 0.5 * np.cos(np.pi * np.arange(r) / r)
    for k, level in enumerate(levels):
        hz = LEVEL_HZ[LEVELS.index(level)] * 2 ** (rng.uniform(-DETUNE_SEMITONES, DETUNE_SEMITONES) / 12)
        tone = np.sin(2 * np.pi * hz * t) + 0.3 * np.sin(4 * np.pi * hz * t + rng.uniform(0, 2 * np.pi))
        start = int(round((LEAD_S + k * SLOT_S) * SAMPLE_RATE))
        wave[start:start + t.size] += rng.uniform(0.25, 0.5) * ramp * tone / 1.3
    return np.clip(wave, -1.0, 1.0).astype("float32")


SPLITS = {"train": 1, "sft": 2, "test": 3}  # part of each item's seed: the splits never share a clip


def make_item(seed: int, split: str, index: int) -> Item:
    """Item ``index`` of ``split``: difficulty cycles over DIFFICULTIES, then within it the kind and the
    gold option's position cycle, so positions are balanced in every difficulty and kind."""
    rng = np.random.default_rng([seed, SPLITS[split], index])
    kinds = KINDS_BY_DIFFICULTY[DIFFICULTIES[index % len(DIFFICULTIES)]]
    j = index // len(DIFFICULTIES)
    kind = kinds[j % len(kinds)]
    options = list(kind.choices())
    n_options = N_OPTIONS.get(kind.name, len(options))
    position = (j // len(kinds)) % n_options
    target = options[rng.integers(len(options))]
    levels = _levels_for(kind, target, rng)
    others = [o for o in options if o != target]
    others = [others[i] for i in rng.permutation(len(others))][:n_options - 1]
    if kind.how != "level":  # ordered options read naturally; only the gold moves
        others.sort(key=options.index)
    choices = tuple(others[:position] + [target] + others[position:])
    return Item(kind, levels, choices, target, synthesize(levels, rng))


def _write_wav(path: Path, wave: np.ndarray) -> None:
    sf.write(path, wave, SAMPLE_RATE, subtype="PCM_16")


def prompt_text(name: str) -> str:
    return (PROMPTS_DIR / f"{name}.txt").read_text().strip()


# ----------------------------------------------------------------------------- flawed think traces
# A second warm start (mini.build --flaws) learns traces that carry the flaws the paper's R_c and R_t are
# meant to remove (Sec. 4.2.3-4.2.4: reasoning that does not support the answer, "flawed reasoning [that]
# inadvertently leads to a correct answer", "repetitive or random content"). Each flaw keeps the grammar's
# sentences, so the task judge reads it, and each is one the judge must mark down:
#   contradiction    one stated level is changed so that the task's rule picks another option, while the
#                    conclusion and the answer stay the right one (perceptions say one thing, the conclusion
#                    another; the answer is still correct): inconsistent, R_t 0.6
#   answer_mismatch  a correct trace whose final answer names another option: inconsistent, R_t 1.0, wrong
#   missing          one perception left out (the others keep their numbers), conclusion and answer right:
#                    inconsistent, R_t 0.2-0.5
#   repeated         one perception stated REPEATS more times right after itself: consistent (a repeated
#                    step contradicts nothing), R_t 0.8 (two faults)
FLAW_KINDS = ("contradiction", "answer_mismatch", "missing", "repeated")
NO_FLAW = "none"
REPEATS = 2


@dataclass(frozen=True)
class Flaws:
    """How often a warm-start think trace is flawed (``rate``, of the think rows) and in which mix
    (``mix``: one weight per FLAW_KINDS entry, normalised when drawn)."""
    rate: float
    mix: tuple[float, ...] = (0.35, 0.1, 0.3, 0.25)

    def __post_init__(self):
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"flaw rate must be within [0, 1], got {self.rate}")
        if len(self.mix) != len(FLAW_KINDS) or min(self.mix) < 0 or sum(self.mix) <= 0:
            raise ValueError(f"flaw mix needs {len(FLAW_KINDS)} weights >= 0, not all 0 ({', '.join(FLAW_KINDS)}),"
                             f" got {self.mix}")

    @classmethod
    def parse_mix(cls, text: str) -> tuple[float, ...]:
        """``contradiction=0.4,missing=0.3,...`` -> weights in FLAW_KINDS order (a kind left out weighs 0)."""
        weights = dict.fromkeys(FLAW_KINDS, 0.0)
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.partition("=")
            if name.strip() not in weights:
                raise ValueError(f"unknown flaw {name.strip()!r} (known: {', '.join(FLAW_KINDS)})")
            try:
                weights[name.strip()] = float(value)
            except ValueError:
                raise ValueError(f"flaw weight of {name.strip()!r} is not a number: {value!r}") from None
        return tuple(weights.values())

    def describe(self) -> dict:
        return {"rate": self.rate, "mix": dict(zip(FLAW_KINDS, self.mix))}

    def draw(self, rng: np.random.Generator) -> str | None:
        """None (a clean trace) or the flaw kind, both draws from ``rng``."""
        if rng.random() >= self.rate:
            return None
        weights = np.asarray(self.mix) / sum(self.mix)
        return FLAW_KINDS[rng.choice(len(FLAW_KINDS), p=weights)]


def _contradicting_levels(item: Item, rng: np.random.Generator) -> list[str]:
    """The item's levels with one level changed (a random one of the changes that make the rule pick
    another option) or, where no single change does (a shrill-then-deep comparison), two tones swapped."""
    levels = list(item.levels)
    for changes in ([[(k, level)] for k in range(len(levels)) for level in LEVELS if level != levels[k]],
                    [[(a, levels[b]), (b, levels[a])] for a in range(len(levels)) for b in range(a + 1, len(levels))
                     if levels[a] != levels[b]]):
        for j in rng.permutation(len(changes)):
            changed = list(levels)
            for k, level in changes[j]:
                changed[k] = level
            if item.kind.answer(changed) != item.answer:
                return changed
    raise ValueError(f"no stated levels contradict {item.answer!r} for {item.kind.name} {levels}")


def flawed_completion(item: Item, flaw: str, rng: np.random.Generator) -> str:
    """A think reply for ``item`` carrying ``flaw`` (FLAW_KINDS; the comment above says what each is)."""
    steps = list(enumerate(item.levels, start=1))
    conclusion = answer = item.answer
    if flaw == "contradiction":
        steps = list(enumerate(_contradicting_levels(item, rng), start=1))
    elif flaw == "answer_mismatch":
        others = [c for c in item.choices if c != item.answer]
        answer = others[rng.integers(len(others))]
    elif flaw == "missing":
        del steps[rng.integers(len(steps))]
    elif flaw == "repeated":
        k = int(rng.integers(len(steps)))
        steps[k + 1:k + 1] = [steps[k]] * REPEATS
    else:
        raise ValueError(f"unknown flaw {flaw!r} (known: {', '.join(FLAW_KINDS)})")
    return f"<think>{render_steps(steps, conclusion)}</think><answer>{answer}</answer>"


def sft_row(row: dict, item: Item, rng: np.random.Generator, flaws: Flaws | None = None,
            flaw_rng: np.random.Generator | None = None) -> dict:
    """The row with a system prompt drawn from PROMPTS by PROMPT_WEIGHTS and the reply that prompt asks for
    (adaptive: think or not by a fair coin); neither draw looks at the item. With ``flaws``, a think reply
    carries a flaw with probability ``flaws.rate`` (drawn from ``flaw_rng``, a stream of its own, so the
    prompts and modes are those of the clean rows) and the row says which in ``flaw``."""
    prompt = PROMPTS[rng.choice(len(PROMPTS), p=PROMPT_WEIGHTS)]
    think = {"always_think": True, "answer_only": False}.get(prompt, bool(rng.integers(2)))
    reply = render_completion(item.levels, item.answer, think)
    labels = {}
    if flaws is not None:
        flaw = flaws.draw(flaw_rng) if think else None
        if flaw is not None:
            reply = flawed_completion(item, flaw, flaw_rng)
        labels = {"flaw": flaw or NO_FLAW}
    return {**row, "messages": [{"role": "system", "content": prompt_text(prompt)}, *row["messages"],
                                {"role": "assistant", "content": reply}], "prompt": prompt, **labels}


def build(out: Path, seed: int = 0, n_train: int = 600, n_sft: int = 3000, n_test: int = 600,
          flaws: Flaws | None = None) -> dict[str, Path]:
    out = Path(out)
    for folder in ("audio", "test-mini-audios"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    rows = {"train": [], "sft": []}
    for split, count in (("train", n_train), ("sft", n_sft)):
        for i in range(count):
            item = make_item(seed, split, i)
            path = (out / "audio" / f"{split}_{i:05d}.wav").resolve()
            _write_wav(path, item.wave)
            row = training_row(item.kind.question, item.choices, item.answer, path,
                               source_id=f"mini-{split}-{i:05d}", dataset="mini_task",
                               difficulty=item.kind.difficulty, kind=item.kind.name, levels=list(item.levels))
            if split == "sft":
                row = sft_row(row, item, np.random.default_rng([seed, SPLITS[split], i, 1]), flaws,
                              np.random.default_rng([seed, SPLITS[split], i, 2]))
            rows[split].append(row)
    meta = []
    for i in range(n_test):
        item = make_item(seed, "test", i)
        item_id = f"mini-test-{i:05d}"
        _write_wav(out / "test-mini-audios" / f"{item_id}.wav", item.wave)
        meta.append({"id": item_id, "audio_id": f"./test-mini-audios/{item_id}.wav",
                     "question": item.kind.question, "choices": list(item.choices), "answer": item.answer,
                     "dataset": "mini_task", "task": "sound", "split": "test-mini",
                     "category": "Pitch Perception", "sub-category": item.kind.name,
                     "difficulty": item.kind.difficulty, "levels": list(item.levels)})
    paths = {"train": out / "train.jsonl", "sft": out / "sft.jsonl", "test_meta": out / "test-meta.json",
             "test": out / "test.jsonl"}
    write_jsonl(paths["train"], rows["train"])
    write_jsonl(paths["sft"], rows["sft"])
    write_json(paths["test_meta"], meta)
    if n_test:
        convert_benchmark("mmau", paths["test_meta"], paths["test"])
        for leftover in (".summary.json", ".missing.jsonl"):  # the converter's bookkeeping, not data
            paths["test"].with_name(paths["test"].name + leftover).unlink(missing_ok=True)
    else:
        write_jsonl(paths["test"], [])
    return paths


def add_flaw_options(parser) -> None:
    """--flaws / --flaw-mix, shared by mini.task and mini.build."""
    parser.add_argument("--flaws", type=float, metavar="RATE",
                        help="share of warm-start think traces that carry a flaw (0-1; rows get a `flaw` label)")
    parser.add_argument("--flaw-mix", metavar="KIND=W,...",
                        help=f"weights of the flaw kinds ({', '.join(FLAW_KINDS)}; default "
                             + ",".join(f"{k}={w}" for k, w in zip(FLAW_KINDS, Flaws(0.0).mix)) + ")")


def flaws_of(args) -> Flaws | None:
    """The Flaws the options ask for (None without --flaws); a bad value is a one-line usage error."""
    if args.flaws is None:
        if args.flaw_mix is not None:
            raise UsageError("needs --flaws RATE", option="--flaw-mix")
        return None
    try:
        mix = Flaws.parse_mix(args.flaw_mix) if args.flaw_mix is not None else Flaws(0.0).mix
        return Flaws(args.flaws, mix)
    except ValueError as err:
        raise UsageError(str(err), option="--flaw-mix" if args.flaw_mix and "rate" not in str(err) else "--flaws")


def main(argv: list[str] | None = None) -> int:
    parser = cli_parser("mini.task", __doc__, example=TRAINING_ROWS_EXAMPLE,
                        reads="nothing: the task is generated from --seed (no download); its rows have the training\n"
                              "format every other command reads, as in this example of that format",
                        writes="in --out: train.jsonl (GRPO rows, + difficulty, kind, levels), sft.jsonl (warm-start rows),\n"
                               "test-meta.json + test-mini-audios/ (held-out items in MMAU's metadata format) and\n"
                               "test.jsonl (the same items as benchmark rows)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the task into (created)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (the set is a function of it)")
    parser.add_argument("--train", type=int, default=600, help="GRPO training items")
    parser.add_argument("--sft", type=int, default=3000, help="warm-start (SFT) items")
    parser.add_argument("--test", type=int, default=600, help="held-out evaluation items")
    add_flaw_options(parser)
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        raise UsageError("exists and is not a directory", args.out)
    for option in ("train", "sft", "test"):
        if getattr(args, option) < 0:
            raise UsageError("must be >= 0", option=f"--{option}")
    flaws = flaws_of(args)
    for name, path in build(args.out, args.seed, args.train, args.sft, args.test, flaws).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(cli_run(main))
