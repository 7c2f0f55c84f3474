"""With --reward_weights 1 0.5 0.5 1 on atar think_consistency adaptive_format think_quality,
ms-swift's weighted sum is Eq. 7 for every completion:  R = R_a(1 + 0.5 R_c) + 0.5 R_f + R_t.

The rewards run through ms-swift's own scoring function (sync rewards, then the
async ones under asyncio.gather) and its own weighted sum, against a loopback
judge whose verdicts are scripted so that R_c and R_t are known in advance.
"""
import math
from types import SimpleNamespace

import pytest
import torch
from swift.rl_core.data import GRPOSample
from swift.rl_core.grpo_algorithm import compute_rewards_per_func

from swift_plugins import rewards as plugin
from tests.helpers.judge import use_judge
from tests.helpers.loopback_server import nonce_of

FUNCS = ["atar", "think_consistency", "adaptive_format", "think_quality"]
WEIGHTS = torch.tensor([1.0, 0.5, 0.5, 1.0])
QUALITY = {"barks": 0.8, "pitch": 0.3}  # reasoning keyword -> scripted R_t


def judge(messages):
    nonce, text = nonce_of(messages), messages[-1]["content"]
    if "verdict-" in messages[0]["content"]:
        return f"verdict-{nonce}: {1 if 'barks' in text else 0}"  # "pitch" reasoning judged inconsistent
    score = next((s for k, s in QUALITY.items() if k in text), None)
    return f"score-{nonce}: {score}" if score is not None else "no idea"  # unparsable -> fallback


# completion, R_f, think?, correct?, R_c (the judge's), R_t (None = batch mean)
ROWS = [
    ("<think>It barks.</think><answer>Dog</answer>", 1, True, True, 1, 0.8),
    ("<think>High pitch.</think><answer>Dog</answer>", 1, True, True, 0, 0.3),
    ("<think>High pitch.</think><answer>Cat</answer>", 1, True, False, 0, 0.3),   # incorrect: judge not asked
    ("<think>Hmm.</think><answer>Dog</answer>", 1, True, True, 0, None),        # unparsable quality: mean
    ("<answer>Dog</answer>", 1, False, True, 1, None),                           # no-think: R_c = 1, R_t = mean
    ("<answer>Cat</answer>", 1, False, False, 0, None),                          # no-think but wrong: R_c = 0
    ("Dog", 0, False, False, 0, None),                                           # malformed, no answer
    ("<think>It barks.</think> <answer>Dog</answer> extra", 0, True, True, 1, 0.8),  # malformed think
]


def eq7(r_a, r_c, r_f, r_t):
    return r_a * (1 + 0.5 * r_c) + 0.5 * r_f + r_t


@pytest.mark.parametrize("step", [0, 40, 100])
def test_weighted_sum_is_eq7(scripted_server, monkeypatch, step):
    server = scripted_server(reply=judge)
    use_judge(monkeypatch, server.base_url)
    funcs = [plugin.orms[name]() for name in FUNCS]
    samples = [GRPOSample.from_row({"messages": [{"role": "user", "content": "<audio>What is it?"},
                                                 {"role": "assistant", "content": c}],
                                    "solution": "Dog", "choices": ["Dog", "Cat"]}) for c, *_ in ROWS]
    state = SimpleNamespace(global_step=step, max_steps=100)
    per_func = compute_rewards_per_func(samples, funcs, None, torch.device("cpu"), trainer_state=state)
    total = (per_func * WEIGHTS.unsqueeze(0)).nansum(dim=1).tolist()

    lam = sum(r[2] for r in ROWS) / len(ROWS)
    s = min((step + 1) / 100, 1.0)  # the step being trained: global_step + 1 (docs/rewards.md §3)
    g_t, g_n = math.exp(-lam * (1 - s)), math.exp(-(1 - lam) * (1 - s))
    judged = [r[5] for r in ROWS if r[5] is not None]
    mean = sum(judged) / len(judged)
    for got, (_, r_f, think, correct, r_c, r_t) in zip(total, ROWS):
        if think:
            r_a = g_t if correct else -(1 - g_t)
        else:
            r_a = 2 * g_n if correct else -g_n - 2 * (1 - g_n)
        assert got == pytest.approx(eq7(r_a, r_c, r_f, mean if r_t is None else r_t), abs=1e-6)
