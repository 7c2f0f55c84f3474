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
    causes = {cause for r in results for cause in r["causes"]}
    if fails:  # the queue behind the other ranks, and nothing else, made requests miss their timeout
        assert sum(r["failures"] for r in results) > 0 and causes == {"timeout"}, results
    else:
        assert sum(r["failures"] for r in results) == 0 and causes == set(), results
        assert server.max_open <= node_concurrency  # never more in flight across the processes


def test_slots_are_shared_handed_over_and_never_leaked(tmp_path):
    """Two NodeSlots on the same folder behave as two processes (flock is per open file): one holds both
    slots, the other waits; a waiter cancelled mid-wait leaks nothing; freed slots go to the waiters."""
    import asyncio

    from swift_plugins.judge.node_slots import NodeSlots

    rank_a, rank_b = NodeSlots(2, "judge", tmp_path), NodeSlots(2, "judge", tmp_path)

    async def scenario():
        order = []

        async def hold(slots, name, seconds):
            async with slots.slot():
                order.append(name)
                await asyncio.sleep(seconds)

        first = [asyncio.create_task(hold(rank_a, f"a{i}", 0.3)) for i in range(3)]  # a2 waits for a0/a1
        await asyncio.sleep(0.05)
        cancelled = asyncio.create_task(hold(rank_b, "cancelled", 0))
        waiting = asyncio.create_task(hold(rank_b, "b", 0))
        await asyncio.sleep(0.1)
        cancelled.cancel()
        await asyncio.gather(*first, waiting, return_exceptions=True)
        return order

    order = asyncio.run(scenario())
    assert order[:2] == ["a0", "a1"] and set(order[2:]) == {"a2", "b"}  # nobody ran beyond the 2 slots early
    assert rank_a.held == set() and rank_b.held == set()  # every slot released, the cancelled one included
    third = NodeSlots(2, "judge", tmp_path)  # a third "process" finds both slots free on the machine
    assert third._try() is not None and third._try() is not None
