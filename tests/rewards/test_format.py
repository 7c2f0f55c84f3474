"""R_f and the mode decision, one case per line (docs/rewards.md §1)."""
import pytest

from audio_thinker.tags import Mode, parse_completion
from swift_plugins.rules import adaptive_format, answer_only_format, think_format

T, N = Mode.THINK, Mode.NO_THINK

# completion, adaptive R_f, answer-only format, think format, mode
CASES = [
    ("<think>It barks.</think><answer>Dog</answer>", 1, 0, 1, T),            # think shape
    ("<answer>Dog</answer>", 1, 1, 0, N),                                    # no-think shape
    ("  \n<answer>Dog</answer>\n ", 1, 1, 0, N),                             # surrounding whitespace allowed
    ("<think>It barks.</think>\n<answer>Dog</answer>", 1, 0, 1, T),          # newline between blocks allowed
    ("<think></think><answer>Dog</answer>", 1, 0, 0, N),                     # empty think is no-think
    ("<think>  \n </think><answer>Dog</answer>", 1, 0, 0, N),                # whitespace-only think is no-think
    ("<answer>Dog</answer><answer>Cat</answer>", 0, 0, 0, N),                # two answers
    ("<think>a</think><answer>Dog</answer><answer>Cat</answer>", 0, 0, 0, T),  # two answers after thinking
    ("<think><think>a</think></think><answer>Dog</answer>", 0, 0, 0, N),     # nested think
    ("<answer><answer>Dog</answer></answer>", 0, 0, 0, N),                   # nested answer
    ("<think>a<answer>Dog</answer></think>", 0, 0, 0, N),                    # answer nested in think
    ("<think>It barks.<answer>Dog</answer>", 0, 0, 0, N),                    # unclosed think
    ("<think>It barks.</think><answer>Dog", 0, 0, 0, T),                     # unclosed answer
    ("The answer is <answer>Dog</answer>", 0, 0, 0, N),                      # text before the tags
    ("<answer>Dog</answer> I hope that helps.", 0, 0, 0, N),                 # text after the tags
    ("<think>a</think> so <answer>Dog</answer>", 0, 0, 0, T),                # text between the blocks
    ("<answer>Dog</answer><think>a</think>", 0, 0, 0, T),                    # blocks in the wrong order
    ("<answer></answer>", 0, 0, 0, N),                                       # empty answer
    ("<answer>   </answer>", 0, 0, 0, N),                                    # whitespace-only answer
    ("<ANSWER>Dog</ANSWER>", 0, 0, 0, N),                                    # tags are case-sensitive
    ("Dog", 0, 0, 0, N),                                                     # no tags at all
    ("", 0, 0, 0, N),                                                        # empty completion
    ("<think>狗在叫。</think><answer>狗</answer>", 1, 0, 1, T),               # unicode content
    ("</think><answer>Dog</answer>", 0, 0, 0, N),                            # stray closing think
    ("<think>a</think><think>b</think><answer>Dog</answer>", 0, 0, 0, N),    # two think blocks
]


@pytest.mark.parametrize("completion, adaptive, answer_only, think_required, mode", CASES)
def test_format_rewards_and_mode(completion, adaptive, answer_only, think_required, mode):
    parsed = parse_completion(completion)
    assert adaptive_format(parsed) == adaptive
    assert answer_only_format(parsed) == answer_only
    assert think_format(parsed) == think_required
    assert parsed.mode is mode
