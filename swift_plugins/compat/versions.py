"""The ms-swift / transformers versions the compat patches were written and tested against.

The patches reach into ms-swift internals (template classes, the model-arch registry), so on any
other version they may silently do the wrong thing.  Policy: **raise** on an untested version,
because a silently wrong patch means training without audio.  Set
``AUDIO_THINKER_ALLOW_UNTESTED_VERSIONS=1`` to downgrade the error to a warning (e.g. to try a
newer ms-swift, after which run ``pytest tests/models`` to see whether the audio guard still holds).
"""
from __future__ import annotations

import os
import warnings
from importlib.metadata import PackageNotFoundError, version

# distribution -> version prefixes known to work (matched on release components, not strings)
TESTED = {
    'ms-swift': ('4.6',),
    'transformers': ('5.19',),
}
ENV_ALLOW = 'AUDIO_THINKER_ALLOW_UNTESTED_VERSIONS'


class UntestedVersionError(RuntimeError):
    pass


def _matches(installed: str, prefix: str) -> bool:
    want = prefix.split('.')
    return installed.split('+')[0].split('.')[:len(want)] == want


def check_versions() -> dict[str, str]:
    found = {dist: version(dist) for dist in TESTED}
    bad = {d: v for d, v in found.items() if not any(_matches(v, p) for p in TESTED[d])}
    if bad:
        msg = ('swift_plugins.compat patches ms-swift internals and was tested only with '
               + ', '.join(f'{d} {"/".join(p + ".*" for p in TESTED[d])}' for d in TESTED)
               + '; found ' + ', '.join(f'{d} {v}' for d, v in bad.items())
               + '. Install the pinned versions (pip install -e .), or set '
               f'{ENV_ALLOW}=1 to continue at your own risk and run `pytest tests/models`.')
        if os.environ.get(ENV_ALLOW, '').lower() in {'1', 'true', 'yes'}:
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
        else:
            raise UntestedVersionError(msg)
    return found


# ms-swift 4.6 corrects and measures the gap between vLLM's sampling probabilities and the trainer's (rollout
# importance sampling: --rollout_importance_sampling_mode, --log_rollout_offpolicy_metrics) only with the
# sampler's processed log-probabilities, which vLLM returns from 0.10.2 on (logprobs_mode); with an older vLLM
# it refuses the mode but skips the off-policy metrics without a word (rlhf_trainers/rollout_mixin.py).
ROLLOUT_IS_VLLM = '0.10.2'


def _release(text: str) -> tuple[int, ...] | None:
    parts = []
    for part in text.split('+')[0].split('.')[:3]:
        digits = ''.join(c for c in part if c.isdigit()) if part[:1].isdigit() else ''
        if not digits:
            return None
        parts.append(int(digits))
    return tuple(parts)


def old_vllm_warning(use_vllm: bool, installed: str | None) -> str | None:
    """The warning for a GRPO run with vLLM on a vLLM older than rollout importance sampling needs, else None
    (also None when the version cannot be read: ms-swift says itself when vLLM is missing)."""
    have, need = _release(installed or ''), _release(ROLLOUT_IS_VLLM)
    if not use_vllm or have is None or have >= need:
        return None
    return (f'vllm {installed} is older than {ROLLOUT_IS_VLLM}: it does not return the sampler\'s processed '
            'log-probabilities, so ms-swift 4.6 can neither correct nor measure the gap between vLLM\'s and the '
            'trainer\'s token probabilities (rollout importance sampling; --log_rollout_offpolicy_metrics logs '
            'nothing). Install the gpu extra\'s vLLM (docs/install.md).')


def installed_vllm() -> str | None:
    try:
        return version('vllm')
    except PackageNotFoundError:
        return None
