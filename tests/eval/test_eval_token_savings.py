"""eval.think_analysis token savings: lengths per mode, overall and per group, counted by hand here."""
from __future__ import annotations

import json
import subprocess
import sys

from audio_thinker import benchmark_declarations as benchmarks
from eval import think_analysis
from eval.lengths import count_tokens
from eval.grading import join_predictions, score
from tests.helpers.paths import REPO


def test_tokens_are_words_and_punctuation_marks():
    assert count_tokens("<answer>Dog barking</answer>") == 2 + 3 + 4  # < answer > | Dog barking | < / answer >
    assert count_tokens("") == 0 and count_tokens(None) is None
    assert count_tokens("it's 3.5 s") == 7  # it ' s 3 . 5 s


def test_mean_lengths_per_mode_overall_and_per_difficulty(load_meta, tmp_path):
    items = load_meta("mmau-test-mini-v0325.json")
    think = "<think>" + " ".join(["word"] * 20) + "</think>"  # 3 + 20 + 4 = 27 tokens
    for it in items:
        if it["difficulty"] == "hard":
            it["model_output"] = f"{think}<answer>{it['answer']}</answer>"
        elif it["difficulty"] == "easy":
            it["model_output"] = f"<answer>{it['answer']}</answer>"
        else:
            it["model_output"] = it["answer"]  # no tags: the whole reply is the answer
    result = score(benchmarks.MMAU, join_predictions(benchmarks.MMAU, items)[0])
    analysis = think_analysis.analyse(result["items"])
    length = {it["id"]: count_tokens(it["answer"]) for it in items}

    def mean(values):
        return round(sum(values) / len(values), 1)

    hard = [length[it["id"]] + 27 + 7 for it in items if it["difficulty"] == "hard"]  # + <answer></answer>
    easy = [length[it["id"]] + 7 for it in items if it["difficulty"] == "easy"]
    medium = [length[it["id"]] for it in items if it["difficulty"] == "medium"]
    by = analysis["breakdowns"]["difficulty"]
    assert by["hard"]["think_mean_tokens"] == mean(hard) and by["hard"]["no_think_mean_tokens"] is None
    assert by["easy"]["no_think_mean_tokens"] == mean(easy) and by["easy"]["think_mean_tokens"] is None
    assert by["medium"]["no_think_answer_tokens"] == mean(medium) == by["medium"]["no_think_mean_tokens"]
    assert by["easy"]["no_think_answer_tokens"] == mean([length[it["id"]] for it in items if it["difficulty"] == "easy"])
    total = analysis["total"]
    assert total["mean_tokens"] == mean(hard + easy + medium)
    assert total["think_mean_tokens"] == mean(hard) and total["no_think_mean_tokens"] == mean(easy + medium)
    assert set(analysis["breakdowns"]["category"]["Reasoning"]) >= {"mean_tokens", "no_think_answer_tokens"}

    path = tmp_path / "result.json"
    path.write_text(json.dumps(result))
    proc = subprocess.run([sys.executable, "-m", "eval.think_analysis", "--input", str(path)], cwd=REPO,
                          capture_output=True, text=True, check=True)
    assert "no-think answer tokens" in proc.stdout and f"{mean(hard):.2f}" in proc.stdout
