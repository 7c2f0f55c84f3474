"""Checks that audio really reaches the model through ms-swift (docs/backbones.md: the audio guard).

Importable without pytest so that test_audio_guard.py can also run it in a fresh, *unpatched*
interpreter and prove the guard catches ms-swift's Qwen2-Audio bug.

Everything goes through ms-swift's own objects, as the trainer uses them: ``get_model_processor`` ->
``get_template`` -> ``template.encode`` (train mode) -> ``template.data_collator`` -> ``model(**batch)``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SR = 16000
BACKBONES = {  # tiny checkpoint dir name -> ms-swift model_type
    'qwen2-audio': 'qwen2_audio',
    'qwen2.5-omni': 'qwen2_5_omni',
    'qwen3-omni': 'qwen3_omni_moe',
}
QUESTION = '<audio>Is this a tone or noise? Output the final answer in <answer> </answer>.'


def write_wavs(dirpath: Path, seconds: float = 2.0) -> dict[str, str]:
    """Two clips of equal length that differ only in content: a 440 Hz tone and white noise."""
    import soundfile as sf
    t = np.arange(int(SR * seconds)) / SR
    clips = {'tone': 0.5 * np.sin(2 * np.pi * 440 * t),
             'noise': 0.3 * np.random.default_rng(0).standard_normal(len(t))}
    paths = {}
    for name, wav in clips.items():
        p = Path(dirpath) / f'{name}.wav'
        sf.write(p, wav.astype(np.float32), SR)
        paths[name] = str(p)
    return paths


def expected_audio_tokens(mel_frames: int, model_type: str = 'qwen2_audio') -> int:
    """Encoder output length: Qwen2-Audio and Qwen2.5-Omni (conv stride 2, then pooling stride 2), or
    Qwen3-Omni (audio_thinker.clips, which tests/core/test_clips.py checks against transformers)."""
    if model_type == 'qwen3_omni_moe':
        from audio_thinker.clips import qwen3_omni_audio_tokens
        return qwen3_omni_audio_tokens(mel_frames)
    return (((mel_frames - 1) // 2 + 1) - 2) // 2 + 1


def load(ckpt_dir: Path, model_type: str):
    from swift.model import get_model_processor
    from swift.template import get_template
    model, processor = get_model_processor(str(ckpt_dir), model_type=model_type, device_map='cpu',
                                           download_model=False)
    template = get_template(processor, template_type=model.model_meta.template)
    template.set_mode('train')
    model.eval()
    return model, processor, template


def audio_token_id(processor) -> int:
    """The placeholder the encoder's outputs replace: ``<|AUDIO|>``, Qwen3-Omni's ``<|audio_pad|>``."""
    tok = getattr(processor, 'tokenizer', processor)
    return tok.convert_tokens_to_ids(getattr(tok, 'audio_token', None) or '<|AUDIO|>')


def encode_batch(template, wav_paths: list[str]):
    rows = [{'messages': [{'role': 'user', 'content': QUESTION},
                          {'role': 'assistant', 'content': '<answer>tone</answer>'}],
             'audios': [p]} for p in wav_paths]
    return template.data_collator([template.encode(r) for r in rows])


def check_batch_carries_audio(template, processor, wav_paths: list[str]) -> dict:
    """Every sample has features, a non-empty feature mask, and as many audio placeholder tokens as its
    audio length implies on this backbone.  Returns the batch."""
    batch = encode_batch(template, wav_paths)
    n = len(wav_paths)
    assert 'input_features' in batch, f'no input_features in the batch: keys {sorted(batch)}'
    feats, mask = batch['input_features'], batch['feature_attention_mask']
    assert feats.shape[0] == n and mask.shape[0] == n, (feats.shape, mask.shape)
    frames = mask.sum(-1).tolist()
    assert all(f > 0 for f in frames), f'empty feature attention mask: {frames}'
    counts = (batch['input_ids'] == audio_token_id(processor)).sum(-1).tolist()
    want = [expected_audio_tokens(int(f), template.model_meta.model_type) for f in frames]
    assert counts == want, f'<|AUDIO|> tokens per sample {counts}, audio lengths imply {want}'
    return batch


def last_logits(model, batch):
    import torch
    with torch.no_grad():
        out = model(**{k: v for k, v in batch.items() if k != 'labels'})
    lengths = batch['attention_mask'].sum(-1) - 1 if 'attention_mask' in batch else None
    logits = out.logits
    if lengths is None:
        return logits[:, -1]
    return logits[torch.arange(logits.shape[0]), lengths]


def check_audio_changes_logits(model, template, processor, wavs: dict[str, str]) -> float:
    """Same prompt, different audio -> different logits; same audio -> identical logits (control)."""
    import torch
    diff_batch = check_batch_carries_audio(template, processor, [wavs['tone'], wavs['noise']])
    same_batch = check_batch_carries_audio(template, processor, [wavs['tone'], wavs['tone']])
    diff = last_logits(model, diff_batch)
    same = last_logits(model, same_batch)
    assert torch.allclose(same[0], same[1], atol=1e-5), 'identical inputs gave different logits'
    delta = (diff[0] - diff[1]).abs().max().item()
    assert delta > 1e-4, f'tone and noise give the same logits (max |diff| = {delta:.2e}): audio is ignored'
    return delta


def run_all(ckpt_root: Path, name: str, tmpdir: Path) -> float:
    model, processor, template = load(Path(ckpt_root) / name, BACKBONES[name])
    return check_audio_changes_logits(model, template, processor, write_wavs(tmpdir))
