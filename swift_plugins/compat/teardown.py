"""Tear the torch.distributed process group down before the interpreter exits.

With ``--use_cpu true --ddp_backend gloo`` and ``NPROC_PER_NODE=2`` ms-swift/transformers never call
``destroy_process_group``.  The gloo process group then dies during interpreter finalisation, while
its worker threads are still joinable, and the C++ runtime sometimes aborts with "terminate called
without an active exception" (exit code 134) *after* training succeeded — torchrun reports the run as
failed.  Destroying the group from an ``atexit`` hook joins those threads while Python is intact.

``atexit`` (not a trainer callback) so that every entry point is covered: sft, rlhf, infer, export.
No barrier: by the time ``main`` returned on this rank every collective it takes part in is done, and
a barrier here would hang forever if the peer crashed.

Gloo only: the fault is gloo's, and on NCCL ``destroy_process_group`` aborts the communicators, which
can block while a peer is still inside a collective, so a rank dying on an exception could hang there
instead of exiting. NCCL runs keep ms-swift's and torch's own exit path.
"""
from __future__ import annotations

import atexit

_registered = False


def destroy_process_group() -> None:
    try:  # the plugin's own gloo groups first, on every backend (swift_plugins/batch.py holds them)
        from swift_plugins.batch import release_collective_groups
        release_collective_groups()
    except Exception:
        pass
    try:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized() and dist.get_backend() == "gloo":
            dist.destroy_process_group()
    except Exception:  # never turn a clean exit into a failure
        pass


def install() -> None:
    """Idempotent."""
    global _registered
    if not _registered:
        atexit.register(destroy_process_group)
        _registered = True
