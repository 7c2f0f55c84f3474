"""The one home for state that needs the whole batch (docs/rewards.md §3 and §5).

ms-swift calls every reward on each rank's *local* completions, before it
gathers them, and the completions of one prompt may be split across ranks.
Everything that must see the global batch therefore goes through here:

- the think ratio λ of ATAR (Eq. 1–4), summed over ranks;
- the batch mean of think-mode quality scores that no-think completions
  receive as R_t (docs/rewards.md §5);
- per-step statistics (λ, γ, judge calls and failures) for the training log.

Collectives: every rank calls the rewards in the same order on every step, so
every rank reaches the same number of ``all_reduce`` calls (torch.distributed:
"every rank must reach such a collective the same number of times"). λ is
computed once per scoring call and shared by all rewards of that call: ms-swift
passes the *same* ``completions`` list object to each reward, and identity of
that object is what keys the cache (content would not do: a degenerate policy
can emit identical batches twice in one step).
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from swift_plugins.atar import Gammas, gammas, training_progress

logger = logging.getLogger("audio_thinker")


def _dist():
    """torch.distributed when a process group is up, else None."""
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch is a hard dependency of ms-swift
        return None
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist
    return None


def rank() -> int:
    dist = _dist()
    return dist.get_rank() if dist else 0


def all_reduce_sum(values: Sequence[float]) -> list[float]:
    """Sum a short vector of numbers over all ranks (identity on one process)."""
    dist = _dist()
    if dist is None:
        return [float(v) for v in values]
    import torch

    device = torch.device("cpu")
    if dist.get_backend() == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.cpu().tolist()


@dataclass
class StepStats:
    """What one scoring call of one rank saw; written as a JSONL row."""

    global_step: int
    max_steps: int
    rank: int
    local_think: int
    local_total: int
    global_think: int = 0
    global_total: int = 0
    think_ratio: float = 0.0  # λ
    gamma_think: float = 1.0
    gamma_no_think: float = 1.0
    judge_calls: dict[str, int] = field(default_factory=dict)
    judge_failures: dict[str, int] = field(default_factory=dict)
    quality_batch_mean: float | None = None

    @property
    def factors(self) -> Gammas:
        return Gammas(think=self.gamma_think, no_think=self.gamma_no_think)


class BatchState:
    """Per-process registry of the current scoring call's global quantities."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._completions: list | None = None  # strong ref: identity of the current call
        self.current: StepStats | None = None
        self.pending: list[StepStats] = []  # finished calls not yet reported by the callback
        self.output_dir: str | None = None

    def begin(self, completions: list, is_think: Sequence[bool], global_step: int, max_steps: int) -> StepStats:
        """λ and γ of the global batch for this scoring call (computed once, then shared).

        Every Audio-Thinker reward calls this first, so the one collective of a
        call happens in whichever reward ms-swift runs first, on every rank.
        """
        with self._lock:
            if self._completions is completions and self.current is not None:
                return self.current
        local_think = sum(bool(t) for t in is_think)
        global_think, global_total = all_reduce_sum([local_think, len(is_think)])
        stats = StepStats(global_step=int(global_step or 0), max_steps=int(max_steps or 0), rank=rank(),
                          local_think=local_think, local_total=len(is_think),
                          global_think=int(global_think), global_total=int(global_total),
                          think_ratio=(global_think / global_total) if global_total else 0.0)
        g = gammas(stats.think_ratio, training_progress(global_step, max_steps))
        stats.gamma_think, stats.gamma_no_think = g.think, g.no_think
        with self._lock:
            if self.current is not None:
                self._finish(self.current)
            self._completions, self.current = completions, stats
        return stats

    def record_judge(self, completions: list, kind: str, calls: int, failures: int) -> None:
        """Count judge calls and failures of this scoring call (docs/rewards.md §7)."""
        with self._lock:
            stats = self.current if self._completions is completions else None
            if stats is None:
                return
            stats.judge_calls[kind] = stats.judge_calls.get(kind, 0) + calls
            stats.judge_failures[kind] = stats.judge_failures.get(kind, 0) + failures
        if failures:
            logger.warning("audio-thinker judge: %d of %d %s judgments failed at step %d on rank %d; "
                           "fallbacks applied (docs/rewards.md §7)", failures, calls, kind, stats.global_step, stats.rank)

    def flush(self) -> list[StepStats]:
        """Finish the current call and hand over everything not yet reported."""
        with self._lock:
            if self.current is not None:
                self._finish(self.current)
                self.current, self._completions = None, None
            pending, self.pending = self.pending, []
        return pending

    def _finish(self, stats: StepStats) -> None:
        self.pending.append(stats)
        if len(self.pending) > 10_000:  # nobody is collecting: keep memory bounded
            del self.pending[:-1000]
        if self.output_dir:
            path = Path(self.output_dir) / "audio_thinker" / f"batch_stats.rank{stats.rank}.jsonl"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(asdict(stats)) + "\n")
            except OSError as err:  # a full disk must not stop training
                logger.warning("audio-thinker: cannot write %s: %s", path, err)


STATE = BatchState()
# Without --callbacks audio_thinker nothing flushes the last scoring call; write it at exit.
atexit.register(STATE.flush)


def configure_output(output_dir: str | os.PathLike | None) -> None:
    if output_dir:
        STATE.output_dir = str(output_dir)
