"""Multiple-choice accuracy of the <answer> content (docs/rewards.md §2), one case per line.

Training uses the strict rule (the answer is exactly one choice); evaluation keeps the benchmarks'
official token-set rule (tests/eval check it against an independent re-implementation).
"""
import pytest

from audio_thinker.matching import match_choice, strict_match
from audio_thinker.tags import parse_completion
from swift_plugins.atar import Gammas, atar_reward, gammas
from swift_plugins.rules import choice_accuracy

CHOICES = ["Man", "Woman", "Child", "Robot"]
NOTES = ["C", "D", "E", "F"]  # musical notes: choice texts that look like letters

# completion, solution, choices, correct
CASES = [
    ("<answer>Man</answer>", "Man", CHOICES, 1),                            # exact text
    ("<answer>man</answer>", "Man", CHOICES, 1),                            # case
    ("<answer>Man.</answer>", "Man", CHOICES, 1),                           # trailing punctuation
    ("<answer> MAN! </answer>", "Man", CHOICES, 1),                         # case, spaces and punctuation
    ("<answer>A</answer>", "Man", CHOICES, 1),                              # option letter
    ("<answer>(A)</answer>", "Man", CHOICES, 1),                            # bracketed option letter
    ("<answer>a.</answer>", "Man", CHOICES, 1),                             # lower-case letter with a dot
    ("<answer>(A) Man</answer>", "Man", CHOICES, 1),                        # "(A) text"
    ("<answer>B. Woman</answer>", "Woman", CHOICES, 1),                     # "B. text"
    ("<answer>B</answer>", "Man", CHOICES, 0),                              # wrong letter
    ("<answer>E</answer>", "Man", CHOICES, 0),                              # letter beyond the options
    ("<answer>Woman</answer>", "Man", CHOICES, 0),                          # other choice ("man" is not a token of it)
    ("<answer>Man or Woman</answer>", "Man", CHOICES, 0),                   # names two choices
    ("<answer>The speaker is a man</answer>", "Man", CHOICES, 0),           # a sentence is not a choice (strict)
    ("<answer>B) Woman</answer>", "Woman", CHOICES, 1),                     # "B) text"
    ("<answer>b: woman!</answer>", "Woman", CHOICES, 1),                    # "B: text", case, punctuation
    ("<answer>(A) Woman</answer>", "Woman", CHOICES, 0),                    # label and text disagree
    ("<answer>Option B</answer>", "Woman", CHOICES, 1),                     # the letter alone, spelled out
    ("<answer>(B) Woman, I think</answer>", "Woman", CHOICES, 0),           # label, then a hedge
    ("<answer>Man</answer><answer>Woman</answer>", "Man", CHOICES, 0),      # two answers: no parsable answer
    ("<think>Could be a woman, but the pitch is low.</think><answer>Man</answer>", "Man", CHOICES, 1),  # reasoning mentions others
    ("Man", "Man", CHOICES, 0),                                             # no <answer> tag at all
    ("<answer>Man", "Man", CHOICES, 0),                                     # unclosed answer
    ("<answer>Man</answer>", "<answer>Man</answer>", CHOICES, 1),           # solution stored with its wrapper
    ("<answer>Man</answer>", "Man", None, 1),                               # no choices column: exact match
    ("<answer>The man</answer>", "Man", None, 0),                           # no choices column: no partial credit
    ("<answer>C</answer>", "C", NOTES, 1),                                  # note "C" is a text, not letter A-C
    ("<answer>C</answer>", "E", NOTES, 0),                                  # ...so it does not mean the third option
    ("<answer>男人</answer>", "男人", ["男人", "女人"], 1),                   # unicode choices
    ("<answer>女人</answer>", "男人", ["男人", "女人"], 0),                   # unicode, wrong
    ("<answer>Ｍａｎ</answer>", "Man", None, 1),                             # full-width letters (NFKC)
]


# Hidden reasoning: the thinking is moved into <answer> (no judge sees it). Every phrasing names only
# the gold choice's words, so the official token-set rule accepts each one; training must not.
CHIRP = ["a rising chirp", "a falling chirp", "a steady tone", "white noise"]
HIDDEN_REASONING = [
    "The pitch climbs for two seconds, so this is a rising chirp",
    "a rising chirp, because the pitch climbs steadily",
    "Let me think. The pitch climbs for two seconds. Answer: a rising chirp",
    "It starts low and climbs, which is a rising chirp.",
    "A rising chirp (the pitch climbs over the clip)",
    "(A) a rising chirp, since the pitch climbs",
    "I hear the pitch climbing: a rising chirp, not a falling one",
]


@pytest.mark.parametrize("answer", HIDDEN_REASONING)
def test_hidden_reasoning_is_incorrect_in_training_and_r_a_is_negative(answer):
    # the old (official) rule paid these
    assert match_choice(answer, "a rising chirp", CHIRP).correct or "falling" in answer
    parsed = parse_completion(f"<answer>{answer}</answer>")
    assert not parsed.is_think
    assert choice_accuracy(parsed, "a rising chirp", CHIRP) == 0
    for factors in (gammas(0.5, 0.0), gammas(0.9, 0.0), gammas(0.1, 0.0), Gammas(1.0, 1.0)):
        assert atar_reward(parsed.is_think, False, factors) < 0  # what rewards.py pays it: Case 4
    assert not strict_match(answer, "a rising chirp", CHIRP).correct


@pytest.mark.parametrize("answer", ["a rising chirp", "A rising chirp.", "A", "(A)", "(A) a rising chirp",
                                    "A. A rising chirp", "  RISING-chirp?? ".replace("RISING-", "a rising ")])
def test_the_choice_itself_is_correct_in_training(answer):
    assert strict_match(answer, "a rising chirp", CHIRP).correct
    assert strict_match(answer, "a rising chirp", CHIRP).picked == 0


@pytest.mark.parametrize("completion, solution, choices, correct", CASES)
def test_choice_accuracy(completion, solution, choices, correct):
    assert choice_accuracy(parse_completion(completion), solution, choices) == correct


def test_match_reports_the_named_choice():
    assert match_choice("B", "Man", CHOICES).picked == 1
    assert match_choice("Man or Woman", "Man", CHOICES).picked is None
    assert match_choice(None, "Man", CHOICES).picked is None


def test_the_plugin_rewards_pay_hidden_reasoning_as_a_wrong_no_think_answer(judge_env):
    from swift_plugins import rewards as plugin
    from tests.helpers.reward_calls import call, rows_kwargs

    completions = [f"<answer>{HIDDEN_REASONING[0]}</answer>",                            # the hack
                   "<answer>a rising chirp</answer>",                                     # no-think, right
                   "<think>The pitch climbs for two seconds.</think><answer>A</answer>"]  # think, right
    kwargs = rows_kwargs(len(completions), solution="a rising chirp", choices=CHIRP)
    assert call(plugin.ChoiceAccuracy(), completions, **kwargs) == [0.0, 1.0, 1.0]
    r_a = call(plugin.AdaptiveThinkAccuracy(), completions, **kwargs)
    assert r_a[0] < 0 < r_a[2] < r_a[1]  # Case 4 for the hack; Cases 3 and 1 for the honest answers
    r_a_r_c = call(plugin.ThinkConsistency(), completions, **kwargs)
    assert r_a_r_c[0] == 0.0 and r_a_r_c[1] > 0  # R_c = 0 when wrong: the judge is not asked about it
