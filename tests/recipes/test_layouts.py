"""Batch layouts: every layout docs/at-scale.md documents passes the recipes' dry run with the batch it claims,
an impossible one is refused by the dry run with the settings to change, and the launcher's check
(recipes/launch/layout.py) agrees with ms-swift 4.6's own (`_init_generation_batch_params`, called for
real) over a grid of settings."""
import itertools
import subprocess
from pathlib import Path

import pytest

from recipes.launch.layout import LayoutError, check_grpo_layout
from tests.recipes.test_recipes_dry_run import REPO, dry_run, dry_run_process, options, swift_command

GPU8 = "0,1,2,3,4,5,6,7"

# docs/at-scale.md: name -> (row, environment, completions per optimisation step)
DOCUMENTED = {
    "one node, vLLM colocate (defaults)": ("model-c", {}, 16),
    "judge on another node": ("model-c", {"AUDIO_THINKER_JUDGE_URL": "http://judge-node:8000/v1"}, 16),
    "judge sharing GPU 7 with 8 training processes": (
        "model-c", {"CUDA_VISIBLE_DEVICES": GPU8, "VLLM_GPU_MEMORY_UTILIZATION": "0.4"}, 16),
    "vLLM rollout server on GPUs 6,7, training on 0-3": (
        "model-c", {"CUDA_VISIBLE_DEVICES": "0,1,2,3", "NPROC_PER_NODE": "4", "GRAD_ACC": "4",
                    "VLLM_MODE": "server", "VLLM_SERVER_HOST": "127.0.0.1", "VLLM_SERVER_PORT": "8001"}, 16),
    "vLLM rollout server on GPUs 6,7, training on 0-5": (
        "model-c", {"CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5", "NPROC_PER_NODE": "6", "GRAD_ACC": "4",
                    "VLLM_MODE": "server", "VLLM_SERVER_HOST": "127.0.0.1"}, 24),
    "2 nodes x 8 GPUs, paper batch": ("model-f", {"NNODES": "2", "NODE_RANK": "1", "MASTER_ADDR": "node0",
                                                  "GRAD_ACC": "1"}, 16),
    "2 nodes x 8 GPUs, grad. accumulation 2": ("model-f", {"NNODES": "2", "NODE_RANK": "0"}, 32),
}


def layout_line(stderr: str) -> str:
    (line,) = [x for x in stderr.splitlines() if "layout:" in x]
    return line


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_documented_layout_passes_with_its_batch(name):
    row, env, per_step = DOCUMENTED[name]
    out = dry_run_process(row, **env)
    assert out.returncode == 0, out.stderr
    assert f"{per_step} per optimisation step" in layout_line(out.stderr)
    _, _, opts = swift_command([line.split() for line in out.stdout.splitlines()])
    world = int(env.get("NPROC_PER_NODE", 8)) * int(env.get("NNODES", 1))
    assert int(opts["--per_device_train_batch_size"][0]) * world * int(opts["--gradient_accumulation_steps"][0]) \
        == per_step
    assert per_step % int(opts["--num_generations"][0]) == 0


def test_judge_layout_shares_gpu_7_under_a_memory_cap():
    """The judge half of the one-node layout: judge.sh puts vLLM on GPU 7 with a quarter of its memory."""
    out = subprocess.run(["bash", str(REPO / "recipes" / "judge.sh")], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(REPO), "DRY_RUN": "1", "JUDGE_GPUS": "7",
                              "JUDGE_GPU_MEMORY": "0.25"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("CUDA_VISIBLE_DEVICES=7 vllm serve ")
    assert options(out.stdout.split())["--gpu-memory-utilization"] == ["0.25"]


# environment -> what the one-line refusal must name
IMPOSSIBLE = [
    ({"NPROC_PER_NODE": "7"}, ["generation batch 14", "NUM_GENERATIONS 8", "GRAD_ACC=8", "NPROC_PER_NODE=4"]),
    ({"NPROC_PER_NODE": "6", "VLLM_MODE": "server", "VLLM_SERVER_HOST": "h"}, ["generation batch 12", "GRAD_ACC=4"]),
    ({"GENERATION_BATCH_SIZE": "12"}, ["not a multiple of the global batch 8"]),
    ({"GENERATION_BATCH_SIZE": "24", "NUM_GENERATIONS": "16"}, ["generation batch 24", "GENERATION_BATCH_SIZE=32"]),
    ({"GENERATION_BATCH_SIZE": "16", "STEPS_PER_GENERATION": "3"}, ["only one of"]),
    # the fix must be one the rewards plugin accepts: steps_per_generation == GRAD_ACC, never on its own
    ({"NPROC_PER_NODE": "7", "STEPS_PER_GENERATION": "2"}, ["GRAD_ACC=8 with STEPS_PER_GENERATION=8"]),
    ({"EXTRA_ARGS": "--vllm_tensor_parallel_size 3"}, ["vllm_tensor_parallel_size 3", "8 training processes"]),
    ({"EXTRA_ARGS": "--val_dataset v.jsonl --num_generations_eval 3"}, ["num_generations_eval 3"]),
    ({"CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5"}, ["CUDA_VISIBLE_DEVICES=0,1,2,3,4,5 shows 6 GPUs"]),
    ({"NUM_GENERATIONS": "1"}, ["at least 2"]),
    ({"GRAD_ACC": "two"}, ["GRAD_ACC=two"]),
]


@pytest.mark.parametrize("env, named", IMPOSSIBLE, ids=[" ".join(f"{k}={v}" for k, v in e.items()) for e, _ in IMPOSSIBLE])
def test_impossible_layout_is_refused_by_the_dry_run(env, named):
    out = dry_run_process("model-c", **env)
    assert out.returncode == 2 and out.stdout == ""
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("error: batch layout: ") and "docs/at-scale.md" in line
    for fragment in named:
        assert fragment in line


def test_a_fixed_layout_suggested_by_the_refusal_passes():
    """Following the message works: 7 processes with the suggested GRAD_ACC=8 (56 completions)."""
    lines = dry_run("model-c", NPROC_PER_NODE="7", GRAD_ACC="8")
    assert swift_command(lines)[2]["--gradient_accumulation_steps"] == ["8"]


def test_vllm_server_mode_is_not_held_to_the_colocate_tensor_parallel_rule():
    dry_run("model-c", VLLM_MODE="server", VLLM_SERVER_HOST="h", EXTRA_ARGS="--vllm_tensor_parallel_size 3")


# ---- the check against ms-swift's own ----------------------------------------------------------------------

GRID = list(itertools.product([1, 2, 3, 4, 6, 7, 8], [1, 2], [1, 2], [1, 2, 4], [4, 8], ["", "12", "16", "24"],
                              ["", "1", "3"]))


def recipe_verdicts(grid) -> list[str]:
    """The launcher's check over the grid: 'ok <generation batch>' or 'refused'."""
    verdicts = []
    for nproc, nnodes, per, ga, gens, gbs, spg in grid:
        settings = {"NPROC_PER_NODE": str(nproc), "NNODES": str(nnodes), "PER_DEVICE_BATCH": str(per),
                    "GRAD_ACC": str(ga), "NUM_GENERATIONS": str(gens), "GENERATION_BATCH_SIZE": gbs,
                    "STEPS_PER_GENERATION": spg, "VLLM_MODE": "colocate"}
        try:
            verdicts.append(f"ok {check_grpo_layout(settings, [], False, None).generation_batch}")
        except LayoutError:
            verdicts.append("refused")
    return verdicts


def swift_verdict(nproc, nnodes, per, ga, gens, gbs, spg) -> str:
    from types import SimpleNamespace

    from swift.rlhf_trainers.args_mixin import RolloutTrainerArgumentsMixin

    args = SimpleNamespace(num_generations=gens, world_size=nproc * nnodes, per_device_train_batch_size=per,
                           gradient_accumulation_steps=ga, generation_batch_size=int(gbs) if gbs else None,
                           steps_per_generation=int(spg) if spg else None, eval_strategy="no")
    try:
        RolloutTrainerArgumentsMixin._init_generation_batch_params(args)
    except ValueError:
        return "refused"
    return f"ok {args.generation_batch_size}"


@pytest.mark.slow  # imports ms-swift's trainer arguments (seconds)
def test_recipe_check_agrees_with_ms_swift_on_every_layout_of_a_grid():
    ours = recipe_verdicts(GRID)
    theirs = [swift_verdict(*case) for case in GRID]
    disagree = [(case, a, b) for case, a, b in zip(GRID, ours, theirs) if a != b]
    assert not disagree, disagree[:5]
    assert 0.2 < sum(v == "refused" for v in theirs) / len(GRID) < 0.8   # the grid has both kinds
