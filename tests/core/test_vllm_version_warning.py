"""The warning for a vLLM older than what ms-swift 4.6's rollout importance sampling needs (docs/backbones.md)."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from swift_plugins import options_guard
from swift_plugins.compat import versions


@pytest.mark.parametrize("use_vllm, installed, warned", [
    (True, "0.10.1.1", True), (True, "0.9.0.post1+cu121", True), (True, "0.8.5", True),
    (True, "0.10.2", False), (True, "0.33.0", False), (True, "0.34.0rc1", False),
    (False, "0.8.5", False),          # no vLLM rollouts: nothing to say
    (True, None, False),              # not installed: ms-swift itself stops with its own message
    (True, "dev", False),             # unreadable: no guess
])
def test_an_old_vllm_is_named_with_what_it_costs(use_vllm, installed, warned):
    text = versions.old_vllm_warning(use_vllm, installed)
    assert (text is not None) == warned
    if warned:
        assert text.startswith(f"vllm {installed} is older than 0.10.2") and "rollout importance sampling" in text


def test_the_plugin_warns_before_the_model_loads(monkeypatch, caplog):
    args = SimpleNamespace(rlhf_type="grpo", reward_funcs=["atar", "adaptive_format"], reward_weights=[1, 0.5],
                           use_vllm=True)
    # a passed pipeline check marks the process as checked (one run per process): keep that mark in this test,
    # or every later in-process check of the trainer's arguments would be skipped
    monkeypatch.setattr(options_guard.plugin, "_pipeline_checked", False)
    for installed, expected in (("0.8.5", 1), ("0.33.0", 0)):
        monkeypatch.setattr(versions, "installed_vllm", lambda v=installed: v)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="audio_thinker"):
            options_guard.check_pipeline_args(args)
        assert sum("is older than 0.10.2" in r.getMessage() for r in caplog.records) == expected
