"""The plugin's collectives do not depend on the calling thread (docs/rewards.md §10).

On a GPU node a fresh thread's ``torch.cuda.current_device()`` is 0 on every
rank, and ``ThinkQuality`` reduces its R_t mean from such a thread. Two real
gloo processes, with the GPU-only facts stood in (see ``tests.helpers.collective_worker``),
show which device and group each collective uses, from the main thread and
from a worker thread.
"""
import json
import os
import subprocess
import sys

import pytest

from tests.helpers.loopback_server import free_port
from tests.helpers.paths import REPO


def test_collective_from_a_worker_thread_uses_the_same_device_and_group_as_the_main_thread(tmp_path):
    port, world = free_port(), 2
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.helpers.collective_worker", str(r), str(world),
                               str(port), str(tmp_path)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for r in range(world)]
    logs = [p.communicate(timeout=120)[0] for p in procs]
    for r, (p, log) in enumerate(zip(procs, logs)):
        assert p.returncode == 0, f"rank {r} exited {p.returncode}:\n{log[-3000:]}"
    seen = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(world)]
    for r, ours in enumerate(seen):
        # the sums are right on every rank
        assert ours["on_main"] == [3.0, 2.0] and ours["in_thread"] == [30.0, 4.0]
    for r, ours in enumerate(seen):
        # the tensor a collective uses is placed the same way whatever thread asks: a worker thread
        # must not land on another rank's GPU (old code: cuda:<rank> on the main thread, cuda:0 in the worker)
        placements = {(t["type"], t["index"]) for t in ours["requested"]}
        assert len(placements) == 1, f"rank {r}: tensors placed on {sorted(map(str, placements))} by thread"
        assert all(t["type"] == "cpu" or t["index"] == r for t in ours["requested"]), ours["requested"]
    for r, ours in enumerate(seen):
        # and no plugin collective shares the trainer's (here: stand-in NCCL) default group
        assert len(ours["collectives"]) == 2
        assert all(c["backend"] == "gloo" and not c["default_group"] for c in ours["collectives"]), ours["collectives"]


def start_ranks(tmp_path, scenario, world=2, **env_extra):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", **env_extra}
    return [subprocess.Popen([sys.executable, "-m", "tests.helpers.collective_worker", str(r), str(world), str(port),
                              str(tmp_path), scenario], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for r in range(world)]


def rank0_result(tmp_path, scenario: str, **env) -> dict:
    """What rank 0 recorded of ``scenario`` (it must end by itself within 90 s); rank 1 is killed after it."""
    rank0, rank1 = start_ranks(tmp_path, scenario, **env)
    try:
        log = rank0.communicate(timeout=90)[0]
    finally:
        rank1.kill()
        rank1.communicate()
    assert rank0.returncode == 0, log[-3000:]
    return json.loads((tmp_path / "rank0.json").read_text())


def test_a_rank_that_never_arrives_stops_the_others_within_the_bound(tmp_path):
    """ms-swift's ddp_timeout default (18,000,000 s) used to be the plugin's wait: a live rank stuck
    elsewhere hung the job for 208 days. Now the bound (here 3 s) ends it with the step and the rank."""
    result = rank0_result(tmp_path, "absent", AUDIO_THINKER_COLLECTIVE_TIMEOUT="3")  # old code: never returned
    assert result["error"] and result["error"].startswith("CollectiveTimeout: audio-thinker: rank 0 waited 3 s"), result
    assert "the think ratio λ of step 7" in result["error"] and "rank(s) 1 did not arrive" in result["error"]
    assert 2.5 < result["seconds"] < 30


def test_a_rank_whose_process_ended_stops_the_others_at_once_saying_so(tmp_path):
    """gloo fails a collective with a peer whose process is gone at once (its connection closed): rank 0 says
    that rank 1 ended, not that it waited the whole bound (old message: 'waited 60 s', after 0.0 s)."""
    result = rank0_result(tmp_path, "dies", AUDIO_THINKER_COLLECTIVE_TIMEOUT="60")
    assert result["error"].startswith("CollectiveTimeout: audio-thinker: rank 0 stopped at the think ratio λ of "
                                      "step 7: rank(s) 1 ended (gloo failed after "), result
    assert result["seconds"] < 30


def test_a_survivor_told_to_save_on_sigterm_does_not_wait_for_a_dead_rank(tmp_path):
    """When a rank dies torchrun's agent SIGTERMs the others, and the preemption callback takes that as notice to
    save the step (swift_plugins/preemption.py): its flag sum at the step's end fails at once, naming the rank,
    and nothing is saved (a save of rank 0 alone would wait at the trainer's collectives with a dead rank)."""
    result = rank0_result(tmp_path, "preempted", AUDIO_THINKER_COLLECTIVE_TIMEOUT="60")
    assert result["signalled"] and not result["saves"] and result["seconds"] < 30, result
    assert result["error"].startswith("CollectiveTimeout: audio-thinker: rank 0 stopped at the preemption flag "
                                      "(SIGTERM): rank(s) 1 ended (gloo failed after "), result


def test_an_evalscope_log_on_one_rank_only_enters_no_collective(tmp_path):
    """--eval_use_evalscope: a rank whose evalscope failed writes no test_* log. The callback used to sum
    its window over ranks on the test_* line, so rank 0's test_* line met rank 1's training line and rank
    0's own training line then waited forever."""
    procs = start_ranks(tmp_path, "evalscope", AUDIO_THINKER_COLLECTIVE_TIMEOUT="60")
    logs = [p.communicate(timeout=240)[0] for p in procs]
    for r, (p, log) in enumerate(zip(procs, logs)):
        assert p.returncode == 0, f"rank {r} exited {p.returncode}:\n{log[-3000:]}"
    rank0 = json.loads((tmp_path / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "rank1.json").read_text())
    assert rank0[0] == {"test_mmau": 0.5}                      # evalscope's line: untouched
    for train in (rank0[-1], rank1[-1]):                       # the training line: both ranks' calls
        assert train["audio_thinker/think_ratio"] == 0.5 and train["audio_thinker/think_accuracy"] == 1.0


# ($AUDIO_THINKER_COLLECTIVE_TIMEOUT, ddp_timeout, seconds the plugin waits, or the error)
TIMEOUTS = [
    (None, 18_000_000, 1800.0),   # ms-swift's default ddp_timeout (208 days) is bounded to 30 min
    (None, 600, 600.0),           # a shorter ddp_timeout is kept
    (None, None, 1800.0),
    ("90", 18_000_000, 90.0),     # settable
    ("7200", 600, 7200.0),        # either way
    ("soon", 600, ValueError),    # refused at construction, naming the variable
    ("0", 600, ValueError),
]


@pytest.mark.parametrize("env, ddp_timeout, expected", TIMEOUTS)
def test_the_collective_timeout_is_bounded_and_settable(env, ddp_timeout, expected, monkeypatch):
    from swift_plugins import batch

    if env is None:
        monkeypatch.delenv(batch.TIMEOUT_ENV, raising=False)
    else:
        monkeypatch.setenv(batch.TIMEOUT_ENV, env)
    if expected is ValueError:
        with pytest.raises(ValueError, match=batch.TIMEOUT_ENV):
            batch.prepare_collectives(ddp_timeout)
    else:
        assert batch.collective_timeout_s(ddp_timeout) == expected



def test_the_plugins_groups_are_destroyed_and_dropped_before_the_interpreter_exits(tmp_path):
    """A gloo group still referenced at interpreter finalisation can abort a finished run ("terminate called
    without an active exception"): the atexit teardown destroys the plugin's three groups and the plugin
    drops them, on every backend (NCCL stood in: the teardown leaves the trainer's group alone)."""
    procs = start_ranks(tmp_path, "exit")
    logs = [p.communicate(timeout=120)[0] for p in procs]
    for r, (p, log) in enumerate(zip(procs, logs)):
        assert p.returncode == 0, f"rank {r} exited {p.returncode}:\n{log[-3000:]}"
        left = json.loads((tmp_path / f"rank{r}.json").read_text())
        assert left == {"groups": 3, "held": 0, "alive": 0, "trainer_group_kept": True}, left
