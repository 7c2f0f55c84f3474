"""Judge throughput: 128 think-mode completions through the judge rewards vs. serial and ideal.

A loopback OpenAI-compatible server answers every request after a fixed
latency. The batch is scored by ThinkConsistency and ThinkQuality together, as
ms-swift runs them (asyncio.gather of the async rewards), and we print

    wall / serial  where serial = latency x number of judge requests
    wall / ideal   where ideal  = latency x requests / concurrency

Goal: wall within 1.3x of the ideal.

    python perf/bench_judge_concurrency.py [--latency 0.2 0.5] [--batch 128] [--concurrency 32]
"""
from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.loopback_server import ScriptedServer, free_port, obedient_judge  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, nargs="+", default=[0.2, 0.5], help="seconds per judge request")
    parser.add_argument("--batch", type=int, default=128, help="think-mode completions")
    parser.add_argument("--concurrency", type=int, default=32, help="AUDIO_THINKER_JUDGE_CONCURRENCY")
    args = parser.parse_args()
    for latency in args.latency:
        run_one(latency, args.batch, args.concurrency)


def run_one(latency: float, batch_size: int, concurrency: int) -> None:
    args = SimpleNamespace(latency=latency, batch=batch_size, concurrency=concurrency)
    # The judge runs in its own process, as a real one would: the server's threads must not
    # compete with the client for this interpreter's GIL.
    ready, requests = multiprocessing.Event(), multiprocessing.Value("i", 0)
    port = free_port()
    server = multiprocessing.Process(target=serve, args=(port, args.latency, ready, requests), daemon=True)
    server.start()
    ready.wait(30)
    os.environ.update(AUDIO_THINKER_JUDGE_URL=f"http://127.0.0.1:{port}/v1", AUDIO_THINKER_JUDGE_MODEL="bench",
                      AUDIO_THINKER_JUDGE_CONCURRENCY=str(args.concurrency), AUDIO_THINKER_JUDGE_TIMEOUT="60")
    from swift_plugins import batch
    from swift_plugins.rewards import ThinkConsistency, ThinkQuality, settings_from_env

    settings_from_env.cache_clear()  # a new server (port) for each latency

    completions = [f"<think>Clip {i}: rhythmic barking, so a dog.</think><answer>Dog</answer>"
                   for i in range(args.batch)]
    kwargs = dict(solution=["Dog"] * args.batch, choices=[["Dog", "Cat"]] * args.batch,
                  messages=[[{"role": "user", "content": "<audio>What is it?"}]] * args.batch,
                  trainer_state=SimpleNamespace(global_step=1, max_steps=10))
    consistency, quality = ThinkConsistency(), ThinkQuality()

    async def step():
        return await asyncio.gather(consistency(completions, **kwargs), quality(completions, **kwargs))

    asyncio.run(step())  # warm-up: imports, first connections
    batch.STATE.flush()
    before = requests.value
    start = time.perf_counter()
    asyncio.run(step())
    wall = time.perf_counter() - start
    (stats,) = batch.STATE.flush()
    requests = requests.value - before
    failures = sum(stats.judge_failures.values())
    if failures or not requests:
        raise SystemExit(f"the benchmark judge failed {failures} judgments; numbers would be meaningless")
    serial = args.latency * requests
    ideal = args.latency * math.ceil(requests / args.concurrency)
    print(f"completions={args.batch} judge_requests={requests} failures={failures} latency={args.latency}s "
          f"concurrency={args.concurrency}")
    print(f"wall={wall:.3f}s serial={serial:.3f}s ideal={ideal:.3f}s")
    print(f"wall/serial={wall / serial:.3f}  wall/ideal={wall / ideal:.3f}  (goal: wall/ideal <= 1.3)")
    server.terminate()


def serve(port: int, latency: float, ready, counter) -> None:
    judge = obedient_judge("1", "0.7")

    def reply(messages):
        with counter.get_lock():
            counter.value += 1
        return judge(messages)

    server = ScriptedServer(reply=reply, latency=latency, port=port).start()
    ready.set()
    server._thread.join()


if __name__ == "__main__":
    main()
