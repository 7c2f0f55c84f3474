"""At most N judge requests in flight across all processes of one machine (the ranks of a node).

Eight ranks that score their completions together send their judge requests together: about 256 at the
same instant on the paper's node. A server that serves C of them at a time queues the rest, and a
per-request timeout that starts when the request is sent then measures the queue, not the server's work:
the tail times out, is retried behind the backlog and ends as a stand-in (docs/rewards.md §7). With the
node's requests capped at the server's capacity, a request is sent only when the server can take it, so
its timeout measures the server's work, and the burst drains at the server's own pace.

The slots are ``N`` lock files in shared memory (``/dev/shm``, else the temporary folder), one folder per
judge URL and cap, shared by every process of the user that talks to that judge: a request holds an
exclusive ``flock`` on one slot file while it is in flight. The kernel drops the lock of a process that
dies, so a crashed rank never keeps a slot. Waiting is a poll (a free slot is found within 20 ms); one
coroutine per process polls, the others queue behind it in order.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import random
import tempfile
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

POLL_FIRST_S, POLL_MAX_S = 0.001, 0.02


def _folder() -> Path:
    return Path("/dev/shm") if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) \
        else Path(tempfile.gettempdir())


class NodeSlots:
    """``limit`` slots shared by the processes of this machine that use the same ``key``."""

    def __init__(self, limit: int, key: str, folder: Path | None = None) -> None:
        digest = hashlib.sha256(f"{key}|{limit}".encode()).hexdigest()[:16]
        self.folder = (folder or _folder()) / f"audio-thinker-judge-{os.getuid()}-{digest}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fds = [os.open(self.folder / f"slot-{i}", os.O_RDWR | os.O_CREAT, 0o600) for i in range(limit)]
        # flock is per open file: this process's own slots would not block it, so it skips them itself
        self.held: set[int] = set()
        self._pollers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]" = \
            weakref.WeakKeyDictionary()

    def _try(self) -> int | None:
        start = random.randrange(len(self.fds))  # spread the processes over the slots
        for k in range(len(self.fds)):
            i = (start + k) % len(self.fds)
            if i in self.held:
                continue
            try:
                fcntl.flock(self.fds[i], fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            self.held.add(i)
            return i
        return None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the body of the ``async with``."""
        loop = asyncio.get_running_loop()
        poller = self._pollers.get(loop)
        if poller is None:
            poller = self._pollers[loop] = asyncio.Lock()
        async with poller:  # one poller per process; the other waiters queue here, first come first served
            delay = POLL_FIRST_S
            while (index := self._try()) is None:
                await asyncio.sleep(delay)
                delay = min(2 * delay, POLL_MAX_S)
        try:
            yield
        finally:
            fcntl.flock(self.fds[index], fcntl.LOCK_UN)
            self.held.discard(index)


_shared: dict[tuple[str, int], NodeSlots] = {}


def node_slots(key: str, limit: int) -> NodeSlots:
    """The process's slots for this judge (``key``: its URL) and cap, opened once."""
    found = _shared.get((key, limit))
    if found is None:
        found = _shared[(key, limit)] = NodeSlots(limit, key)
    return found
