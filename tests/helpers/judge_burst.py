"""One rank's burst of judge requests, as a training step sends them:
``python -m tests.helpers.judge_burst N START_AT [COMMIT|- [--warm]]`` asks the judge that the
``AUDIO_THINKER_JUDGE_*`` variables configure for N quality judgments at wall-clock time START_AT (so that
several processes start together) and prints one JSON line: ``{"failures": F, "causes": {...}, "wall_s": W,
"cpu_s": C, "first_cpu_s": C1}`` (C: this process's CPU time during the burst, the client's cost inside a
training process). ``--warm`` sends the first of the N before START_AT, alone (a training process's later
steps: the one-time costs of a first request, C1, paid). With COMMIT, the judge
client is the one of that commit (``swift_plugins/judge/client.py`` and the modules of ours it imported
that are gone since, read with git), for a before/after comparison in one run (perf/bench_judge_load.py)."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import types
from collections import Counter

from tests.helpers.paths import REPO


def module_at(commit: str, path: str, name: str) -> types.ModuleType:
    """The module ``path`` as it was at ``commit``, registered as ``name`` (so that later imports find it)."""
    source = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=REPO, check=True, capture_output=True,
                            text=True).stdout
    module = sys.modules[name] = types.ModuleType(name)
    exec(compile(source, f"{commit}:{path}", "exec"), module.__dict__)
    return module


def judge_many_at(commit: str):
    """``judge_many`` of ``commit``: its client module, with the standard-library HTTP client it used then."""
    if subprocess.run(["git", "cat-file", "-e", f"{commit}:audio_thinker/openai_client.py"], cwd=REPO,
                      capture_output=True).returncode == 0:
        module_at(commit, "audio_thinker/openai_client.py", "audio_thinker.openai_client")
    return module_at(commit, "swift_plugins/judge/client.py", f"judge_client_{commit}").judge_many


def main(n: int, start_at: float, commit: str | None = None, warm: bool = False) -> None:
    from swift_plugins.judge.client import judge_many
    from swift_plugins.judge.prompts import build_quality_prompt, parse_quality
    from swift_plugins.judge.settings import JudgeSettings

    if commit:
        judge_many = judge_many_at(commit)  # noqa: F811 (the comparison's "before")
    settings = JudgeSettings.from_env()
    prompts = [build_quality_prompt("How many people speak?", f"Reasoning {i}: two voices answer each other.")
               for i in range(n)]
    warm_up = 1 if warm else 0  # the first request of a process pays its one-time costs (lazy imports)
    first_cpu = time.process_time()
    if warm_up:
        asyncio.run(judge_many(settings, prompts[:1], parse_quality))
    first_cpu = time.process_time() - first_cpu
    time.sleep(max(0.0, start_at - time.time()))
    start, cpu = time.perf_counter(), time.process_time()
    judgments = asyncio.run(judge_many(settings, prompts[warm_up:], parse_quality))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    failed = [j for j in judgments if j.value is None]
    print(json.dumps({"failures": len(failed), "causes": Counter(j.cause for j in failed), "wall_s": wall,
                      "cpu_s": cpu, "first_cpu_s": first_cpu}))


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "-" else None,
         warm="--warm" in sys.argv[4:])
