"""The launcher (python -m recipes.launch, behind recipes/<row>.sh): settings resolved in one order, the
command it builds, the option guard applied to that very command line before anything loads, and every
documented override read."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from audio_thinker.cli import UsageError
from recipes import catalogue
from recipes.launch import run, settings
from tests.helpers.paths import CACHE, REPO
from tests.helpers.swift import children_cpu_seconds

TINY = CACHE / "tiny" / "qwen2-audio"
CPU = {"PROFILE": "cpu", "MODEL": "/m/tiny", "DATA": "/d/train.jsonl", "OUTPUT_ROOT": "/runs"}


def plan(row="model-a", table=None, **env):
    return run.plan(row, REPO, {"AUDIO_THINKER_JUDGE_URL": "http://j:8000/v1", **env}, table)


# setting, environment, table overrides, expected value -- the order: catalogue < PROFILE < table < environment
PRECEDENCE = [
    ("LR", {}, {}, "1e-6"),                                               # the paper's, from the catalogue
    ("MAX_STEPS", {"PROFILE": "cpu"}, {}, "4"),                           # the profile over the catalogue
    ("MAX_STEPS", {"PROFILE": "cpu"}, {"MAX_STEPS": "2"}, "2"),           # a table's overrides over the profile
    ("MAX_STEPS", {"PROFILE": "cpu", "MAX_STEPS": "9"}, {"MAX_STEPS": "2"}, "9"),  # the environment over all
    ("MAX_STEPS", {"MAX_STEPS": ""}, {}, "1000"),                         # an empty variable is unset
    ("DEEPSPEED", {"USE_CPU": "1"}, {}, "none"),                          # on CPU only when asked
    ("USE_VLLM", {"PROFILE": "cpu"}, {}, "false"),
    ("OUTPUT_ROOT", {"PROFILE": "cpu"}, {}, str(Path("~/audio-thinker-runs").expanduser())),  # not the checkout
    ("OUTPUT_ROOT", {}, {}, str(REPO / "output")),
]


@pytest.mark.parametrize("name, env, overrides, value", PRECEDENCE)
def test_settings_are_resolved_in_one_order(name, env, overrides, value):
    cat = catalogue.load()
    table = catalogue.Table("mini", ("mmau",), ("model-a",), overrides)
    assert settings.resolve(cat, cat.row("model-a"), REPO, env, table)[name] == value


def test_the_cpu_profile_is_every_setting_the_demo_uses():
    launch = plan(**CPU)
    opts = dict(zip(launch.argv[::1], launch.argv[1:]))
    assert launch.env == {"NPROC_PER_NODE": "1", "NNODES": "1"}
    assert opts["--use_cpu"] == "true" and opts["--torch_dtype"] == "float32" and "--deepspeed" not in opts
    assert "--use_vllm" not in opts and opts["--per_device_train_batch_size"] == "4"
    assert opts["--max_steps"] == "4" and opts["--num_generations"] == "4" and opts["--report_to"] == "none"
    assert opts["--output_dir"] == "/runs/model-a"


# extra arguments -> the refused option named (docs/at-scale.md, "Options the plugin checks")
REFUSED = [
    ("--scale_rewards gdpo", "--scale_rewards gdpo"),
    ("--advantage_estimator rloo", "--advantage_estimator rloo"),
    ("--dynamic_sample true", "--dynamic_sample true"),
    ("--kl_in_reward true", "--kl_in_reward true"),                 # with the row's beta 0.04
    ("--multi_turn_scheduler=tools", "--multi_turn_scheduler tools"),  # the --name=value spelling too
]


@pytest.mark.parametrize("extra, named", REFUSED)
def test_the_option_guard_refuses_the_command_line_it_would_run(extra, named):
    with pytest.raises(UsageError, match=re.escape(named)):
        plan(EXTRA_ARGS=extra)


def test_options_the_guard_accepts_pass():
    assert "--warmup_ratio" in plan(EXTRA_ARGS="--warmup_ratio 0.1 --scale_rewards group").argv


def test_a_refused_option_is_refused_before_the_model_loads(tmp_path):
    """A real start (no dry run) on the tiny checkpoint: one error line, exit 2, in about a second: no
    pre-flight, no judge check, no ms-swift, nothing written."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON": sys.executable,
           "PROFILE": "cpu", "MODEL": str(TINY), "DATA": str(tmp_path / "none.jsonl"),
           "OUTPUT_ROOT": str(tmp_path / "runs"), "EXTRA_ARGS": "--scale_rewards gdpo"}
    started = children_cpu_seconds()
    out = subprocess.run(["bash", str(REPO / "recipes" / "model-a.sh")], capture_output=True, text=True, env=env,
                         timeout=300)
    took = children_cpu_seconds() - started
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: audio-thinker: --scale_rewards gdpo is refused")
    assert not (tmp_path / "runs").exists() and took < 20   # ms-swift alone takes ~30 s to import here


def test_swift_args_reads_a_command_line_as_ms_swift_would():
    ns = run.swift_args(["swift", "rlhf", "--beta", "0.04", "--kl_in_reward", "true", "--reward_funcs", "a", "b",
                         "--max_steps=7", "--system", "/p.txt"])
    assert (ns.beta, ns.kl_in_reward, ns.reward_funcs, ns.max_steps, ns.system) == (0.04, True, ["a", "b"], 7,
                                                                                    "/p.txt")


def test_a_base_row_or_an_unknown_row_is_refused_with_what_to_do():
    with pytest.raises(UsageError, match="evaluated, not trained"):
        plan("qwen2-audio")
    with pytest.raises(UsageError, match="no row 'model-z'"):
        plan("model-z")
    with pytest.raises(UsageError, match="PROFILE=gpu9 is not one of cpu"):
        plan(PROFILE="gpu9")


def test_every_override_the_launcher_reads_is_documented_and_every_documented_one_is_read():
    page = (REPO / "docs" / "recipes.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", page.split("**Overrides**")[1].split("\n\n")[0]))
    launcher = set(settings.OVERRIDES) | {"PROFILE", "PYTHON", "JUDGE_URL", "JUDGE_MODEL", "DRY_RUN"}
    assert launcher - documented == set()
    assert documented - launcher == set()


@pytest.mark.parametrize("row, own", [("model-c", {"MAX_STEPS": "4", "SAVE_STEPS": "4"}), ("sft-a", {"LR": "1e-4"})])
def test_the_demo_s_rows_through_the_profile_are_the_commands_it_ran_before(row, own):
    """scripts/demo.sh used to set twelve variables by hand; PROFILE=cpu gives exactly the same commands."""
    common = {"MODEL": str(TINY), "OUTPUT_ROOT": "/demo/runs", "DATA": "/demo/train.jsonl", **own}
    by_hand = {"USE_CPU": "1", "NPROC_PER_NODE": "1", "DEEPSPEED": "none", "TORCH_DTYPE": "float32",
               "DATALOADER_WORKERS": "0", "REPORT_TO": "none", "PER_DEVICE_BATCH": "4", "GRAD_ACC": "1",
               "NUM_GENERATIONS": "4", "MAX_COMPLETION_LENGTH": "48", "MAX_STEPS": "4", "SAVE_STEPS": "4"}
    assert plan(row, **common, PROFILE="cpu").lines() == plan(row, **{**by_hand, **common}).lines()
