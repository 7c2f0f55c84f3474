"""A failed judgment is unknown, never bad (docs/rewards.md §7): with the judge failing, Eq. 7 for a correct
think-mode completion and a correct no-think one differ only by ATAR's own γ factors, not by the failure.

The rewards run through ms-swift's own scoring function and weighted sum (as in test_eq7.py), against a
closed port or a loopback judge that fails some requests, at λ = 0.5 and s = 0.
"""
import math
from types import SimpleNamespace

import pytest
import torch
from swift.rl_core.data import GRPOSample
from swift.rl_core.grpo_algorithm import compute_rewards_per_func

from swift_plugins import rewards as plugin
from tests.helpers.judge import use_judge
from tests.helpers.loopback_server import free_port, nonce_of

FUNCS = ["atar", "think_consistency", "adaptive_format", "think_quality"]
WEIGHTS = torch.tensor([1.0, 0.5, 0.5, 1.0])
LAMBDA = 0.5  # two think, two no-think completions
G_THINK, G_NO_THINK = math.exp(-LAMBDA), math.exp(-(1 - LAMBDA))


def partial_judge(messages):
    """Consistent for "barks", inconsistent for "pitch", an HTTP 500 for anything else; R_t 0.8 / 0.2."""
    nonce, text = nonce_of(messages), messages[-1]["content"]
    kind = "verdict" if "verdict-" in messages[0]["content"] else "score"
    for word, verdict, score in (("barks", "1", "0.8"), ("pitch", "0", "0.2")):
        if word in text:
            return f"{kind}-{nonce}: {verdict if kind == 'verdict' else score}"
    return 500, "judge overloaded"


def eq7_totals(completions, judge_url, monkeypatch):
    use_judge(monkeypatch, judge_url, timeout=2, max_retries=0)
    funcs = [plugin.orms[name]() for name in FUNCS]
    samples = [GRPOSample.from_row({"messages": [{"role": "user", "content": "<audio>What is it?"},
                                                 {"role": "assistant", "content": c}],
                                    "solution": "Dog", "choices": ["Dog", "Cat"]}) for c in completions]
    per_func = compute_rewards_per_func(samples, funcs, None, torch.device("cpu"),
                                        # s = (global_step + 1) / T ≈ 0 (docs/rewards.md §3): γ as at s = 0
                                        trainer_state=SimpleNamespace(global_step=0, max_steps=10**9))
    return (per_func * WEIGHTS.unsqueeze(0)).nansum(dim=1).tolist()


def test_judge_down_moves_neither_mode(monkeypatch):
    """The trap: R_c = 0 on failure gave think 1.107 against the 1.410 of a consistent judgment."""
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: every request is refused
    think, _, no_think, _ = eq7_totals(["<think>It barks.</think><answer>Dog</answer>",
                                        "<think>Woof.</think><answer>Dog</answer>",
                                        "<answer>Dog</answer>", "<answer>Cat</answer>"], down, monkeypatch)
    # no judgment succeeded anywhere: R_c = 1 (the no-think value), R_t = 0 for everyone
    assert think == pytest.approx(G_THINK * 1.5 + 0.5, abs=1e-4)  # 1.410
    assert no_think == pytest.approx(2 * G_NO_THINK * 1.5 + 0.5, abs=1e-4)  # 2.320
    # the consistency factor (1 + 0.5·R_c) is the same in both modes: only γ tells them apart
    assert (think - 0.5) / G_THINK == pytest.approx((no_think - 0.5) / (2 * G_NO_THINK))


# completion, R_c it must get, R_t it must get (the batch's consistency rate and R_t mean stand in for a failure)
PARTIAL = [
    ("<think>It barks.</think><answer>Dog</answer>", 1.0, 0.8),    # judged consistent
    ("<think>High pitch.</think><answer>Dog</answer>", 0.0, 0.2),  # judged inconsistent: a real 0 stays 0
    ("<think>Hmm.</think><answer>Dog</answer>", 0.5, 0.5),         # judge failed: rate 1/2, mean 0.5, not 0 / 0
    ("<think>Hmm.</think><answer>Cat</answer>", 0.0, 0.5),         # wrong: R_c 0 without asking; R_t failed
]


def test_partial_failure_takes_the_batch_rate(scripted_server, monkeypatch):
    server = scripted_server(reply=partial_judge)
    completions = [c for c, *_ in PARTIAL] + ["<answer>Dog</answer>"] * 4  # λ = 0.5
    totals = eq7_totals(completions, server.base_url, monkeypatch)
    for got, (completion, r_c, r_t) in zip(totals, PARTIAL):
        r_a = G_THINK if "<answer>Dog" in completion else -(1 - G_THINK)  # think mode, correct or not
        assert got == pytest.approx(r_a * (1 + 0.5 * r_c) + 0.5 + r_t, abs=1e-4), completion
    assert totals[4] == pytest.approx(2 * G_NO_THINK * 1.5 + 0.5 + 0.5, abs=1e-4)  # no-think: R_c 1, R_t mean
