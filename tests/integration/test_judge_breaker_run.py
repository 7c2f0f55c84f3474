"""The judge circuit breaker through a real run: two CPU processes (gloo) train recipes/model-c.sh against a
loopback judge that is killed after the first step. Both ranks stop at the same step, after writing a
checkpoint, with one line naming the failure counts and the judge URL, and the run fails instead
of training on stand-ins (docs/rewards.md §7)."""
import re
import subprocess
import time

import pytest

from audio_thinker.jsonl import read_jsonl
from swift_plugins.judge_breaker import BREAKER_EXIT_STATUS
from tests.helpers.judge import judge_env
from tests.helpers.loopback_server import obedient_judge
from tests.helpers.paths import REPO
from tests.helpers.swift import recipe_env

pytestmark = pytest.mark.slow


def wait_for_first_step(stats_file, proc, limit_s=600):
    """Until rank 0 has written its first training call (the callback writes it at the step's log line)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and proc.poll() is None:
        if stats_file.exists() and '"mode": "train"' in stats_file.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"no training step finished (exit {proc.poll()})")


def test_dead_judge_stops_both_ranks_after_a_checkpoint(tiny_qwen2_audio, audio_qa, tmp_path, scripted_server):
    judge = scripted_server(reply=obedient_judge("1", "0.5"))
    env = recipe_env(tiny_qwen2_audio, audio_qa, tmp_path / "runs", NPROC_PER_NODE=2, PER_DEVICE_BATCH=2,
                     MAX_STEPS=5, SAVE_STEPS=100, MASTER_PORT=29547, JUDGE_URL=judge.base_url,
                     JUDGE_MODEL="scripted", REPORT_TO="none",
                     # one step in which every judgment fails is enough here; fail fast, no retries
                     **judge_env(judge.base_url, "scripted", timeout=2, max_retries=0, breaker_dead_steps=1))
    out = tmp_path / "runs" / "model-c"
    log_path = tmp_path / "run.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["bash", str(REPO / "recipes" / "model-c.sh")], cwd=tmp_path, env=env,
                                stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for_first_step(out / "audio_thinker" / "batch_stats.rank0.jsonl", proc)
            judge.stop()  # the judge dies mid-run: its port now refuses connections
            proc.wait(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log_path.read_text()
    # a failed run: the ranks exit with BREAKER_EXIT_STATUS, which torchrun reports as 1
    assert proc.returncode in (BREAKER_EXIT_STATUS, 1), output[-5000:]

    # one line (once per node), with the counts by cause and the judge URL
    lines = [line for line in output.splitlines() if line.startswith("error: audio-thinker: judge circuit breaker")]
    assert len(lines) == 1, output[-5000:]
    match = re.search(r"every judgment failed for 1 steps in a row: (\d+) of \1 judgments failed "
                      r"\(timeout 0, http \1, unparsable 0\) at (\S+); training stopped at step (\d+), "
                      r"checkpoint (\S+) ", lines[0])
    assert match, lines[0]
    url, step, checkpoint = match.group(2), int(match.group(3)), match.group(4)
    assert url == judge.base_url
    assert 2 <= step < 5
    # the checkpoint of that step was written before the stop, and nothing trained after it
    assert checkpoint == str(out / f"checkpoint-{step}")
    assert (out / f"checkpoint-{step}" / "trainer_state.json").is_file()
    assert any((out / f"checkpoint-{step}").glob("*.safetensors"))
    steps = [int(row["global_step/max_steps"].split("/")[0]) for row in read_jsonl(out / "logging.jsonl")
             if "reward" in row]
    assert steps == list(range(1, step + 1))
    # both ranks scored the same training calls and stopped at the same one
    ranks = [[c["global_step"] for c in read_jsonl(out / "audio_thinker" / f"batch_stats.rank{r}.jsonl")
              if c["mode"] == "train"] for r in (0, 1)]
    assert ranks[0] == ranks[1] and max(ranks[0]) == step - 1  # a call's global_step is the step before it
