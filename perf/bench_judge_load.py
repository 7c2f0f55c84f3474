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

The client section compares the judge's HTTP client before (the standard-library client of commit
CLIENT_BEFORE, read with git: ``tests/helpers/judge_burst.py``) and after (the ``openai`` SDK): the same
bursts, alternately, against a server answering each request after S = --client-latency seconds with room
for all of them (C = 32, node slots on at C, as configured by default), each process warmed up by one
request first (the one-time cost of a process's first request is printed apart). Per client: the slowest
rank's wall time and the CPU time per request inside a rank (the training process), for 4 requests per rank
(the paper's step: 16 completions over 8 ranks, at most 2 judgments each; docs/at-scale.md) and for 32.

    python perf/bench_judge_load.py [--timeout 6] [--capacity 32] [--loads 0.5 0.9 1.5 3] [--retries 2]
                                    [--sections slots clients prefix] [--client-latency 0.2] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
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
CLIENT_BEFORE = "af72bca"  # the last commit whose judge used the standard-library HTTP client


def serve(port: int, latency: float, capacity: int, ready) -> None:
    server = ScriptedServer(reply=obedient_judge("1", "0.7"), latency=latency, capacity=capacity, port=port).start()
    ready.set()
    server._thread.join()


def burst(url: str, timeout: float, retries: int, node_concurrency: int, per_rank: int = PER_RANK,
          client: str = "-", warm: bool = False) -> list[dict]:
    """One step's judge traffic: RANKS processes, ``per_rank`` requests each, started at the same instant
    (``client``: a commit whose judge client to use, "-" for today's; ``warm``: one request each first)."""
    env = {**os.environ, "PYTHONPATH": str(REPO),
           **judge_env(url, timeout=timeout, max_retries=retries, node_concurrency=node_concurrency,
                       concurrency=64)}
    start_at = time.time() + 8.0  # after every process has imported the client (and warmed it up)
    command = [sys.executable, "-m", "tests.helpers.judge_burst", str(per_rank + warm), str(start_at), client]
    procs = [subprocess.Popen(command + (["--warm"] if warm else []), env=env, stdout=subprocess.PIPE, text=True,
                              cwd=REPO) for _ in range(RANKS)]
    return [json.loads(p.communicate(timeout=600)[0]) for p in procs]


def start_server(latency: float, capacity: int) -> tuple[str, multiprocessing.Process]:
    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(port, latency, capacity, ready), daemon=True)
    server.start()
    ready.wait(30)
    return f"http://127.0.0.1:{port}/v1", server


def run_load(load: float, args) -> dict:
    work = load * args.timeout                 # 256·S/C, the server's time for the burst
    latency = work * args.capacity / (RANKS * PER_RANK)
    row = {"load": load, "work_s": work, "S": latency}
    for name, cap in (("before", 0), ("after", args.capacity)):
        # A fresh server for each: the loopback one keeps serving requests whose client gave up (vLLM aborts
        # them), so a backlog left by one run would slow the next.
        url, server = start_server(latency, args.capacity)
        try:
            results = burst(url, args.timeout, args.retries, cap)
        finally:
            server.terminate()
        causes: dict[str, int] = {}
        for r in results:
            for cause, n in r["causes"].items():
                causes[cause] = causes.get(cause, 0) + n
        row[name] = {"failures": sum(r["failures"] for r in results), "causes": causes,
                     "wall_s": max(r["wall_s"] for r in results)}
    return row


def compare_clients(args) -> None:
    """Before/after of the judge's HTTP client, alternately, ``args.repeats`` times per burst size."""
    clients = {"stdlib": CLIENT_BEFORE, "openai SDK": "-"}
    print(f"\nclient: {RANKS} processes, server latency S={args.client_latency:g} s with room for every request; "
          f"stdlib = commit {CLIENT_BEFORE}, openai SDK = this checkout; {args.repeats} runs each, alternately")
    print("requests/rank  client      | wall of the slowest rank (s)    | CPU per request in a rank (ms) | "
          "first request (CPU ms)")
    url, server = start_server(args.client_latency, 10 * RANKS * PER_RANK)
    try:
        for per_rank in (4, PER_RANK):
            rows: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": [], "first": []} for name in clients}
            for _ in range(args.repeats):
                for name, commit in clients.items():
                    results = burst(url, 60.0, args.retries, 32, per_rank, commit, warm=True)
                    if any(r["failures"] for r in results):
                        raise SystemExit(f"{name}: judgments failed {[r['causes'] for r in results]}; no figure")
                    rows[name]["wall"].append(max(r["wall_s"] for r in results))
                    rows[name]["cpu"] += [1000 * r["cpu_s"] / per_rank for r in results]
                    rows[name]["first"] += [1000 * r["first_cpu_s"] for r in results]
            for name, row in rows.items():
                walls = " ".join(f"{w:.3f}" for w in row["wall"])
                cpu, first = statistics.median(row["cpu"]), statistics.median(row["first"])
                print(f"{per_rank:13d}  {name:10s}  | {walls:31s} | median {cpu:6.2f}{'':16s}| median {first:.0f}",
                      flush=True)
    finally:
        server.terminate()


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
    parser.add_argument("--sections", nargs="+", choices=("slots", "clients", "prefix"),
                        default=["slots", "clients", "prefix"], help="what to measure (default: all)")
    parser.add_argument("--client-latency", type=float, default=0.2, help="S of the client section, seconds")
    parser.add_argument("--repeats", type=int, default=3, help="runs per client in the client section")
    args = parser.parse_args()
    if "slots" in args.sections:
        compare_slots(args)
    if "clients" in args.sections:
        compare_clients(args)
    if "prefix" in args.sections:
        compare_prefixes()


def compare_slots(args) -> None:
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


def compare_prefixes() -> None:
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
