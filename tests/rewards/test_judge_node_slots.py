"""Judge traffic sized for the node (swift_plugins/judge/node_slots.py): several processes that send their
judge requests at the same instant hold at most AUDIO_THINKER_JUDGE_NODE_CONCURRENCY of them in flight, so
each request's timeout measures the server's work, not the queue behind the other ranks (a real HTTP server
on 127.0.0.1 that serves 2 requests at a time, and real processes)."""
import json
import os
import subprocess
import sys
import time

import pytest

from tests.helpers.judge import judge_env
from tests.helpers.paths import REPO

RANKS, PER_RANK, CAPACITY, SERVICE_S, TIMEOUT_S = 3, 4, 2, 0.4, 1.0  # 12 requests: 2.4 s of the server's work


def burst(server, node_concurrency):
    env = {**os.environ, "PYTHONPATH": str(REPO),
           **judge_env(server.base_url, timeout=TIMEOUT_S, max_retries=0, node_concurrency=node_concurrency)}
    start_at = time.time() + 2.0  # after every process has imported the client
    procs = [subprocess.Popen([sys.executable, "-m", "tests.helpers.judge_burst", str(PER_RANK), str(start_at)],
                              env=env, stdout=subprocess.PIPE, text=True) for _ in range(RANKS)]
    return [json.loads(p.communicate(timeout=60)[0]) for p in procs]


# node cap, failures expected; the trap: without a cap the queue counts against the 1 s timeout
CASES = [
    (0, True),          # no cap: 12 requests at once, the 5th onward wait 0.8 s+ in the queue and time out
    (CAPACITY, False),  # capped at the server's capacity: every request is served within its timeout
]


@pytest.mark.parametrize("node_concurrency, fails", CASES)
def test_node_cap_keeps_the_queue_out_of_the_timeout(scripted_server, node_concurrency, fails):
    from tests.helpers.loopback_server import obedient_judge

    server = scripted_server(reply=obedient_judge(), latency=SERVICE_S, capacity=CAPACITY)
    results = burst(server, node_concurrency)
    failures = sum(r["failures"] for r in results)
    assert (failures > 0) is fails, results
    if not fails:
        assert server.max_open <= node_concurrency  # never more in flight across the processes
        assert all(set(r["causes"]) <= {"timeout"} for r in results)
