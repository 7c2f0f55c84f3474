"""scripts/build_tiny_checkpoints.py: complete, idempotent, deterministic, shaped like the real models."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

from transformers import AutoConfig, AutoProcessor

from tests.helpers.paths import REPO

QWEN_SPECIAL = ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<|audio_bos|>', '<|AUDIO|>', '<|audio_eos|>']


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_is_complete_and_idempotent(tiny_checkpoints):
    for name in ('qwen2-audio', 'qwen2.5-omni', 'qwen3-omni'):
        info = json.loads((tiny_checkpoints / name / 'BUILD_INFO.json').read_text())
        assert all((tiny_checkpoints / name / f).exists() for f in info['files'])
    before = (tiny_checkpoints / 'qwen2-audio' / 'model.safetensors').stat().st_mtime_ns
    t0 = time.monotonic()
    subprocess.run([sys.executable, str(REPO / 'scripts' / 'build_tiny_checkpoints.py'), '--out', str(tiny_checkpoints)],
                   check=True, capture_output=True)
    assert time.monotonic() - t0 < 30
    assert (tiny_checkpoints / 'qwen2-audio' / 'model.safetensors').stat().st_mtime_ns == before  # skipped


def test_build_is_deterministic(tiny_checkpoints, tmp_path):
    # one thread here, the machine's default for the cached build: the bytes must not depend on it
    subprocess.run([sys.executable, str(REPO / 'scripts' / 'build_tiny_checkpoints.py'), '--out', str(tmp_path),
                    '--only', 'qwen2.5-omni'], check=True, capture_output=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    for f in ('model.safetensors', 'tokenizer.json'):
        assert _sha(tmp_path / 'qwen2.5-omni' / f) == _sha(tiny_checkpoints / 'qwen2.5-omni' / f), f
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.')]  # no temp dirs left behind


def test_qwen2_audio_shape(tiny_checkpoints):
    cfg = AutoConfig.from_pretrained(tiny_checkpoints / 'qwen2-audio')
    assert cfg.architectures == ['Qwen2AudioForConditionalGeneration']
    assert cfg.audio_config.encoder_layers == 2 and cfg.text_config.num_hidden_layers == 2
    assert cfg.text_config.hidden_size == 64
    proc = AutoProcessor.from_pretrained(tiny_checkpoints / 'qwen2-audio')
    fe = proc.feature_extractor
    # the encoder demands exactly max_source_positions * 2 mel frames: the window must match
    assert fe.chunk_length == 5 and fe.nb_max_frames == cfg.audio_config.max_source_positions * 2
    tok = proc.tokenizer
    assert all(len(tok.encode(t, add_special_tokens=False)) == 1 for t in QWEN_SPECIAL)
    assert cfg.audio_token_index == tok.convert_tokens_to_ids('<|AUDIO|>')
    assert 'Audio {{ audio_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>' in tok.chat_template


def test_qwen2_5_omni_shape(tiny_checkpoints):
    cfg = AutoConfig.from_pretrained(tiny_checkpoints / 'qwen2.5-omni')
    assert cfg.enable_audio_output is False and cfg.talker_config is not None
    text = cfg.thinker_config.text_config
    head_dim = text.hidden_size // text.num_attention_heads
    assert sum(text.rope_parameters['mrope_section']) == head_dim // 2
    assert (tiny_checkpoints / 'qwen2.5-omni' / 'spk_dict.pt').exists()
    proc = AutoProcessor.from_pretrained(tiny_checkpoints / 'qwen2.5-omni')
    assert proc.image_processor is not None and proc.video_processor is not None
    assert proc.feature_extractor is not None
    tok = proc.tokenizer
    for attr, token in [('audio_token', '<|AUDIO|>'), ('image_token', '<|IMAGE|>'), ('video_token', '<|VIDEO|>'),
                        ('vision_bos_token', '<|vision_bos|>'), ('audio_bos_token', '<|audio_bos|>')]:
        assert getattr(tok, attr) == token
    assert cfg.thinker_config.audio_token_id == tok.convert_tokens_to_ids('<|AUDIO|>')


def test_qwen3_omni_shape(tiny_checkpoints):
    """The thinker only, MoE text model, Qwen3-Omni's own media tokens, and the ids the model reads."""
    from safetensors import safe_open

    cfg = AutoConfig.from_pretrained(tiny_checkpoints / 'qwen3-omni')
    assert cfg.architectures == ['Qwen3OmniMoeForConditionalGeneration'] and cfg.enable_audio_output is False
    thinker = cfg.thinker_config
    text = thinker.text_config
    assert (text.num_hidden_layers, text.hidden_size, text.num_experts, text.num_experts_per_tok) == (2, 64, 4, 2)
    assert thinker.audio_config.encoder_layers == 2 and thinker.vision_config.depth == 2
    assert sum(text.rope_parameters['mrope_section']) == text.hidden_size // text.num_attention_heads // 2
    with safe_open(tiny_checkpoints / 'qwen3-omni' / 'model.safetensors', 'pt') as f:
        assert {k.split('.')[0] for k in f.keys()} == {'thinker'}  # no talker, no code2wav
    proc = AutoProcessor.from_pretrained(tiny_checkpoints / 'qwen3-omni')
    tok = proc.tokenizer
    for attr, token in [('audio_token', '<|audio_pad|>'), ('audio_bos_token', '<|audio_start|>'),
                        ('audio_eos_token', '<|audio_end|>'), ('image_token', '<|image_pad|>'),
                        ('video_token', '<|video_pad|>'), ('vision_bos_token', '<|vision_start|>')]:
        assert getattr(tok, attr) == token
    ids = {t: tok.convert_tokens_to_ids(t) for t in ('<|audio_pad|>', '<|audio_start|>', '<|vision_start|>')}
    assert (thinker.audio_token_id, thinker.audio_start_token_id, thinker.vision_start_token_id) == tuple(ids.values())
    prompt = tok.apply_chat_template([{'role': 'user', 'content': 'hi'}], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith('<|im_start|>assistant\n')  # the Instruct layout: nothing prefilled


def test_tags_are_plain_text(tiny_checkpoints):
    tok = AutoProcessor.from_pretrained(tiny_checkpoints / 'qwen2-audio').tokenizer
    text = '<think>The sound is a tone.</think><answer>tone</answer>'
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.decode(ids, skip_special_tokens=True) == text  # survives skip_special_tokens
