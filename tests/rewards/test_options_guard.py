"""The option guard (docs/rewards.md §10): what is refused, warned about or accepted, and how it says so.

The arguments are the fields ms-swift's GRPO config carries, with ms-swift's defaults; the real
`swift rlhf` path is in tests/integration/test_grpo_dashboard.py."""
from types import SimpleNamespace

import pytest

from swift_plugins import options_guard
from swift_plugins import rewards as plugin


def grpo_args(**changes):
    """ms-swift 4.6's defaults for the fields the guard reads (gradient accumulation 2, as the recipes)."""
    args = dict(scale_rewards="group", advantage_estimator="grpo", kl_in_reward=False, beta=0.04,
                multi_turn_scheduler=None, dynamic_sample=False, max_resample_times=3, overlong_filter=False,
                gradient_accumulation_steps=2, steps_per_generation=2, generation_batch_size=16,
                callbacks=["audio_thinker"], output_dir=None)
    args.update(changes)
    return SimpleNamespace(**args)


REFUSED = [
    (dict(scale_rewards="gdpo"), "--scale_rewards gdpo"),
    (dict(advantage_estimator="rloo", kl_in_reward=True, scale_rewards="none"), "--advantage_estimator rloo"),
    (dict(advantage_estimator="reinforce_plus_plus", kl_in_reward=True, scale_rewards="batch"),
     "--advantage_estimator reinforce_plus_plus"),
    (dict(kl_in_reward=True), "--kl_in_reward true"),
    (dict(multi_turn_scheduler="thinking_tips_scheduler"), "--multi_turn_scheduler thinking_tips_scheduler"),
    (dict(dynamic_sample=True), "--dynamic_sample true"),
    (dict(steps_per_generation=4, generation_batch_size=32), "--steps_per_generation 4"),  # two steps per call
    (dict(steps_per_generation=1, generation_batch_size=8), "--steps_per_generation 1"),   # half a step per call
]


@pytest.mark.parametrize("changes, option", REFUSED, ids=[r[1] for r in REFUSED])
def test_refused_options_stop_with_one_line_naming_the_option(changes, option, capsys):
    with pytest.raises(SystemExit) as stop:
        plugin.AdaptiveThinkAccuracy(args=grpo_args(**changes))
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and all(line.startswith("error: audio-thinker: ") for line in lines)
    assert any(option in line for line in lines), lines


@pytest.mark.parametrize("changes, option", [(dict(scale_rewards="batch"), "--scale_rewards batch"),
                                             (dict(scale_rewards="none"), "--scale_rewards none"),
                                             (dict(overlong_filter=True), "--overlong_filter true"),
                                             (dict(callbacks=[]), "--callbacks")])
def test_warned_options_train_with_a_warning(changes, option, caplog):
    with caplog.at_level("WARNING", logger="audio_thinker"):
        plugin.AdaptiveThinkAccuracy(args=grpo_args(**changes))
    assert any(option in record.getMessage() for record in caplog.records)


def test_defaults_and_harmless_settings_are_accepted(caplog):
    with caplog.at_level("WARNING", logger="audio_thinker"):
        plugin.AdaptiveFormat(args=grpo_args())
        plugin.AdaptiveFormat(args=grpo_args(kl_in_reward=True, beta=0.0))  # no KL at all: nothing moves
    assert not caplog.records


def test_only_local_rank_0_prints(monkeypatch, capsys):
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(SystemExit):
        plugin.AdaptiveFormat(args=grpo_args(dynamic_sample=True))
    assert capsys.readouterr().err == ""


def test_a_multi_turn_rollout_server_is_refused_at_the_first_call(capsys):
    reward = plugin.AdaptiveFormat()
    with pytest.raises(SystemExit):
        reward(["<answer>Dog</answer>"], trajectory_inputs={}, solution=["Dog"])
    assert "--multi_turn_scheduler (on the rollout server)" in capsys.readouterr().err


def test_every_refusal_reason_fits_on_one_line():
    for changes, _ in REFUSED:
        for finding in options_guard.refusals(grpo_args(**changes)):
            assert "\n" not in finding.line("is refused")
