"""Reward-dynamics simulator: where do ATAR (Eq. 1–5) and Eq. 7 push a policy that picks a mode per question?

    python -m eval.simulate [--steps 300] [--plot docs/simulate.png]

A population of multiple-choice questions in three difficulties, each with its own accuracy per output
mode; a policy with one softmax over modes per difficulty (think, no-think, and "hidden": no-think form
with the reasoning written inside ``<answer>``, the reward hack of docs/rewards.md §2). Each step draws a
batch of questions, samples G completions per question, writes them as real completion strings and scores
them with the project's own functions (``tags.parse_completion``, ``rules.adaptive_format``, the
correctness rule, ``atar.gammas`` / ``atar.atar_reward``) combined as Eq. 7, with the judge terms drawn
from given probabilities. GRPO advantages (Eq. 8) then move the policy by an exact policy gradient.

Four runs: batch balancing on / off (off means γ ≡ 1), and the hidden-reasoning hack paid (correctness
by the benchmarks' token-set rule, as training did before the strict rule) or not (the strict rule,
``rules.is_correct``). Pure numpy, no ms-swift, seconds on a CPU.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from audio_thinker.cli import UsageError, parser, run
from audio_thinker.matching import match_choice
from audio_thinker.tags import parse_completion
from swift_plugins import annealing
from swift_plugins.atar import Gammas, atar_reward, gammas
from swift_plugins.rules import adaptive_format, is_correct

MODES = ("think", "no_think", "hidden")
CHOICES = ("a rising chirp", "a falling chirp", "a steady tone", "white noise")
GOLD = CHOICES[0]

# Share of each difficulty in the training data (AVQA is mostly easy for a 7B audio model) and accuracy
# per mode; "hidden" reasons like think mode, so it is as accurate. Chance is 0.25.
DIFFICULTY_SHARE = {"easy": 0.6, "medium": 0.25, "hard": 0.15}
DIFFICULTY_ACCURACY = {
    "easy": {"think": 0.92, "no_think": 0.88},
    "medium": {"think": 0.75, "no_think": 0.6},
    "hard": {"think": 0.5, "no_think": 0.25},
}


@dataclass(frozen=True)
class Config:
    steps: int = 300
    questions_per_step: int = 24  # prompts in one optimisation step (the global batch)
    group_size: int = 8  # G
    learning_rate: float = 0.5
    balance: bool = True  # Eq. 1–4; False means γ_think = γ_no-think = 1
    hack_paid: bool = False  # correctness by the token-set rule (pays hidden reasoning) instead of the strict rule
    initial: dict[str, float] = field(default_factory=lambda: {"think": 0.45, "no_think": 0.45, "hidden": 0.1})
    consistency: float = 0.9  # P(judge finds a correct think-mode answer consistent), R_c of Eq. 6
    think_quality: float = 0.6  # mean judge score R_t of think-mode reasoning
    seed: int = 0


def completion(mode: str, correct: bool) -> str:
    """The text a policy in ``mode`` writes; a wrong answer names another choice."""
    choice = GOLD if correct else CHOICES[1]
    if mode == "think":
        return f"<think>The pitch moves over the clip.</think><answer>{choice}</answer>"
    if mode == "hidden":
        return f"<answer>The pitch moves over the clip, so this is {choice}</answer>"
    return f"<answer>{choice}</answer>"


@functools.lru_cache(maxsize=None)
def score_text(mode: str, correct: bool, hack_paid: bool) -> tuple[bool, bool, float]:
    """(think mode?, judged correct?, R_f) of one completion, by the project's parser and rules."""
    parsed = parse_completion(completion(mode, correct))
    if hack_paid:
        judged = match_choice(parsed.answer, GOLD, CHOICES).correct
    else:
        judged = is_correct(parsed, GOLD, CHOICES)
    return parsed.is_think, judged, adaptive_format(parsed)


def eq7(r_a: np.ndarray, r_c: np.ndarray, r_f: np.ndarray, r_t: np.ndarray) -> np.ndarray:
    """Eq. 7: R = R_a·(1 + 0.5·R_c) + 0.5·R_f + R_t."""
    return r_a * (1 + 0.5 * r_c) + 0.5 * r_f + r_t


def grpo_advantages(rewards: np.ndarray) -> np.ndarray:
    """Eq. 8 per group (rows): (R − mean) / std, with ms-swift's +1e-4 and torch's unbiased std."""
    std = rewards.std(axis=1, ddof=1, keepdims=True)
    return (rewards - rewards.mean(axis=1, keepdims=True)) / (std + 1e-4)


@dataclass
class History:
    think: dict[str, list[float]]  # P(think) per difficulty, per step (the policy, not a sample)
    hidden: dict[str, list[float]]  # P(hidden) per difficulty
    think_ratio: list[float]  # λ of the sampled batch (think mode as the parser sees it)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()


def simulate(cfg: Config) -> History:
    """Run one training; a difficulty's mode logits are a shared part (one network's general tendency,
    moved by every question) plus its own part (what it has learnt about questions of that kind)."""
    rng = np.random.default_rng(cfg.seed)
    names = list(DIFFICULTY_ACCURACY)
    share = np.array([DIFFICULTY_SHARE[d] for d in names])
    shared = np.log(np.array([cfg.initial[m] for m in MODES]))
    own = {d: np.zeros(len(MODES)) for d in names}
    hist = History({d: [] for d in names}, {d: [] for d in names}, [])
    g = cfg.group_size
    for step in range(cfg.steps):
        logits = {d: shared + own[d] for d in names}
        for d in names:
            p = _softmax(logits[d])
            hist.think[d].append(float(p[0]))
            hist.hidden[d].append(float(p[2]))
        diff = rng.choice(len(names), size=cfg.questions_per_step, p=share)
        modes = np.array([rng.choice(len(MODES), size=g, p=_softmax(logits[names[k]])) for k in diff])
        acc = np.array([[DIFFICULTY_ACCURACY[names[k]]["no_think" if MODES[m] == "no_think" else "think"]
                         for m in row] for k, row in zip(diff, modes)])
        right = rng.random(modes.shape) < acc
        scored = [[score_text(MODES[m], bool(c), cfg.hack_paid) for m, c in zip(mr, cr)]
                  for mr, cr in zip(modes, right)]
        think = np.array([[s[0] for s in row] for row in scored])
        correct = np.array([[s[1] for s in row] for row in scored])
        r_f = np.array([[s[2] for s in row] for row in scored])
        lam = float(think.mean())
        hist.think_ratio.append(lam)
        factors = gammas(lam, annealing.progress(step, cfg.steps)) if cfg.balance else Gammas(1.0, 1.0)
        r_a = np.vectorize(lambda t, c: atar_reward(bool(t), bool(c), factors))(think, correct)
        # R_c (Eq. 6): 0 when wrong, 1 for correct no-think, the judge's verdict for correct think mode.
        r_c = np.where(correct, np.where(think, rng.random(think.shape) < cfg.consistency, 1.0), 0.0)
        # R_t: the judge's score of think-mode reasoning; no-think gets the batch mean of those (0 if none).
        quality = np.clip(np.round(rng.normal(cfg.think_quality, 0.15, think.shape), 1), 0.0, 1.0)
        mean_quality = float(quality[think].mean()) if think.any() else 0.0
        r_t = np.where(think, quality, mean_quality)
        adv = grpo_advantages(eq7(r_a, r_c, r_f, r_t))
        # Policy gradient of mean_i A_i·log π(mode_i): for a softmax, ∂/∂logits = onehot(mode) − π.
        grads = {d: np.zeros(len(MODES)) for d in names}
        for k, row, a in zip(diff, modes, adv):
            p = _softmax(logits[names[k]])
            for m, a_i in zip(row, a):
                grads[names[k]] += a_i * (np.eye(len(MODES))[m] - p)
        n = cfg.questions_per_step * g
        shared += cfg.learning_rate * sum(grads.values()) / n
        for d in names:
            own[d] += cfg.learning_rate * grads[d] / n
    return hist


def expected_atar(accuracy: float, think_ratio: float, progress: float = 0.0) -> tuple[float, float]:
    """E[R_a] of one completion in think and in no-think mode at a given accuracy p, λ and s/T (Eq. 5).

    Think: p·γ_t − (1 − p)(1 − γ_t); no-think: 2p·γ_n − (1 − p)(2 − γ_n).
    """
    f = gammas(think_ratio, progress)
    return (accuracy * atar_reward(True, True, f) + (1 - accuracy) * atar_reward(True, False, f),
            accuracy * atar_reward(False, True, f) + (1 - accuracy) * atar_reward(False, False, f))


SCENARIOS: dict[str, Callable[[Config], Config]] = {
    "balanced, strict": lambda c: replace(c, balance=True, hack_paid=False),
    "no balancing (γ≡1), strict": lambda c: replace(c, balance=False, hack_paid=False),
    "balanced, hack paid": lambda c: replace(c, balance=True, hack_paid=True),
    "no balancing (γ≡1), hack paid": lambda c: replace(c, balance=False, hack_paid=True),
}


def run_all(base: Config) -> dict[str, History]:
    return {name: simulate(make(base)) for name, make in SCENARIOS.items()}


def summary(results: dict[str, History], at: Sequence[int]) -> str:
    lines = ["P(think) [P(hidden)] per difficulty at steps " + ", ".join(map(str, at))]
    for name, hist in results.items():
        lines.append(f"  {name}")
        for d in hist.think:
            cells = [f"{hist.think[d][s]:.2f} [{hist.hidden[d][s]:.2f}]" for s in at]
            lines.append(f"    {d:<7}" + "  ".join(f"{c:>12}" for c in cells))
    return "\n".join(lines)


def plot(results: dict[str, History], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(9, 6), sharex=True, sharey=True)
    colours = {"easy": "tab:green", "medium": "tab:orange", "hard": "tab:red"}
    for ax, (name, hist) in zip(axes.flat, results.items()):
        for d, series in hist.think.items():
            ax.plot(series, color=colours[d], label=f"think, {d}")
            ax.plot(hist.hidden[d], color=colours[d], linestyle=":", label=f"hidden, {d}")
        ax.set_title(name, fontsize=10)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("step")
    for ax in axes[:, 0]:
        ax.set_ylabel("probability")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=7)
    fig.suptitle("Think rate (solid) and hidden-reasoning rate (dotted) per difficulty under Eq. 7", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=70)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    ap = parser("eval.simulate", __doc__)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--learning-rate", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="write the four runs' curves to this PNG")
    args = ap.parse_args(argv)
    if args.steps < 4:
        raise UsageError("must be at least 4", option="--steps")
    if args.learning_rate <= 0:
        raise UsageError("must be positive", option="--learning-rate")
    results = run_all(Config(steps=args.steps, learning_rate=args.learning_rate, seed=args.seed))
    print(summary(results, [0, args.steps // 10, args.steps // 4, args.steps // 2, args.steps - 1]))
    if args.plot:
        plot(results, args.plot)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
