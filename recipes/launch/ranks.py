"""A run of several training processes on this node, watched by the launcher until every one has ended, so
that its last line says which rank ended first and what to do (docs/recipes.md, "How a run stops").

When one rank dies (``kill -9``, the kernel's out-of-memory killer, a crash), the others stop on their own:
a gloo collective with a rank whose process is gone fails at once ("Connection closed by peer"; the plugin's
own collectives are bounded by ``AUDIO_THINKER_COLLECTIVE_TIMEOUT`` for a rank that lives but never arrives),
and torchrun's agent SIGTERMs the rest and SIGKILLs them 30 s later. What the user sees then is every
survivor's traceback and torchrun's ``ChildFailedError`` table; the launcher adds one line naming the rank
that ended first, the steps trained, and that the same command resumes the run.

Only torchrun, the workers' parent, learns their exit status; the launcher sees a worker's end as its PID
leaving ``/proc`` (and its status while it waits there as a zombie for torchrun to collect it, at most
torchrun's monitor interval, 0.1 s: the signal is named when the launcher looked in that window).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import life

POLL_S = 0.02   # under torchrun's 0.1 s monitor interval: a dead rank is seen before torchrun stops the others


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw.split(b"\0") if b"=" in item)


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or None once the PID is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def how_it_ended(fields: list[str] | None) -> str | None:
    """A zombie's exit status as words (``/proc/PID/stat`` field 52 holds the wait status), else None."""
    if not fields or fields[0] != "Z" or len(fields) < 50:
        return None
    status = int(fields[49])
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            return f"by {signal.Signals(sig).name}"
        except ValueError:
            return f"by signal {sig}"
    return f"with exit status {os.WEXITSTATUS(status)}"


@dataclass
class Ended:
    rank: int
    pid: int
    how: str | None   # "by SIGKILL", "with exit status 1"; None: torchrun collected it before the launcher looked


class RankWatch:
    """The training processes of one run on this node: each holds the run's lock as its standard input and
    carries its ``RANK`` in its environment (torchrun sets it)."""

    def __init__(self, lock: Path, expected: int):
        self.lock, self.expected = lock, expected
        self.pids: dict[int, int] = {}       # rank -> PID of its training process
        self.first: list[Ended] = []         # the rank(s) seen gone at the first look that found any gone
        self._scanned = 0.0

    def _discover(self) -> None:
        found: dict[int, list[tuple[int, int]]] = {}
        for pid in life.holders(self.lock):
            rank = _environ(pid).get("RANK", "")
            fields = _stat(pid)
            if rank.isdigit() and fields:
                found.setdefault(int(rank), []).append((pid, int(fields[1])))
        for rank, procs in found.items():
            same = {pid for pid, _ in procs}
            # the training process, not one it started (which inherits RANK): its parent is no process of the rank
            worker = [pid for pid, parent in procs if parent not in same]
            if worker and rank not in self.pids:
                self.pids[rank] = min(worker)

    def poll(self) -> None:
        now = time.monotonic()
        if len(self.pids) < self.expected and not self.first and now - self._scanned > 1.0:
            # the workers start seconds after the launcher
            self._scanned = now
            self._discover()
        if self.first:
            return
        gone = []
        for rank, pid in sorted(self.pids.items()):
            fields = _stat(pid)
            if fields is None or fields[0] == "Z":
                gone.append(Ended(rank, pid, how_it_ended(fields)))
        # seen at the same look: a rank ended by SIGTERM went after one that did not (torchrun's agent stops the
        # others with SIGTERM once a rank has ended)
        self.first = [e for e in gone if e.how != "by SIGTERM"] or gone

    def line(self, code: int, progress: life.Progress, received: int | None = None) -> str:
        """The launcher's last line for a run that ended with ``code`` != 0; ``received``: the signal the launcher
        got too (a Ctrl-C or a scheduler's SIGTERM to the process group stops every rank, none ended first)."""
        if progress.checkpoint is not None:
            resume = (f"{progress.checkpoint.name} ({progress.line()}) is the newest complete checkpoint: run the "
                      f"same command to resume from it")
        else:
            resume = f"no complete checkpoint yet ({progress.line()}): the same command starts the run afresh"
        if received is not None:
            return f"note: the run stopped on {signal.Signals(received).name} (exit status {code}); {resume}"
        others = sorted(set(self.pids) - {e.rank for e in self.first})
        if self.first:
            who = " and ".join(f"rank {e.rank} (PID {e.pid}) ended {e.how or '(torchrun says how, above)'}"
                               for e in self.first)
            after = f"; rank(s) {', '.join(map(str, others))} stopped after it" if others else ""
            return f"error: {who} while the run trained{after} (exit status {code}); {resume}"
        return f"error: the run stopped (exit status {code}); {resume}"


class _StopWaiting(Exception):
    pass


def supervise(argv: list[str], lock: Path, ranks: int, output_dir: Path, planned: int | None) -> int:
    """Run ``argv`` (``swift ...``, which starts torchrun) as a child, watch its ranks until every process of
    the run has ended, then print the one line of :meth:`RankWatch.line` if it failed.

    SIGINT and SIGTERM reach ``swift`` and torchrun from the terminal or the scheduler (they signal the process
    group; torchrun passes them on to its workers, which run in a session of their own), so here the first one
    only keeps this process waiting for the run to end (a preempted run saves first). A second one stops the
    waiting: the line then names the processes that still run (and hold the lock)."""
    received: list[int] = []

    def on_signal(signum, frame):
        received.append(signum)
        if len(received) > 1:
            raise _StopWaiting

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    child = subprocess.Popen(argv)   # standard input, output and error inherited: the lock, the terminal
    watch = RankWatch(lock, ranks)
    me, looked = os.getpid(), 0.0
    try:
        while True:
            watch.poll()
            if child.poll() is not None and time.monotonic() - looked > 0.5:
                looked = time.monotonic()
                if not [pid for pid in life.holders(lock) if pid != me]:   # torchrun and workers outlive `swift`
                    break
            time.sleep(POLL_S)
    except _StopWaiting:
        left = [pid for pid in life.holders(lock) if pid != me]
        name = signal.Signals(received[-1]).name
        print(f"note: a second {name}: stopped waiting for the run; PID(s) {' '.join(map(str, left)) or '-'} still "
              f"run and hold {lock} (the same command is refused until they end; kill them to stop now)",
              file=sys.stderr, flush=True)
        return 128 + received[-1]
    code = child.returncode if child.returncode >= 0 else 128 - child.returncode
    if code:
        print(watch.line(code, life.progress(output_dir, planned), received[0] if received else None),
              file=sys.stderr, flush=True)
    return code
