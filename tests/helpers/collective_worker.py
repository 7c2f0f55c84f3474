"""One rank of tests/rewards/test_collectives.py:
``python -m tests.helpers.collective_worker RANK WORLD PORT OUT [SCENARIO]``
(SCENARIO ``absent``, ``dies`` (``absent`` with ``dies``), ``preempted``, ``evalscope``, ``exit``: see each
function).

SCENARIO ``threads`` (the default):
Real gloo process group of two CPU processes, with stand-ins for what a GPU node
does and this machine cannot: the default group reports the "nccl" backend, and
``torch.cuda.current_device()`` behaves as on a GPU node where each local rank
set its device on the main thread: it is the rank's device there and 0 in any
fresh thread. A CUDA tensor that a collective would have used is recorded with
its device index and kept on CPU, so the gloo group still really sums it.
"""
import asyncio
import json
import os
import sys
import threading


def main(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo", rank=rank, world_size=world)
    main_thread = threading.main_thread()
    real_get_backend, real_all_reduce, real_tensor = dist.get_backend, dist.all_reduce, torch.tensor
    requested: list[dict] = []  # one entry per tensor the code under test asked for

    def current_device() -> int:
        return rank if threading.current_thread() is main_thread else 0

    def get_backend(group=None):
        return "nccl" if group is None or group is dist.GroupMember.WORLD else real_get_backend(group)

    def tensor(data, *args, device=None, **kwargs):
        device = torch.device(device) if device is not None else torch.device("cpu")
        requested.append({"main_thread": threading.current_thread() is main_thread, "type": device.type,
                          "index": device.index})
        return real_tensor(data, *args, **kwargs)  # the GPU memory stand-in: CPU

    collectives: list[dict] = []

    def all_reduce(t, op=dist.ReduceOp.SUM, group=None, async_op=False):
        collectives.append({"main_thread": threading.current_thread() is main_thread,
                            "backend": str(real_get_backend(group)), "default_group": group is None})
        return real_all_reduce(t, op=op, group=group, async_op=async_op)

    torch.cuda.current_device = current_device
    dist.get_backend, dist.all_reduce, torch.tensor = get_backend, all_reduce, tensor

    from swift_plugins import batch

    # As in one scoring call: λ on the main thread, then ThinkQuality's R_t mean from a worker thread.
    on_main = batch.all_reduce_sum([rank + 1, 1])
    in_thread = asyncio.run(asyncio.to_thread(batch.all_reduce_sum, [10 * (rank + 1), 2]))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
        json.dump({"on_main": on_main, "in_thread": in_thread, "requested": requested,
                   "collectives": collectives}, fh)
    dist.destroy_process_group()


def absent(rank: int, world: int, port: int, out: str, dies: bool = False) -> None:
    """Rank 1 is alive but never reaches the plugin's collective (a rank stuck elsewhere); rank 0 must stop
    within the bound ($AUDIO_THINKER_COLLECTIVE_TIMEOUT) with a message naming the step and rank 1. With
    ``dies``, rank 1's process is killed (``kill -9``) instead: rank 0 stops at once, saying rank 1 ended."""
    import signal
    import time

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    from swift_plugins import batch

    batch.prepare_collectives(18_000_000)  # ms-swift's default ddp_timeout, as the rewards pass it
    if rank == 1:
        if dies:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(600)  # the test kills it
        return
    start = time.monotonic()
    try:
        batch.all_reduce_sum([1.0, 1.0], "the think ratio λ of step 7")
        error = None
    except Exception as err:  # noqa: BLE001 - the test reads what it was
        error = f"{type(err).__name__}: {err}"
    with open(os.path.join(out, "rank0.json"), "w") as fh:
        json.dump({"error": error, "seconds": time.monotonic() - start}, fh)
    os._exit(0)  # not destroy_process_group: rank 1 never joins it


def preempted(rank: int, world: int, port: int, out: str) -> None:
    """Rank 1's process is killed (``kill -9``); torchrun's agent then sends rank 0 SIGTERM, which the
    preemption callback (swift_plugins/preemption.py) takes as notice to save this step: at the step's end its
    flag sum must fail at once with the rank named, not wait to save with a dead rank."""
    import signal
    import time
    from types import SimpleNamespace

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    from swift_plugins import batch, preemption

    batch.prepare_collectives(18_000_000)
    if rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    notice = preemption.Preemption(30.0)
    notice.install()
    os.kill(os.getpid(), signal.SIGTERM)   # torchrun's agent, once it has seen rank 1 end
    control = SimpleNamespace(should_save=False, should_training_stop=False)
    start = time.monotonic()
    try:
        notice.step_end(control)
        error = None
    except Exception as err:  # noqa: BLE001 - the test reads what it was
        error = f"{type(err).__name__}: {err}"
    with open(os.path.join(out, "rank0.json"), "w") as fh:
        json.dump({"error": error, "seconds": time.monotonic() - start, "saves": control.should_save,
                   "signalled": notice.signalled_at is not None}, fh)
    os._exit(0)


def evalscope(rank: int, world: int, port: int, out: str) -> None:
    """Rank 0's evalscope run succeeds and logs ``test_*``; rank 1's failed and logs nothing (ms-swift then
    only warns). Then both write a training log: both must get the window of both ranks' calls. The
    callback's ``on_log`` is ``metrics_callback.report`` (tests/rewards/test_dashboard_window.py goes
    through the registered callback class; here ms-swift's import would double the test's time)."""
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    from audio_thinker.tags import parse_completion
    from swift_plugins import batch, metrics_callback

    completions = ["<think>x</think><answer>Dog</answer>" if rank == 0 else "<answer>Dog</answer>"]
    parsed = [parse_completion(c) for c in completions]
    batch.STATE.begin(completions, parsed, [True], [True], [None], 3, 10)  # one training call per rank
    lines = []
    if rank == 0:
        lines.append({"test_mmau": 0.5})
        metrics_callback.report(lines[-1])
    lines.append({"loss": 0.1})
    metrics_callback.report(lines[-1])
    with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
        json.dump(lines, fh)
    dist.destroy_process_group()


def at_exit(rank: int, world: int, port: int, out: str) -> None:
    """The plugin's gloo groups at interpreter exit: this rank makes them and uses them, then returns, and the
    atexit teardown a run installs (swift_plugins/compat/teardown.py) must have destroyed them and dropped
    every reference before the interpreter finalises. A hook registered before the teardown runs after it
    and writes what is left: the groups ``swift_plugins.batch`` still holds and those still alive (weak
    references: a group lives as long as anything, torch's own group registry included, holds it).
    The default group reports NCCL, as on a GPU node (and as in ``main``): the teardown then leaves the
    trainer's group to torch, so only the plugin's own release can destroy its groups (destroying a gloo
    default group would take every group with it and hide a release that only forgot them)."""
    import atexit
    import gc
    import importlib.util
    import weakref

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    real_get_backend = dist.get_backend
    dist.get_backend = lambda group=None: ("nccl" if group is None or group is dist.GroupMember.WORLD
                                           else real_get_backend(group))
    refs: list = []

    def report() -> None:  # registered first, so atexit runs it last
        from swift_plugins import batch

        gc.collect()
        with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
            json.dump({"groups": len(refs), "held": len(batch._groups), "alive": sum(r() is not None for r in refs),
                       "trainer_group_kept": dist.is_initialized()}, fh)
        dist.destroy_process_group()  # the trainer's own group: torch's exit path on NCCL, not the plugin's

    atexit.register(report)
    # the teardown module as ms-swift's plugin import installs it, loaded on its own: the compat package's
    # other patches import ms-swift, which would only slow this down
    from tests.helpers.paths import REPO

    spec = importlib.util.spec_from_file_location("teardown", REPO / "swift_plugins" / "compat" / "teardown.py")
    teardown = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(teardown)
    teardown.install()
    from swift_plugins import batch

    batch.prepare_collectives(18_000_000)
    assert batch.all_reduce_sum([rank + 1.0], channel=batch.QUALITY) == [3.0]
    refs.extend(weakref.ref(group) for group in batch._groups.values())


if __name__ == "__main__":
    scenario = {"threads": main, "absent": absent, "dies": lambda *a: absent(*a, dies=True), "preempted": preempted,
                "evalscope": evalscope,
                "exit": at_exit}[
        sys.argv[5] if len(sys.argv) > 5 else "threads"]
    scenario(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
