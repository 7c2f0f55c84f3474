"""The vLLM rollout settings of the GRPO rows (recipes/launch/rollout.py): in the catalogue per backbone and per
card (PROFILE), visible in every dry run, settable from the environment, and checked before anything loads."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from audio_thinker.cli import UsageError
from recipes import catalogue
from recipes.launch import run, settings
from tests.helpers.paths import REPO

JUDGE = {"AUDIO_THINKER_JUDGE_URL": "http://j:8000/v1"}
AUDIO_ONLY = '{"audio":1}'
OMNI = '{"audio":1,"image":0,"video":0}'


def options(row: str, **env) -> dict[str, str]:
    argv = run.plan(row, REPO, {**JUDGE, **env}).argv
    return dict(zip(argv, argv[1:]))


# profile -> (vLLM share, weight-sync batches): docs/at-scale.md, "Memory plans" (96 GB: no PROFILE)
CARDS = {"": ("0.4", "4"), "h100-80g": ("0.3", "8"), "h200-141g": ("0.3", "2")}


@pytest.mark.parametrize("profile", list(CARDS))
@pytest.mark.parametrize("row, media", [("model-c", AUDIO_ONLY), ("model-f", OMNI)])
def test_an_8_gpu_dry_run_prints_the_media_limit_model_length_and_sync_settings(row, media, profile):
    opts = options(row, PROFILE=profile, NPROC_PER_NODE="8")
    share, batches = CARDS[profile]
    assert opts["--vllm_limit_mm_per_prompt"] == media
    assert json.loads(opts["--vllm_limit_mm_per_prompt"])["audio"] == 1
    assert opts["--vllm_max_model_len"] == "4096" and opts["--vllm_tensor_parallel_size"] == "1"
    assert opts["--vllm_gpu_memory_utilization"] == share and opts["--move_model_batches"] == batches
    assert opts["--sleep_level"] == "1"
    assert opts["--offload_model"] == opts["--offload_optimizer"] == "false"
    # the paper's hyper-parameters do not depend on the card
    assert (opts["--learning_rate"], opts["--num_generations"], opts["--beta"]) == ("1e-6", "8", "0.04")


def test_the_printed_line_is_the_command_that_runs():
    line = run.plan("model-f", REPO, {**JUDGE, "PROFILE": "h100-80g"}).lines()[-1]
    assert r"--vllm_limit_mm_per_prompt \{\"audio\":1,\"image\":0,\"video\":0\} --vllm_max_model_len 4096" in line


def test_every_rollout_setting_is_an_environment_override_and_the_environment_wins():
    env = {"VLLM_LIMIT_MM_PER_PROMPT": '{"audio":2}', "VLLM_MAX_MODEL_LEN": "8192", "VLLM_TENSOR_PARALLEL_SIZE": "2",
           "VLLM_GPU_MEMORY_UTILIZATION": "0.5", "MOVE_MODEL_BATCHES": "16", "OFFLOAD_MODEL": "true",
           "OFFLOAD_OPTIMIZER": "true"}
    assert set(env) == set(catalogue.ROLLOUT_SETTINGS) <= set(settings.OVERRIDES)
    opts = options("model-c", PROFILE="h100-80g", **env)
    assert (opts["--vllm_limit_mm_per_prompt"], opts["--vllm_max_model_len"], opts["--vllm_tensor_parallel_size"],
            opts["--vllm_gpu_memory_utilization"], opts["--move_model_batches"], opts["--offload_model"],
            opts["--offload_optimizer"]) == tuple(env.values())


def test_none_leaves_the_weight_sync_to_ms_swift_and_a_server_gets_only_the_sync_batching():
    assert "--move_model_batches" not in options("model-c", MOVE_MODEL_BATCHES="none")
    served = options("model-c", VLLM_MODE="server")
    assert served["--move_model_batches"] == "4"
    assert not {"--vllm_limit_mm_per_prompt", "--vllm_max_model_len", "--offload_model"} & set(served)
    cpu = options("model-c", PROFILE="cpu", MODEL="/m/tiny")
    assert not {"--move_model_batches", "--vllm_limit_mm_per_prompt", "--use_vllm"} & set(cpu)


# environment -> the refusal's words: each before anything loads (the dry run too), one line
REFUSED = [
    ({"VLLM_TENSOR_PARALLEL_SIZE": "3"}, "vllm_tensor_parallel_size 3 does not divide the 8 training processes"),
    ({"VLLM_TENSOR_PARALLEL_SIZE": "16"}, "vllm_tensor_parallel_size 16 does not divide the 8"),
    ({"VLLM_TENSOR_PARALLEL_SIZE": "4", "NPROC_PER_NODE": "2", "CUDA_VISIBLE_DEVICES": "0,1", "GRAD_ACC": "8",
      "NNODES": "2"}, "is more than the 2 GPUs CUDA_VISIBLE_DEVICES shows"),
    ({"VLLM_TENSOR_PARALLEL_SIZE": "4", "NPROC_PER_NODE": "6", "NNODES": "2", "GRAD_ACC": "4"},
     "a tensor-parallel group would span two nodes"),
    ({"VLLM_TENSOR_PARALLEL_SIZE": "two"}, "vllm_tensor_parallel_size two is not a positive integer"),
    ({"EXTRA_ARGS": "--vllm_tensor_parallel_size 5"}, "vllm_tensor_parallel_size 5 does not divide"),
    ({"VLLM_LIMIT_MM_PER_PROMPT": '{"image":1}'}, "allows no audio"),
    ({"VLLM_LIMIT_MM_PER_PROMPT": "audio=1"}, "must be a JSON object"),
    ({"VLLM_LIMIT_MM_PER_PROMPT": '{"audio":1,"speech":1}'}, "must be a JSON object"),
    ({"VLLM_MAX_MODEL_LEN": "1500"}, "leaves no room for the prompt beside MAX_COMPLETION_LENGTH 1024"),
    ({"VLLM_MAX_MODEL_LEN": "2048", "MAX_COMPLETION_LENGTH": "2048"}, "set it to at least 3072"),
    ({"MOVE_MODEL_BATCHES": "0"}, "MOVE_MODEL_BATCHES=0 must be a whole number"),
    ({"OFFLOAD_OPTIMIZER": "yes"}, "OFFLOAD_OPTIMIZER=yes must be true or false"),
]


@pytest.mark.parametrize("env, words", REFUSED)
def test_impossible_rollout_settings_are_refused_before_load(env, words):
    with pytest.raises(UsageError, match=words.replace("(", r"\(")):
        run.plan("model-f", REPO, {**JUDGE, **env})


def test_a_possible_tensor_parallel_layout_passes():
    opts = options("model-f", VLLM_TENSOR_PARALLEL_SIZE="2", NNODES="2", NPROC_PER_NODE="8", GRAD_ACC="1")
    assert opts["--vllm_tensor_parallel_size"] == "2"


def _shipped() -> dict:
    return yaml.safe_load(catalogue.PATH.read_text(encoding="utf-8"))


def test_a_profile_can_change_one_backbone_and_the_catalogue_refuses_what_it_cannot_use():
    data = _shipped()
    data["profiles"]["h100-80g"]["qwen2.5-omni"] = {"VLLM_TENSOR_PARALLEL_SIZE": "2"}
    cat = catalogue.parse(data)
    assert cat.profile("h100-80g", "qwen2.5-omni")["VLLM_TENSOR_PARALLEL_SIZE"] == "2"
    assert "VLLM_TENSOR_PARALLEL_SIZE" not in cat.profile("h100-80g", "qwen2-audio")
    omni = settings.resolve(cat, cat.row("model-f"), REPO, {"PROFILE": "h100-80g"})
    audio = settings.resolve(cat, cat.row("model-c"), REPO, {"PROFILE": "h100-80g"})
    assert (omni["VLLM_TENSOR_PARALLEL_SIZE"], audio["VLLM_TENSOR_PARALLEL_SIZE"]) == ("2", "1")

    data["profiles"]["h100-80g"]["qwen9"] = {"VLLM_TENSOR_PARALLEL_SIZE": "2"}
    with pytest.raises(catalogue.CatalogueError, match=r"profile h100-80g: \['qwen9'\] are not backbones"):
        catalogue.parse(data)
    data = _shipped()
    del data["backbones"]["qwen2-audio"]["rollout"]["VLLM_MAX_MODEL_LEN"]
    with pytest.raises(catalogue.CatalogueError, match="backbone qwen2-audio: rollout needs VLLM_MAX_MODEL_LEN"):
        catalogue.parse(data)
    data = _shipped()
    data["backbones"]["qwen2-audio"]["rollout"]["VLLM_SWAP"] = "4"
    with pytest.raises(catalogue.CatalogueError, match=r"rollout keys \['VLLM_SWAP'\]"):
        catalogue.parse(data)


def test_every_backbone_reserves_no_image_or_video_it_cannot_see():
    """An Omni backbone takes images and video: vLLM reserves memory for one of each unless told 0."""
    for backbone in catalogue.load().backbones.values():
        limit = json.loads(backbone.rollout["VLLM_LIMIT_MM_PER_PROMPT"])
        assert limit["audio"] == 1
        assert all(limit.get(m, 0) == 0 for m in ("image", "video")), backbone.name
        if backbone.model_type != "qwen2_audio":     # Qwen2-Audio's vLLM model takes audio only
            assert {"image", "video"} <= set(limit), backbone.name


@pytest.mark.parametrize("profile, placed", [("h100-80g", "CUDA_VISIBLE_DEVICES=7 vllm serve"),
                                             ("h200-141g", "CUDA_VISIBLE_DEVICES=7 vllm serve")])
def test_the_judge_takes_its_place_on_the_card_from_the_same_profile(profile, placed):
    share = catalogue.load().profiles[profile]["JUDGE_GPU_MEMORY"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGE_")}
    out = subprocess.run(["bash", str(REPO / "recipes/judge.sh")], env={**env, "PROFILE": profile, "DRY_RUN": "1"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(placed) and f"--gpu-memory-utilization {share} " in out.stdout
    mine = subprocess.run(["bash", str(REPO / "recipes/judge.sh")], capture_output=True, text=True, timeout=60,
                          env={**env, "PROFILE": profile, "DRY_RUN": "1", "JUDGE_GPU_MEMORY": "0.5"})
    assert "--gpu-memory-utilization 0.5 " in mine.stdout                      # the environment wins
    bad = subprocess.run(["bash", str(REPO / "recipes/judge.sh")], env={**env, "PROFILE": "a100", "DRY_RUN": "1"},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: PROFILE=a100 is not one of cpu, h100-80g, h200-141g"
