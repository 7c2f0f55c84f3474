"""mini/build.py at its reduced size: a real `swift sft` warm start through the SFT recipe,
a complete and idempotent build, and a checkpoint that ms-swift's qwen2_audio template loads and answers with."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from transformers import AutoConfig, AutoProcessor

from mini import task as mini_task
from tests.helpers.paths import REPO

pytestmark = pytest.mark.slow  # runs `swift sft` and `eval.infer` (about a minute on 2 cores)

BUILDER = REPO / 'mini' / 'build.py'


def build(out):
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'HF_HUB_OFFLINE': '1', 'CUDA_VISIBLE_DEVICES': ''}
    return subprocess.run([sys.executable, str(BUILDER), '--out', str(out), '--reduced'], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def mini(tmp_path_factory):
    out = tmp_path_factory.mktemp('mini')
    proc = build(out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


def test_build_is_complete_and_records_its_warm_start(mini):
    dst = mini / 'qwen2-audio'
    info = json.loads((dst / 'BUILD_INFO.json').read_text())
    assert info['size'] == 'reduced' and info['sft_recipe'] == 'recipes/sft-b.sh'
    assert all((dst / f).exists() for f in info['files']) and 'model.safetensors' in info['files']
    assert info['sft_loss'] is not None and info['sft_loss'] > 0  # the recipe ran and logged a loss
    assert not [p for p in mini.iterdir() if p.name.startswith('.')]  # no temp dirs left behind


def test_second_build_is_skipped(mini):
    before = (mini / 'qwen2-audio' / 'model.safetensors').stat().st_mtime_ns
    t0 = time.monotonic()
    assert build(mini).returncode == 0
    assert time.monotonic() - t0 < 60  # no `swift sft` (it alone takes longer to start)
    assert (mini / 'qwen2-audio' / 'model.safetensors').stat().st_mtime_ns == before


def test_shape_window_and_vocabulary(mini):
    dst = mini / 'qwen2-audio'
    cfg = AutoConfig.from_pretrained(dst)
    assert cfg.architectures == ['Qwen2AudioForConditionalGeneration']
    fe = AutoProcessor.from_pretrained(dst).feature_extractor
    # the encoder demands exactly max_source_positions * 2 mel frames; the task's longest clip fits
    assert fe.nb_max_frames == cfg.audio_config.max_source_positions * 2
    longest = mini_task.make_item(0, 'test', 2).wave.size / mini_task.SAMPLE_RATE
    assert longest < fe.chunk_length
    tok = AutoProcessor.from_pretrained(dst).tokenizer
    for word in [*(f' {level}' for level in mini_task.LEVELS), 'Tone', '<think>', '</answer>']:
        assert len(tok.encode(word, add_special_tokens=False)) == 1, word  # a perception is one token


def test_ms_swift_loads_it_and_answers(mini, tmp_path):
    paths = mini_task.build(tmp_path / 'task', seed=5, n_train=0, n_sft=0, n_test=3)
    out = tmp_path / 'preds.jsonl'
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'HF_HUB_OFFLINE': '1', 'CUDA_VISIBLE_DEVICES': ''}
    proc = subprocess.run([sys.executable, '-m', 'eval.infer', '--model', str(mini / 'qwen2-audio'),
                           '--model-type', 'qwen2_audio', '--benchmark-file', str(paths['test']), '--out', str(out),
                           '--system', str(REPO / 'swift_plugins' / 'prompts' / 'always_think.txt'),
                           '--batch-size', '3', '--max-new-tokens', '8'],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    items = [json.loads(line) for line in paths['test'].read_text().splitlines()]
    assert [r['id'] for r in rows] == [it['id'] for it in items] and len(rows) == 3
    for row, item in zip(rows, items):  # each answer is a reply to its own item's prompt: its question, its clip
        assert row['messages'] == item['messages'] and row['audios'] == item['audios']
        assert 'error' not in row and isinstance(row['output'], str) and row['output'].strip(), row
    # (two SFT steps do not teach the reduced build the think format; the full build's precondition checks it)


def test_flawed_warm_start_is_its_own_build(mini, tmp_path):
    """--flaws: the same builder on flawed rows; BUILD_INFO says so and counts each flaw, and neither build
    passes for the other (the clean fixture is not complete for a flawed build)."""
    from mini import build as mini_build
    from mini.task import FLAW_KINDS, NO_FLAW, Flaws
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'HF_HUB_OFFLINE': '1', 'CUDA_VISIBLE_DEVICES': ''}
    proc = subprocess.run([sys.executable, str(BUILDER), '--out', str(tmp_path), '--reduced', '--flaws', '1'],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    info = json.loads((tmp_path / 'qwen2-audio' / 'BUILD_INFO.json').read_text())
    assert info['flaws'] == Flaws(1.0).describe() and info['sft_loss'] is not None
    counts = info['flaw_counts']
    assert set(counts) <= {NO_FLAW, *FLAW_KINDS} and sum(counts.values()) == mini_build.SIZES['reduced'].sft_items
    assert counts.get(NO_FLAW, 0) < sum(counts.values())  # rate 1: every think row is flawed
    assert mini_build.is_complete(tmp_path / 'qwen2-audio', 'reduced', Flaws(1.0))
    assert not mini_build.is_complete(tmp_path / 'qwen2-audio', 'reduced')
    assert not mini_build.is_complete(tmp_path / 'qwen2-audio', 'reduced', Flaws(0.5))
    assert not mini_build.is_complete(mini / 'qwen2-audio', 'reduced', Flaws(1.0))
