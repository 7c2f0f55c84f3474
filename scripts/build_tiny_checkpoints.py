#!/usr/bin/env python
"""Build tiny, randomly initialised Qwen2-Audio, Qwen2.5-Omni and Qwen3-Omni checkpoints, fully offline.

    python scripts/build_tiny_checkpoints.py [--out .cache/tiny] [--force]

writes ``<out>/qwen2-audio``, ``<out>/qwen2.5-omni`` and ``<out>/qwen3-omni``: real transformers classes
(``Qwen2AudioForConditionalGeneration``, ``Qwen2_5OmniForConditionalGeneration``,
``Qwen3OmniMoeForConditionalGeneration``) with 2 encoder + 2 text layers of width 64 (Qwen3-Omni: 4
experts, 2 active per token), so ms-swift loads them through the same code paths as the real models
(``--model_type qwen2_audio`` / ``qwen2_5_omni`` / ``qwen3_omni_moe``).  Seconds to build.  The Omni
checkpoints hold the thinker only (``enable_audio_output`` false: no talker weights), as training uses.

* Tokenizer: a small byte-level BPE trained with ``tokenizers`` on the built-in corpus below,
  with Qwen's pre-tokenizer, the Qwen special tokens, and the real models' chat templates.
  ``<think>``, ``</think>``, ``<answer>``, ``</answer>`` are also added as single *non-special*
  tokens (they decode as plain text) so that the tiny model can emit them in one step.
* Audio: the Whisper window is shortened to ``chunk_length=5`` s (500 mel frames) with
  ``max_source_positions=250`` for Qwen2-Audio, which pads every clip to the window.  Qwen3-Omni keeps
  the real 30 s window in its feature-extractor config: ms-swift processes its audio untruncated.
* GRPO signal: a random model never writes ``<answer>X</answer>``, so every format and
  accuracy reward would be 0 with zero std and GRPO would have no advantage to learn from.
  The text weights are therefore seeded as a *bigram chain*: token embeddings of a few
  marker tokens are orthogonal and the LM head maps ``\\n`` -> {``<answer>``, ``<think>``},
  ``<think>`` -> words -> ``</think>`` -> ``<answer>`` -> {A, B, C, D} -> ``</answer>`` ->
  ``<|im_end|>``.  Sampled completions then mix think/no-think modes, right/wrong letters and
  broken formats, so format/accuracy rewards vary within a group.  The transformer layers stay
  random (std 0.02), so audio still changes the logits (slightly); see tests/models.
* Deterministic (fixed seed), idempotent (skipped when ``BUILD_INFO.json`` matches this
  builder's version), atomic (built in a temp dir next to the target, then renamed).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

BUILD_VERSION = 5  # bump when the output changes; an existing build with another version is rebuilt
SEED = 1234
WIDTH = 64
VOCAB_SIZE = 640  # BPE vocabulary before special tokens
CHUNK_LENGTH = 5  # seconds of audio per Whisper window (30 in the real models)
SAMPLING_RATE = 16000

NAMES = ('qwen2-audio', 'qwen2.5-omni', 'qwen3-omni')
DEFAULT_OUT = Path(__file__).resolve().parent.parent / '.cache' / 'tiny'

# Special tokens in the order of the real Qwen2 vocabulary (ids 151643.. there, appended here).
QWEN_SPECIAL = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|AUDIO|>', '<|audio_bos|>', '<|audio_eos|>']
OMNI_SPECIAL = QWEN_SPECIAL + [
    '<|vision_bos|>', '<|vision_eos|>', '<|vision_pad|>', '<|IMAGE|>', '<|VIDEO|>'
]
# Qwen3-Omni's vocabulary names its media tokens differently (the Qwen3 / Qwen3-VL family's names).
QWEN3_OMNI_SPECIAL = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|audio_start|>', '<|audio_end|>',
                      '<|audio_pad|>', '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>', '<|image_pad|>',
                      '<|video_pad|>']
TAG_TOKENS = ['<think>', '</think>', '<answer>', '</answer>']
CHOICE_LETTERS = ['A', 'B', 'C', 'D']
THINK_WORDS = [' the', ' sound', ' is', ' a', ' so']

CORPUS = """\
system user assistant
system
user
assistant
You are a helpful assistant.
You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving auditory and visual inputs, as well as generating text and speech.
Audio 1: Listen to the audio and answer the question.
Please choose the answer from the following options: ['dog', 'cat', 'car', 'bird'].
Output the final answer in <answer> </answer>.
Choose the most suitable answer from options A, B, C and D. You may only choose A or B or C or D.
First decide whether the question needs reasoning. If it does, think step by step inside <think> </think> and then give the final answer inside <answer> </answer>. If it does not, answer directly inside <answer> </answer>.
Output the thinking process in <think> </think> and final answer in <answer> </answer>.
<think>The sound is a dog barking, so the answer is dog.</think><answer>dog</answer>
<think>I hear a low tone and then noise. The pitch is steady.</think><answer>B</answer>
<answer>A</answer> <answer>B</answer> <answer>C</answer> <answer>D</answer>
What is the main sound source? What instrument is playing? How many speakers are there?
Which emotion does the speaker express: happy, sad, angry, neutral? Is the music fast or slow?
Is this sound a tone, noise, speech, music, silence, a beep, a click or a chirp?
The answer is (A) tone (B) noise (C) speech (D) music. Question: Options: Answer: Reason:
Sound Music Speech Mix Signal Perception Semantic Cultural Layer loud quiet high low pitch frequency
water rain wind engine siren bell drum guitar piano violin singing male female child laugh cry
one two three four five six seven eight nine ten 0 1 2 3 4 5 6 7 8 9 yes no true false
"""


def _corpus() -> list[str]:
    lines = CORPUS.splitlines()
    # Repeat the tags and letters so their pieces merge early; the vocabulary stays tiny.
    return lines * 4 + [' '.join(TAG_TOKENS + CHOICE_LETTERS)] * 20


# ----------------------------------------------------------------------------- tokenizer
def build_tokenizer(special: list[str], extra_named: dict[str, str], corpus: list[str] | None = None,
                    vocab_size: int = VOCAB_SIZE):
    """Byte-level BPE over ``corpus`` (default: the built-in one) wrapped as a Qwen2 tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior='isolated', invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=1, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator(_corpus() if corpus is None else corpus, trainer=trainer)
    model = json.loads(tok.to_str())['model']
    vocab = dict(model['vocab'])
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(' ')) for m in model['merges']]
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        bos_token=None,
        eos_token='<|im_end|>',
        pad_token='<|endoftext|>',
        errors='replace',
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
        split_special_tokens=False,
        **extra_named,  # e.g. audio_token='<|AUDIO|>': saved in tokenizer_config, read by the processors
    )
    from tokenizers import AddedToken
    tokenizer.add_special_tokens({'extra_special_tokens': [AddedToken(t, special=True) for t in special]})
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    return tokenizer


QWEN2_AUDIO_CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}{% for message in messages %}{% if loop.first and message['role'] != "
    "'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] "
    "}}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}{% for content in "
    "message['content'] %}{% if 'audio' in content or 'audio_url' in content %}{% set audio_count.value = "
    "audio_count.value + 1 %}Audio {{ audio_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>\n{% elif 'text' in "
    "content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if "
    "add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

OMNI_CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}{% set image_count = namespace(value=0) %}{% set video_count = "
    "namespace(value=0) %}{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}{% for content in "
    "message['content'] %}{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: "
    "{% endif %}<|vision_bos|><|IMAGE|><|vision_eos|>{% elif content['type'] == 'audio' or 'audio' in content or "
    "'audio_url' in content %}{% set audio_count.value = audio_count.value + 1 %}{% if add_audio_id %}Audio "
    "{{ audio_count.value }}: {% endif %}<|audio_bos|><|AUDIO|><|audio_eos|>{% elif content['type'] == 'video' or "
    "'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video "
    "{{ video_count.value }}: {% endif %}<|vision_bos|><|VIDEO|><|vision_eos|>{% elif 'text' in content %}"
    "{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}")


# ----------------------------------------------------------------------------- GRPO-friendly text weights
def _single_id(tokenizer, text: str) -> int:
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) != 1:
        raise RuntimeError(f'{text!r} is not a single token in the tiny vocabulary: {ids}')
    return ids[0]


def seed_bigram_chain(embed, lm_head, tokenizer, alpha: float = 12.0, offset: float = 8.0) -> None:
    """Make the untrained model follow a noisy answer grammar (see module docstring).

    With near-silent random layers the last hidden state is ~ the current token's embedding, so
    logits ~ lm_head @ embed[current]: orthogonal marker embeddings turn lm_head into a bigram table.
    Every embedding also carries ``offset`` along one more orthogonal direction ``u``; special tokens
    other than ``<|im_end|>`` get ``-u`` in the LM head, so the model never *generates* ``<|AUDIO|>``
    and the like (a sampled ``<|AUDIO|>`` in a completion would break the next forward pass).
    """
    import torch
    tid = lambda t: _single_id(tokenizer, t)  # noqa: E731
    nl, end = tid('\n'), tid('<|im_end|>')
    think, ethink, ans, eans = (tid(t) for t in TAG_TOKENS)
    letters = [tid(t) for t in CHOICE_LETTERS]
    words = [tid(t) for t in THINK_WORDS]
    chain = {nl: {ans: 1.0, think: 1.0}, think: {w: 1.0 for w in words}, ethink: {ans: 1.0},
             ans: {x: 1.0 for x in letters}, eans: {end: 1.0}}
    for w in words:
        chain[w] = {**{x: 0.6 for x in words}, ethink: 1.0}
    for x in letters:
        chain[x] = {eans: 1.0, end: 0.15}  # sometimes an unclosed answer: a format failure
    sources = sorted(set(chain) | {end})
    banned = [i for i in tokenizer.convert_tokens_to_ids(tokenizer.all_special_tokens) if i != end]
    d = embed.weight.shape[1]
    g = torch.Generator().manual_seed(SEED)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    u = q[len(sources)]
    with torch.no_grad():
        embed.weight.normal_(0.0, 1.0, generator=g)  # RMS 1 rows: dominate the 0.02-std residual updates
        lm_head.weight.normal_(0.0, 0.02, generator=g)
        basis = {s: q[i] * d ** 0.5 for i, s in enumerate(sources)}
        for s, v in basis.items():
            embed.weight[s] = v
        embed.weight += offset * u
        for s, targets in chain.items():
            for t, w in targets.items():
                lm_head.weight[t] += alpha * w * basis[s] / d
        lm_head.weight[banned] = -alpha * u


# ----------------------------------------------------------------------------- feature extractors
def _whisper(n_mels: int = 128, chunk_length: int = CHUNK_LENGTH):
    from transformers import WhisperFeatureExtractor
    return WhisperFeatureExtractor(feature_size=n_mels, sampling_rate=SAMPLING_RATE, hop_length=160,
                                   chunk_length=chunk_length, n_fft=400, padding_value=0.0,
                                   return_attention_mask=True)


QWEN2_AUDIO_NAMED = {'audio_token': '<|AUDIO|>', 'audio_bos_token': '<|audio_bos|>', 'audio_eos_token': '<|audio_eos|>'}


def qwen2_audio_tokenizer(corpus: list[str] | None = None, vocab_size: int = VOCAB_SIZE):
    tokenizer = build_tokenizer(QWEN_SPECIAL, QWEN2_AUDIO_NAMED, corpus, vocab_size)
    tokenizer.chat_template = QWEN2_AUDIO_CHAT_TEMPLATE
    return tokenizer


def qwen2_audio_config(tokenizer, width: int = WIDTH, text_layers: int = 2, audio_layers: int = 2,
                       text_heads: int = 4, audio_heads: int = 2, chunk_length: int = CHUNK_LENGTH):
    """A ``Qwen2AudioConfig`` of the given size (FFN 2x width) for ``tokenizer``'s vocabulary, with the
    shortened Whisper window of ``chunk_length`` seconds (module docstring)."""
    from transformers import Qwen2AudioConfig
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL}
    n_frames = chunk_length * SAMPLING_RATE // 160
    config = Qwen2AudioConfig(
        audio_config=dict(model_type='qwen2_audio_encoder', num_mel_bins=128, encoder_layers=audio_layers,
                          encoder_attention_heads=audio_heads, encoder_ffn_dim=2 * width, d_model=width,
                          max_source_positions=n_frames // 2),
        text_config=dict(model_type='qwen2', vocab_size=len(tokenizer), hidden_size=width,
                         intermediate_size=2 * width, num_hidden_layers=text_layers,
                         num_attention_heads=text_heads, num_key_value_heads=max(1, text_heads // 2),
                         max_position_embeddings=4096, rope_parameters={'rope_type': 'default', 'rope_theta': 10000.0},
                         tie_word_embeddings=False, bos_token_id=ids['<|endoftext|>'],
                         eos_token_id=ids['<|im_end|>'], pad_token_id=ids['<|endoftext|>'], dtype='float32'),
        audio_token_index=ids['<|AUDIO|>'],
        tie_word_embeddings=False,
    )
    config.pad_token_id = ids['<|endoftext|>']
    return config


def save_qwen2_audio(model, tokenizer, dst: Path, sample: bool = True, chunk_length: int = CHUNK_LENGTH) -> None:
    """Model + processor (Whisper front end of ``chunk_length`` s, chat template) as ms-swift's qwen2_audio
    type loads them; ``sample``: the generation config samples at temperature 1 (GRPO's setting), else greedy."""
    from transformers import Qwen2AudioProcessor
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL}
    processor = Qwen2AudioProcessor(feature_extractor=_whisper(chunk_length=chunk_length), tokenizer=tokenizer,
                                    chat_template=QWEN2_AUDIO_CHAT_TEMPLATE)
    model.generation_config.update(bos_token_id=ids['<|endoftext|>'], eos_token_id=[ids['<|im_end|>'],
                                   ids['<|endoftext|>']], pad_token_id=ids['<|endoftext|>'], do_sample=sample,
                                   temperature=1.0, top_k=0, top_p=1.0)
    model.save_pretrained(dst, safe_serialization=True)
    processor.save_pretrained(dst)


def build_qwen2_audio(dst: Path) -> None:
    import torch
    from transformers import Qwen2AudioForConditionalGeneration
    tokenizer = qwen2_audio_tokenizer()
    config = qwen2_audio_config(tokenizer)
    torch.manual_seed(SEED)
    model = Qwen2AudioForConditionalGeneration(config).float().eval()
    seed_bigram_chain(model.get_input_embeddings(), model.lm_head, tokenizer)
    save_qwen2_audio(model, tokenizer, dst)


def build_qwen2_5_omni(dst: Path) -> None:
    import torch
    from transformers import (Qwen2_5OmniConfig, Qwen2_5OmniForConditionalGeneration, Qwen2_5OmniProcessor,
                              Qwen2VLImageProcessor)
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
    named = {'audio_token': '<|AUDIO|>', 'audio_bos_token': '<|audio_bos|>', 'audio_eos_token': '<|audio_eos|>',
             'image_token': '<|IMAGE|>', 'video_token': '<|VIDEO|>', 'vision_bos_token': '<|vision_bos|>',
             'vision_eos_token': '<|vision_eos|>'}
    tokenizer = build_tokenizer(OMNI_SPECIAL, named)
    tokenizer.chat_template = OMNI_CHAT_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in OMNI_SPECIAL}
    head_dim = 16  # 4 heads x 16 = 64; mrope_section must sum to head_dim / 2
    token_ids = dict(
        audio_token_index=ids['<|AUDIO|>'], image_token_index=ids['<|IMAGE|>'],
        video_token_index=ids['<|VIDEO|>'], audio_start_token_id=ids['<|audio_bos|>'],
        audio_end_token_id=ids['<|audio_eos|>'], vision_start_token_id=ids['<|vision_bos|>'],
        vision_end_token_id=ids['<|vision_eos|>'], vision_token_id=ids['<|vision_pad|>'],
    )
    rope = {'rope_type': 'default', 'rope_theta': 1000000.0, 'mrope_section': [2, 3, 3]}
    assert sum(rope['mrope_section']) == head_dim // 2
    text = dict(vocab_size=len(tokenizer), hidden_size=WIDTH, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, rope_parameters=rope,
                tie_word_embeddings=False, pad_token_id=ids['<|endoftext|>'], bos_token_id=ids['<|endoftext|>'],
                eos_token_id=ids['<|im_end|>'], dtype='float32')
    thinker = dict(
        audio_config=dict(num_mel_bins=128, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=128,
                          d_model=WIDTH, output_dim=WIDTH, n_window=50, max_source_positions=1500),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=WIDTH,
                           fullatt_block_indexes=[1], patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                           window_size=112),
        text_config=text, user_token_id=_single_id(tokenizer, 'user'), **token_ids)
    talker = dict(vocab_size=len(tokenizer), embedding_size=WIDTH, hidden_size=WIDTH, intermediate_size=128, num_hidden_layers=1,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=head_dim, rope_parameters=rope,
                  tts_text_start_token_id=ids['<|endoftext|>'], tts_text_end_token_id=ids['<|endoftext|>'],
                  tts_text_pad_token_id=ids['<|endoftext|>'], tts_codec_start_token_id=0,
                  tts_codec_end_token_id=1, tts_codec_pad_token_id=2, tts_codec_mask_token_id=3, **token_ids)
    token2wav = dict(dit_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, head_dim=16,
                                     emb_dim=16, look_ahead_layers=[1], look_backward_layers=[0], num_embeds=64,
                                     enc_emb_dim=16, enc_dim=16, enc_channels=[16, 16, 16, 16, 48],
                                     enc_attention_channels=16, enc_se_channels=16),
                     bigvgan_config=dict(upsample_initial_channel=32))
    config = Qwen2_5OmniConfig(thinker_config=thinker, talker_config=talker, token2wav_config=token2wav,
                               enable_audio_output=False)  # thinker only: no talker/token2wav weights are saved
    torch.manual_seed(SEED)
    model = Qwen2_5OmniForConditionalGeneration(config).float().eval()
    seed_bigram_chain(model.thinker.get_input_embeddings(), model.thinker.lm_head, tokenizer)
    image_processor = Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 64, patch_size=14,
                                            merge_size=2, temporal_patch_size=2)
    video_processor = Qwen2VLVideoProcessor(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 64, patch_size=14,
                                            merge_size=2, temporal_patch_size=2)
    processor = Qwen2_5OmniProcessor(image_processor=image_processor, video_processor=video_processor,
                                     feature_extractor=_whisper(), tokenizer=tokenizer,
                                     chat_template=OMNI_CHAT_TEMPLATE)
    model.save_pretrained(dst, safe_serialization=True)
    processor.save_pretrained(dst)
    torch.save({}, dst / 'spk_dict.pt')  # the loader requires the file; an empty speaker map loads


# Qwen3-Omni Instruct's prompt layout (system/user/assistant turns in ChatML; each clip as
# <|audio_start|><|audio_pad|><|audio_end|>; the generation prompt opens the assistant turn and nothing
# more: the Instruct model's reply starts free, only the Thinking model's template opens a <think> block).
QWEN3_OMNI_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' "
    "or 'image' in content or 'image_url' in content %}<|vision_start|><|image_pad|><|vision_end|>{% elif "
    "content['type'] == 'audio' or 'audio' in content or 'audio_url' in content %}"
    "<|audio_start|><|audio_pad|><|audio_end|>{% elif content['type'] == 'video' or 'video' in content %}"
    "<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% endif %}")


def build_qwen3_omni(dst: Path) -> None:
    """Qwen3-Omni-30B-A3B's thinker in miniature: MoE text model (4 experts, top-2, expert width 32),
    2-layer audio encoder (windows of ``n_window`` x 2 mel frames, 13 tokens per full window: ~13 tokens/s)
    and 2-layer vision encoder, Qwen3-Omni's media tokens and a 30 s Whisper front end (not truncated by
    ms-swift). ``vision_start_token_id`` is set explicitly: the rope index reads it even for audio-only input."""
    import torch
    from transformers import (Qwen2VLImageProcessor, Qwen3OmniMoeConfig, Qwen3OmniMoeForConditionalGeneration,
                              Qwen3OmniMoeProcessor)
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
    named = {'audio_token': '<|audio_pad|>', 'audio_bos_token': '<|audio_start|>', 'audio_eos_token': '<|audio_end|>',
             'image_token': '<|image_pad|>', 'video_token': '<|video_pad|>', 'vision_bos_token': '<|vision_start|>',
             'vision_eos_token': '<|vision_end|>'}
    tokenizer = build_tokenizer(QWEN3_OMNI_SPECIAL, named)
    tokenizer.chat_template = QWEN3_OMNI_CHAT_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN3_OMNI_SPECIAL}
    head_dim = WIDTH // 4  # 4 heads; mrope_section must sum to head_dim / 2
    rope = {'rope_type': 'default', 'rope_theta': 1000000.0, 'mrope_section': [2, 3, 3], 'interleaved': True}
    assert sum(rope['mrope_section']) == head_dim // 2
    text = dict(vocab_size=len(tokenizer), hidden_size=WIDTH, intermediate_size=128, moe_intermediate_size=32,
                num_experts=4, num_experts_per_tok=2, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=4096, rope_parameters=rope,
                pad_token_id=ids['<|endoftext|>'], bos_token_id=ids['<|endoftext|>'], eos_token_id=ids['<|im_end|>'])
    thinker = dict(
        audio_config=dict(num_mel_bins=128, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=128,
                          d_model=WIDTH, output_dim=WIDTH, n_window=50, n_window_infer=800, conv_chunksize=500,
                          downsample_hidden_size=32, max_source_positions=1500),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=WIDTH,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=64,
                           deepstack_visual_indexes=[1]),
        text_config=text, audio_token_id=ids['<|audio_pad|>'], image_token_id=ids['<|image_pad|>'],
        video_token_id=ids['<|video_pad|>'], audio_start_token_id=ids['<|audio_start|>'],
        vision_start_token_id=ids['<|vision_start|>'], user_token_id=_single_id(tokenizer, 'user'),
        position_id_per_seconds=13)
    # the top-level role token ids only steer the talker, which is not built (thinker only)
    config = Qwen3OmniMoeConfig(thinker_config=thinker, enable_audio_output=False,
                                im_start_token_id=ids['<|im_start|>'], im_end_token_id=ids['<|im_end|>'])
    torch.manual_seed(SEED)
    model = Qwen3OmniMoeForConditionalGeneration(config).float().eval()
    seed_bigram_chain(model.thinker.get_input_embeddings(), model.thinker.lm_head, tokenizer)
    # At std 0.02 the encoder's convolution stack shrinks the mel features ~300x, so its sinusoidal
    # position embedding swamps them: a tone and noise reach the text model as the same embeddings and
    # move the logits by ~3e-5. He-initialised convolutions and projections keep the audio at unit scale
    # (the transformer layers stay at 0.02), so the audio is audible, as in the other two checkpoints.
    g = torch.Generator().manual_seed(SEED)
    tower = model.thinker.audio_tower
    with torch.no_grad():
        for layer in (tower.conv2d1, tower.conv2d2, tower.conv2d3, tower.conv_out, tower.proj1, tower.proj2):
            fan_in = layer.weight[0].numel()
            layer.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=g)
    pixels = dict(min_pixels=32 * 32 * 4, max_pixels=32 * 32 * 64, patch_size=16, merge_size=2, temporal_patch_size=2)
    processor = Qwen3OmniMoeProcessor(image_processor=Qwen2VLImageProcessor(**pixels),
                                      video_processor=Qwen2VLVideoProcessor(**pixels),
                                      feature_extractor=_whisper(chunk_length=30), tokenizer=tokenizer,
                                      chat_template=QWEN3_OMNI_CHAT_TEMPLATE)
    ids_end = [ids['<|im_end|>'], ids['<|endoftext|>']]
    model.generation_config.update(bos_token_id=ids['<|endoftext|>'], eos_token_id=ids_end,
                                   pad_token_id=ids['<|endoftext|>'], do_sample=True, temperature=1.0, top_k=0,
                                   top_p=1.0)
    model.save_pretrained(dst, safe_serialization=True)
    processor.save_pretrained(dst)


BUILDERS = {'qwen2-audio': build_qwen2_audio, 'qwen2.5-omni': build_qwen2_5_omni, 'qwen3-omni': build_qwen3_omni}


def _fingerprint() -> str:
    import tokenizers
    import transformers
    src = Path(__file__).read_bytes()
    return hashlib.sha256(src + transformers.__version__.encode() + tokenizers.__version__.encode()).hexdigest()[:16]


def is_complete(dst: Path) -> bool:
    info = dst / 'BUILD_INFO.json'
    try:
        data = json.loads(info.read_text())
    except (OSError, ValueError):
        return False
    return data.get('version') == BUILD_VERSION and all((dst / f).exists() for f in data.get('files', []))


def build_one(name: str, out: Path, force: bool = False) -> Path:
    dst = out / name
    if not force and is_complete(dst):
        return dst
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{name}.', dir=out))
    try:
        BUILDERS[name](tmp)
        files = sorted(p.name for p in tmp.iterdir())
        os.chmod(tmp, 0o755)
        (tmp / 'BUILD_INFO.json').write_text(json.dumps(
            {'version': BUILD_VERSION, 'seed': SEED, 'builder': _fingerprint(), 'files': files}, indent=1))
        old = None
        if dst.exists():
            old = out / f'.{name}.old.{os.getpid()}'
            os.replace(dst, old)
        os.replace(tmp, dst)  # atomic on one filesystem: readers see the old or the new dir, never half
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', default=str(DEFAULT_OUT), help='output directory (default: <repo>/.cache/tiny)')
    ap.add_argument('--only', choices=NAMES, action='append', help='build only this checkpoint (repeatable)')
    ap.add_argument('--force', action='store_true', help='rebuild even if a complete build exists')
    args = ap.parse_args(argv)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    import torch
    # LAPACK's blocked QR (seed_bigram_chain) rounds differently with different thread counts, so the
    # weights would depend on OMP_NUM_THREADS; one thread makes every machine build the same bytes.
    torch.set_num_threads(1)
    for name in args.only or NAMES:
        t0 = time.time()
        dst = build_one(name, Path(args.out), force=args.force)
        print(f'{name}: {dst} ({time.time() - t0:.1f}s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
