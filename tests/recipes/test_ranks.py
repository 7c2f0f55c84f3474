"""The launcher's watch over a run's ranks (recipes/launch/ranks.py), on real processes: which rank ended first
and how, the one line it prints, and a second Ctrl-C that stops the waiting. The whole path through torchrun:
tests/integration/test_stops_ranks_and_judge.py."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from recipes.launch import life
from recipes.launch.ranks import Ended, RankWatch, _stat, how_it_ended
from tests.helpers.paths import REPO

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def hold(lock: Path, rank: int | None = None) -> subprocess.Popen:
    """A process of the run: the lock as its standard input (and RANK in its environment, as torchrun sets)."""
    env = {k: v for k, v in os.environ.items() if k != "RANK"}
    if rank is not None:
        env["RANK"] = str(rank)
    with lock.open("rb") as fd:
        return subprocess.Popen(SLEEP, stdin=fd, env=env)


def test_the_rank_killed_first_is_named_with_its_signal_and_the_others_are_not(tmp_path):
    lock = tmp_path / "row.lock"
    lock.touch()
    procs = [hold(lock, 0), hold(lock, 1), hold(lock)]   # the last: torchrun's agent, no RANK
    try:
        watch = RankWatch(lock, 2)
        deadline = time.monotonic() + 10
        while len(watch.pids) < 2:   # the workers are found once they hold the lock
            assert time.monotonic() < deadline, watch.pids
            watch.poll()
            time.sleep(0.05)
        assert watch.pids == {0: procs[0].pid, 1: procs[1].pid}
        watch.poll()
        assert watch.first == []
        procs[1].send_signal(signal.SIGKILL)
        while _stat(procs[1].pid)[0] != "Z":   # not collected yet: a zombie, as under torchrun for up to 0.1 s
            time.sleep(0.01)
        watch.poll()
        assert watch.first == [Ended(1, procs[1].pid, "by SIGKILL")]
        procs[0].send_signal(signal.SIGTERM)   # what torchrun's agent then does to the others: not named
        procs[0].wait()
        watch.poll()
        assert watch.first == [Ended(1, procs[1].pid, "by SIGKILL")]
        progress = life.Progress(2, 4, tmp_path / "checkpoint-2")
        assert watch.line(1, progress) == (
            f"error: rank 1 (PID {procs[1].pid}) ended by SIGKILL while the run trained; rank(s) 0 stopped after it "
            f"(exit status 1); checkpoint-2 (2 of 4 steps) is the newest complete checkpoint: run the same command "
            f"to resume from it")
        # a Ctrl-C or a scheduler's SIGTERM reached the launcher too: every rank was stopped, none is blamed
        assert watch.line(130, progress, signal.SIGINT) == (
            "note: the run stopped on SIGINT (exit status 130); checkpoint-2 (2 of 4 steps) is the newest complete "
            "checkpoint: run the same command to resume from it")
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_ranks_seen_gone_at_once_name_the_one_torchrun_did_not_stop():
    watch = RankWatch(Path("/nonexistent.lock"), 2)
    watch.pids = {0: 2**22 + 1, 1: 2**22 + 2}   # PIDs past the kernel's limit: gone
    watch.poll()
    assert [e.rank for e in watch.first] == [0, 1] and not any(e.how for e in watch.first)
    assert watch.line(1, life.Progress(0, 4, None)).startswith(
        "error: rank 0 (PID 4194305) ended (torchrun says how, above) and rank 1 (PID 4194306) ended")
    assert watch.line(1, life.Progress(0, 4, None)).endswith(
        "no complete checkpoint yet (0 of 4 steps): the same command starts the run afresh")


def test_an_exit_status_and_a_signal_read_from_a_zombie():
    def zombie(code: str) -> list[str]:
        proc = subprocess.Popen([sys.executable, "-c", code])
        while (fields := _stat(proc.pid))[0] != "Z":
            time.sleep(0.01)
        proc.wait()
        return fields
    assert how_it_ended(zombie("raise SystemExit(3)")) == "with exit status 3"
    assert how_it_ended(zombie("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")) == "by SIGSEGV"
    assert how_it_ended(_stat(os.getpid())) is None and how_it_ended(None) is None


def test_a_second_ctrl_c_stops_the_waiting_and_names_what_still_runs(tmp_path):
    """The first SIGINT keeps the launcher waiting for the run (its processes got it too); the second stops it,
    naming the processes that still hold the lock."""
    lock = tmp_path / "row.lock"
    lock.touch()
    code = ("import sys; from pathlib import Path; from recipes.launch.ranks import supervise; "
            f"sys.exit(supervise({SLEEP!r}, Path({str(lock)!r}), 2, Path({str(tmp_path)!r}), 4))")
    with lock.open("rb") as fd:
        launcher = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdin=fd, stderr=subprocess.PIPE,
                                    text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 20
        while len(life.holders(lock)) < 2:   # the launcher and its child hold the lock
            assert time.monotonic() < deadline and launcher.poll() is None
            time.sleep(0.05)
        (child,) = set(life.holders(lock)) - {launcher.pid}
        launcher.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert launcher.poll() is None   # still waiting: the run goes on
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(10) == 130
        os.kill(child, signal.SIGKILL)   # it shares the launcher's standard error: read to its end below
        assert launcher.stderr.read().strip().splitlines()[-1] == (
            f"note: a second SIGINT: stopped waiting for the run; PID(s) {child} still run and hold {lock} (the "
            f"same command is refused until they end; kill them to stop now)")
    finally:
        for pid in life.holders(lock):   # only the processes this test started hold this lock
            os.kill(pid, signal.SIGKILL)
        launcher.kill()
        launcher.wait()
