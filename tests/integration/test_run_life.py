"""The life of one run, with real processes on the tiny checkpoint (one row, three ms-swift starts): a launch
killed with ``kill -9`` leaves its training worker running, and a second launch is refused naming it; once it
is gone the same command resumes from the last complete checkpoint and logging.jsonl holds each step once;
another learning rate is refused naming it; ``FRESH=1`` keeps the old run and trains afresh; eval.sweep, which
evaluated checkpoint-2 of the first run, evaluates the new checkpoint-2 again."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers.paths import REPO
from tests.helpers.swift import recipe_env

pytestmark = pytest.mark.slow


def launch(env, **overrides):
    return subprocess.run(["bash", str(REPO / "recipes" / "grpo-a.sh")], cwd=REPO, capture_output=True, text=True,
                          env={**env, **overrides}, timeout=600)


def wait_for(condition, what: str, timeout: float = 400):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def steps_logged(run: Path) -> list[int]:
    return [int(r["global_step/max_steps"].split("/")[0]) for r in map(json.loads, (run / "logging.jsonl").open())
            if "global_step/max_steps" in r and "loss" in r]


def test_a_row_resumes_refuses_and_starts_fresh_without_mixing_two_runs(tiny_qwen2_audio, audio_qa, tmp_path):
    runs = tmp_path / "runs"
    run = runs / "grpo-a"
    env = recipe_env(tiny_qwen2_audio, audio_qa, runs, PROFILE="cpu", MAX_STEPS=400, SAVE_STEPS=2,
                     MAX_COMPLETION_LENGTH=16)
    # 1. a launch killed with kill -9 once it has saved checkpoint-2; its training worker goes on
    with (tmp_path / "first.log").open("w") as log:
        first = subprocess.Popen(["bash", str(REPO / "recipes" / "grpo-a.sh")], cwd=REPO, env=env, stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: (run / "checkpoint-2" / "trainer_state.json").is_file() or first.poll() is not None,
                 "checkpoint-2")
        assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        os.kill(first.pid, signal.SIGKILL)   # the launcher (it became `swift`): its worker is orphaned
        first.wait()
        # 2. a second launch is refused while the orphaned worker lives, naming it
        second = launch(env)
        assert second.returncode == 2, second.stdout + second.stderr
        (line,) = second.stderr.strip().splitlines()
        assert line.startswith("error: row grpo-a is already training into") and "kill " in line
        holders = [int(p) for p in re.search(r"kill ([\d ]+)", line).group(1).split()]
        assert holders and all(alive(pid) for pid in holders)
    finally:
        for pid in [first.pid, *locals().get("holders", [])]:
            try:
                os.kill(pid, signal.SIGKILL)   # only the processes this test started
            except ProcessLookupError:
                pass
    wait_for(lambda: not any(alive(pid) for pid in holders), "the orphaned worker to end", 60)

    # 3. the same command resumes from the last complete checkpoint; each step is logged once
    last = max(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*") if (p / "trainer_state.json").is_file())
    resumed = launch(env, MAX_STEPS=str(last + 2))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"resuming {run} from checkpoint-{last}" in resumed.stderr
    assert "took over the lock" in resumed.stderr                       # the lock of the killed launch
    assert Counter(steps_logged(run)) == Counter(range(1, last + 3))   # each step once, none lost
    state = json.loads((run / f"checkpoint-{last + 2}" / "trainer_state.json").read_text())
    assert state["global_step"] == last + 2

    # 4. the sweep evaluates checkpoint-2 of this run (a real eval.infer on an MMAU-format set)
    data = tmp_path / "bench"
    subprocess.run([sys.executable, "-m", "data_prep.synthetic", "--out-dir", str(data), "--train", "2", "--eval", "4"],
                   check=True, capture_output=True, env=env, timeout=120)
    subprocess.run([sys.executable, "-m", "data_prep.benchmarks", "mmau", "--meta", str(data / "mmau-demo.json"),
                    "--out", str(data / "mmau.jsonl")], check=True, capture_output=True, env=env, timeout=120)
    out = tmp_path / "eval"

    def evaluate_checkpoint_2():
        done = subprocess.run([sys.executable, "-m", "eval.sweep", "--run", str(run), "--out", str(out), "--benchmark",
                               "mmau", str(data / "mmau.jsonl"), str(data / "mmau-demo.json"), "--steps", "2",
                               "--batch-size", "4", "--max-new-tokens", "8"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stderr, json.loads((out / "checkpoint-2" / "mmau.sweep.json").read_text())
    _, first_record = evaluate_checkpoint_2()
    assert "1 finished, 0 to run" in evaluate_checkpoint_2()[0]  # ... once: a re-run skips the same checkpoint

    # 5. another learning rate: refused, naming it, nothing touched
    before = sorted(p.name for p in run.iterdir())
    other = launch(env, MAX_STEPS=str(last + 2), LR="2e-6")
    assert other.returncode == 2 and "--learning_rate (LR) 1e-06 there, 2e-6 now" in other.stderr
    assert "FRESH=1" in other.stderr and sorted(p.name for p in run.iterdir()) == before

    # 6. FRESH=1: the old run moved aside whole, a new one trained
    fresh = launch(env, MAX_STEPS="2", LR="2e-6", FRESH="1")
    assert fresh.returncode == 0, fresh.stdout[-3000:] + fresh.stderr[-3000:]
    (old,) = runs.glob("grpo-a.old-*")
    assert (old / f"checkpoint-{last + 2}" / "trainer_state.json").is_file() and (old / "logging.jsonl").is_file()
    assert steps_logged(run) == [1, 2] and json.loads((run / "args.json").read_text())["learning_rate"] == 2e-6

    # 7. the sweep again: the new checkpoint-2 is another checkpoint of the same name, so it is evaluated again
    log, record = evaluate_checkpoint_2()
    assert "0 finished, 1 to run" in log and "the checkpoint changed since it was evaluated" in log
    assert record["checkpoint_identity"] != first_record["checkpoint_identity"]
    assert list((out / "checkpoint-2").glob("mmau.json.replaced-*"))   # the first evaluation kept, set aside
