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
