"""One rank's burst of judge requests, as a training step sends them:
``python -m tests.helpers.judge_burst N START_AT`` asks the judge that the ``AUDIO_THINKER_JUDGE_*``
variables configure for N quality judgments at wall-clock time START_AT (so that several processes start
together) and prints one JSON line: ``{"failures": F, "causes": {...}, "wall_s": W}``."""
from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter


def main(n: int, start_at: float) -> None:
    from swift_plugins.judge.client import judge_many
    from swift_plugins.judge.prompts import build_quality_prompt, parse_quality
    from swift_plugins.judge.settings import JudgeSettings

    settings = JudgeSettings.from_env()
    prompts = [build_quality_prompt("How many people speak?", f"Reasoning {i}: two voices answer each other.")
               for i in range(n)]
    time.sleep(max(0.0, start_at - time.time()))
    start = time.perf_counter()
    judgments = asyncio.run(judge_many(settings, prompts, parse_quality))
    wall = time.perf_counter() - start
    failed = [j for j in judgments if j.value is None]
    print(json.dumps({"failures": len(failed), "causes": Counter(j.cause for j in failed), "wall_s": wall}))


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
