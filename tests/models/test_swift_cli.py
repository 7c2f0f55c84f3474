"""Real ms-swift CLI jobs on the tiny backbones, on CPU, offline: sft, GRPO (LoRA and full), infer,
deploy, and a 2-process gloo GRPO run that must exit 0 every time.  Each job runs 2 steps."""
from __future__ import annotations

import base64
import json
import math
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from safetensors.torch import load_file

from audio_thinker.jsonl import read_completion_tables, read_jsonl
from tests.helpers.loopback_server import free_port
from tests.helpers.paths import REPO
from tests.helpers.swift import run_dir

pytestmark = pytest.mark.slow

COMPAT_PLUGIN = str(REPO / 'swift_plugins' / 'compat_plugin.py')
MODEL_TYPES = {'qwen2-audio': 'qwen2_audio', 'qwen2.5-omni': 'qwen2_5_omni', 'qwen3-omni': 'qwen3_omni_moe'}
REWARDS_PLUGIN = str(REPO / 'swift_plugins' / 'rewards.py')
TRAIN = ['--check_model', 'false', '--use_cpu', 'true', '--dataloader_num_workers', '0', '--report_to', 'none',
         '--logging_steps', '1', '--max_steps', '2', '--save_steps', '100', '--learning_rate', '1e-4']
GRPO = ['--rlhf_type', 'grpo', '--num_generations', '4', '--per_device_train_batch_size', '4',
        '--max_completion_length', '16', '--temperature', '1.0', '--log_completions', 'true']


def model_args(tiny, name):
    return ['--model', str(tiny / name), '--model_type', MODEL_TYPES[name], '--external_plugins', COMPAT_PLUGIN]


def tuner_args(tuner):
    return ['--tuner_type', 'lora', '--target_modules', 'all-linear'] if tuner == 'lora' else ['--tuner_type', 'full']


@pytest.mark.parametrize('name, tuner', [('qwen2-audio', 'lora'), ('qwen2.5-omni', 'full'), ('qwen3-omni', 'lora')])
def test_sft(swift_job, tiny_checkpoints, tone_noise_qa, name, tuner):
    out, _ = swift_job('sft', *model_args(tiny_checkpoints, name), *tuner_args(tuner), *TRAIN,
                          '--dataset', str(tone_noise_qa), '--per_device_train_batch_size', '2', '--output_dir', 'out_sft')
    logs = read_jsonl(run_dir(out) / 'logging.jsonl')
    assert [r for r in logs if 'loss' in r] and all(math.isfinite(r['loss']) for r in logs if 'loss' in r)
    ckpt = run_dir(out) / 'checkpoint-2'
    assert (ckpt / ('adapter_model.safetensors' if tuner == 'lora' else 'model.safetensors')).exists()


def test_sft_full_trains_llm_and_freezes_audio_tower(swift_job, tiny_checkpoints, tone_noise_qa):
    """--freeze_vit (default true) must freeze Qwen2-Audio's audio tower (stale paths froze nothing)."""
    out, _ = swift_job('sft', *model_args(tiny_checkpoints, 'qwen2-audio'), *tuner_args('full'), *TRAIN,
                          '--dataset', str(tone_noise_qa), '--per_device_train_batch_size', '2', '--output_dir', 'out_sft')
    before = load_file(tiny_checkpoints / 'qwen2-audio' / 'model.safetensors')
    after = load_file(run_dir(out) / 'checkpoint-2' / 'model.safetensors')
    assert before.keys() == after.keys()  # saved in the hub layout: audio_tower.*, language_model.*
    changed = {k.removeprefix('model.') for k in before if not before[k].equal(after[k])}
    assert any(k.startswith('language_model.') for k in changed)
    assert not [k for k in changed if k.startswith('audio_tower.')]


@pytest.mark.parametrize('name, tuner, rewards', [
    ('qwen2-audio', 'lora', 'ours'),      # the lead's reward plugin (imports swift_plugins.compat itself)
    ('qwen2-audio', 'full', 'format'),
    ('qwen2.5-omni', 'lora', 'format'),
    ('qwen2.5-omni', 'full', 'ours'),
])
def test_grpo(swift_job, tiny_checkpoints, tone_noise_qa, name, tuner, rewards):
    if rewards == 'ours':
        reward_args = ['--external_plugins', REWARDS_PLUGIN,
                       '--reward_funcs', 'adaptive_format', 'choice_accuracy', 'think_rate',
                       '--reward_weights', '1', '1', '0']
        metrics = ['rewards/AdaptiveFormat/mean', 'rewards/ChoiceAccuracy/mean', 'rewards/ThinkRate/mean']
    else:
        reward_args, metrics = ['--reward_funcs', 'format'], ['rewards/Format/mean']
    out, _ = swift_job('rlhf', *GRPO, *model_args(tiny_checkpoints, name), *tuner_args(tuner), *TRAIN, *reward_args,
                          '--dataset', str(tone_noise_qa), '--output_dir', 'out_rlhf')
    steps = [r for r in read_jsonl(run_dir(out) / 'logging.jsonl') if 'reward' in r]
    assert len(steps) == 2
    for m in metrics:
        assert all(math.isfinite(r[m]) for r in steps), m
    completions = read_completion_tables(run_dir(out) / 'completions.jsonl')
    assert completions and all(len(c['completion']) == 4 for c in completions)
    assert len(completions) == len(steps)  # one table per logged step: the end-of-training repeat dropped
    assert len(read_jsonl(run_dir(out) / 'completions.jsonl')) == len(steps) + 1  # the repeat is in the file


@pytest.mark.parametrize('name', ['qwen2-audio', 'qwen2.5-omni'])  # Qwen3-Omni: eval.infer (tests/eval), suite budget
def test_infer(swift_job, tiny_checkpoints, tone_noise_qa, tmp_path, name):
    result = tmp_path / 'result.jsonl'
    swift_job('infer', *model_args(tiny_checkpoints, name), '--infer_backend', 'transformers', '--val_dataset',
              str(tone_noise_qa), '--max_new_tokens', '16', '--temperature', '0', '--result_path', str(result))
    rows = read_jsonl(result)
    assert len(rows) == 4 and all(isinstance(r['response'], str) and r['audios'] for r in rows)


def test_deploy_answers_audio_request(fresh_cache_env, tiny_checkpoints, wavs, tmp_path):
    port = free_port()
    log = tmp_path / 'deploy.log'
    cmd = [shutil.which('swift') or 'swift', 'deploy', *model_args(tiny_checkpoints, 'qwen2-audio'), '--infer_backend',
           'transformers', '--host', '127.0.0.1', '--port', str(port), '--served_model_name', 'tiny']
    with open(log, 'w') as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=tmp_path, env=fresh_cache_env,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                urllib.request.urlopen(f'http://127.0.0.1:{port}/v1/models', timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(1)
        audio = base64.b64encode(Path(wavs['noise']).read_bytes()).decode()
        body = {'model': 'tiny', 'max_tokens': 16, 'temperature': 0, 'messages': [{'role': 'user', 'content': [
            {'type': 'audio_url', 'audio_url': {'url': f'data:audio/wav;base64,{audio}'}},
            {'type': 'text', 'text': 'Is this a tone or noise?'}]}]}
        req = urllib.request.Request(f'http://127.0.0.1:{port}/v1/chat/completions', data=json.dumps(body).encode(),
                                     headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=120) as resp:
            reply = json.loads(resp.read())
        assert isinstance(reply['choices'][0]['message']['content'], str)
    finally:
        # `swift deploy` runs the server in a child process: stop the whole session, not just the wrapper.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_two_process_gloo_grpo_exits_cleanly(swift_job, tiny_checkpoints, tone_noise_qa):
    """NPROC_PER_NODE=2 --use_cpu --ddp_backend gloo: exit code 0 on every one of three runs (the
    process group is destroyed by swift_plugins.compat.teardown before interpreter shutdown)."""
    for attempt in range(3):
        out, log = swift_job(
            'rlhf', *GRPO[:4], '--per_device_train_batch_size', '2', *GRPO[6:], *model_args(tiny_checkpoints, 'qwen2-audio'),
            *tuner_args('lora'), *TRAIN, '--ddp_backend', 'gloo', '--reward_funcs', 'format', '--dataset',
            str(tone_noise_qa), '--output_dir', f'out_gloo{attempt}', env={'NPROC_PER_NODE': '2'})  # fails unless it exits 0
        assert 'terminate called' not in log, f'attempt {attempt}:\n{log[-4000:]}'
        assert 'world_size: 2' in log
