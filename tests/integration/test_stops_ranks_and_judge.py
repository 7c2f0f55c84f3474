"""Two ways a run stops that need more than one process or a judge, through the real launcher on the tiny
checkpoint (docs/recipes.md, "How a run stops"), as one timeline of the judge row model-c on two CPU ranks:

1. One of the two ranks is killed (``kill -9`` of its worker, as the kernel's out-of-memory killer does) after
   checkpoint-2: the other rank stops within a bounded time instead of waiting at its next collective, and
   the launcher's own last line names the rank that ended and says to run the same command; nothing is
   finished.
2. The judge is down when the same command runs again (the row stopped after a checkpoint as above; Ctrl-C is
   tests/integration/test_stops.py's first case): the judge check refuses it in one line that says
   what it waited for and what to do, exit 2 (docs/judge.md), before ms-swift starts and before the launcher
   settles the run's directory: every file of the run stays as it was (no checkpoint moved aside, no log
   cut), and the row is not finished.
3. With the judge back, the same command resumes from checkpoint-2 to the planned step, each step logged once.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from recipes.launch import life
from tests.helpers.paths import REPO
from tests.helpers.swift import recipe_env
from tests.integration.test_stops import Launch, steps_logged

pytestmark = pytest.mark.slow
PLANNED = 4


class RowLaunch(Launch):
    """``bash recipes/model-c.sh`` (a judge row) in a session of its own."""

    def __init__(self, env: dict, log: Path):
        self.log, self.run = log, Path(env["OUTPUT_ROOT"]) / "model-c"
        with log.open("w") as out:
            self.proc = subprocess.Popen(["bash", str(REPO / "recipes" / "model-c.sh")], cwd=REPO, env=env,
                                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)


def contents(run: Path) -> dict[str, int]:
    """Every file of the run with its size (what a refused launch must leave as it was)."""
    return {str(f.relative_to(run)): f.stat().st_size for f in sorted(run.rglob("*")) if f.is_file()}


def worker_of_rank(run: Path, rank: int) -> int:
    """The PID of the training process of ``rank`` (torchrun's child whose environment holds RANK)."""
    found = []
    for pid in life.holders(life.lock_path(run)):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ:
            found.append(pid)
    return min(found)


def test_a_killed_rank_and_a_judge_down_at_the_resume_end_in_one_line_and_the_run_resumes(
        tiny_qwen2_audio, audio_qa, tmp_path, scripted_server):
    from tests.helpers.loopback_server import ScriptedServer, obedient_judge

    judge = scripted_server(reply=obedient_judge("1", "0.5"))
    run = tmp_path / "runs" / "model-c"
    env = recipe_env(tiny_qwen2_audio, audio_qa, tmp_path / "runs", PROFILE="cpu", NPROC_PER_NODE=2,
                     PER_DEVICE_BATCH=2, MAX_STEPS=PLANNED, SAVE_STEPS=2, MAX_COMPLETION_LENGTH=8,
                     MASTER_PORT=29547, JUDGE_URL=judge.base_url, JUDGE_MODEL="scripted", JUDGE_CHECK_WAIT=2,
                     AUDIO_THINKER_COLLECTIVE_TIMEOUT=30)

    # 1. rank 1 killed once checkpoint-2 is complete
    first = RowLaunch(env, tmp_path / "1.log")
    first.wait_for(lambda: life.complete_checkpoints(run), "checkpoint-2")
    victim = worker_of_rank(run, 1)
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    code = first.end(120)
    # rank 0 stops at its next collective (gloo fails at once on a peer whose process is gone) or by torchrun's
    # SIGTERM; the plugin's collective timeout bounds a rank that lives but never arrives
    assert code == 1 and time.monotonic() - killed < 30
    last = first.text().rstrip().splitlines()[-1]
    assert last.startswith(f"error: rank 1 (PID {victim}) ended "), first.text()[-3000:]
    assert last.endswith("rank(s) 0 stopped after it (exit status 1); checkpoint-2 (2 of 4 steps) is the newest "
                         "complete checkpoint: run the same command to resume from it"), last
    assert "finished" not in first.text() and not life.finished(run)

    # 2. the judge is down when the same command runs
    judge.stop()
    before = contents(run)
    down = RowLaunch(env, tmp_path / "2.log")
    assert down.end(60) == 2, down.text()[-3000:]
    refusal = down.text().rstrip().splitlines()[-1]
    assert refusal.startswith(f"error: AUDIO_THINKER_JUDGE_URL: nothing listens at {judge.base_url} (connection "
                              f"refused for 2 s): start the judge"), down.text()
    assert "the same command then resumes the run" in refusal
    # nothing of the run changed: no checkpoint moved aside, no log cut, no resume announced
    assert contents(run) == before and not list(run.parent.glob("model-c.old-*")) and not life.finished(run)
    assert "resuming" not in down.text(), down.text()

    # 3. the judge back on the same address: the same command resumes to the planned step
    back = ScriptedServer(reply=obedient_judge("1", "0.5"), port=judge.port).start()
    try:
        resumed = RowLaunch(env, tmp_path / "3.log")
        assert resumed.end(300) == 0, resumed.text()[-3000:]
    finally:
        back.stop()
    assert life.finished(run) and Counter(steps_logged(run)) == Counter(range(1, PLANNED + 1))
