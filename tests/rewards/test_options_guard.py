"""The option guard (docs/rewards.md §10, docs/options.md): what is refused, warned about or accepted, and
how it says so.

The arguments are the fields ms-swift's GRPO arguments carry, with ms-swift's defaults; the real
`swift rlhf` path is in tests/integration/test_grpo_options.py, the table against ms-swift's argument
classes in tests/rewards/test_options_table.py."""
import json
import math
from types import SimpleNamespace

import pytest

from swift_plugins import options_guard
from swift_plugins import rewards as plugin


EQ7 = ("atar", "think_consistency", "adaptive_format", "think_quality")


def grpo_args(**changes):
    """ms-swift 4.6's defaults for the fields the guard reads (gradient accumulation 2, as the recipes)."""
    args = dict(scale_rewards="group", advantage_estimator="grpo", kl_in_reward=False, beta=0.04,
                multi_turn_scheduler=None, dynamic_sample=False, max_resample_times=3, overlong_filter=False,
                gradient_accumulation_steps=2, steps_per_generation=2, generation_batch_size=16,
                callbacks=["audio_thinker"], output_dir=None, reward_funcs=list(EQ7), reward_weights=[1, 0.5, 0.5, 1],
                reward_model=None, reward_model_plugin=None, use_gym_env=None, gym_env=None, teacher_model=None,
                teacher_model_server=None, advantage_reweight=None, sdar_loss_coef=0.0, loss_type="grpo",
                num_iterations=1, resume_only_model=False, ignore_data_skip=False, resume_from_checkpoint=None,
                async_generate=False, chord_sft_dataset=[])
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
    # no weights: ms-swift weighs every reward 1, R_a(1 + R_c) + R_f + R_t; the message gives Eq. 7's
    (dict(reward_weights=None), "--reward_weights 1 0.5 0.5 1 ("),
    (dict(reward_funcs=["atar", "adaptive_format", "choice_accuracy", "think_rate"], reward_weights=None),
     "--reward_weights 1 0.5 0 0 ("),                     # monitors beside atar: 0
    # a misspelt name: ms-swift stops on it only after the model has loaded; the closest name is offered
    (dict(reward_funcs=["atar", "adaptive_fromat"], reward_weights=[1, 0.5]),
     "--reward_funcs adaptive_fromat (did you mean adaptive_format?)"),
    (dict(reward_funcs=[*EQ7, "acuracy"], reward_weights=[1, 0.5, 0.5, 1, 0]),   # ms-swift's own names count
     "--reward_funcs acuracy (did you mean accuracy?)"),
    (dict(reward_model=["/models/rm"]), "--reward_model /models/rm"),            # one more reward column
    (dict(reward_model_plugin=["genrm"]), "--reward_model_plugin genrm"),
    (dict(use_gym_env=True), "--use_gym_env true"),                              # the env's total_reward joins
    (dict(gym_env="alfworld"), "--gym_env alfworld"),                            # which turns use_gym_env on
    (dict(teacher_model="/models/teacher"), "--teacher_model /models/teacher"),  # OPD-RL: per-token advantage
    (dict(teacher_model_server="http://127.0.0.1:9"), "--teacher_model_server http://127.0.0.1:9"),
    (dict(advantage_reweight="rlsd"), "--advantage_reweight rlsd"),
    (dict(sdar_loss_coef=0.1), "--sdar_loss_coef 0.1"),
    (dict(loss_type="real", scale_rewards="none"), "--loss_type real"),          # sign of the advantage only
    (dict(loss_type=["real"]), "--loss_type real"),                              # as a list, before ms-swift parses it
    (dict(num_iterations=2), "--num_iterations 2"),                              # μ steps under one global_step
    # the annealing would restart at s = 0 and the checkpoint's step cannot be read
    (dict(resume_only_model=True, ignore_data_skip=True), "--resume_only_model true --ignore_data_skip true"),
    (dict(resume_only_model=True, ignore_data_skip=True, resume_from_checkpoint="/nowhere/checkpoint-5"),
     "(--resume_from_checkpoint /nowhere/checkpoint-5)"),
]


@pytest.mark.parametrize("changes, option", REFUSED, ids=[r[1] for r in REFUSED])
def test_refused_options_stop_with_one_line_naming_the_option(changes, option, capsys):
    with pytest.raises(SystemExit) as stop:
        plugin.AdaptiveThinkAccuracy(args=grpo_args(**changes))
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and all(line.startswith("error: audio-thinker: ") for line in lines)
    assert any(option in line for line in lines), lines


WARNED = [
    (dict(scale_rewards="batch"), "--scale_rewards batch"),
    (dict(scale_rewards="none"), "--scale_rewards none"),
    (dict(overlong_filter=True), "--overlong_filter true"),
    (dict(callbacks=[]), "--callbacks"),
    (dict(async_generate=True), "--async_generate true"),                 # one step off-policy
    (dict(chord_sft_dataset=["sft.jsonl"]), "--chord_sft_dataset sft.jsonl"),
    (dict(reward_funcs=[*EQ7, "format"], reward_weights=[1, 0.5, 0.5, 1, 1]), "--reward_funcs format"),
]


@pytest.mark.parametrize("changes, option", WARNED, ids=[w[1] for w in WARNED])
def test_warned_options_train_with_a_warning(changes, option, caplog):
    with caplog.at_level("WARNING", logger="audio_thinker"):
        plugin.AdaptiveThinkAccuracy(args=grpo_args(**changes))
    assert any(option in record.getMessage() for record in caplog.records)


ACCEPTED = [
    dict(),
    dict(kl_in_reward=True, beta=0.0),                           # no KL at all: nothing moves
    dict(reward_weights=[2, 1, 1, 0.3]),                         # explicit weights of any value
    dict(reward_funcs=["atar"], reward_weights=None),            # one reward: nothing to weigh
    dict(reward_funcs=[*EQ7, "format"], reward_weights=[1, 0.5, 0.5, 1, 0]),  # a foreign monitor at 0
    dict(loss_type="dr_grpo"), dict(loss_type="dapo"),           # loss only
    dict(importance_sampling_level="sequence"), dict(epsilon_high=0.28), dict(top_entropy_quantile=0.2),
    dict(max_resample_times=5),                                  # inert without --dynamic_sample
    dict(resume_only_model=True),                                # HF restores global_step: annealing continues
    dict(ignore_data_skip=True),
    dict(use_gym_env=False, gym_env="alfworld"),                 # explicitly off
]


@pytest.mark.parametrize("changes", ACCEPTED, ids=[str(a) for a in ACCEPTED])
def test_defaults_and_harmless_settings_are_accepted(changes, caplog):
    with caplog.at_level("WARNING", logger="audio_thinker"):
        plugin.AdaptiveFormat(args=grpo_args(**changes))
    assert not caplog.records


def test_every_rule_has_a_case_here():
    """A rule added to options_guard.RULES without a line in REFUSED / WARNED fails here."""
    cases = [changes for changes, _ in REFUSED + WARNED]
    for r in options_guard.RULES:
        fired = [c for c in cases if r.finding(grpo_args(**c)) is not None]
        assert fired, f"no case fires the rule of --{r.options[0]} ({r.verdict} when {r.when})"


def test_a_readable_checkpoint_step_restores_the_annealing_instead(tmp_path):
    checkpoint = tmp_path / "checkpoint-40"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 40, "max_steps": 100}))
    args = grpo_args(resume_only_model=True, ignore_data_skip=True, resume_from_checkpoint=str(checkpoint))
    assert options_guard.check(args).refused == []


def test_a_launcher_namespace_with_only_some_fields_gets_ms_swift_defaults():
    """check() is what a launcher calls on its command line: absent fields are ms-swift's defaults."""
    assert options_guard.check(SimpleNamespace(reward_funcs=list(EQ7), reward_weights=[1, 0.5, 0.5, 1])) == \
        options_guard.Verdicts([], [])
    refused = options_guard.check(SimpleNamespace(reward_funcs="atar", loss_type="real", num_iterations=3)).refused
    assert [f.option for f in refused] == ["--loss_type real", "--num_iterations 3"]


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


def test_the_pipeline_check_of_a_model_only_resume_continues_the_annealing(tmp_path, monkeypatch, caplog):
    """The arguments `swift rlhf --resume_only_model true --ignore_data_skip true --resume_from_checkpoint
    …/checkpoint-40` hand the plugin before the model loads, given to the guard's pipeline check directly (no
    `swift rlhf` runs here): the annealing continues from step 40 instead of restarting at 0 (ms-swift
    restarts global_step at 0; old code annealed from s = 0 again)."""
    from swift_plugins import batch
    from tests.helpers.reward_calls import call, rows_kwargs

    checkpoint = tmp_path / "checkpoint-40"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 40, "max_steps": 100}))
    monkeypatch.setattr(options_guard.plugin, "_pipeline_checked", False)
    monkeypatch.setattr(batch.STATE, "resumed_from", 0)
    args = grpo_args(rlhf_type="grpo", resume_only_model=True, ignore_data_skip=True,
                     resume_from_checkpoint=str(checkpoint))
    with caplog.at_level("WARNING", logger="audio_thinker"):
        options_guard.check_pipeline_args(args)
    assert batch.STATE.resumed_from == 40 and "from the checkpoint's step 40" in caplog.text
    # step 10 of 60 more: s/T = (40 + 9 + 1) / (40 + 60) = 0.5; one completion that thinks: λ = 1; a correct
    # think answer earns γ_think = exp(−λ(1 − s/T)) (Eq. 3)
    got = call(plugin.AdaptiveThinkAccuracy(), ["<think>x</think><answer>Dog</answer>"],
               **rows_kwargs(1, step=9, max_steps=60))
    s_over_t, lam = (40 + 9 + 1) / (40 + 60), 1.0
    assert got == [pytest.approx(math.exp(-lam * (1 - s_over_t)))]
