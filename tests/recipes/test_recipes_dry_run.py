"""Every recipe, run with DRY_RUN=1, prints exactly its row of the paper's Table 1 (docs/rewards.md §6)."""
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.helpers.paths import REPO

QA, OMNI = ("qwen2_audio", "Qwen/Qwen2-Audio-7B-Instruct"), ("qwen2_5_omni", "Qwen/Qwen2.5-Omni-7B")

# row: (backbone, method, system prompt, {reward: weight}) -- transcribed from docs/rewards.md §6, not from
# the recipes. Monitors (choice_accuracy, think_rate at weight 0) are added to every GRPO row.
TABLE = {
    "sft-a": (QA, "sft", "answer_only", None),
    "sft-b": (QA, "sft", "always_think", None),
    "grpo-a": (QA, "grpo", "answer_only", {"choice_accuracy": 1, "answer_format": 1}),
    "grpo-b": (QA, "grpo", "always_think", {"choice_accuracy": 1, "think_format": 1}),
    "model-a": (QA, "grpo", "adaptive_think", {"atar": 1, "adaptive_format": 0.5}),
    "model-b": (QA, "grpo", "adaptive_think", {"atar": 1, "think_consistency": 0.5, "adaptive_format": 0.5}),
    "model-c": (QA, "grpo", "adaptive_think",
                {"atar": 1, "think_consistency": 0.5, "adaptive_format": 0.5, "think_quality": 1}),
    "sft-c": (OMNI, "sft", "answer_only", None),
    "sft-d": (OMNI, "sft", "always_think", None),
    "grpo-c": (OMNI, "grpo", "answer_only", {"choice_accuracy": 1, "answer_format": 1}),
    "grpo-d": (OMNI, "grpo", "always_think", {"choice_accuracy": 1, "think_format": 1}),
    "model-d": (OMNI, "grpo", "adaptive_think", {"atar": 1, "adaptive_format": 0.5}),
    "model-e": (OMNI, "grpo", "adaptive_think", {"atar": 1, "think_consistency": 0.5, "adaptive_format": 0.5}),
    "model-f": (OMNI, "grpo", "adaptive_think",
                {"atar": 1, "think_consistency": 0.5, "adaptive_format": 0.5, "think_quality": 1}),
}
PAPER_GRPO = {"--max_steps": "1000", "--learning_rate": "1e-6", "--temperature": "1.0", "--num_generations": "8",
              "--beta": "0.04", "--per_device_train_batch_size": "1", "--gradient_accumulation_steps": "2"}


JUDGE = {"AUDIO_THINKER_JUDGE_URL": "http://judge-node:8000/v1"}  # judge rows refuse to start without one


def dry_run_process(row: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "recipes" / f"{row}.sh")], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(REPO), "DRY_RUN": "1", **JUDGE, **env},
                          timeout=60)


def dry_run(row: str, **env) -> list[list[str]]:
    out = dry_run_process(row, **env)
    assert out.returncode == 0, out.stderr
    return [shlex.split(line) for line in out.stdout.splitlines() if line.strip()]


def options(argv: list[str]) -> dict[str, list[str]]:
    """--flag v1 v2 ... -> {flag: [v1, v2]}"""
    parsed, key = {}, None
    for token in argv:
        if token.startswith("--"):
            key = token
            parsed.setdefault(key, [])
        elif key:
            parsed[key].append(token)
    return parsed


def swift_command(lines):
    (command,) = [line for line in lines if "swift" in line]
    env = dict(token.split("=", 1) for token in command[:command.index("swift")])
    return env, command[command.index("swift") + 1], options(command)


def test_every_row_has_a_script():
    scripts = {p.stem for p in (REPO / "recipes").glob("*.sh") if not p.stem.startswith("_") and p.stem not in ("judge", "table", "row")}
    assert scripts == set(TABLE)


@pytest.mark.parametrize("row", sorted(TABLE))
def test_dry_run_matches_the_table(row):
    (model_type, model), method, prompt, rewards = TABLE[row]
    lines = dry_run(row)
    env, subcommand, opts = swift_command(lines)
    assert subcommand == ("rlhf" if method == "grpo" else "sft")
    assert opts["--model_type"] == [model_type] and opts["--model"] == [model]
    assert Path(opts["--system"][0]).name == f"{prompt}.txt" and Path(opts["--system"][0]).exists()
    assert Path(opts["--output_dir"][0]).name == row
    assert env["NPROC_PER_NODE"] == "8"
    assert env.get("ENABLE_AUDIO_OUTPUT") == ("0" if model_type == "qwen2_5_omni" else None)  # thinker only
    if method == "sft":
        assert "--reward_funcs" not in opts
        assert "compat_plugin.py" in opts["--external_plugins"][0]
        return
    assert opts["--rlhf_type"] == ["grpo"]
    assert all(opts[k] == [v] for k, v in PAPER_GRPO.items()), {k: opts[k] for k in PAPER_GRPO}
    weights = dict(zip(opts["--reward_funcs"], map(float, opts["--reward_weights"])))
    assert len(opts["--reward_funcs"]) == len(opts["--reward_weights"])
    expected = {**{"choice_accuracy": 0, "think_rate": 0}, **rewards}
    assert weights == expected
    assert opts["--external_plugins"][0].endswith("swift_plugins/rewards.py")
    needs_judge = bool({"think_consistency", "think_quality"} & set(rewards))
    assert any("swift_plugins.judge.check" in " ".join(line) for line in lines) == needs_judge


@pytest.mark.parametrize("row", ["model-c", "grpo-a"])
def test_environment_overrides_reach_the_command(row):
    _, _, opts = swift_command(dry_run(row, MODEL="/ckpt/x", MAX_STEPS="7", TUNER="lora", DEEPSPEED="zero2",
                                       VLLM_MODE="server", VLLM_SERVER_HOST="10.0.0.2", NUM_GENERATIONS="4",
                                       DATA="/data/t.jsonl", OUTPUT_ROOT="/runs"))
    assert opts["--model"] == ["/ckpt/x"] and opts["--max_steps"] == ["7"] and opts["--dataset"] == ["/data/t.jsonl"]
    assert opts["--tuner_type"] == ["lora"] and opts["--target_modules"] == ["all-linear"]
    assert opts["--deepspeed"] == ["zero2"] and opts["--vllm_mode"] == ["server"]
    assert opts["--vllm_server_host"] == ["10.0.0.2"] and opts["--num_generations"] == ["4"]
    assert opts["--output_dir"] == [f"/runs/{row}"]


def test_multi_node_variables_pass_through():
    env, _, _ = swift_command(dry_run("model-f", NNODES="2", NPROC_PER_NODE="8"))
    assert env["NNODES"] == "2" and env["NPROC_PER_NODE"] == "8"


def test_cpu_scaling_drops_gpu_only_settings():
    _, _, opts = swift_command(dry_run("model-c", USE_CPU="1", NPROC_PER_NODE="2", NUM_GENERATIONS="4"))
    assert opts["--use_cpu"] == ["true"] and opts["--ddp_backend"] == ["gloo"]
    assert "--deepspeed" not in opts and "--use_vllm" not in opts
    assert [Path(p).name for p in opts["--external_plugins"]] == ["rewards.py"]


@pytest.mark.parametrize("row", ["model-a", "sft-a"])
def test_deepspeed_asked_for_on_cpu_is_passed_with_what_cpu_needs(row):
    """DEEPSPEED on CPU processes: the flag reaches ms-swift, with the plugin that starts DeepSpeed's comm
    layer and without fp16 (perf/deepspeed_cpu.sh runs it)."""
    _, _, opts = swift_command(dry_run(row, USE_CPU="1", NPROC_PER_NODE="2", DEEPSPEED="zero3",
                                       TORCH_DTYPE="float32", PER_DEVICE_BATCH="4", GRAD_ACC="1",
                                       NUM_GENERATIONS="4"))
    assert opts["--deepspeed"] == ["zero3"] and opts["--fp16"] == ["false"] and opts["--use_cpu"] == ["true"]
    assert Path(opts["--external_plugins"][-1]).name == "cpu_deepspeed.py"
    assert len(opts["--external_plugins"]) == 2   # beside the row's own plugin, not instead of it


@pytest.mark.parametrize("row", ["model-b", "model-c", "model-e", "model-f"])
def test_judge_rows_refuse_to_start_without_a_judge_url(row):
    out = dry_run_process(row, AUDIO_THINKER_JUDGE_URL="", DRY_RUN="0")   # a real start: refused before anything
    assert out.returncode == 2 and out.stdout == ""
    (line,) = out.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"error: row {row} uses the judge") and "AUDIO_THINKER_JUDGE_URL" in line


def test_a_dry_run_without_a_judge_url_shows_the_commands_and_says_what_is_missing():
    out = dry_run_process("model-c", AUDIO_THINKER_JUDGE_URL="")
    assert out.returncode == 0 and "note: row model-c uses the judge" in out.stderr
    assert "AUDIO_THINKER_JUDGE_URL= " in out.stdout and "127.0.0.1:8000" not in out.stdout  # no default address


def test_judge_url_from_the_short_variable():
    lines = dry_run("model-c", AUDIO_THINKER_JUDGE_URL="", JUDGE_URL="http://10.0.0.9:8000/v1")
    assert any("AUDIO_THINKER_JUDGE_URL=http://10.0.0.9:8000/v1" in line for line in lines)
