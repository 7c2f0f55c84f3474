"""Save on preemption: on SIGTERM, a run saves a checkpoint at the end of the step it is in, then stops
(docs/recipes.md, "Preemption"), so that a preempted row loses at most that step instead of everything since
its last ``--save_steps`` checkpoint.

A scheduler that preempts a job sends SIGTERM and, a grace period later, SIGKILL (SLURM: ``KillWait``,
default 30 s; Kubernetes: ``terminationGracePeriodSeconds``, default 30 s). ``PREEMPT_GRACE_S`` tells the
run that period (default 30; 0 turns this off: SIGTERM then ends the run at once, as without the plugin).

While it is on, the first SIGTERM only sets a flag (a second one ends the process at once). At the end of the
current optimisation step every rank learns whether any rank got the signal (one sum over the plugin's gloo
group: all ranks must save, or none), and the run stops there: it saves first when the time left of the
grace period is at least the longest save measured so far in this run (unknown before the first save: it
tries), else it stops without saving and the re-run resumes from the last checkpoint. Training is then
ended with exit status 143 (128 + SIGTERM), never as a finished run: the step trained is below the planned
one, which is what the launcher reads (``recipes/launch/life.py``).

The time of the rest of the step counts against the grace period too: a step that outlasts it (a 7B GRPO
step of generation and training takes minutes) is cut by the SIGKILL, and the run resumes from its last
checkpoint as before.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from swift_plugins import batch

logger = logging.getLogger("audio_thinker")

GRACE_ENV = "PREEMPT_GRACE_S"
DEFAULT_GRACE_S = 30.0
EXIT_STATUS = 128 + signal.SIGTERM


def grace_s(environ=None) -> float:
    """The grace period from ``PREEMPT_GRACE_S`` (0: off). A value that is not a number is refused."""
    raw = (os.environ if environ is None else environ).get(GRACE_ENV, "").strip()
    if not raw:
        return DEFAULT_GRACE_S
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{GRACE_ENV}={raw!r}: not a number of seconds (0 turns saving on SIGTERM off)") from None
    if value < 0:
        raise ValueError(f"{GRACE_ENV}={raw!r}: must be 0 (off) or more seconds")
    return value


class Preemption:
    """The SIGTERM flag and the decision at a step's end (the trainer callback calls :meth:`step_end`,
    :meth:`saved` and :meth:`train_end`)."""

    def __init__(self, grace: float, clock=time.monotonic):
        self.grace, self.clock = grace, clock
        self.signalled_at: float | None = None
        self.longest_save_s: float | None = None
        self.stopping = False
        self._step_ended_at: float | None = None
        self._previous = None

    @property
    def on(self) -> bool:
        return self.grace > 0

    def install(self) -> None:
        """Take over SIGTERM (the main thread only can; elsewhere nothing changes)."""
        if self.on and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame) -> None:
        if self.signalled_at is not None:   # the second one: stop now
            signal.signal(signal.SIGTERM, self._previous or signal.SIG_DFL)
            raise SystemExit(EXIT_STATUS)
        self.signalled_at = self.clock()
        if batch.rank() == 0:
            print(f"audio-thinker: SIGTERM: stopping at the end of this step, saving it first if the "
                  f"{self.grace:g} s grace period ({GRACE_ENV}) allows (a second SIGTERM stops at once)",
                  file=sys.stderr, flush=True)

    def step_end(self, control) -> None:
        """At an optimisation step's end: on every rank the same decision (a collective while it is on)."""
        self._step_ended_at = self.clock()
        if not self.on:
            return
        left = self.grace - (self.clock() - self.signalled_at) if self.signalled_at is not None else self.grace
        short = self.signalled_at is not None and left < (self.longest_save_s or 0.0)
        # one sum: did any rank get the signal, and is any rank short of time to save (then none saves)
        anyone, any_short = batch.all_reduce_sum([float(self.signalled_at is not None), float(short)],
                                                 "the preemption flag (SIGTERM)")
        if not anyone:
            return
        save = not any_short
        control.should_training_stop = True
        control.should_save = bool(control.should_save or save)
        self.stopping = True
        if batch.rank() == 0:
            cost = f"{self.longest_save_s:.1f} s" if self.longest_save_s is not None else "not measured yet"
            print(f"audio-thinker: SIGTERM: {'saving this step, then ' if save else ''}stopping "
                  f"({left:.1f} s of the grace period left; a save took {cost})", file=sys.stderr, flush=True)

    def saved(self) -> None:
        if self._step_ended_at is not None:
            took = self.clock() - self._step_ended_at
            self.longest_save_s = max(took, self.longest_save_s or 0.0)

    def train_end(self) -> None:
        """A run stopped by SIGTERM ends with exit status 143, not as a finished run."""
        if self.stopping:
            raise SystemExit(EXIT_STATUS)
