"""mini.task's flawed think traces (the flawed warm start's rows): each flaw is what its label says in the
task judge's eyes, the rate and the mix are those asked, the rows are a function of the seed, and a clean
build is untouched."""
from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from audio_thinker.cli import run as cli_run
from audio_thinker.rows import build_user_text
from audio_thinker.tags import parse_completion
from mini import task as mini_task
from mini.judge import consistency_verdict, quality_score
from mini.task import FLAW_KINDS, NO_FLAW, Flaws, flawed_completion, make_item

ITEMS = [make_item(11, "sft", i) for i in range(90)]  # 30 per difficulty, every kind


def judged(item, reply: str) -> tuple[int, float, bool]:
    """(consistency verdict, quality score, answer correct) of ``reply`` to ``item``, by the task judge."""
    question = build_user_text(item.kind.question, item.choices)
    parsed = parse_completion(reply)
    assert parsed.is_think, reply  # every flaw keeps the think format
    return (consistency_verdict(question, parsed.reasoning, parsed.answer), quality_score(question, parsed.reasoning),
            parsed.answer == item.answer)


def clean(item) -> str:
    return mini_task.render_completion(item.levels, item.answer, think=True)


def test_a_clean_trace_is_consistent_and_scores_full_marks():
    assert {judged(item, clean(item)) for item in ITEMS} == {(1, 1.0, True)}


@pytest.mark.parametrize("flaw, consistent, correct", [
    ("contradiction", 0, True),  # the stated levels imply another option; the right answer is still given
    ("answer_mismatch", 0, False),  # the answer is not the trace's conclusion
    ("missing", 0, True),  # a perception left out: the rule cannot be applied to what is stated
    ("repeated", 1, True),  # a perception stated again: still consistent, but scored lower
])
def test_each_flaw_is_what_it_says_to_the_task_judge(flaw, consistent, correct):
    for i, item in enumerate(ITEMS):
        verdict, score, right = judged(item, flawed_completion(item, flaw, np.random.default_rng(i)))
        assert (verdict, right) == (consistent, correct), (flaw, item.kind.name, item.levels)
        assert score < 1.0 or flaw == "answer_mismatch", (flaw, item.kind.name)  # R_t reads the reasoning alone


def test_a_contradiction_changes_what_the_stated_levels_imply_and_nothing_else():
    for i, item in enumerate(ITEMS):
        thought = mini_task.parse_thought(parse_completion(flawed_completion(item, "contradiction",
                                                                             np.random.default_rng(i))).reasoning)
        assert thought.conclusion == item.answer and len(thought.levels) == len(item.levels)
        assert item.kind.answer(thought.levels) != item.answer
        assert sum(a != b for a, b in zip(thought.levels, item.levels)) in (1, 2)  # one change, or a swap


def test_draws_follow_the_rate_and_the_mix():
    flaws = Flaws(0.4, (0.5, 0.0, 0.25, 0.25))
    rng = np.random.default_rng(0)
    draws = Counter(flaws.draw(rng) for _ in range(20000))
    n = sum(draws.values())
    for kind, share in ((None, 0.6), ("contradiction", 0.2), ("answer_mismatch", 0.0), ("missing", 0.1),
                        ("repeated", 0.1)):
        assert abs(draws[kind] / n - share) <= 4 * math.sqrt(share * (1 - share) / n) + 1e-9, (kind, draws)
    assert Counter(Flaws(0.0).draw(rng) for _ in range(500)) == {None: 500}
    assert Flaws.parse_mix("missing=1, repeated=3") == (0.0, 0.0, 1.0, 3.0)


def sft_rows(folder, seed=3, n=60, flaws=None) -> list[dict]:
    paths = mini_task.build(folder, seed=seed, n_train=0, n_sft=n, n_test=0, flaws=flaws)
    return [json.loads(line) for line in paths["sft"].read_text().splitlines()]


def test_rows_are_labelled_deterministic_and_otherwise_the_clean_rows(tmp_path):
    plain = sft_rows(tmp_path / "plain")
    flawed = sft_rows(tmp_path / "flawed", flaws=Flaws(0.5))
    assert "flaw" not in plain[0]  # without --flaws the rows are exactly as before
    again = sft_rows(tmp_path / "again", flaws=Flaws(0.5))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "audios"} for r in rows]  # noqa: E731
    assert strip(again) == strip(flawed)  # a function of the seed
    assert strip(sft_rows(tmp_path / "other", seed=4, flaws=Flaws(0.5))) != strip(flawed)
    labels = Counter(r["flaw"] for r in flawed)
    assert set(labels) <= {NO_FLAW, *FLAW_KINDS} and labels[NO_FLAW] < len(flawed)
    for clean_row, row in zip(plain, flawed):
        assert row["prompt"] == clean_row["prompt"] and row["messages"][:-1] == clean_row["messages"][:-1]
        reply, clean_reply = row["messages"][-1]["content"], clean_row["messages"][-1]["content"]
        assert (reply == clean_reply) == (row["flaw"] == NO_FLAW)  # only a flawed row's reply differs ...
        assert row["flaw"] == NO_FLAW or clean_reply.startswith("<think>")  # ... and only think replies are flawed
    every = sft_rows(tmp_path / "every", flaws=Flaws(1.0))
    assert all((r["flaw"] != NO_FLAW) == r["messages"][-1]["content"].startswith("<think>") for r in every)


@pytest.mark.parametrize("argv, message", [
    (["--flaws", "1.5"], "--flaws: flaw rate must be within [0, 1], got 1.5"),
    (["--flaws", "0.3", "--flaw-mix", "typo=1"], "--flaw-mix: unknown flaw 'typo'"),
    (["--flaws", "0.3", "--flaw-mix", "missing=x"], "--flaw-mix: flaw weight of 'missing' is not a number"),
    (["--flaws", "0.3", "--flaw-mix", "missing=0"], "--flaw-mix: flaw mix needs 4 weights >= 0, not all 0"),
    (["--flaw-mix", "missing=1"], "--flaw-mix: needs --flaws RATE"),
])
def test_bad_flaw_options_one_line(tmp_path, capsys, argv, message):
    assert cli_run(mini_task.main, ["--out", str(tmp_path / "t"), "--sft", "3", "--test", "0", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {message}") and "\n" not in err
    assert not (tmp_path / "t").exists()  # nothing written
