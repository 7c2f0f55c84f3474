"""mini.trace_curves on a hand-made run: every sampled think trace judged again by the task judge (a real
server on loopback, the project's judge client), per window of steps, with the figures computed by hand
here; and mini.traces' summary of judged replies."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mini import task as mini_task
from mini import trace_curves
from mini.traces import summarise


@pytest.fixture
def root(tmp_path):
    paths = mini_task.build(tmp_path / "task", seed=5, n_train=3, n_sft=0, n_test=0)
    rows = [json.loads(line) for line in paths["train"].read_text().splitlines()]
    items = [mini_task.make_item(5, "train", i) for i in range(3)]
    clean = [mini_task.render_completion(i.levels, i.answer, think=True) for i in items]
    flawed = [mini_task.flawed_completion(i, "missing", np.random.default_rng(0)) for i in items]
    repeated = mini_task.flawed_completion(items[2], "repeated", np.random.default_rng(0))
    prompt = lambda k: f"<|im_start|>user\n{rows[k]['messages'][-1]['content']}<|im_end|>\n"  # noqa: E731
    # step 1: 2 clean traces, 1 missing perception; step 2: a direct answer, a repeated step;
    # step 3: 1 missing perception, 1 clean; an unknown prompt is left out
    table = [(1, 0, clean[0]), (1, 1, clean[1]), (1, 2, flawed[2]), (2, 0, f"<answer>{items[0].answer}</answer>"),
             (2, 2, repeated), (3, 1, flawed[1]), (3, 2, clean[2])]
    run = tmp_path / "seed-1" / "model-b"
    run.mkdir(parents=True)
    tables = [{"step": [str(s) for s, _, _ in table], "prompt": [prompt(k) for _, k, _ in table],
               "completion": [c for _, _, c in table],
               "ChoiceAccuracy": [1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0]},  # the repeated step answered wrong here
              {"step": ["3"], "prompt": ["<|im_start|>user\nsomething else<|im_end|>"], "completion": [clean[0]]}]
    (run / "completions.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tables))
    (run / "logging.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"loss": 0.1, "global_step/max_steps": "1/3", "audio_thinker/judge_consistency_rate": 1.0},
        {"loss": 0.1, "global_step/max_steps": "2/3", "audio_thinker/judge_consistency_rate": None}]))
    return tmp_path


def test_windows_of_judged_traces_by_hand(root, tmp_path):
    out = tmp_path / "figures"
    assert trace_curves.main(["--root", str(root), "--seeds", "1", "2", "--rows", "model-b", "--out", str(out),
                              "--window", "2"]) == 0
    doc = json.loads((out / "trace_curves.json").read_text())
    assert list(doc["runs"]) == ["model-b seed 1"]  # seed 2 has no run: left out
    w1, w2 = doc["runs"]["model-b seed 1"]["windows"]
    # steps 1-2: 5 completions, 4 traces: clean, clean, missing (inconsistent), repeated (consistent, R_t 0.8);
    # step 3: missing (inconsistent), clean
    assert (w1["from"], w1["to"], w1["completions"], w1["think"], w1["consistent"]) == (1, 2, 5, 4, 75.0)
    assert (w1["correct"], w1["consistent_when_correct"]) == (3, pytest.approx(200 / 3, abs=0.01))
    missing_hard = 0.5  # item 2 is hard (5 tones): 0.4 * 4/5 + 0.2 = 0.52 -> 0.5
    assert w1["quality"] == pytest.approx((1.0 + 1.0 + missing_hard + 0.8) / 4)
    missing_medium = 0.4  # item 1 is medium; its kind has 2 tones: 0.4 * 1/2 + 0.2
    assert mini_task.make_item(5, "train", 1).kind.tones == 2
    assert (w2["from"], w2["to"], w2["think"], w2["consistent"], w2["consistent_when_correct"]) == (3, 3, 2, 50.0, 50.0)
    assert w2["quality"] == pytest.approx((missing_medium + 1.0) / 2)
    assert doc["runs"]["model-b seed 1"]["logged"] == {"consistency": [[1, 1.0]], "quality": []}
    assert (out / "trace_curves.png").stat().st_size > 1000


def test_no_run_is_a_one_line_error(root, tmp_path, capsys):
    from audio_thinker.cli import run as cli_run
    assert cli_run(trace_curves.main, ["--root", str(root), "--seeds", "3", "--rows", "model-b", "--out",
                                       str(tmp_path / "x")]) == 2
    assert "no run with a completions.jsonl" in capsys.readouterr().err


def test_summary_rates_and_intervals():
    judged = [{"difficulty": "hard", "correct": True, "consistent": 1.0, "quality": 1.0},
              {"difficulty": "hard", "correct": False, "consistent": 0.0, "quality": 0.6},
              {"difficulty": "easy", "correct": True, "consistent": 0.0, "quality": 0.2},
              {"difficulty": "easy", "correct": True, "consistent": None, "quality": 0.8}]
    doc = summarise(judged, ("easy", "hard"))
    overall = doc["overall"]
    assert (overall["traces"], overall["consistent"], overall["consistent_when_correct"], overall["correct"]) == \
        (4, 33.33, 50.0, 2)  # rounded to 2 decimals
    assert overall["quality"] == pytest.approx(0.65) and overall["failed"] == 1
    assert overall["consistent_ci"][0] < 100 / 3 < overall["consistent_ci"][1]
    assert doc["by_difficulty"]["hard"]["consistent"] == 50.0



def test_held_out_differences_by_hand(root):
    overall = lambda c, cc, n, q, ci: {"traces": 100, "consistent": c, "correct": n,  # noqa: E731
                                       "consistent_when_correct": cc, "quality": q, "quality_ci": ci}
    for name, summary in (("base", overall(50.0, 60.0, 80, 0.7, [0.67, 0.73])),
                          ("model-b-seed1", overall(70.0, 80.0, 50, 0.8, [0.76, 0.84]))):
        (root / "traces" / name).mkdir(parents=True)
        (root / "traces" / name / "traces.json").write_text(json.dumps({"overall": summary}))
    doc = trace_curves.held_out(root, ["1"], ["model-b"])
    (d,) = doc["differences"]
    assert (d["a"], d["b"]) == ("base", "model-b-seed1")
    half = 1.959963984540054 * (0.7 * 0.3 / 100 + 0.5 * 0.5 / 100) ** 0.5
    assert d["consistent"]["delta"] == 20.0
    assert d["consistent"]["ci95"] == [pytest.approx(100 * (0.2 - half), abs=0.01), pytest.approx(100 * (0.2 + half), abs=0.01)]
    assert d["consistent_when_correct"]["delta"] == 20.0
    assert d["quality"]["delta"] == pytest.approx(0.1)
    assert d["quality"]["ci95"][1] - d["quality"]["ci95"][0] == pytest.approx(2 * (0.03 ** 2 + 0.04 ** 2) ** 0.5, abs=1e-3)


def test_pooled_over_seeds_by_hand():
    diff = lambda a, b, delta, half: {"a": a, "b": b, "consistent": {"delta": delta, "ci95": [delta - half, delta + half]},  # noqa: E731
                                      "consistent_when_correct": None, "quality": None}
    (p,) = trace_curves.pooled([diff("model-a-seed1", "model-b-seed1", 6.0, 9.0),
                                diff("model-a-seed2", "model-b-seed2", 8.0, 12.0)])
    assert (p["a"], p["b"], p["seeds"], p["consistent_when_correct"]) == ("model-a", "model-b", 2, None)
    assert p["consistent"]["delta"] == 7.0 and p["consistent"]["ci95"] == [7.0 - 7.5, 7.0 + 7.5]  # sqrt(81+144)/2
