"""scripts/gpu_check.sh, the device check for a GPU node: its dry run lists every stage with the exact command,
the GRPO stages' commands pass the launcher's own checks (settings, layout, options), and a stage that fails
says so in one line. Nothing here needs a GPU; the check itself has not run on one (docs/measured.md)."""
from __future__ import annotations

import os
import re
import subprocess

from tests.helpers.paths import REPO

STAGES = ["setup", "checkpoints", "grpo:tiny-qwen2-audio", "grpo:tiny-qwen2.5-omni", "grpo:mini", "judge-vllm",
          "infer:tiny-qwen2-audio", "infer:tiny-qwen2.5-omni", "infer:mini"]


def check(tmp_path, **env):
    return subprocess.run(["bash", str(REPO / "scripts/gpu_check.sh")], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GPU_CHECK_DIR": str(tmp_path), **env})


def test_the_dry_run_lists_every_stage_and_the_launcher_accepts_each_grpo_command(tmp_path):
    out = check(tmp_path, DRY_RUN="1")
    assert out.returncode == 0, out.stderr
    assert re.findall(r"^\[gpu-check\] stage (\S+):", out.stdout, re.M) == STAGES
    launched = re.findall(r"^\[gpu-check\]   launcher: (.*)$", out.stdout, re.M)
    assert len(launched) == 4                                  # three checkpoints, and the run with the vLLM judge
    for line in launched:
        assert line.startswith("NPROC_PER_NODE=1 NNODES=1 ") and " swift rlhf --rlhf_type grpo " in line
        for words in ("--torch_dtype bfloat16", "--deepspeed zero3", "--use_vllm true --vllm_mode colocate",
                      "--sleep_level 1", "--max_steps 2", "--vllm_limit_mm_per_prompt", "--vllm_enforce_eager true"):
            assert words in line, words
    assert "--model_type qwen2_5_omni" in launched[1] and "ENABLE_AUDIO_OUTPUT=0" in launched[1]
    assert "runs/mini-vllm-judge/model-c" in launched[3]
    assert not (tmp_path / "runs").exists()                    # a dry run starts nothing


def test_every_infer_stage_uses_options_eval_infer_has(tmp_path):
    out = check(tmp_path, DRY_RUN="1")
    helped = subprocess.run(["python3", "-m", "eval.infer", "--help"], capture_output=True, text=True, cwd=REPO,
                            timeout=120).stdout
    infer = re.findall(r"^\[gpu-check\] stage infer:\S+: .*? -m eval\.infer (.*)$", out.stdout, re.M)
    assert len(infer) == 3
    for args in infer:
        assert "--engine vllm" in args
        assert all(f"{flag} " in helped or f"{flag}\n" in helped for flag in re.findall(r"(--[a-z-]+)", args))


def test_a_stage_that_fails_says_so_in_one_line_with_its_time(tmp_path):
    # no test rows in a fresh folder (and no vLLM in the suite's environment): eval.infer stops at once
    out = check(tmp_path, STAGES="infer:tiny-qwen2-audio")
    assert out.returncode == 1
    line = next(x for x in out.stdout.splitlines() if x.startswith("[gpu-check] infer:tiny-qwen2-audio:"))
    assert re.match(r"\[gpu-check\] infer:tiny-qwen2-audio: FAILED \(\d+ s, .*log .*infer-tiny-qwen2-audio\.log\): "
                    r"error: ", line), line
    bad = check(tmp_path, STAGES="grpo:tiny-qwen9")
    assert bad.returncode == 2 and "unknown stage grpo:tiny-qwen9" in bad.stderr
