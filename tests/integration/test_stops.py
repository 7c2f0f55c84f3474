"""Every way a run stops, through the real launcher on the tiny checkpoint (docs/recipes.md, "How a run
stops"), as one row's timeline of launches of the same command, so that one trained run serves every case:

1. Ctrl-C (SIGINT to the process group, as a terminal sends it) while step 4 generates: ms-swift still writes
   its end-of-training record; the row is not finished, and the same command resumes it.
2. The disk fills up while checkpoint-4 is saved (an ``OSError(ENOSPC)`` injected by
   tests/helpers/disk_full_plugin.py where transformers writes trainer_state.json): the folder keeps its
   weights but no state, so it is incomplete.
3. The same command names the incomplete checkpoint-4 it skips and resumes from checkpoint-2; SIGTERM with
   time to spare (``PREEMPT_GRACE_S``): the run saves the step it is in and stops.
4. SIGTERM without time (``PREEMPT_GRACE_S=0``): the run stops at once, as without the plugin.
5. Ctrl-C during a save: held by tests/helpers/held_save_plugin.py after checkpoint-6's weights, before its
   trainer_state.json: the folder is incomplete.
6. The same command names checkpoint-6 as skipped, moves it aside and resumes from the newest complete
   checkpoint; every process of the run killed (SIGKILL) during the save of checkpoint-6, before its
   weights: a folder with neither weights nor state.
   A table run that cannot resume the row (other settings) evaluates its checkpoint as an intermediate one
   and its report marks the row unfinished, with its steps.
7. The same command names it as skipped and resumes to the planned step; logging.jsonl holds each step
   once; a last launch has nothing to do.
No launch ends "finished" before the planned step. The launcher killed with ``kill -9`` while its worker
lives: tests/integration/test_run_life.py."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from recipes.launch import life
from tests.helpers.paths import REPO
from tests.helpers.swift import recipe_env

pytestmark = pytest.mark.slow
PLANNED = 8


def steps_logged(run: Path) -> list[int]:
    if not (run / "logging.jsonl").is_file():
        return []
    return [int(r["global_step/max_steps"].split("/")[0]) for r in map(json.loads, (run / "logging.jsonl").open())
            if "global_step/max_steps" in r and "loss" in r]


def hold_save(marker: Path, before: str) -> dict[str, str]:
    """The overrides that hold the save of checkpoint-6 before its ``state`` or ``weights``
    (tests/helpers/held_save_plugin.py), writing ``marker`` once held."""
    return {"HOLD_SAVE_AT_STEP": "6", "HOLD_SAVE_BEFORE": before, "HOLD_SAVE_MARKER": str(marker),
            "EXTRA_ARGS": f"--external_plugins {REPO / 'swift_plugins' / 'rewards.py'} "
                          f"{REPO / 'tests' / 'helpers' / 'held_save_plugin.py'}"}


class Launch:
    """``bash recipes/grpo-a.sh`` in a session of its own (its process group: what a terminal or a scheduler
    signals)."""

    def __init__(self, env: dict, log: Path, **overrides):
        self.log, self.run = log, Path(env["OUTPUT_ROOT"]) / "grpo-a"
        with log.open("w") as out:
            self.proc = subprocess.Popen(["bash", str(REPO / "recipes" / "grpo-a.sh")], cwd=REPO,
                                         env={**env, **overrides}, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_for(self, condition, what: str, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"ended before {what}:\n{self.text()[-3000:]}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.2)

    def signal(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    def kill_every_process(self) -> None:
        """SIGKILL to every process of the run at once, as a node that fails or a job's cgroup killed: the
        launch's process group and the processes that hold the run's lock (torchrun starts the training
        process in a session of its own, out of the group's reach)."""
        run_processes = life.holders(life.lock_path(self.run))
        self.signal(signal.SIGKILL)
        for pid in run_processes:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def end(self, timeout: float = 300) -> int:
        """The launch's exit status, once every process of the run has ended (on SIGTERM ms-swift's ``swift``
        parent ends at once, while its training process finishes the step and saves)."""
        try:
            code = self.proc.wait(timeout)
            deadline = time.monotonic() + timeout
            while life.holders(life.lock_path(self.run)):
                assert time.monotonic() < deadline, "the run's processes did not end"
                time.sleep(0.2)
            return code
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)   # only this launch's own process group
            except ProcessLookupError:
                pass

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def test_every_way_a_run_stops_resumes_or_refuses_and_none_ends_finished_early(tiny_qwen2_audio, audio_qa,
                                                                                tmp_path):
    run = tmp_path / "runs" / "grpo-a"
    env = recipe_env(tiny_qwen2_audio, audio_qa, tmp_path / "runs", PROFILE="cpu", MAX_STEPS=PLANNED,
                     SAVE_STEPS=2, MAX_COMPLETION_LENGTH=16, PREEMPT_GRACE_S="0")

    # 1. Ctrl-C while step 4 generates (step 3 logged, checkpoint-2 saved)
    first = Launch(env, tmp_path / "1.log")
    first.wait_for(lambda: 3 in steps_logged(run) and life.complete_checkpoints(run), "step 3")
    first.signal(signal.SIGINT)
    assert first.end() != 0
    assert not life.finished(run) and life.progress(run).planned == PLANNED

    # 2. the same command resumes; the disk fills up while checkpoint-4 is saved
    full = Launch(env, tmp_path / "2.log", DISK_FULL_AT_STEP="4",
                  EXTRA_ARGS=f"--external_plugins {REPO / 'swift_plugins' / 'rewards.py'} "
                  f"{REPO / 'tests' / 'helpers' / 'disk_full_plugin.py'}")
    assert full.end(600) != 0, full.text()[-3000:]
    assert "No space left on device" in full.text() and f"resuming {run} from checkpoint-2" in full.text()
    assert (run / "checkpoint-4").is_dir() and life.incomplete(run / "checkpoint-4") and not life.finished(run)

    # 3. resumed from the newest complete checkpoint, naming the one skipped; SIGTERM with time to spare
    term = Launch(env, tmp_path / "3.log", PREEMPT_GRACE_S="300")
    term.wait_for(lambda: "resuming" in term.text() and 3 in steps_logged(run), "step 3 again")
    assert "skipped the incomplete checkpoint-4 (no readable trainer_state.json)" in term.text()
    term.signal(signal.SIGTERM)
    term.end()
    saved = life.progress(run)
    assert "SIGTERM: saving this step, then stopping" in term.text(), term.text()[-3000:]
    assert saved.trained == max(steps_logged(run)) and saved.trained >= 3 and not saved.finished

    # 4. SIGTERM without time: stops at once, nothing saved beyond what was
    quick = Launch(env, tmp_path / "4.log")
    quick.wait_for(lambda: f"resuming {run} from checkpoint-{saved.trained}" in quick.text(), "the resume")
    time.sleep(5)
    quick.signal(signal.SIGTERM)
    assert quick.end() != 0 and life.progress(run).trained == saved.trained

    # 5. Ctrl-C during a save: checkpoint-6's weights are written, its trainer_state.json is not
    held = Launch(env, tmp_path / "5.log", **hold_save(tmp_path / "held-state", before="state"))
    held.wait_for((tmp_path / "held-state").is_file, "the save of checkpoint-6")
    held.signal(signal.SIGINT)
    assert held.end() != 0 and life.incomplete(run / "checkpoint-6") == "no readable trainer_state.json"
    assert any((run / "checkpoint-6").glob("*.safetensors")) and life.progress(run).trained == saved.trained

    # 6. the same command resumes (checkpoint-6 skipped); every process killed (SIGKILL) during the save of
    # checkpoint-6, before its weights: a folder with neither weights nor state
    killed = Launch(env, tmp_path / "6.log", **hold_save(tmp_path / "held-weights", before="weights"))
    killed.wait_for((tmp_path / "held-weights").is_file, "the save of checkpoint-6 again")
    assert f"resuming {run} from checkpoint-{saved.trained}" in killed.text(), killed.text()[-3000:]
    assert "skipped the incomplete checkpoint-6 (no readable trainer_state.json)" in killed.text()
    assert len(list(run.glob("attempts/*/checkpoint-6/*.safetensors"))) == 1   # moved aside, weights and all
    killed.kill_every_process()
    assert killed.end() == -signal.SIGKILL and (run / "checkpoint-6").is_dir()
    assert not any((run / "checkpoint-6").glob("*.safetensors")) and life.incomplete(run / "checkpoint-6")

    # a table run over the interrupted row that does not resume it (another learning rate: refused) evaluates
    # its last checkpoint as an intermediate one, and the report marks the row unfinished with its steps
    bench = tmp_path / "bench"
    subprocess.run([sys.executable, "-m", "data_prep.synthetic", "--out-dir", str(bench), "--train", "2", "--eval",
                    "4"], check=True, capture_output=True, env=env, timeout=120)
    table_env = {k: v for k, v in env.items() if k != "DATA"}
    table = subprocess.run([sys.executable, "-m", "recipes.launch.table", "table1", "grpo-a"], cwd=REPO,
                           env={**table_env, "GRPO_DATA": env["DATA"], "LR": "2e-6", "BENCHMARKS": "mmau",
                                "MMAU_META": str(bench / "mmau-demo.json"), "EVAL_BATCH_SIZE": "4",
                                "EVAL_MAX_NEW_TOKENS": "8"}, capture_output=True, text=True, timeout=900)
    steps = f"{saved.trained} of {PLANNED}"
    assert table.returncode == 1 and f"FAILED ({steps} steps)" in table.stdout, table.stdout + table.stderr[-3000:]
    report = (tmp_path / "runs" / "table1" / "report.md").read_text()
    assert f"- **grpo-a** (unfinished: {steps} steps):" in report   # the summary; the tables mark it too
    assert f"**grpo-a** (unfinished: {steps} steps) |" in report and f"| {steps} (unfinished) |" in report
    assert not life.finished(run)

    # 7. resumed to the planned step (checkpoint-6 skipped again), each step logged once; then nothing to do
    last = Launch(env, tmp_path / "7.log")
    assert last.end(900) == 0, last.text()[-3000:]
    assert "skipped the incomplete checkpoint-6 (no readable trainer_state.json)" in last.text()
    assert len(list(run.glob("attempts/*/checkpoint-6"))) == 2
    assert life.finished(run) and Counter(steps_logged(run)) == Counter(range(1, PLANNED + 1))
    done = Launch(env, tmp_path / "8.log")
    assert done.end() == 0 and f"finished training ({PLANNED} of {PLANNED} steps); nothing to do" in done.text()
