"""eval.mode_signal on a hand-made run whose every figure is computed by hand here, and (slow) on a real
short model-a run: its think share per step is the plugin's logged think ratio, and each group's advantages
sum to zero."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

import pytest

from audio_thinker.jsonl import read_completion_tables, read_jsonl, write_jsonl
from eval import mode_signal as ms
from tests.helpers.paths import REPO
from tests.helpers.swift import recipe_env, run_logged

THINK, ANSWER = "<think>I hear two tones.</think><answer>A</answer>", "<answer>A</answer>"
EASY_Q, HARD_Q = "<audio>Is the tone high?", "<audio>Which of five tones is highest?"


def prompt(question):
    return f"<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"


def table(step, rows):
    """rows: (question, completion, reward_1, reward_2, advantage)."""
    return {"step": [str(step)] * len(rows), "prompt": [prompt(r[0]) for r in rows],
            "completion": [r[1] for r in rows], "RewardOne": [r[2] for r in rows], "RewardTwo": [r[3] for r in rows],
            "advantages": [r[4] for r in rows], "solution": ["A"] * len(rows)}


@pytest.fixture
def hand_run(tmp_path):
    """Two steps of two groups of two (G = 2); reward weights 1 and 2; dr_grpo, max_completion_length 10, so
    every token weighs 1 / (4 · 10) = 0.025; the last table is written twice, as ms-swift does."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "args.json").write_text(json.dumps({"loss_type": "dr_grpo", "num_generations": 2, "max_completion_length": 10,
                                               "reward_weights": [1.0, 2.0], "model": "/nowhere"}))
    step1 = table(1, [(EASY_Q, THINK, 1.0, 0.5, 1.0), (EASY_Q, ANSWER, 0.0, 0.5, -1.0),
                      (HARD_Q, ANSWER, 0.0, 0.0, 0.0), (HARD_Q, ANSWER, 0.0, 0.0, 0.0)])
    step2 = table(2, [(EASY_Q, THINK, 1.0, 1.0, 0.0), (EASY_Q, THINK, 1.0, 1.0, 0.0),
                      (HARD_Q, THINK, 1.0, None, 1.0), (HARD_Q, ANSWER, 0.0, 0.0, -1.0)])
    write_jsonl(run / "completions.jsonl", [step1, step2, step2])
    rows = [{"messages": [{"role": "user", "content": EASY_Q}], "difficulty": "easy"},
            {"messages": [{"role": "user", "content": HARD_Q}], "difficulty": "hard"}]
    write_jsonl(tmp_path / "train.jsonl", rows)
    return run, tmp_path / "train.jsonl"


def test_hand_made_run(hand_run, tmp_path):
    run, data = hand_run
    assert ms.main(["--run", str(run), "--data", str(data), "--out", str(tmp_path / "o.json"), "--window", "1"]) == 0
    out = json.loads((tmp_path / "o.json").read_text())
    overall = out["overall"]
    assert overall["completions"] == 8 and overall["logged_steps"] == 2  # the repeated last table is dropped
    assert overall["think_share"] == 0.5  # think: 1 + 0 + 2 + 1 of 8
    # rewards 1·r1 + 2·r2 (a missing value counts 0): think 2, 3, 3, 1; no-think 1, 0, 0, 0
    assert overall["think_reward"] == pytest.approx(9 / 4) and overall["no_think_reward"] == pytest.approx(1 / 4)
    assert overall["think_advantage"] == pytest.approx(2 / 4) and overall["no_think_advantage"] == pytest.approx(-2 / 4)
    assert (overall["groups"], overall["contrast_groups"]) == (4, 2)
    # push per step: step 1 = +1·1·0.025 − (−1)·0.025 = 0.05, step 2 = 0 + 0.025 + 0.025 = 0.05; mean 0.05
    assert overall["decision_push"] == pytest.approx(0.05)
    easy, hard = out["by_difficulty"]["easy"], out["by_difficulty"]["hard"]
    assert easy["think_share"] == 0.75 and hard["think_share"] == 0.25
    assert (easy["groups"], easy["contrast_groups"], hard["groups"], hard["contrast_groups"]) == (2, 1, 2, 1)
    assert easy["decision_push"] == pytest.approx(0.025) and hard["decision_push"] == pytest.approx(0.025)
    assert hard["think_reward"] == 1.0 and hard["no_think_advantage"] == pytest.approx(-1 / 3)  # 0, 0, -1
    w1, w2 = out["windows"]
    assert w1["steps"] == [1, 1] and w2["steps"] == [2, 2]
    assert w1["think_share"] == 0.25 and w2["think_share"] == 0.75 and w1["decision_push"] == pytest.approx(0.05)
    assert w1["by_difficulty"]["hard"]["think_share"] == 0.0 and w1["by_difficulty"]["hard"]["think_advantage"] is None
    assert out["steps"] == {"1": 0.25, "2": 0.75}


@pytest.mark.parametrize("loss_type, weights", [
    ("grpo", lambda lengths: [1 / (n * len(lengths)) for n in lengths]),
    ("bnpo", lambda lengths: [1 / sum(lengths)] * len(lengths)),
    ("dapo", lambda lengths: [1 / sum(lengths)] * len(lengths)),
])
def test_token_weights_by_loss_type(hand_run, tmp_path, tiny_qwen2_audio, loss_type, weights):
    """Each completion's tokens: the tokenizer's count of its text plus the end-of-turn token."""
    from transformers import AutoTokenizer

    run, data = hand_run
    args = json.loads((run / "args.json").read_text())
    (run / "args.json").write_text(json.dumps({**args, "loss_type": loss_type, "max_completion_length": 100}))
    tok = AutoTokenizer.from_pretrained(tiny_qwen2_audio)
    assert ms.main(["--run", str(run), "--data", str(data), "--out", str(tmp_path / "o.json"),
                    "--tokenizer", str(tiny_qwen2_audio)]) == 0
    out = json.loads((tmp_path / "o.json").read_text())
    push = 0.0
    for t in read_completion_tables(run / "completions.jsonl"):
        lengths = [len(tok(c, add_special_tokens=False)["input_ids"]) + 1 for c in t["completion"]]
        push += sum((1 if c == THINK else -1) * a * w
                    for c, a, w in zip(t["completion"], t["advantages"], weights(lengths)))
    assert out["overall"]["decision_push"] == pytest.approx(push / 2)


@pytest.mark.parametrize("change, message", [
    (lambda run: (run / "completions.jsonl").unlink(), "completions.jsonl: missing"),
    (lambda run: (run / "args.json").write_text(json.dumps({"num_generations": 3, "loss_type": "dr_grpo",
                                                            "reward_weights": [1, 2]})),
     "not a multiple of num_generations=3"),
    (lambda run: (run / "args.json").write_text(json.dumps({"num_generations": 2, "loss_type": "dr_grpo",
                                                            "reward_weights": [1]})),
     "2 reward columns, args.json 1 reward_weights"),
    (lambda run: (run / "args.json").write_text(json.dumps({"num_generations": 2, "loss_type": "grpo",
                                                            "reward_weights": [1, 2], "model": "/nowhere"})),
     "pass --tokenizer DIR"),
])
def test_bad_input_is_one_line(hand_run, tmp_path, change, message):
    run, data = hand_run
    change(run)
    proc = subprocess.run([sys.executable, "-m", "eval.mode_signal", "--run", str(run), "--data", str(data), "--out",
                           str(tmp_path / "o.json")], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "o.json").exists()


@pytest.mark.slow
def test_real_model_a_run(tiny_qwen2_audio, tmp_path):
    """Four steps of model-a on the tiny Qwen2-Audio over mini-task rows (all three difficulties)."""
    subprocess.run([sys.executable, "-m", "mini.task", "--out", str(tmp_path / "task"), "--seed", "2", "--train", "16",
                    "--sft", "0", "--test", "0"], check=True, cwd=REPO, capture_output=True)
    data = tmp_path / "task" / "train.jsonl"
    env = recipe_env(tiny_qwen2_audio, data, tmp_path / "runs", MAX_STEPS=4, SAVE_STEPS=4, MAX_COMPLETION_LENGTH=48)
    run_logged(["bash", str(REPO / "recipes" / "model-a.sh")], tmp_path, env)
    run = tmp_path / "runs" / "model-a"
    assert ms.main(["--run", str(run), "--data", str(data), "--out", str(tmp_path / "o.json"), "--window", "2"]) == 0
    out = json.loads((tmp_path / "o.json").read_text())
    logged = {int(r["global_step/max_steps"].split("/")[0]): r["audio_thinker/think_ratio"]
              for r in read_jsonl(run / "logging.jsonl") if "audio_thinker/think_ratio" in r}
    assert sorted(logged) == [1, 2, 3, 4]
    assert out["steps"] == pytest.approx({str(s): v for s, v in logged.items()})
    assert out["overall"]["groups"] == 4 and "unknown" not in out["by_difficulty"]
    sums = defaultdict(float)
    for t in read_completion_tables(run / "completions.jsonl"):
        for i, (p, a) in enumerate(zip(t["prompt"], t["advantages"])):
            sums[(t["step"][i], i // 4)] += a
    assert len(sums) == 4 and all(abs(s) < 1e-4 for s in sums.values())
