"""swift_plugins.compat: version guard, idempotence, Qwen2-Audio module paths (LoRA all-linear and
freeze_vit), the thinker-only default for Omni, and the process-group teardown."""
from __future__ import annotations

import importlib
import os

import pytest
import torch

import swift_plugins.compat as compat
from swift_plugins.compat import qwen2_audio, teardown, versions


def test_versions_are_the_tested_ones():
    assert compat.VERSIONS['ms-swift'].startswith('4.6') and compat.VERSIONS['transformers'].startswith('5.19')


@pytest.mark.parametrize('installed, ok', [
    ('4.6.0', True),      # tested
    ('4.6.3', True),      # patch release of the tested minor
    ('4.60.0', False),    # a prefix match on strings would accept this
    ('4.7.0', False),     # next minor: internals may have moved
    ('5.0.0', False),
])
def test_version_guard(monkeypatch, installed, ok):
    real = versions.version
    monkeypatch.setattr(versions, 'version', lambda d: installed if d == 'ms-swift' else real(d))
    monkeypatch.delenv(versions.ENV_ALLOW, raising=False)
    if ok:
        versions.check_versions()
    else:
        with pytest.raises(versions.UntestedVersionError, match='ms-swift'):
            versions.check_versions()
        monkeypatch.setenv(versions.ENV_ALLOW, '1')  # escape hatch: warn instead
        with pytest.warns(RuntimeWarning, match='tested only with'):
            versions.check_versions()


def test_patches_are_idempotent():
    from swift.model.model_arch import get_model_arch
    from swift.template.templates.qwen import Qwen2AudioTemplate
    encode, arch = Qwen2AudioTemplate._encode, get_model_arch('qwen2_audio')
    qwen2_audio.apply()
    importlib.reload(compat)
    assert Qwen2AudioTemplate._encode is encode  # not wrapped twice
    assert get_model_arch('qwen2_audio').language_model == arch.language_model


def test_qwen2_audio_module_paths_resolve(tiny_checkpoints):
    """Stale paths made LoRA all-linear find nothing and freeze_vit freeze nothing."""
    from swift.model import get_model_processor
    from swift.utils import deep_getattr, get_multimodal_target_regex
    model, _ = get_model_processor(str(tiny_checkpoints / 'qwen2-audio'), model_type='qwen2_audio', device_map='cpu',
                                   download_model=False)
    arch = model.model_meta.model_arch
    for path in arch.language_model + arch.vision_tower + arch.aligner:
        assert isinstance(deep_getattr(model, path), torch.nn.Module), path
    assert deep_getattr(model, arch.vision_tower[0]) is model.model.audio_tower
    regex = get_multimodal_target_regex(model)  # what --target_modules all-linear becomes
    import re
    hits = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and re.fullmatch(regex, n)]
    assert hits and all(n.startswith('model.language_model.') for n in hits)
    assert not any('audio_tower' in n for n in hits)  # freeze_vit=True by default


def test_omni_defaults_to_thinker_only():
    # set at import unless the user chose otherwise; ms-swift reads it when loading qwen2_5_omni
    assert os.environ.get('ENABLE_AUDIO_OUTPUT') in {'0', '1', 'true', 'false', 'True', 'False'}


def test_teardown_destroys_the_process_group(tmp_path):
    import torch.distributed as dist
    assert teardown._registered
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/pg', rank=0, world_size=1)
    assert dist.is_initialized()
    teardown.destroy_process_group()
    assert not dist.is_initialized()
    teardown.destroy_process_group()  # and a second call is harmless


def test_teardown_leaves_other_backends_alone():
    """Only gloo needs it; on NCCL the abort in destroy_process_group can block a rank that dies while a
    peer is inside a collective. torch's CPU "fake" backend stands in for a non-gloo group."""
    import torch.distributed as dist
    from torch.testing._internal.distributed.fake_pg import FakeStore

    dist.init_process_group('fake', store=FakeStore(), rank=0, world_size=1)
    try:
        teardown.destroy_process_group()
        assert dist.is_initialized()  # old code: destroyed whatever the backend
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
