"""Each prompt file against its format reward, and every --reward_funcs name through ms-swift."""
import subprocess
import sys

import pytest

from audio_thinker.tags import parse_completion
from swift_plugins import PROMPTS_DIR
from swift_plugins.registry import REWARDS
from swift_plugins.rules import adaptive_format, answer_only_format, think_format

# appendix A.1 as transcribed in docs/rewards.md §1, grammar included
A1 = ("First, identify whether this problem requires thinking. If the problem requires thinking, output thinking "
      "process in <think> </think> and final answer inside <answer> </answer>. If no thinking is required, and the "
      "final output answer in <answer> </answer> The Assistant is encouraged to use the <answer></answer> tag "
      "whenever possible, while ensuring accuracy.")

THINKING = "<think>The clip has rhythmic barking, typical of a dog.</think><answer>Dog</answer>"
ANSWER = "<answer>Dog</answer>"

# prompt file, completion written exactly as instructed, the row's format reward, formats it must fail
CASES = [
    ("adaptive_think.txt", THINKING, adaptive_format, []),
    ("adaptive_think.txt", ANSWER, adaptive_format, []),
    ("answer_only.txt", ANSWER, answer_only_format, [think_format]),
    ("always_think.txt", THINKING, think_format, [answer_only_format]),
]


@pytest.mark.parametrize("prompt, completion, reward, others", CASES)
def test_instructed_completion_scores_format_one(prompt, completion, reward, others):
    text = (PROMPTS_DIR / prompt).read_text(encoding="utf-8")
    for tag in ("<answer>", "</answer>") + (("<think>", "</think>") if "<think>" in completion else ()):
        assert tag in text.replace("<answer></answer>", "<answer> </answer>"), f"{prompt} never asks for {tag}"
    assert reward(parse_completion(completion)) == 1
    assert all(other(parse_completion(completion)) == 0 for other in others)


def test_adaptive_prompt_is_appendix_a1_verbatim():
    assert (PROMPTS_DIR / "adaptive_think.txt").read_text(encoding="utf-8").strip() == A1


def test_answer_only_prompt_does_not_invite_thinking():
    assert "<think>" not in (PROMPTS_DIR / "answer_only.txt").read_text(encoding="utf-8")


NAMES = {reward.name: reward.cls for reward in REWARDS}  # the declaration (swift_plugins/registry.py)


def test_every_reward_name_resolves_through_ms_swift_plugin_loading():
    """Load the plugin exactly as `--external_plugins swift_plugins/rewards.py` does, in a fresh process."""
    code = f"""
import os, json
os.environ.update(AUDIO_THINKER_JUDGE_URL='http://127.0.0.1:9/v1', AUDIO_THINKER_JUDGE_MODEL='m')
from swift.utils import import_external_file
import_external_file('swift_plugins/rewards.py')
from swift.rlhf_trainers.utils import resolve_reward_funcs
from swift.callbacks import callbacks_map
funcs, names = resolve_reward_funcs({list(NAMES)!r})
print(json.dumps(dict(names=names, callback='audio_thinker' in callbacks_map)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=PROMPTS_DIR.parents[1])
    assert out.returncode == 0, out.stderr[-3000:]
    import json
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"names": list(NAMES.values()), "callback": True}
