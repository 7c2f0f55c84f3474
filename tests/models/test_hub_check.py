"""A direct ``swift rlhf`` / ``swift sft`` with the plugin skips ModelScope's hub freshness check where it can
only cost time (swift_plugins/compat/hub_check.py): offline it retried the hub's listing for 22 s."""
import logging
import time

import pytest

pytestmark = pytest.mark.slow  # imports ms-swift


@pytest.mark.parametrize("env, inside_cache, needed", [
    ({"HF_HUB_OFFLINE": "1"}, True, False),          # offline: nothing to ask
    ({"TRANSFORMERS_OFFLINE": "true"}, True, False),
    ({}, False, False),                              # a checkpoint of ours: the hub has no newer version
    ({}, True, True),                                # a hub download, online: ms-swift's check as before
])
def test_when_the_check_runs(monkeypatch, tmp_path, env, inside_cache, needed):
    from swift_plugins.compat import hub_check

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    model = tmp_path / ("ms/models/Qwen/x" if inside_cache else "runs/checkpoint-2")
    model.mkdir(parents=True)
    assert hub_check.needed(model) is needed


def test_offline_the_trainer_check_asks_no_hub(tiny_qwen2_audio, monkeypatch, caplog, capfd):
    """What ms-swift's trainer mixin calls, on the tiny checkpoint with HF_HUB_OFFLINE=1: before, ModelScope
    logged "listing failed (NetworkError), retry in 2s" four times."""
    import swift_plugins.compat  # noqa: F401  (what --external_plugins loads)
    from swift.trainers import mixin
    from swift_plugins.compat import hub_check

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # the name ms-swift's trainer calls is the plugin's wrapper (on a networked machine the hub would answer,
    # and the log alone could not tell the wrapper from ModelScope's own check)
    assert getattr(mixin.check_local_model_is_latest, hub_check.MARK, False)
    with caplog.at_level(logging.WARNING):
        start = time.perf_counter()
        mixin.check_local_model_is_latest(str(tiny_qwen2_audio), user_agent={"invoked_by": "local_trainer"})
        seconds = time.perf_counter() - start
    logged = caplog.text + "".join(capfd.readouterr())
    assert "listing failed" not in logged
    assert seconds < 1.0  # no request: ModelScope's listing waits 2 s between its retries offline
