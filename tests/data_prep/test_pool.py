"""data_prep.pool: a stop signal sent to every process of the group stops the pool instead of hanging it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from data_prep import pool as worker_pool_module
from tests.helpers.paths import REPO

# Workers up and idle: one of them waits for its next task holding the task queue's read lock, which
# Pool.terminate() must take. A worker killed there by the group's SIGTERM never released it.
IDLE_POOL = """
import signal, time
from data_prep.pool import worker_pool

class Stopped(Exception):
    pass

def stop(signum, frame):
    raise Stopped()

signal.signal(signal.SIGTERM, stop)
try:
    with worker_pool(2) as pool:
        assert pool.map(abs, [-1, -2]) == [1, 2]
        print("idle", flush=True)
        time.sleep(60)
except Stopped:
    print("stopped", flush=True)
"""


def test_sigterm_to_the_group_while_workers_wait_for_tasks_stops_the_pool():
    proc = subprocess.Popen([sys.executable, "-c", IDLE_POOL], cwd=REPO, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "idle\n"
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert (out, err, proc.returncode) == ("stopped\n", "", 0)


class Stopped(Exception):
    pass


def test_a_stop_signal_while_the_pool_is_built_or_torn_down_is_handled_after_it():
    """Raised halfway through Pool() or Pool.terminate() it would leave workers or the pool's threads behind."""
    def stop(signum, frame):
        raise Stopped()

    steps = []
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(Stopped):
            with worker_pool_module._stop_signals_held():
                signal.raise_signal(signal.SIGTERM)
                steps.append("the held block went on")
        assert steps == ["the held block went on"]
        assert signal.getsignal(signal.SIGTERM) is stop  # the caller's handler is back
    finally:
        signal.signal(signal.SIGTERM, previous)
