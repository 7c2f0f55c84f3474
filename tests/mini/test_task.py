"""mini.task: the miniature's tone task -- deterministic, balanced, loadable, and a
think-trace grammar that renders and parses back."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_thinker.cli import run as cli_run
from audio_thinker.matching import strict_match
from audio_thinker.tags import parse_completion
from data_prep import preflight
from mini import task as mini_task
from mini.task import KINDS, LEVELS, kind_of_question, parse_thought, render_completion, render_thought

N = 48  # 16 per difficulty: every (kind, gold position) pair of the hard kinds occurs twice


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mini")
    mini_task.build(out, seed=3, n_train=N, n_sft=N, n_test=N)
    return out


def digest(folder: Path) -> dict[str, str]:
    """Every file's hash, paths relative to the folder (absolute paths in the rows name the folder)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes().replace(str(folder).encode(), b"DIR")).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_same_seed_same_bytes_other_seed_other_audio(task, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    mini_task.build(again, seed=3, n_train=N, n_sft=N, n_test=N)
    mini_task.build(other, seed=4, n_train=N, n_sft=N, n_test=N)
    assert digest(again) == digest(task)  # WAVs, rows and metadata alike
    same = [k for k, v in digest(other).items() if k.endswith(".wav") and digest(task)[k] == v]
    assert same == []  # the seed reaches every clip


def test_a_longer_set_starts_with_the_shorter_one(task, tmp_path):
    mini_task.build(tmp_path, seed=3, n_train=2 * N, n_sft=0, n_test=0)
    longer = [{**r, "audios": None} for r in rows(tmp_path / "train.jsonl")]
    assert longer[:N] == [{**r, "audios": None} for r in rows(task / "train.jsonl")]


def test_outputs_pass_the_preflight_and_the_loaders(task):
    for name, kind in (("train.jsonl", "grpo"), ("sft.jsonl", "sft"), ("test.jsonl", "eval")):
        report = preflight.preflight(task / name, kind=kind, full=True)
        assert report.problems == [] and len(report.rows) == N, name
    wave, rate = sf.read(rows(task / "test.jsonl")[2]["audios"][0])
    assert rate == 16000 and wave.ndim == 1 and 2.0 < wave.size / rate < 3.0  # 5 tones, inside the 3 s window


def test_difficulty_labels_follow_the_number_of_tones(task):
    meta = json.loads((task / "test-meta.json").read_text())
    assert Counter(m["difficulty"] for m in meta) == {"easy": N // 3, "medium": N // 3, "hard": N // 3}
    tones = {"easy": {1}, "medium": {2, 4}, "hard": {5}}  # one perception; several; the most
    for m in meta:
        kind = kind_of_question(m["question"])
        assert kind.difficulty == m["difficulty"] and len(m["levels"]) == kind.tones in tones[m["difficulty"]]
        assert kind.answer(m["levels"]) == m["answer"] in m["choices"] and kind.well_posed(m["levels"])
    test = rows(task / "test.jsonl")
    assert [r["difficulty"] for r in test] == [m["difficulty"] for m in meta]  # eval rows keep the label


def test_gold_positions_are_balanced_within_each_kind(task):
    for name in ("train.jsonl", "sft.jsonl", "test.jsonl"):
        by_kind = Counter((r.get("kind") or r["sub-category"], r["choices"].index(r["solution"]))
                          for r in rows(task / name))
        for kind in KINDS:
            n_options = mini_task.N_OPTIONS.get(kind.name, len(kind.choices()))
            counts = [by_kind[(kind.name, p)] for p in range(n_options)]
            assert max(counts) - min(counts) <= 1, (name, kind.name, counts)


def test_sft_mixes_both_modes_under_each_prompt_regardless_of_difficulty(task, tmp_path):
    mini_task.build(tmp_path, seed=3, n_train=0, n_sft=600, n_test=0)
    sft = rows(tmp_path / "sft.jsonl")
    mode = Counter((r["prompt"], r["difficulty"], parse_completion(r["messages"][-1]["content"]).is_think)
                   for r in sft)
    for difficulty in mini_task.DIFFICULTIES:
        assert mode[("always_think", difficulty, False)] == 0 < mode[("always_think", difficulty, True)]
        assert mode[("answer_only", difficulty, True)] == 0 < mode[("answer_only", difficulty, False)]
        think, direct = mode[("adaptive_think", difficulty, True)], mode[("adaptive_think", difficulty, False)]
        assert abs(think - direct) < 0.4 * (think + direct)  # a coin, not a rule
    for r in sft:
        assert r["messages"][0]["content"] == mini_task.prompt_text(r["prompt"])
        reply = parse_completion(r["messages"][-1]["content"])
        assert strict_match(reply.answer, r["solution"], r["choices"]).correct


@pytest.mark.parametrize("levels, conclusion", [
    (("mid",), "mid"),                                        # easy: one step
    (("shrill", "deep"), "lower"),                            # medium
    (("low", "high", "deep", "mid"), "tone 2"),               # hard, a choice with a space
    (("low", "low", "deep", "mid"), "1"),                     # repeated levels, a digit answer
])
def test_trace_round_trip(levels, conclusion):
    text = render_thought(levels, conclusion)
    assert parse_thought(text) == mini_task.Thought(levels, conclusion)
    assert parse_thought(f"<think>{text}</think>") == mini_task.Thought(levels, conclusion)
    full = parse_completion(render_completion(levels, conclusion, think=True))
    assert full.is_think and full.answer == conclusion


@pytest.mark.parametrize("text", [
    "Tone 1: mid. Tone 3: high. So the answer is tone 2.",    # tones skipped
    "Tone 2: mid. Tone 1: high. So the answer is tone 2.",    # out of order
    "Tone 1: loud. So the answer is loud.",                    # not a level word
    "Tone 1: mid. So the answer is mid",                       # no final full stop
    "So the answer is mid.",                                   # no perception at all
    "Tone 1: mid. Tone 2: high. The answer is higher.",        # other wording of the conclusion
    "Tone 1: mid.Tone 2: high. So the answer is higher.",      # missing space between steps
])
def test_parse_refuses_what_the_grammar_does_not_say(text):
    assert parse_thought(text) is None


def test_levels_are_ordered_and_separated():
    hz = np.array(mini_task.LEVEL_HZ)
    semitones = 12 * np.log2(hz[1:] / hz[:-1])
    assert len(LEVELS) == len(hz) and (semitones > 2 * mini_task.DETUNE_SEMITONES + 2.9).all()  # ranges ~3 semitones apart


@pytest.mark.parametrize("argv, message", [
    (["--out", "{file}"], "exists and is not a directory"),   # --out names a file
    (["--out", "{dir}", "--test", "-1"], "must be >= 0"),     # a negative count
])
def test_bad_arguments_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "f").write_text("x")
    argv = [a.format(file=tmp_path / "f", dir=tmp_path / "d") for a in argv]
    assert cli_run(mini_task.main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]
