"""The decisions of a run's life (recipes/launch/life.py) without ms-swift: resume, refuse or start
afresh; the logs of an interrupted attempt cut at the checkpoint resumed from; the lock held by whichever
process inherited it. The same with real training processes: tests/integration/test_run_life.py."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from recipes.launch import life

ARGV = ["swift", "rlhf", "--learning_rate", "1e-6", "--max_steps", "10", "--reward_funcs", "atar", "think_rate",
        "--reward_weights", "1", "0", "--use_vllm", "true", "--output_dir", "/x"]
ARGS = {"learning_rate": 1e-06, "max_steps": 10, "reward_funcs": ["atar", "think_rate"],
        "reward_weights": [1.0, 0.0], "use_vllm": False, "output_dir": "/elsewhere"}


def checkpoint(run, step, planned=10, state=True, weights=True):
    """A checkpoint folder as transformers leaves it (weights first, trainer_state.json last)."""
    folder = run / f"checkpoint-{step}"
    folder.mkdir()
    if weights:
        (folder / "model.safetensors").write_bytes(b"weights")
    if state:
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step, "max_steps": planned}))
    return folder


def a_run(path, checkpoints=(2, 4), finished=False, args=ARGS, partial=None, logged=5):
    """A run of 10 planned steps that logged steps 1..``logged``; ``finished``: ms-swift's end-of-training
    record (written on Ctrl-C too) ends logging.jsonl."""
    path.mkdir(parents=True)
    (path / "args.json").write_text(json.dumps(args))
    for n in checkpoints:
        checkpoint(path, n, args.get("max_steps", 10))
    if partial:
        checkpoint(path, partial, state=False)   # cut off while saving: no trainer_state.json
    log = [{"loss": 1, "global_step/max_steps": f"{s}/10"} for s in range(1, logged + 1)]
    if finished:
        log.append({"last_model_checkpoint": str(path / f"checkpoint-{max(checkpoints, default=0)}"),
                    "global_step": logged})
    (path / "logging.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    return path


# what the directory holds, the command now, FRESH -> action (and resume point)
CASES = [
    (None, ARGV, False, "fresh", None),                                          # nothing there
    (dict(), ARGV, False, "resume", "checkpoint-4"),                              # the same settings
    (dict(partial=6), ARGV, False, "resume", "checkpoint-4"),                     # a half-saved checkpoint-6
    (dict(), [*ARGV, "--max_steps", "20"], False, "resume", "checkpoint-4"),      # a larger budget: further
    (dict(), [*ARGV, "--use_vllm", "false"], False, "resume", "checkpoint-4"),    # how it runs may differ
    (dict(checkpoints=(5, 10), logged=10, finished=True), ARGV, False, "finished", None),  # done: nothing to do
    (dict(checkpoints=(5, 10), logged=10, finished=True), [*ARGV, "--max_steps", "20"], False, "resume",
     "checkpoint-10"),                                                            # a larger budget: further
    (dict(finished=True), ARGV, False, "resume", "checkpoint-4"),                # Ctrl-C at step 5 of 10
    (dict(checkpoints=(), logged=2, finished=True), ARGV, False, "replace", None),  # Ctrl-C before a checkpoint
    (dict(checkpoints=(2,), partial=4), ARGV, False, "resume", "checkpoint-2"),   # checkpoint-4 lacks its state
    (dict(checkpoints=()), ARGV, False, "replace", None),                         # no checkpoint: aside
    (dict(checkpoints=()), [*ARGV, "--learning_rate", "2e-6"], False, "replace", None),  # ... whatever its settings
    (dict(), [*ARGV, "--learning_rate", "2e-6"], True, "replace", None),          # FRESH=1
]


@pytest.mark.parametrize("holds, argv, fresh, action, resume_from", CASES)
def test_what_a_launch_into_a_directory_does(tmp_path, holds, argv, fresh, action, resume_from):
    run = tmp_path / "grpo-a"
    if holds is not None:
        a_run(run, **holds)
    decision = life.decide(run, argv, fresh)
    assert decision.action == action
    assert (decision.checkpoint.name if decision.checkpoint else None) == resume_from
    assert decision.extra == (["--resume_from_checkpoint", str(run / resume_from)] if resume_from else [])


# the command now -> what the refusal names
REFUSED = [
    ([*ARGV, "--learning_rate", "2e-6"], "--learning_rate (LR) 1e-06 there, 2e-6 now"),
    ([*ARGV, "--reward_weights", "1", "0.5"], "--reward_weights 1.0 0.0 there, 1 0.5 now"),   # another weight
    ([*ARGV, "--reward_funcs", "atar"], "--reward_funcs atar think_rate there, atar now"),
]


@pytest.mark.parametrize("argv, named", REFUSED)
def test_other_settings_are_refused_naming_them_and_the_way_to_start_afresh(tmp_path, argv, named):
    run = a_run(tmp_path / "grpo-a")
    with pytest.raises(life.RunRefused) as refused:
        life.decide(run, argv, False)
    message = str(refused.value)
    assert named in message and "FRESH=1" in message and "\n" not in message


def test_another_number_of_training_processes_is_another_batch_and_is_refused(tmp_path):
    run = a_run(tmp_path / "grpo-a", args={**ARGS, "global_world_size": 8})
    assert life.decide(run, ARGV, False, world=8).action == "resume"
    with pytest.raises(life.RunRefused, match=r"training processes \(NPROC_PER_NODE x NNODES\) 8 there, 4 now"):
        life.decide(run, ARGV, False, world=4)


def test_fresh_moves_the_old_run_aside_whole(tmp_path):
    run = a_run(tmp_path / "grpo-a")
    notes = life.carry_out(life.decide(run, ARGV, True), run)
    (old,) = tmp_path.glob("grpo-a.old-*")
    assert not run.exists() and (old / "checkpoint-4" / "trainer_state.json").is_file() and str(old) in notes[-1]


def test_a_resume_cuts_each_log_after_the_checkpoint_and_keeps_the_files_as_they_were(tmp_path):
    run = a_run(tmp_path / "grpo-a")   # logged steps 1-5, checkpoints 2 and 4
    (run / "completions.jsonl").write_text("".join(json.dumps({"step": [str(s)] * 2}) + "\n" for s in range(1, 6)))
    (run / "audio_thinker").mkdir()
    # the batch statistics record the trainer's global_step while scoring: 0 for the first step
    (run / "audio_thinker" / "batch_stats.rank0.jsonl").write_text(
        "".join(json.dumps({"global_step": s}) + "\n" for s in range(0, 5)))
    life.carry_out(life.decide(run, ARGV, False), run)
    steps = [int(json.loads(line)["global_step/max_steps"].split("/")[0]) for line in open(run / "logging.jsonl")]
    assert steps == [1, 2, 3, 4]                                                 # step 5 is trained again
    assert [json.loads(x)["step"][0] for x in open(run / "completions.jsonl")] == ["1", "2", "3", "4"]
    assert [json.loads(x)["global_step"] for x in open(run / "audio_thinker/batch_stats.rank0.jsonl")] == [0, 1, 2, 3]
    (kept,) = (run / "attempts").iterdir()
    assert len(open(kept / "logging.jsonl").readlines()) == 5 and (kept / "audio_thinker").is_dir()  # nothing lost


def test_the_lock_is_held_by_whichever_process_inherited_it(tmp_path):
    """The launcher's process ends (here: closes its descriptor); a process that inherited the lock as its
    standard input keeps it, and a second launch is refused naming that process."""
    run = tmp_path / "grpo-a"
    lock = life.acquire(run, "grpo-a")
    worker = subprocess.Popen(["sleep", "60"], stdin=lock.fd)   # what a training worker inherits
    try:
        os.close(lock.fd)                                           # the launcher is gone
        with pytest.raises(life.RunRefused, match=f"PID {worker.pid} holds .*grpo-a.lock.*kill {worker.pid}"):
            life.acquire(run, "grpo-a")
    finally:
        worker.kill()
        worker.wait()
    again = life.acquire(run, "grpo-a")                             # everyone gone: taken over, with a note
    assert again.note and "took over the lock" in again.note
    os.close(again.fd)


def test_on_several_nodes_only_the_first_holds_the_lock_and_settles_the_directory(tmp_path):
    """NNODES=2 run the same command on both nodes into one shared output directory: node 0 locks it, node 1
    must not be refused by node 0's lock, nor move or cut anything itself."""
    from audio_thinker.cli import UsageError
    from recipes.launch import run
    from tests.helpers.paths import CACHE, REPO

    env = {"PROFILE": "cpu", "NNODES": "2", "NPROC_PER_NODE": "2", "OUTPUT_ROOT": str(tmp_path),
           "MODEL": str(CACHE / "tiny" / "qwen2-audio"), "DATA": "/d.jsonl", "FRESH": "1"}
    a_run(tmp_path / "grpo-a")
    held = life.acquire(tmp_path / "grpo-a", "grpo-a")           # node 0 is training
    try:
        launch, _, lock, _ = run.prepare("grpo-a", REPO, {**env, "NODE_RANK": "1"}, None, dry=False)
        assert lock is None and launch is not None and (tmp_path / "grpo-a" / "checkpoint-4").is_dir()  # untouched
        with pytest.raises(UsageError, match="already training"):
            run.prepare("grpo-a", REPO, {**env, "NODE_RANK": "0"}, None, dry=False)
    finally:
        os.close(held.fd)


# what the directory holds -> (steps trained, steps planned, finished): the one answer to "is this row done?"
PROGRESS = [
    (dict(checkpoints=(5, 10), logged=10, finished=True), (10, 10, True)),     # trained to the planned step
    (dict(finished=True), (4, 10, False)),                                       # Ctrl-C at step 5: the record
    (dict(checkpoints=(), logged=2, finished=True), (0, 10, False)),             # Ctrl-C at step 2, no checkpoint
    (dict(checkpoints=(2,), partial=4, logged=4), (2, 10, False)),               # checkpoint-4 cut off
]


@pytest.mark.parametrize("holds, expected", PROGRESS)
def test_a_run_is_finished_only_when_its_steps_trained_reach_its_steps_planned(tmp_path, holds, expected):
    run = a_run(tmp_path / "grpo-a", **holds)
    done = life.progress(run)
    assert (done.trained, done.planned, done.finished) == expected
    assert life.finished(run) is expected[2]


def test_an_epoch_run_takes_its_plan_from_the_checkpoint(tmp_path):
    run = a_run(tmp_path / "sft-a", checkpoints=(4,), args={**ARGS, "max_steps": -1})   # checkpoint: 4 of -1
    assert life.progress(run).planned is None
    (run / "checkpoint-4" / "trainer_state.json").write_text(json.dumps({"global_step": 4, "max_steps": 6}))
    assert (life.progress(run).trained, life.progress(run).planned, life.finished(run)) == (4, 6, False)


def test_a_checkpoint_without_weights_or_state_is_incomplete_and_named_when_skipped(tmp_path):
    run = a_run(tmp_path / "grpo-a", checkpoints=(2,), logged=6)
    checkpoint(run, 4, weights=False)                    # the state is there, the weights are not
    checkpoint(run, 6, state=False)                      # killed before trainer_state.json
    assert [p.name for p in life.complete_checkpoints(run)] == ["checkpoint-2"]
    assert [(p.name, why.split(" ")[:2]) for p, why in life.incomplete_checkpoints(run)] == [
        ("checkpoint-4", ["no", "weights"]), ("checkpoint-6", ["no", "readable"])]
    decision = life.decide(run, ARGV, False)
    assert decision.checkpoint.name == "checkpoint-2"
    assert "checkpoint-4 (no weights" in decision.notes[-1] and "checkpoint-6 (no readable" in decision.notes[-1]
    life.carry_out(decision, run)                         # set aside, so the resumed run saves into clean folders
    assert not (run / "checkpoint-4").exists() and not (run / "checkpoint-6").exists()
    assert {p.name for p in (run / "attempts").glob("*/checkpoint-*")} == {"checkpoint-4", "checkpoint-6"}


def test_the_end_of_training_record_of_an_interrupted_attempt_is_cut_on_resume(tmp_path):
    run = a_run(tmp_path / "grpo-a", checkpoints=(2, 4), logged=4, finished=True)   # Ctrl-C right after step 4
    life.carry_out(life.decide(run, ARGV, False), run)
    records = [json.loads(line) for line in open(run / "logging.jsonl")]
    assert len(records) == 4 and not any("last_model_checkpoint" in r for r in records)
