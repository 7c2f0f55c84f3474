#!/usr/bin/env python
"""Build the miniature's backbone: a small Qwen2-Audio that hears pitch, warm-started by `swift sft`.

    python -m mini.build [--out .cache/mini] [--size full|small|reduced] [--force]
    python -m mini.build --flaws RATE [--flaw-mix KIND=W,...]   # -> .cache/mini-flawed


writes ``<out>/qwen2-audio``: a ``Qwen2AudioForConditionalGeneration`` (ms-swift ``--model_type
qwen2_audio``, the same class and processor layout as the tiny checkpoints; tokenizer, config and saving
come from ``scripts/build_tiny_checkpoints.py``) trained from random weights on the warm-start rows of
``mini.task`` (``sft.jsonl``): think traces under the always-think prompt, direct answers under
the answer-only prompt, either at random under the adaptive prompt, never chosen by difficulty. The
training is the project's SFT recipe (``recipes/sft-b.sh`` through ``recipes/_base.sh``) with CPU
overrides, as the demo runs it; audio encoder and projector are trained too (``--freeze_vit false``),
since they start random.

* Tokenizer: the tiny builders' byte-level BPE over their corpus plus the task's prompts, questions and
  traces, so a level word, a tag or "Tone" is one token and a reply is a few dozen tokens.
* Sizes (``SIZES``): ``full`` is the miniature's backbone (docs/mini-experiment.md gives its measured
  build time and precondition); ``small`` is the same build on a narrower model and a shorter warm start
  (about a minute on 2 cores instead of three), enough to learn the reply format, i.e. which mode each
  prompt asks for, for the tests of the evaluation tools that need a model that learned it (not a
  substitute for the miniature's results); ``reduced`` is a seconds-long build for the tests of this
  builder.
* Flawed warm start (``--flaws RATE``): the same build on the same clips, prompts and modes, but a share
  RATE of the think traces carries a flaw (``mini.task.Flaws``: a conclusion that contradicts the stated
  levels, an answer that differs from the conclusion, a perception missing or repeated), so that the
  consistency and think rewards have something to fix (docs/mini-experiment.md, "The flawed warm start").
  Its default folder is ``.cache/mini-flawed``; ``BUILD_INFO.json`` records the rate, the mix and the
  count of each flaw in the warm-start rows.
* Deterministic (fixed seeds for data, initial weights and the SFT run; the CPU kernels' reduction order
  can still differ between machines with other thread counts), idempotent (skipped when
  ``BUILD_INFO.json`` records this version and size), atomic (built in a temp dir, then renamed).
  ``BUILD_INFO.json`` also records the SFT settings, the final training loss and the build time.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # data_prep, when run as a script
sys.path.insert(0, str(REPO / 'scripts'))
import build_tiny_checkpoints as tiny  # noqa: E402  (one home for the tokenizer, config and saving)

BUILD_VERSION = 6  # bump when the output changes for the same size settings
SEED = 20260
DEFAULT_OUT = REPO / '.cache' / 'mini'
FLAWED_OUT = REPO / '.cache' / 'mini-flawed'  # the flawed warm start's default folder (--flaws)
NAME = 'qwen2-audio'


@dataclass(frozen=True)
class Size:
    width: int
    text_layers: int
    audio_layers: int
    heads: int
    vocab: int          # BPE merges before special tokens
    sft_items: int      # warm-start clips (mini.task --sft)
    steps: int          # SFT optimiser steps
    batch: int          # rows per step (one CPU process)
    lr: float
    window: int = 3     # seconds of audio per Whisper window: a 4-tone clip lasts 2.05 s


SIZES = {
    'full': Size(width=128, text_layers=2, audio_layers=2, heads=4, vocab=1000, sft_items=3000, steps=800,
                 batch=8, lr=1e-3),
    'small': Size(width=64, text_layers=2, audio_layers=1, heads=4, vocab=1000, sft_items=800, steps=350,
                  batch=8, lr=2e-3),
    'reduced': Size(width=32, text_layers=1, audio_layers=1, heads=2, vocab=700, sft_items=12, steps=2,
                    batch=4, lr=1e-3),
}


def corpus(sft_rows: list[dict]) -> list[str]:
    """The tiny corpus plus the task's own texts (prompts, questions with options, replies)."""
    from mini import task as mini_task
    texts = [mini_task.prompt_text(p) for p in mini_task.PROMPTS]
    for row in sft_rows[:300]:
        texts += [m['content'] for m in row['messages'] if m['role'] != 'system']
    texts += [mini_task.render_completion(mini_task.LEVELS, 'tone 1', think=True)] * 20
    return tiny._corpus() + texts * 3


def init_model(dst: Path, size: Size, sft_rows: list[dict]) -> None:
    import torch
    from transformers import Qwen2AudioForConditionalGeneration
    tokenizer = tiny.qwen2_audio_tokenizer(corpus(sft_rows), size.vocab)
    config = tiny.qwen2_audio_config(tokenizer, size.width, size.text_layers, size.audio_layers,
                                     text_heads=size.heads, audio_heads=max(1, size.heads // 2),
                                     chunk_length=size.window)
    torch.manual_seed(SEED)
    model = Qwen2AudioForConditionalGeneration(config).float()
    hearing_init(model)
    tiny.save_qwen2_audio(model, tokenizer, dst, chunk_length=size.window)


def hearing_init(model) -> None:
    """Start the audio path where a pretrained encoder would be: features that carry the spectrum and the time.

    The real backbone's Whisper encoder is pretrained, so its outputs already say which frequencies sound when;
    a random encoder's outputs mix the log-mel bins into noise, and the warm start alone never untangled them
    (measured: level words at chance after 500 steps, docs/mini-experiment.md). So, deterministically:
    the two convolutions pass 3/4 of the channels through as (pooled) log-mel bands (centre tap), the other
    1/4 carry a sinusoidal code of the frame's time; the encoder layers start as identities (zero output
    projections: they add nothing until trained) and the projector is the identity. Everything stays
    trainable; the language model must still learn where each tone is and what its band means.
    """
    import math

    import torch
    tower, projector = model.model.audio_tower, model.model.multi_modal_projector
    width, n_mels = tower.conv1.weight.shape[0], tower.conv1.weight.shape[1]
    n_spec = width * 3 // 4
    with torch.no_grad():
        tower.conv1.weight.zero_()
        tower.conv1.bias.zero_()
        for band in range(n_mels):  # mel bin -> spectral channel (bins pooled when width < n_mels)
            tower.conv1.weight[band * n_spec // n_mels, band, 1] = n_spec / n_mels
        tower.conv2.weight.zero_()
        tower.conv2.bias.zero_()
        for c in range(n_spec):
            tower.conv2.weight[c, c, 1] = 1.0
        positions = tower.embed_positions.weight
        positions.zero_()
        n_time = width - n_spec
        t = torch.arange(positions.shape[0], dtype=torch.float32)[:, None]
        freq = torch.exp(-math.log(positions.shape[0]) * torch.arange(n_time // 2) / max(1, n_time // 2))[None]
        positions[:, n_spec:n_spec + n_time // 2] = torch.sin(t * freq * 0.5)
        positions[:, n_spec + n_time // 2:n_spec + 2 * (n_time // 2)] = torch.cos(t * freq * 0.5)
        for layer in tower.layers:
            layer.self_attn.out_proj.weight.zero_()
            layer.fc2.weight.zero_()
        projector.linear.weight.copy_(torch.eye(width))
        projector.linear.bias.zero_()


def sft(init: Path, data: Path, runs: Path, size: Size, log: Path, save_steps: int | None = None) -> Path:
    """The warm start through the project's SFT recipe; returns the last checkpoint."""
    env = {**os.environ, 'MODEL': str(init), 'DATA': str(data), 'USE_CPU': '1', 'NPROC_PER_NODE': '1',
           'DEEPSPEED': 'none', 'TORCH_DTYPE': 'float32', 'OUTPUT_ROOT': str(runs), 'DATALOADER_WORKERS': '0',
           'REPORT_TO': 'none', 'PER_DEVICE_BATCH': str(size.batch), 'GRAD_ACC': '1', 'LR': str(size.lr),
           'MAX_STEPS': str(size.steps), 'SAVE_STEPS': str(save_steps or size.steps), 'SEED': str(SEED), 'EPOCHS': '100',
           # one thread: on a shared 2-core machine two threads spend most of a step waiting for each other
           # (measured: a step 4-7x slower), and one thread makes the reduction order fixed
           'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1', 'CUDA_VISIBLE_DEVICES': '', 'TOKENIZERS_PARALLELISM': 'false',
           'MODELSCOPE_CACHE': os.environ.get('MODELSCOPE_CACHE', str(REPO / '.cache' / 'modelscope')),
           # random start: every part trains (ms-swift freezes the audio tower by default), a warm-up and
           # cosine decay for the large learning rate, no checkpointing recompute (small model, CPU).
           'EXTRA_ARGS': ('--freeze_vit false --freeze_aligner false --gradient_checkpointing false '
                          '--warmup_ratio 0.05 --lr_scheduler_type cosine --save_only_model true '
                          '--weight_decay 0.0 --max_length 1024')}
    with open(log, 'w') as out:
        proc = subprocess.run(['bash', str(REPO / 'recipes' / 'sft-b.sh')], env=env, stdout=out,
                              stderr=subprocess.STDOUT, cwd=REPO)
    if proc.returncode != 0:
        tail = log.read_text(errors='replace').splitlines()[-30:]
        raise RuntimeError(f'swift sft failed ({proc.returncode}); last lines of {log}:\n' + '\n'.join(tail))
    checkpoints = sorted((runs / 'sft-b').glob('checkpoint-*'), key=lambda p: int(p.name.split('-')[1]))
    return checkpoints[-1]


def last_loss(checkpoint: Path) -> float | None:
    try:
        history = json.loads((checkpoint / 'trainer_state.json').read_text())['log_history']
    except (OSError, ValueError, KeyError):
        return None
    losses = [h['loss'] for h in history if 'loss' in h]
    return losses[-1] if losses else None


def info_of(size_name: str, flaws=None) -> dict:
    """What a build's BUILD_INFO.json must say for it to count as done (a clean build says nothing of flaws)."""
    info = {'version': BUILD_VERSION, 'size': size_name, 'settings': dataclasses.asdict(SIZES[size_name])}
    return {**info, 'flaws': flaws.describe()} if flaws is not None else info


def is_complete(dst: Path, size_name: str, flaws=None) -> bool:
    try:
        data = json.loads((dst / 'BUILD_INFO.json').read_text())
    except (OSError, ValueError):
        return False
    want = info_of(size_name, flaws)
    if flaws is None and 'flaws' in data:  # a flawed build is never the clean one
        return False
    return all(data.get(k) == v for k, v in want.items()) and all((dst / f).exists() for f in data.get('files', []))


KEEP = ('config.json', 'generation_config.json', 'model.safetensors', 'chat_template.jinja', 'tokenizer.json',
        'tokenizer_config.json', 'processor_config.json', 'preprocessor_config.json')


def build(out: Path, size_name: str = 'full', force: bool = False, work_log: Path | None = None,
          flaws=None) -> Path:
    """The checkpoint in ``out/qwen2-audio`` (built unless complete); ``flaws``: a ``mini.task.Flaws``."""
    from mini import task as mini_task
    from audio_thinker.jsonl import read_records
    dst = out / NAME
    if not force and is_complete(dst, size_name, flaws):
        return dst
    size = SIZES[size_name]
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    tmp = Path(tempfile.mkdtemp(prefix=f'.{NAME}.', dir=out))
    try:
        paths = mini_task.build(tmp / 'data', seed=SEED, n_train=0, n_sft=size.sft_items, n_test=0, flaws=flaws)
        rows = list(read_records(paths['sft']))
        flaw_counts = Counter(row['flaw'] for row in rows if 'flaw' in row)
        init_model(tmp / 'init', size, rows)
        log = work_log or (out / f'{NAME}.sft.log')
        checkpoint = sft(tmp / 'init', paths['sft'], tmp / 'runs', size, log)
        final = tmp / 'final'
        final.mkdir()
        for name in KEEP:
            for source in (checkpoint / name, tmp / 'init' / name):  # processor files come from the init dir
                if source.exists():
                    shutil.copy2(source, final / name)
                    break
        files = sorted(p.name for p in final.iterdir())
        os.chmod(final, 0o755)
        info = {**info_of(size_name, flaws), 'seed': SEED, 'sft_recipe': 'recipes/sft-b.sh', 'sft_loss': last_loss(checkpoint),
                'build_seconds': round(time.time() - t0, 1), 'files': files,
                **({'flaw_counts': dict(sorted(flaw_counts.items()))} if flaws is not None else {})}
        (final / 'BUILD_INFO.json').write_text(json.dumps(info, indent=1))
        old = None
        if dst.exists():
            old = out / f'.{NAME}.old.{os.getpid()}'
            os.replace(dst, old)
        os.replace(final, dst)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', help='output directory (default: <repo>/.cache/mini, with --flaws <repo>/.cache/mini-flawed)')
    ap.add_argument('--size', choices=sorted(SIZES), default='full', help='model and warm-start size')
    ap.add_argument('--reduced', dest='size', action='store_const', const='reduced', help='same as --size reduced')
    ap.add_argument('--force', action='store_true', help='rebuild even if a complete build exists')
    from mini import task as mini_task
    mini_task.add_flaw_options(ap)
    args = ap.parse_args(argv)
    flaws = mini_task.flaws_of(args)
    out = Path(args.out or (FLAWED_OUT if flaws is not None else DEFAULT_OUT))
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    t0 = time.time()
    dst = build(out, args.size, args.force, flaws=flaws)
    print(f'{NAME} ({args.size}): {dst} ({time.time() - t0:.1f}s)')
    return 0


if __name__ == '__main__':
    from audio_thinker.cli import run as cli_run
    sys.exit(cli_run(main))
