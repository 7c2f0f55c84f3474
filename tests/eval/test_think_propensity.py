"""eval.think_propensity: the exact probability of a think-mode opening, checked against an independent softmax
on a tiny checkpoint, its summaries against hand computation, its bad inputs; on a small mini backbone, the
prompts that force a mode give ~1 and ~0 and sampling agrees with the exact figure."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval import think_propensity as tp
from eval.stats import wilson_interval
from mini import task as mini_task
from tests.helpers.paths import REPO

PROMPTS = REPO / "swift_plugins" / "prompts"


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    """Six held-out mini-task items (two per difficulty): real WAVs, benchmark rows and MMAU-style metadata."""
    out = tmp_path_factory.mktemp("mini_task")
    subprocess.run([sys.executable, "-m", "mini.task", "--out", str(out), "--seed", "1", "--train", "0", "--sft", "0",
                    "--test", "6"], check=True, cwd=REPO, capture_output=True)
    return out


def rows_of(task):
    return [json.loads(line) for line in (task / "test.jsonl").read_text().splitlines()]


def test_openings_drop_duplicates_and_prefixes():
    vocab = {"<think>": [7], " <think>": [7], "\n<think>": [1, 7], "\n\n<think>": [1, 7, 9]}
    assert tp.openings(lambda text: vocab[text]) == [(7,), (1, 7)]


def test_summary_by_hand():
    meta = {"a": {"difficulty": "easy", "category": "C"}, "b": {"difficulty": "easy", "category": "C"},
            "c": {"difficulty": "hard"}}
    out = tp.report({"a": 0.2, "b": 0.4, "c": 0.9}, meta, {"a": (1, 4), "b": (2, 4), "c": (4, 4)})
    easy = out["by_difficulty"]["easy"]
    assert easy["n"] == 2 and easy["propensity"] == pytest.approx(0.3)
    half = 12.706204736174698 * math.sqrt(0.02) / math.sqrt(2)  # t(0.975, 1) * sd / sqrt(n)
    assert easy["ci"] == pytest.approx([0.0, min(1.0, 0.3 + half)], abs=1e-6)  # the low end clipped at 0
    assert out["by_difficulty"]["hard"]["ci"] is None  # one item: no interval
    assert out["overall"]["propensity"] == pytest.approx(0.5) and out["overall"]["sampled_think_rate"] == pytest.approx(7 / 12, abs=1e-6)
    assert out["by_category"] == {"C": tp.summarise(["a", "b"], {"a": 0.2, "b": 0.4}, {"a": (1, 4), "b": (2, 4)})}
    assert "by_sub_category" not in out and out["items"] == {"a": 0.2, "b": 0.4, "c": 0.9}


def test_exact_equals_an_independent_softmax(tiny_qwen2_audio, held_out):
    """The figure is the product of the opening tokens' softmax probabilities under the evaluation prompt,
    recomputed here with transformers alone from the same prompt ids and audio features."""
    import torch
    from transformers import Qwen2AudioForConditionalGeneration

    policy = tp.Policy(str(tiny_qwen2_audio), "qwen2_audio")
    system = (PROMPTS / "adaptive_think.txt").read_text().strip()
    row = rows_of(held_out)[0]
    encoded = policy.encode(row, system)
    prompt = policy.tokenizer.decode(encoded["input_ids"])
    assert system in prompt and row["question"] in prompt and prompt.endswith("<|im_start|>assistant\n")
    assert "input_features" in encoded  # the audio is part of the prompt

    model = Qwen2AudioForConditionalGeneration.from_pretrained(tiny_qwen2_audio, dtype=torch.float32).eval()
    expected = 0.0
    for tail in policy.openings:
        ids = torch.tensor([list(encoded["input_ids"]) + list(tail)])
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                           input_features=encoded["input_features"],
                           feature_attention_mask=encoded["feature_attention_mask"]).logits[0]
        probs = torch.softmax(logits.double(), dim=-1)
        start = ids.shape[1] - len(tail) - 1
        expected += math.prod(float(probs[start + k, token]) for k, token in enumerate(tail))
    assert len(policy.openings) >= 2  # "<think>" and a whitespace-led opening
    assert policy.think_probability(encoded) == pytest.approx(expected, rel=1e-5)
    assert 0.0 < expected < 1.0


def test_command_on_qwen2_5_omni(tiny_checkpoints, held_out, tmp_path):
    out = tmp_path / "tp.json"
    code = tp.main(["--model", str(tiny_checkpoints / "qwen2.5-omni"), "--benchmark-file",
                    str(held_out / "test.jsonl"), "--meta", str(held_out / "test-meta.json"), "--system",
                    str(PROMPTS / "adaptive_think.txt"), "--out", str(out), "--limit", "3"])
    result = json.loads(out.read_text())
    assert code == 0 and result["overall"]["n"] == 3 and len(result["items"]) == 3
    assert all(0.0 < p < 1.0 for p in result["items"].values())
    assert sum(e["n"] for e in result["by_difficulty"].values()) == 3


@pytest.mark.parametrize("change, message", [
    (lambda a, d: a + ["--samples", "0"], "--samples: must be at least 1"),
    (lambda a, d: [x if x != str(d / "test-meta.json") else str(d / "empty.json") for x in a],
     "has no item for 6 benchmark row(s)"),
    (lambda a, d: [x if x != str(PROMPTS / "adaptive_think.txt") else str(d / "nope.txt") for x in a],
     "nope.txt: no such file"),
    (lambda a, d: [x if x != "MODEL" else str(d / "no-model") for x in a], "--model: no such checkpoint directory"),
])
def test_bad_input_is_one_line(held_out, tmp_path, change, message):
    (held_out / "empty.json").write_text("[]")
    args = ["--model", "MODEL", "--benchmark-file", str(held_out / "test.jsonl"), "--meta",
            str(held_out / "test-meta.json"), "--system", str(PROMPTS / "adaptive_think.txt"), "--out",
            str(tmp_path / "o.json")]
    if "MODEL" in args and "no such checkpoint" not in message:
        args[args.index("MODEL")] = str(held_out)  # any directory: the error comes before the model loads
    proc = subprocess.run([sys.executable, "-m", "eval.think_propensity", *change(args, held_out)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "o.json").exists()


# --- on a mini backbone (mini.build --size small: the miniature's build on a narrower model and a shorter warm
# start, ~1 min on 2 cores; a no-op when built). The claims need a model that learned the reply format (which
# mode each prompt asks for), not the full miniature's hearing: its 3 min build was the suite's slowest item.

@pytest.fixture(scope="module")
def mini_backbone():
    """MINI_MODEL when set (as mini/table.sh reads it), else the small build in the shared cache, built when
    absent."""
    if os.environ.get("MINI_MODEL"):
        return Path(os.environ["MINI_MODEL"])
    out = REPO / ".cache" / "mini-small"
    subprocess.run([sys.executable, "-m", "mini.build", "--size", "small", "--out", str(out)], check=True,
                   cwd=REPO, capture_output=True)
    return out / "qwen2-audio"


def run_on_mini(model, task, prompt, out, *extra):
    code = tp.main(["--model", str(model), "--model-type", "qwen2_audio", "--benchmark-file", str(task / "test.jsonl"),
                    "--meta", str(task / "test-meta.json"), "--system", str(PROMPTS / prompt), "--out", str(out),
                    *extra])
    assert code == 0
    return json.loads(out.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("prompt, low, high", [("always_think.txt", 0.95, 1.0), ("answer_only.txt", 0.0, 0.05)])
def test_mini_prompts_that_force_a_mode(mini_backbone, held_out, tmp_path, prompt, low, high):
    result = run_on_mini(mini_backbone, held_out, prompt, tmp_path / "tp.json")
    assert low <= result["overall"]["propensity"] <= high, result["overall"]
    assert set(result["by_difficulty"]) == set(mini_task.DIFFICULTIES)


@pytest.mark.slow
def test_mini_adaptive_prompt_agrees_with_sampling(mini_backbone, held_out, tmp_path):
    result = run_on_mini(mini_backbone, held_out, "adaptive_think.txt", tmp_path / "tp.json", "--samples", "40")
    overall = result["overall"]
    assert overall["sampled_ci"][0] < overall["sampled_think_rate"] < overall["sampled_ci"][1]
    # the 99.9 % Wilson interval of the sampled count: a real disagreement fails, one seed in twenty does not
    think = sum(s["think"] for s in result["sampled_items"].values())
    low, high = wilson_interval(think, 40 * overall["n"], z=3.2905)
    assert low / 100 <= overall["propensity"] <= high / 100, overall
    assert 0.02 < overall["propensity"] < 0.98  # the adaptive prompt leaves the choice open: a real check
