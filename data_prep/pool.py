"""The extraction's worker processes, which only the process that started them stops.

A stop signal sent to every process at once (``timeout`` and ``kill -TERM -PGID`` signal the whole process
group, a job scheduler may signal every process of the job) used to kill the workers of a
``multiprocessing.Pool`` at whatever point each one was. A worker waiting for its next task holds the task
queue's read lock, one sending its results holds the result queue's write lock; the main process, unwinding
through ``Pool.terminate()``, then waited for that lock forever (the run hung instead of stopping).

So here the workers ignore SIGTERM and SIGINT, as the standard library's resource tracker does; the main
process alone turns a signal into a stop, tears the pool down in order, and ends the workers with SIGKILL
(``Pool.terminate()`` would send SIGTERM, which they now ignore). A signal that lands while the pool is being
built or torn down is held until that is over, then handled as it would have been: raised halfway through
either, it would leave workers or the pool's threads behind. The workers are spawned, so they are the main
process's own children and die with it (``PR_SET_PDEATHSIG``) when it is killed outright; a fork server
between them would be one more process the signal can kill first, taking the workers with it mid-task.
"""
from __future__ import annotations

import multiprocessing.pool
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_CONTEXT = multiprocessing.get_context("spawn")
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _worker_init() -> None:
    try:  # die with the main process when it is killed outright (Linux): no worker is left writing behind it
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort, not on this platform
        pass
    for signum in _STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


class _Worker(_CONTEXT.Process):
    def terminate(self) -> None:
        self.kill()  # the worker ignores SIGTERM


class _Pool(multiprocessing.pool.Pool):
    @staticmethod
    def Process(ctx, *args, **kwds):  # noqa: N802 - multiprocessing's name for the worker factory
        return _Worker(*args, **kwds)


@contextmanager
def _stop_signals_held() -> Iterator[None]:
    """Record SIGTERM/SIGINT instead of handling them, then hand the first one to the handler that was
    in place (``Stopped``, ``KeyboardInterrupt`` or the default action) once the block is over. Off the
    main thread there is nothing to hold: Python runs signal handlers on the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {signum: signal.signal(signum, lambda signum, _frame: caught.append(signum))
                for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            signal.raise_signal(caught[0])


@contextmanager
def worker_pool(processes: int) -> Iterator[multiprocessing.pool.Pool]:
    """A ``multiprocessing.Pool`` of ``processes`` workers that ignore stop signals; the caller's handlers
    decide, and leaving the block (normally or by an exception) ends the workers."""
    pool = None
    try:
        with _stop_signals_held():  # a signal held here is raised once the pool exists: the finally ends it
            pool = _Pool(processes, initializer=_worker_init, context=_CONTEXT)
        yield pool
    finally:
        if pool is not None:
            with _stop_signals_held():
                pool.terminate()
