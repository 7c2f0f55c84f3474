"""The reward declarations: one line per ``--reward_funcs`` name, the only place a reward is declared.

Everything else reads this table or is checked against it by a test: ``swift_plugins/rewards.py`` registers
``orms[name] = <class>`` from it, the registry and property tests take their names and value ranges from
it, the recipes ask it whether a row needs the judge (``python -m swift_plugins.registry needs-judge
NAME...``), and a test compares the reward tables of the README and docs/rewards.md with it. Adding a reward is one line here, its
class in ``rewards.py`` and its tests.

This module imports neither ms-swift nor torch, so the recipes can ask it in milliseconds.

    python -m swift_plugins.registry needs-judge atar think_consistency   # prints 1 (or 0)
    python -m swift_plugins.registry names                                # one name per line
"""
from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Reward:
    name: str          # what users type after --reward_funcs
    cls: str           # the ORM class in swift_plugins.rewards; the dashboard shows rewards/<cls>/mean
    low: float         # every value lies in [low, high] (tests/rewards/test_properties.py)
    high: float
    needs_judge: bool  # asks the LLM judge: the recipes start and check one first
    value: str         # the reward table's "value" column
    paper: str = ""    # the reward table's "paper" column
    # Its --reward_weights entry in the paper's rows: Eq. 7 for the Audio-Thinker terms (docs/rewards.md §6),
    # R1-AQA's 1 + 1 for the plain GRPO rows' accuracy and format; 0 for a dashboard monitor.
    weight: float = 1.0


REWARDS: tuple[Reward, ...] = (
    Reward("adaptive_format", "AdaptiveFormat", 0, 1, False,
           "R_f ∈ {0, 1}: exactly `<think>…</think><answer>…</answer>` or exactly `<answer>…</answer>`",
           "§4, \"both formats receive 1\"", weight=0.5),
    Reward("answer_format", "AnswerOnlyFormat", 0, 1, False,
           "1 for exactly `<answer>…</answer>` (grpo-a/c)", "R1-AQA"),
    Reward("think_format", "ThinkFormat", 0, 1, False,
           "1 for non-empty `<think>` then `<answer>` (grpo-b/d)"),
    Reward("choice_accuracy", "ChoiceAccuracy", 0, 1, False,
           "1/0: the `<answer>` content is exactly the gold choice (text or letter; strict, see Decisions)"),
    # ATAR: min over the cases is -2 (Case 4 at γ→0), max 2 (Case 3 at γ=1)
    Reward("atar", "AdaptiveThinkAccuracy", -2, 2, False,
           "R_a ∈ [−2, 2], Eq. 1–5, λ over the global batch, annealed by s/T, s = `global_step` + 1 (docs/rewards.md §3)", "Eq. 1–5",
           weight=1.0),
    # ATAR with γ ≡ 1: the naive case rewards {+1, 0, +2, −1}, whatever λ and the step (an ablation row's)
    Reward("atar_unbalanced", "AdaptiveThinkAccuracyUnbalanced", -1, 2, False,
           "R_a of Eq. 5 with γ_think = γ_no-think = 1 (Eq. 1–4 off): {+1, 0, +2, −1}; the ablation of batch balancing",
           "Eq. 5, γ ≡ 1", weight=1.0),
    Reward("think_consistency", "ThinkConsistency", -2, 2, True,
           "R_a · R_c ∈ [−2, 2] (weight 0.5 gives Eq. 7's consistency term); judge-backed", "Eq. 6–7",
           weight=0.5),
    Reward("think_quality", "ThinkQuality", 0, 1, True,
           "R_t ∈ {0, 0.1, …, 1}; no-think completions get the global batch mean", "§4"),
    Reward("think_rate", "ThinkRate", 0, 1, False,
           "1 think mode / 0 no-think; weight 0 puts the think ratio on the dashboard", weight=0.0),
)
BY_NAME = {reward.name: reward for reward in REWARDS}
# The rewards that already pay for a correct answer: beside one, ``choice_accuracy`` is a monitor (weight 0).
_ACCURACY_TERMS = ("atar", "atar_unbalanced")


def paper_weights(names: Sequence[str]) -> list[float | None]:
    """The ``--reward_weights`` the paper's rows give these ``--reward_funcs`` names, in order (None: not
    ours). Eq. 7 is ``--reward_funcs atar think_consistency adaptive_format think_quality --reward_weights 1
    0.5 0.5 1``; ``choice_accuracy`` weighs 1 in the plain GRPO rows and 0 beside ``atar``, which already
    contains the accuracy (the recipes add it at 0 as a dashboard monitor)."""
    beside_atar = any(term in names for term in _ACCURACY_TERMS)
    return [None if name not in BY_NAME else 0.0 if (name == "choice_accuracy" and beside_atar)
            else BY_NAME[name].weight for name in names]


def needs_judge(names: Iterable[str]) -> bool:
    """Whether any of these ``--reward_funcs`` names asks the judge (names that are not ours, such as
    ms-swift's own ``format``, do not)."""
    return any(BY_NAME[name].needs_judge for name in names if name in BY_NAME)


def readme_table() -> str:
    """The reward table of the README ("Rewards") and of docs/rewards.md, as it must read."""
    lines = ["| `--reward_funcs` | class | value | paper |", "|---|---|---|---|"]
    lines += [f"| `{r.name}` | `{r.cls}` | {r.value} | {r.paper} |".replace("|  |", "| |") for r in REWARDS]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["needs-judge"]:
        print(1 if needs_judge(args[1:]) else 0)
        return 0
    if args == ["names"]:
        print("\n".join(BY_NAME))
        return 0
    print("usage: python -m swift_plugins.registry needs-judge NAME... | names", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
