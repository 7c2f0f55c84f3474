"""mini.precondition --traces (mini.traces.judge_sampled): sampled replies judged by the task judge (a real server on loopback, the
project's judge client), and the flawed warm start's checks computed from them."""
from __future__ import annotations

import json

import numpy as np
import pytest

from audio_thinker.rows import build_user_text
from mini import precondition
from mini import task as mini_task
from mini import traces as mini_traces


def prediction(item, output: str) -> dict:
    """An eval.infer prediction row for ``item`` (the fields mini.traces reads)."""
    return {"messages": [{"role": "user", "content": "<audio>" + build_user_text(item.kind.question, item.choices)}],
            "output": output, "solution": item.answer, "choices": list(item.choices),
            "difficulty": item.kind.difficulty}


def test_sampled_traces_are_judged_and_checked(tmp_path):
    items = [mini_task.make_item(9, "test", i) for i in range(6)]  # easy, medium, hard, twice
    outputs = [mini_task.render_completion(it.levels, it.answer, think=True) for it in items]
    outputs[1] = mini_task.flawed_completion(items[1], "contradiction", np.random.default_rng(0))  # right, inconsistent
    outputs[2] = mini_task.flawed_completion(items[2], "answer_mismatch", np.random.default_rng(0))  # wrong, inconsistent
    outputs[3] = f"<answer>{items[3].answer}</answer>"  # no trace: not judged
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(prediction(it, out)) + "\n" for it, out in zip(items, outputs)))
    traces = mini_traces.judge_sampled(None, preds)
    overall = traces["overall"]
    assert (overall["traces"], overall["consistent"], overall["failed"]) == (5, 60.0, 0)
    assert (overall["correct"], overall["consistent_when_correct"]) == (4, 75.0)  # the mismatch answered wrong
    assert overall["quality"] == pytest.approx((1.0 + 0.6 + 1.0 + 1.0 + 1.0) / 5)  # R_t reads the reasoning alone
    assert traces["by_difficulty"]["easy"]["traces"] == 1 and traces["by_difficulty"]["hard"]["consistent"] == 50.0
    hard = lambda a, t: {"answer_only": {"hard": {"accuracy": a}}, "always_think": {"hard": {"accuracy": t}}}  # noqa: E731
    checks = precondition.flawed_checks(hard(40.0, 55.0), traces)
    assert list(checks.values()) == [True, True, False]  # 60 % consistent: in [60, 85]; R_t 0.92 > 0.8
    assert not precondition.flawed_checks(hard(55.0, 55.0), traces)["hard: always-think > answer-only"]
