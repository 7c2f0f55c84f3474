"""Multiple-choice accuracy of the <answer> content (docs/rewards.md §2), one case per line."""
import pytest

from audio_thinker.matching import match_choice
from audio_thinker.tags import parse_completion
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
    ("<answer>The speaker is a man</answer>", "Man", CHOICES, 1),           # sentence naming only the gold
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


@pytest.mark.parametrize("completion, solution, choices, correct", CASES)
def test_choice_accuracy(completion, solution, choices, correct):
    assert choice_accuracy(parse_completion(completion), solution, choices) == correct


def test_match_reports_the_named_choice():
    assert match_choice("B", "Man", CHOICES).picked == 1
    assert match_choice("Man or Woman", "Man", CHOICES).picked is None
    assert match_choice(None, "Man", CHOICES).picked is None
