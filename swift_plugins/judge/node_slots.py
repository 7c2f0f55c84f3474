"""At most N judge requests in flight across all processes of one machine (the ranks of a node).

Eight ranks that score their completions together send their judge requests together: about 256 at the
same instant on the paper's node. A server that serves C of them at a time queues the rest, and a
per-request timeout that starts when the request is sent then measures the queue, not the server's work:
the tail times out, is retried behind the backlog and ends as a stand-in (docs/rewards.md §7). With the
node's requests capped at the server's capacity, a request is sent only when the server can take it, so
its timeout measures the server's work, and the burst drains at the server's own pace.

The slots are up to ``N`` lock files in shared memory (``/dev/shm``, else the temporary folder), one folder
per judge URL, shared by every process of the user that talks to that judge: a request holds an
exclusive ``flock`` on one slot file while it is in flight. The kernel drops the lock of a process that
dies, so a crashed rank never keeps a slot. A slot freed while the same process has requests waiting goes
straight to the next of them; otherwise waiting is one poll per process (a slot another process frees is
found within 20 ms), serving its waiters in order.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
import weakref
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

POLL_FIRST_S, POLL_MAX_S = 0.001, 0.02


def _folder() -> Path:
    return Path("/dev/shm") if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) \
        else Path(tempfile.gettempdir())


class _LoopWaiters:
    """This process's requests waiting for a slot, in one event loop (ms-swift runs a new loop per step)."""

    def __init__(self) -> None:
        self.queue: deque[asyncio.Future] = deque()
        self.poller: asyncio.Task | None = None


class NodeSlots:
    """``limit`` slots shared by the processes of this machine that use the same ``key``."""

    def __init__(self, limit: int, key: str, folder: Path | None = None) -> None:
        self.limit = limit
        self.folder = folder_for(key, folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "judge").write_text(key)  # whose slots these are, for a person looking at /dev/shm
        # Opened on first use, lowest slots first: a process with k requests in flight holds k files open.
        self.fds: dict[int, int] = {}
        # flock is per open file: this process's own slots would not block it, so it skips them itself
        self.held: set[int] = set()
        self._loops: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWaiters]" = \
            weakref.WeakKeyDictionary()

    def _fd(self, i: int) -> int:
        if i not in self.fds:
            self.fds[i] = os.open(self.folder / f"slot-{i}", os.O_RDWR | os.O_CREAT, 0o600)
        return self.fds[i]

    def _try(self) -> int | None:
        for i in range(self.limit):
            if i in self.held:
                continue
            try:
                fcntl.flock(self._fd(i), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            self.held.add(i)
            return i
        return None

    def close(self) -> None:
        """Close the slot files (which frees any slot still held)."""
        fds, self.fds, self.held = self.fds, {}, set()
        for fd in fds.values():
            os.close(fd)

    def _give(self, waiters: _LoopWaiters, index: int) -> None:
        """Hand a slot to this process's next waiter (no lock round trip), or back to the machine."""
        while waiters.queue:
            future = waiters.queue.popleft()
            if not future.done():
                future.set_result(index)
                return
        fcntl.flock(self.fds[index], fcntl.LOCK_UN)
        self.held.discard(index)

    async def _poll(self, waiters: _LoopWaiters) -> None:
        """The process's one poller: take free slots for the waiters, in their order, until none waits."""
        delay = POLL_FIRST_S
        while any(not f.done() for f in waiters.queue):
            index = self._try()
            if index is None:
                await asyncio.sleep(delay)
                delay = min(2 * delay, POLL_MAX_S)
                continue
            delay = POLL_FIRST_S
            self._give(waiters, index)
        waiters.poller = None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the body of the ``async with``."""
        loop = asyncio.get_running_loop()
        waiters = self._loops.get(loop)
        if waiters is None:
            waiters = self._loops[loop] = _LoopWaiters()
        index = self._try() if not waiters.queue else None  # earlier waiters go first
        if index is None:
            future = loop.create_future()
            waiters.queue.append(future)
            if waiters.poller is None:
                waiters.poller = loop.create_task(self._poll(waiters))
            try:
                index = await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():  # handed a slot in the same instant
                    self._give(waiters, future.result())
                raise
        try:
            yield
        finally:
            self._give(waiters, index)


def folder_for(key: str, folder: Path | None = None) -> Path:
    """The slot folder of a judge (``key``: its URL) for this user."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return (folder or _folder()) / f"audio-thinker-judge-{os.getuid()}-{digest}"


_shared: dict[tuple[str, int], NodeSlots] = {}


def node_slots(key: str, limit: int) -> NodeSlots:
    """The process's slots for this judge (``key``: its URL) and cap, opened once."""
    found = _shared.get((key, limit))
    if found is None:
        found = _shared[(key, limit)] = NodeSlots(limit, key)
    return found


def forget(key: str) -> None:
    """Close this process's slots of a judge that is gone and remove its folder (tests start a judge on a
    new port each time; a training run keeps its one folder, which other processes may be using)."""
    for shared_key in [k for k in _shared if k[0] == key]:
        _shared.pop(shared_key).close()
    shutil.rmtree(folder_for(key), ignore_errors=True)
