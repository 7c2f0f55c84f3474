"""Stops of a run of several processes and of a judge row, through the real launcher on the tiny checkpoint
(docs/recipes.md, "How a run stops"), as one timeline of the judge row model-c on two CPU ranks:

1. Ctrl-C (SIGINT to the launch's process group) after checkpoint-2: the launcher waits until both ranks have
   ended, then its last line says the run stopped on SIGINT and that the same command resumes it.
2. The judge is down when the same command runs: the judge check refuses it in one line that says what it
   waited for and what to do, exit 2 (docs/judge.md), before ms-swift starts and before the launcher settles
   the run's directory: every file of the run stays as it was (no checkpoint moved aside, no log cut), and
   the row is not finished.
3. With the judge back, the same command resumes; once checkpoint-4 is complete one of the two ranks is
   killed (``kill -9`` of its worker, as the kernel's out-of-memory killer does): the other rank stops within
   a bounded time instead of waiting at its next collective, and the launcher's last line names the rank
   that ended and says to run the same command; nothing is finished.
4. The same command resumes to the planned step, each step logged once.
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
PLANNED = 6


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


def newest_complete(run: Path) -> str:
    done = life.progress(run)
    return f"{done.checkpoint.name} ({done.line()}) is the newest complete checkpoint"


def test_ctrl_c_a_judge_down_at_the_resume_and_a_killed_rank_each_end_in_one_line_and_the_run_resumes(
        tiny_qwen2_audio, audio_qa, tmp_path, scripted_server):
    from tests.helpers.loopback_server import ScriptedServer, obedient_judge

    judge = scripted_server(reply=obedient_judge("1", "0.5"))
    run = tmp_path / "runs" / "model-c"
    env = recipe_env(tiny_qwen2_audio, audio_qa, tmp_path / "runs", PROFILE="cpu", NPROC_PER_NODE=2,
                     PER_DEVICE_BATCH=2, MAX_STEPS=PLANNED, SAVE_STEPS=2, MAX_COMPLETION_LENGTH=8,
                     MASTER_PORT=29547, JUDGE_URL=judge.base_url, JUDGE_MODEL="scripted", JUDGE_CHECK_WAIT=2,
                     AUDIO_THINKER_COLLECTIVE_TIMEOUT=30)

    # 1. Ctrl-C once checkpoint-2 is complete: the launcher waits for both ranks, then says what to do
    first = RowLaunch(env, tmp_path / "1.log")
    first.wait_for(lambda: life.complete_checkpoints(run), "checkpoint-2")
    first.signal(signal.SIGINT)
    assert first.end(120) == 130
    assert first.text().rstrip().splitlines()[-1] == (
        f"note: the run stopped on SIGINT (exit status 130); {newest_complete(run)}: run the same command to "
        f"resume from it"), first.text()[-3000:]
    assert not life.finished(run)

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

    back = ScriptedServer(reply=obedient_judge("1", "0.5"), port=judge.port).start()   # the same address
    try:
        # 3. with the judge back the same command resumes; rank 1 killed once checkpoint-4 is complete
        third = RowLaunch(env, tmp_path / "3.log")
        third.wait_for(lambda: (run / "checkpoint-4") in life.complete_checkpoints(run), "checkpoint-4")
        assert "resuming" in third.text()
        victim = worker_of_rank(run, 1)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        # rank 0 stops at its next collective (gloo fails at once on a peer whose process is gone) or by
        # torchrun's SIGTERM; the plugin's collective timeout bounds a rank that lives but never arrives
        assert third.end(120) == 1 and time.monotonic() - killed < 30
        last = third.text().rstrip().splitlines()[-1]
        assert last.startswith(f"error: rank 1 (PID {victim}) ended "), third.text()[-3000:]
        assert last.endswith(f"rank(s) 0 stopped after it (exit status 1); {newest_complete(run)}: run the same "
                             f"command to resume from it"), last
        assert "finished" not in third.text() and not life.finished(run)

        # 4. the same command resumes to the planned step, each step logged once
        last_launch = RowLaunch(env, tmp_path / "4.log")
        assert last_launch.end(300) == 0, last_launch.text()[-3000:]
    finally:
        back.stop()
    assert life.finished(run) and Counter(steps_logged(run)) == Counter(range(1, PLANNED + 1))
