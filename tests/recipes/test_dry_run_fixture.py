"""Every row's and table's ``DRY_RUN=1`` output is the one recorded on the shell recipes before the catalogue
and the launcher replaced them (``dry_runs.json``, ``dry_run_cases.py``), except the differences below, each
made on purpose."""
from __future__ import annotations

import json
import re

import pytest

from tests.recipes.dry_run_cases import CASES, FIXTURE, run_case

RECORDED = json.loads(FIXTURE.read_text(encoding="utf-8"))

# case -> (field, recorded text, text now, why): the only differences allowed. (The move's own change, table.sh's
# usage line listing the catalogue's tables instead of "table1|...|table6|all", landed with the catalogue,
# before the fixture was last recorded from main's shell recipes.)
DELIBERATE: dict[str, tuple[str, str, str, str]] = {
    "table unknown": ("stderr", "|all|mini [ROW ...]", "|all|mini|study|qwen3 [ROW ...]",
                      "the usage line lists the catalogue's tables: the study of model-a's variants is one, and the "
                      "Qwen3-Omni rows brought one of their own (after the paper's; no paper row changed)"),
}


# Every GRPO command with vLLM carries the rollout settings of the catalogue (the media limit, model length,
# tensor parallelism, weight-sync batching and offload; docs/at-scale.md, "Memory plans"), made on purpose after
# the recording: with colocated vLLM all of them after --sleep_level, with a rollout server only the weight-sync
# batching (the rest are the server's options). The paper's hyper-parameters are unchanged.
_COLOCATE = re.compile(r"( swift rlhf .*?--model_type (\S+) .*?--vllm_mode colocate --vllm_gpu_memory_utilization \S+ "
                       r"--sleep_level \S+ )")
_SERVER = re.compile(r"( swift rlhf .*?--vllm_mode server --vllm_server_host \S+ --vllm_server_port \S+ )")
_SYNC = "--move_model_batches 4 "
_ROLLOUT = {
    "qwen2_audio": r"--vllm_limit_mm_per_prompt \{\"audio\":1\} --vllm_max_model_len 4096 "
                   r"--vllm_tensor_parallel_size 1 " + _SYNC + "--offload_model false --offload_optimizer false ",
    "qwen2_5_omni": r"--vllm_limit_mm_per_prompt \{\"audio\":1,\"image\":0,\"video\":0\} --vllm_max_model_len 4096 "
                    r"--vllm_tensor_parallel_size 1 " + _SYNC + "--offload_model false --offload_optimizer false ",
}


def with_rollout_settings(stdout: str) -> str:
    lines = stdout.split("\n")
    for i, line in enumerate(lines):
        if colocate := _COLOCATE.search(line):
            lines[i] = line[:colocate.end()] + _ROLLOUT[colocate.group(2)] + line[colocate.end():]
        elif server := _SERVER.search(line):
            lines[i] = line[:server.end()] + _SYNC + line[server.end():]
    return "\n".join(lines)


def expected(name: str) -> dict:
    want = dict(RECORDED[name])
    if "stdout" in want:
        want["stdout"] = with_rollout_settings(want["stdout"])
    if name in DELIBERATE:
        field, before, after, _ = DELIBERATE[name]
        assert before in want[field], f"{name}: the recorded output no longer holds {before!r}"
        want[field] = want[field].replace(before, after)
    return want


@pytest.mark.parametrize("name", list(CASES))
def test_dry_run_is_the_recorded_one(name):
    assert run_case(name) == expected(name)


def test_every_case_was_recorded():
    assert set(RECORDED) == set(CASES)
