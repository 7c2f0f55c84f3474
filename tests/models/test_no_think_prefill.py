"""The adaptive decision stays the policy's (docs/backbones.md, "Qwen3-Omni"): the prompt ms-swift builds for
GRPO on Qwen3-Omni ends where the assistant reply starts, with nothing prefilled, under every system prompt the
rows use. ms-swift's ``qwen3_omni`` template carries a thinking prefix (``<think>\\n``) that a template with
thinking switched on puts there; then every completion starts inside a think block and ATAR has no decision
to reward. The template is built as ``swift rlhf --rlhf_type grpo`` builds it (its own arguments object),
the prompt encoded as the rollout encodes it (``pt`` for the transformers engine, ``vllm`` for vLLM)."""
from __future__ import annotations

import pytest

from tests.helpers import audio_guard
from tests.helpers.paths import REPO

PROMPTS = sorted((REPO / 'swift_plugins' / 'prompts').glob('*.txt'))
REPLY_STARTS = '<|im_start|>assistant\n'


def grpo_template(tiny_checkpoints, tmp_path, system, **options):
    from swift.arguments import RLHFArguments
    args = RLHFArguments(model=str(tiny_checkpoints / 'qwen3-omni'), model_type='qwen3_omni_moe', rlhf_type='grpo',
                         reward_funcs=['format'], dataset=[str(tmp_path / 'rows.jsonl')], use_cpu=True,
                         num_generations=2, per_device_train_batch_size=2, system=str(system),
                         output_dir=str(tmp_path / 'out'), **options)
    return args.get_template()


def assert_reply_starts_free(template, clip: str) -> None:
    """The encoded generation prompt ends exactly where the assistant's reply starts (rollout modes)."""
    tokenizer = template.processor.tokenizer
    for mode in ('pt', 'vllm'):
        template.set_mode(mode)
        encoded = template.encode({'messages': [{'role': 'user', 'content': audio_guard.QUESTION}],
                                   'audios': [clip]})
        prompt = tokenizer.decode(encoded['input_ids'])
        _, found, prefilled = prompt.rpartition(REPLY_STARTS)
        assert found, f'{mode}: no assistant turn opened: ...{prompt[-80:]!r}'
        assert prefilled == '', f'{mode}: the reply is prefilled with {prefilled!r}: the policy does not decide'


@pytest.mark.parametrize('prompt', PROMPTS, ids=[p.stem for p in PROMPTS])
def test_the_grpo_prompt_leaves_the_reply_to_the_policy(tiny_checkpoints, tmp_path, wavs, prompt):
    template = grpo_template(tiny_checkpoints, tmp_path, prompt)
    assert template.template_meta.thinking_prefix == '<think>\n'  # the prefix exists, and is not used
    assert_reply_starts_free(template, wavs['tone'])


def test_the_check_fails_on_a_template_that_prefills_think(tiny_checkpoints, tmp_path, wavs):
    """By construction: ms-swift's own switch for thinking models puts <think> after the assistant header."""
    template = grpo_template(tiny_checkpoints, tmp_path, PROMPTS[0], enable_thinking=True)
    with pytest.raises(AssertionError, match="prefilled with '<think>\\\\n'"):
        assert_reply_starts_free(template, wavs['tone'])
