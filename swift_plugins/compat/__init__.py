"""ms-swift compatibility patches for Audio-Thinker; importing this module applies all of them.

* Qwen2-Audio on transformers 5.x (``qwen2_audio.py``): audio placeholder expansion and module paths.
* Qwen2.5-Omni: thinker only — ``ENABLE_AUDIO_OUTPUT`` defaults to ``0`` (ms-swift reads it when it
  loads the model; set ``ENABLE_AUDIO_OUTPUT=1`` yourself to load the talker for speech output).
* A clip that cannot be loaded names its file (``audio_errors.py``) instead of failing with a bare
  ``EOFError`` / ``TypeError: Invalid file: None`` mid-run.
* A media placeholder (``<|AUDIO|>``…) that the policy generates is masked from the loss instead of
  crashing the template or the forward pass (``generated_placeholders.py``).
* Multi-process CPU runs (``teardown.py``): destroy the gloo process group before exit.
* No model-hub freshness check offline or for a local checkpoint (``hub_check.py``): it only retried the
  hub's listing for seconds, as ``--check_model false`` (what the recipes pass) avoids.

Activated through ms-swift's own plugin mechanism: ``--external_plugins swift_plugins/compat_plugin.py``
(imported in ``BaseArguments.__post_init__``, before the model and template are built, for
sft / rlhf / infer / deploy / export), and by ``swift_plugins/rewards.py`` for GRPO runs.
Idempotent; raises on untested ms-swift/transformers versions (see ``versions.py``).
"""
from __future__ import annotations

import os

from .versions import check_versions

VERSIONS = check_versions()
os.environ.setdefault('ENABLE_AUDIO_OUTPUT', '0')

from . import audio_errors, generated_placeholders, hub_check, qwen2_audio, teardown  # noqa: E402

qwen2_audio.apply()
audio_errors.apply()
generated_placeholders.apply()
hub_check.apply()
teardown.install()

__all__ = ['VERSIONS', 'audio_errors', 'generated_placeholders', 'hub_check', 'qwen2_audio', 'teardown']
