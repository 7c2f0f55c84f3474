"""Judge traffic at a node's scale: 8 ranks x 32 requests at one instant against a judge of fixed capacity.

A loopback OpenAI-compatible server (its own process) serves at most C requests at a time, each for S
seconds, and queues the rest, as a model server with a fixed batch does. Eight processes, each the judge
client of one rank, send 32 quality judgments at the same wall-clock instant, as ranks do after the λ
all-reduce. The server needs 256·S/C seconds for the burst. For each load the same burst runs twice:

    before  AUDIO_THINKER_JUDGE_NODE_CONCURRENCY=0: every request is sent at once and its timeout counts
            the time queued behind the other ranks' requests (the client before node slots)
    after   NODE_CONCURRENCY=C: at most C in flight across the 8 processes (swift_plugins/judge/node_slots.py)

and prints failed judgments (by cause) and the step's wall time (the slowest rank) over 256·S/C.
Goal: no failures while 256·S/C is below the timeout; wall within 1.2x of 256·S/C. It also prints the
prefix share of a request, the bytes identical across requests over the request's size, for the prompt
layout before (the nonce in the system message; the prompt module of commit BEFORE, read with git) and
after (the nonce only in the last turn), since a server's prefix cache can reuse only that share.

The timeout is scaled down with the loads (default 6 s against the 60 s default; loads are given as
multiples of it), so that the whole comparison takes about two minutes.

    python perf/bench_judge_load.py [--timeout 6] [--capacity 32] [--loads 0.5 0.9 1.5 3] [--retries 2]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.judge import judge_env  # noqa: E402
from tests.helpers.loopback_server import ScriptedServer, free_port, obedient_judge  # noqa: E402

RANKS, PER_RANK = 8, 32
BEFORE = "7268a0b"  # the last commit with the nonce in the system message


def serve(port: int, latency: float, capacity: int, ready) -> None:
    server = ScriptedServer(reply=obedient_judge("1", "0.7"), latency=latency, capacity=capacity, port=port).start()
    ready.set()
    server._thread.join()


def burst(url: str, timeout: float, retries: int, node_concurrency: int) -> list[dict]:
    """One step's judge traffic: RANKS processes, PER_RANK requests each, started at the same instant."""
    env = {**os.environ, "PYTHONPATH": str(REPO),
           **judge_env(url, timeout=timeout, max_retries=retries, node_concurrency=node_concurrency,
                       concurrency=64)}
    start_at = time.time() + 3.0  # after every process has imported the client
    procs = [subprocess.Popen([sys.executable, "-m", "tests.helpers.judge_burst", str(PER_RANK), str(start_at)],
                              env=env, stdout=subprocess.PIPE, text=True, cwd=REPO) for _ in range(RANKS)]
    return [json.loads(p.communicate(timeout=600)[0]) for p in procs]


def run_load(load: float, args) -> dict:
    work = load * args.timeout                 # 256·S/C, the server's time for the burst
    latency = work * args.capacity / (RANKS * PER_RANK)
    row = {"load": load, "work_s": work, "S": latency}
    for name, cap in (("before", 0), ("after", args.capacity)):
        # A fresh server for each: the loopback one keeps serving requests whose client gave up (vLLM aborts
        # them), so a backlog left by one run would slow the next.
        port = free_port()
        ready = multiprocessing.Event()
        server = multiprocessing.Process(target=serve, args=(port, latency, args.capacity, ready), daemon=True)
        server.start()
        ready.wait(30)
        try:
            results = burst(f"http://127.0.0.1:{port}/v1", args.timeout, args.retries, cap)
        finally:
            server.terminate()
        causes: dict[str, int] = {}
        for r in results:
            for cause, n in r["causes"].items():
                causes[cause] = causes.get(cause, 0) + n
        row[name] = {"failures": sum(r["failures"] for r in results), "causes": causes,
                     "wall_s": max(r["wall_s"] for r in results)}
    return row


def prefix_share(build) -> tuple[int, float]:
    """Bytes identical across 64 requests (their common prefix, as the client sends the body), mean size."""
    bodies = [json.dumps({"model": "judge", "messages": build(i).messages, "max_tokens": 16, "temperature": 0.0})
              for i in range(64)]
    return len(os.path.commonprefix(bodies)), sum(map(len, bodies)) / len(bodies)


def prompt_module_at(commit: str):
    source = subprocess.run(["git", "show", f"{commit}:swift_plugins/judge/prompts.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    module = sys.modules["prompts_before"] = types.ModuleType("prompts_before")  # dataclasses look it up
    exec(compile(source, f"{commit}:swift_plugins/judge/prompts.py", "exec"), module.__dict__)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=6.0, help="AUDIO_THINKER_JUDGE_TIMEOUT, seconds")
    parser.add_argument("--capacity", type=int, default=32, help="C: requests the server serves at a time")
    parser.add_argument("--loads", type=float, nargs="+", default=[0.5, 0.9, 1.5, 3.0],
                        help="256·S/C as multiples of the timeout")
    parser.add_argument("--retries", type=int, default=2, help="AUDIO_THINKER_JUDGE_MAX_RETRIES")
    args = parser.parse_args()
    print(f"{RANKS} processes x {PER_RANK} requests, server capacity C={args.capacity}, timeout {args.timeout:g} s, "
          f"retries {args.retries}; load = 256·S/C / timeout")
    print("load  256·S/C   S      | before: failed (causes)  wall  wall/(256·S/C) | after: failed  wall  ratio")
    for load in args.loads:
        row = run_load(load, args)
        cells = []
        for name in ("before", "after"):
            r = row[name]
            causes = ", ".join(f"{k} {v}" for k, v in sorted(r["causes"].items())) or "-"
            cells.append(f"{r['failures']:3d} ({causes}) {r['wall_s']:6.2f} s {r['wall_s'] / row['work_s']:5.2f}x")
        print(f"{load:4.1f}  {row['work_s']:6.2f} s  {row['S']:5.3f} s | " + " | ".join(cells), flush=True)

    from swift_plugins.judge import prompts as after

    before = prompt_module_at(BEFORE)
    for kind in ("consistency", "quality"):
        def build(module, i, kind=kind):
            # reasoning of about 600 characters, different in every request
            reasoning = f"Completion {i}: " + "The clip has rhythmic barking with short pauses between barks. " * 9
            if kind == "consistency":
                return module.build_consistency_prompt("What is making the sound?", reasoning, "Dog")
            return module.build_quality_prompt("What is making the sound?", reasoning)
        cells = []
        for name, module in (("before", before), ("after", after)):
            common, size = prefix_share(lambda i: build(module, i))
            cells.append(f"{name} {common} of {size:.0f} bytes = {common / size:.1%}")
        print(f"prefix share, {kind}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
