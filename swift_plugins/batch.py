"""The one home for state that needs the whole batch (docs/rewards.md §3, §5 and §10).

ms-swift calls every reward on each rank's *local* completions, before it
gathers them, and the completions of one prompt may be split across ranks.
Everything that must see the global batch therefore goes through here:

- the think ratio λ of ATAR (Eq. 1–4), summed over ranks;
- the batch mean of think-mode quality scores that no-think completions
  receive as R_t (docs/rewards.md §5);
- per-call sums for the dashboard (per-mode accuracy and length, judge
  verdicts and failures by cause), reduced over ranks by the metrics callback.

Collectives. The plugin's few numbers go through its own gloo process group on
CPU tensors, never through the trainer's NCCL group: ``ThinkQuality`` reduces
its R_t mean from a worker thread (``asyncio.to_thread``, so that the event
loop keeps serving the other judge reward), and a fresh thread's
``torch.cuda.current_device()`` is 0 on every rank, so an NCCL collective taken
from there would run on cuda:0 on every local rank (ProcessGroupNCCL rejects it
or waits forever). A gloo group has no device, works the same from any thread,
and shares no communicator with ms-swift's own collectives, so another async
reward that issues NCCL collectives from the event loop cannot interleave with
ours. The group is created once, collectively, on the main thread when the
first reward is built (every rank builds the same rewards at the same point).

One group per *channel*: the two judge rewards each reduce their batch figures
from a worker thread once their judgments are in, and ms-swift runs them
concurrently, so the two reductions start in a different order on different
ranks. On one group that order would pair rank 0's R_c sums with rank 1's R_t
sums; on a group of its own each reduction meets only its own kind.

Every rank calls the rewards in the same order on every step, so every rank
reaches the same collectives: one in the first reward of a scoring call
(λ), one in ``ThinkQuality`` (R_t mean), one per logging step in the callback.
λ is computed once per scoring call and shared by all rewards of that call:
ms-swift passes the *same* ``completions`` list object to each reward, and
identity of that object is what keys the cache (content would not do: a
degenerate policy can emit identical batches twice in one step).
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from swift_plugins.annealing import progress
from swift_plugins.atar import Gammas, gammas
from audio_thinker.tags import ParsedCompletion

logger = logging.getLogger("audio_thinker")

TRAIN, EVAL = "train", "eval"


def _dist():
    """torch.distributed when a process group of more than one rank is up, else None."""
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


# Channels (see the module docstring): λ and the callback's window sums on the main thread, and one for
# each judge reward's reduction from its worker thread.
MAIN, CONSISTENCY, QUALITY = "main", "consistency", "quality"
CHANNELS = (MAIN, CONSISTENCY, QUALITY)

_group_lock = threading.Lock()
_group_ready = False
_groups: dict = {}  # channel -> gloo group
_timeout_s: float | None = None

TIMEOUT_ENV = "AUDIO_THINKER_COLLECTIVE_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800.0  # 30 min: a healthy rank waits at most this long for a slow judge or a save elsewhere


class CollectiveTimeout(RuntimeError):
    """A rank did not reach one of the plugin's collectives within the bound, or its process ended before
    (docs/rewards.md §10)."""


def collective_timeout_s(ddp_timeout: float | None = None) -> float:
    """How long a rank waits in a plugin collective: ``$AUDIO_THINKER_COLLECTIVE_TIMEOUT`` seconds if set,
    else min(``ddp_timeout``, 30 min). ms-swift's ``ddp_timeout`` default is 18,000,000 s (208 days): a
    live rank that never arrives must not hang the job practically forever."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise ValueError(f"{TIMEOUT_ENV}={raw!r}: expected a number of seconds > 0")
        return value
    return min(float(ddp_timeout), DEFAULT_TIMEOUT_S) if ddp_timeout and float(ddp_timeout) > 0 \
        else DEFAULT_TIMEOUT_S


def collective_group(timeout_s: float | None = None, channel: str = MAIN):
    """The process group of the plugin's collectives on ``channel``: gloo, whatever the trainer's backend.

    A gloo group over all ranks is created per channel the first time any is asked for, all channels together
    (a collective call: every rank must get here, at the same point; see the module docstring), even when
    the trainer's own group is gloo, so that its timeout is ours (``collective_timeout_s``) and not the
    trainer's ``ddp_timeout``.
    """
    global _group_ready, _timeout_s
    dist = _dist()
    if dist is None:
        return None
    with _group_lock:
        if not _group_ready:
            import datetime

            _timeout_s = collective_timeout_s(timeout_s)
            for name in CHANNELS:  # the same order on every rank
                _groups[name] = dist.new_group(backend="gloo", timeout=datetime.timedelta(seconds=_timeout_s))
            _group_ready = True
        return _groups[channel]


def release_collective_groups() -> None:
    """Destroy the plugin's gloo groups and drop the references this module holds (at exit; see
    ``swift_plugins/compat/teardown.py``). A gloo group still referenced when the interpreter finalises is
    destroyed with its worker threads joinable, and the C++ runtime can then abort the process ("terminate
    called without an active exception") after a successful run. The groups are gloo whatever the trainer's
    backend, so this runs on NCCL runs too; no barrier, every collective of ours is done by then."""
    global _group_ready
    with _group_lock:
        groups = list(_groups.values())
        _groups.clear()
        _group_ready = False
    dist = _dist()
    for group in groups if dist is not None else ():
        try:
            dist.destroy_process_group(group)
        except Exception:  # never turn a clean exit into a failure
            pass


def prepare_collectives(ddp_timeout: float | None = None) -> None:
    """Create the plugin's group now (main thread, every rank, while the trainer is being built); a bad
    ``$AUDIO_THINKER_COLLECTIVE_TIMEOUT`` fails here, on one process too, not at the first collective."""
    collective_timeout_s(ddp_timeout)
    collective_group(ddp_timeout)


_MISSING = re.compile(r"Ranks? ([\d, ]+) failed to pass monitoredBarrier")


def _named_ranks(error: Exception) -> str | None:
    """The ranks gloo's monitored barrier names in ``error`` ("1" or "1, 3"), if it names any."""
    found = _MISSING.search(str(error))
    return found.group(1).strip() if found else None


def _missing_ranks(error: Exception) -> str:
    """Who did not arrive, for a barrier that waited its whole bound."""
    named = _named_ranks(error)
    if named:
        return f"rank(s) {named} did not arrive"
    return "rank 0 did not confirm that every rank arrived (rank 0's own error names the ranks that did not)"


def _ended_ranks(error: Exception, world_size: int) -> str:
    """Who ended, for a barrier that failed well before its bound (gloo fails at once on a peer whose process
    is gone): the ranks the error names, else the one other rank, else "another rank"."""
    named = _named_ranks(error)
    if named:
        return f"rank(s) {named}"
    others = [r for r in range(world_size) if r != rank()]
    return f"rank(s) {others[0]}" if len(others) == 1 else "another rank"


def all_reduce_sum(values: Sequence[float], what: str = "a plugin collective",
                   channel: str = MAIN) -> list[float]:
    """Sum a short vector of numbers over all ranks (identity on one process).

    Safe from any thread: CPU float64 tensor on the plugin's gloo group of
    ``channel``, so the result never depends on which CUDA device the calling
    thread has current.
    A gloo ``monitored_barrier`` first: a rank that does not arrive within the
    bound stops every waiting rank with ``CollectiveTimeout`` naming ``what``
    (the quantity and its step) and, on rank 0, the ranks that did not arrive.
    """
    dist = _dist()
    if dist is None:
        return [float(v) for v in values]
    import datetime

    import torch

    group = collective_group(channel=channel)
    timeout = _timeout_s or DEFAULT_TIMEOUT_S
    start = time.monotonic()
    try:
        dist.monitored_barrier(group=group, timeout=datetime.timedelta(seconds=timeout), wait_all_ranks=True)
    except RuntimeError as err:
        waited = time.monotonic() - start
        if waited < 0.9 * timeout:   # not the bound: gloo fails at once on a peer whose process is gone
            who = _ended_ranks(err, dist.get_world_size())
            raise CollectiveTimeout(f"audio-thinker: rank {rank()} stopped at {what}: {who} ended (gloo failed "
                                    f"after {waited:.1f} s of the {timeout:g} s bound: the connection closed, the "
                                    f"process is gone; docs/rewards.md §10)") from None
        raise CollectiveTimeout(f"audio-thinker: rank {rank()} waited {timeout:g} s for {what}: "
                                f"{_missing_ranks(err)} (bound: ${TIMEOUT_ENV}, else min(ddp_timeout, "
                                f"{DEFAULT_TIMEOUT_S:g} s); docs/rewards.md §10)") from None
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=group)
    return tensor.tolist()


@dataclass
class StepStats:
    """What one scoring call of one rank saw; written as a JSONL row.

    ``local_*`` and the per-mode sums are this rank's; ``global_*``, λ and γ
    are the whole batch's (every rank holds the same values).
    """

    global_step: int
    max_steps: int
    rank: int
    local_think: int
    local_total: int
    mode: str = TRAIN  # ms-swift's own criterion: the trainer's model is in training mode
    global_think: int = 0
    global_total: int = 0
    think_ratio: float = 0.0  # λ
    gamma_think: float = 1.0
    gamma_no_think: float = 1.0
    judge_calls: dict[str, int] = field(default_factory=dict)
    judge_failures: dict[str, int] = field(default_factory=dict)
    judge_failure_causes: dict[str, int] = field(default_factory=dict)
    quality_batch_mean: float | None = None
    # dashboard sums over this rank's completions (docs/training-signal.md)
    think_graded: int = 0  # think-mode completions whose row has a gold answer
    think_correct: int = 0
    no_think_graded: int = 0
    no_think_correct: int = 0
    think_token_rows: int = 0  # think-mode completions whose token ids ms-swift passed
    think_tokens: int = 0
    no_think_token_rows: int = 0
    no_think_tokens: int = 0
    no_think_answers: int = 0  # no-think completions with a parsable <answer>
    no_think_answer_chars: int = 0
    consistency_judged: int = 0  # think+correct completions the judge gave a verdict for
    consistency_consistent: int = 0
    quality_count: int = 0  # successful R_t judgments on this rank
    quality_sum: float = 0.0
    consistency_fallback: float | None = None  # R_c of a failed judgment: the global batch's rate (§7)

    @property
    def factors(self) -> Gammas:
        return Gammas(think=self.gamma_think, no_think=self.gamma_no_think)


@dataclass(frozen=True)
class JudgeCounts:
    """Judge requests of one judge reward in one scoring call, summed over all ranks."""

    calls: int
    failures: int
    causes: dict[str, int]


@dataclass
class CallFacts:
    """Per-completion facts of one scoring call, computed once and shared by every reward."""

    parsed: list[ParsedCompletion]
    correct: list[bool]
    stats: StepStats


def _count_mode_sums(stats: StepStats, parsed: Sequence[ParsedCompletion], correct: Sequence[bool],
                     graded: Sequence[bool], token_counts: Sequence[int | None]) -> None:
    for p, ok, has_gold, n_tokens in zip(parsed, correct, graded, token_counts):
        if p.is_think:
            stats.think_graded += has_gold
            stats.think_correct += has_gold and ok
            if n_tokens is not None:
                stats.think_token_rows += 1
                stats.think_tokens += n_tokens
        else:
            stats.no_think_graded += has_gold
            stats.no_think_correct += has_gold and ok
            if n_tokens is not None:
                stats.no_think_token_rows += 1
                stats.no_think_tokens += n_tokens
            if p.answer is not None:
                stats.no_think_answers += 1
                stats.no_think_answer_chars += len(p.answer)


class BatchState:
    """Per-process registry of the current scoring call's global quantities."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._completions: list | None = None  # strong ref: identity of the current call
        self._facts: CallFacts | None = None
        self.pending: list[StepStats] = []  # finished calls not yet reported by the callback
        self.output_dir: str | None = None
        self._trainer_ref = None  # weakref to the trainer, set by the metrics callback
        self.judge_rounds: list[tuple[str, JudgeCounts]] = []  # (mode, all ranks' counts) per judge reward call
        # The checkpoint step a --resume_only_model --ignore_data_skip run continues from (swift_plugins/annealing.py)
        self.resumed_from = 0

    def drain_judge_rounds(self, mode: str) -> list[JudgeCounts]:
        """The all-rank judge counts recorded in ``mode`` since the last drain (the others are dropped)."""
        with self._lock:
            taken, self.judge_rounds = self.judge_rounds, []
        return [counts for m, counts in taken if m == mode]

    @property
    def current(self) -> StepStats | None:
        facts = self._facts
        return facts.stats if facts is not None else None

    def attach_trainer(self, trainer) -> None:
        """Let the plugin read the trainer's mode (train/eval) and, for the option guard, its settings."""
        self._trainer_ref = weakref.ref(trainer) if trainer is not None else None

    @property
    def trainer(self):
        return self._trainer_ref() if self._trainer_ref is not None else None

    def mode(self) -> str:
        """``eval`` while the trainer evaluates, as ms-swift itself decides (``model.training``)."""
        model = getattr(self.trainer, "model", None)
        return EVAL if model is not None and not model.training else TRAIN

    def facts(self, completions: list) -> CallFacts | None:
        """The facts of this scoring call when another reward already computed them."""
        with self._lock:
            return self._facts if self._completions is completions else None

    def begin(self, completions: list, parsed: Sequence[ParsedCompletion], correct: Sequence[bool],
              graded: Sequence[bool], token_counts: Sequence[int | None], global_step: int,
              max_steps: int) -> CallFacts:
        """λ and γ of the global batch for this scoring call (computed once, then shared).

        Every Audio-Thinker reward calls this first, so the one collective of a
        call happens in whichever reward ms-swift runs first, on every rank.
        """
        known = self.facts(completions)
        if known is not None:
            return known
        is_think = [p.is_think for p in parsed]
        local_think = sum(is_think)
        global_think, global_total = all_reduce_sum([local_think, len(is_think)],
                                                    f"the think ratio λ of step {int(global_step or 0) + 1}")
        stats = StepStats(global_step=int(global_step or 0), max_steps=int(max_steps or 0), rank=rank(),
                          local_think=local_think, local_total=len(is_think), mode=self.mode(),
                          global_think=int(global_think), global_total=int(global_total),
                          think_ratio=(global_think / global_total) if global_total else 0.0)
        g = gammas(stats.think_ratio, progress(global_step, max_steps, self.resumed_from))
        stats.gamma_think, stats.gamma_no_think = g.think, g.no_think
        _count_mode_sums(stats, parsed, correct, graded, token_counts)
        facts = CallFacts(parsed=list(parsed), correct=list(correct), stats=stats)
        with self._lock:
            if self._facts is not None:
                self._finish(self._facts.stats)
            self._completions, self._facts = completions, facts
        return facts

    def record_judge(self, completions: list, kind: str, calls: int, failures: int,
                     causes: Sequence[str] = (), batch_counts: JudgeCounts | None = None) -> None:
        """Count judge calls and failures of this scoring call, failures by cause (docs/rewards.md §7).

        ``batch_counts`` are the same counts summed over all ranks (every rank holds the same): the judge
        circuit breaker decides from them, so that every rank stops at the same step.
        """
        with self._lock:
            stats = self._facts.stats if self._facts is not None and self._completions is completions else None
            if stats is None:
                return
            stats.judge_calls[kind] = stats.judge_calls.get(kind, 0) + calls
            stats.judge_failures[kind] = stats.judge_failures.get(kind, 0) + failures
            for cause in causes:
                stats.judge_failure_causes[cause] = stats.judge_failure_causes.get(cause, 0) + 1
            if batch_counts is not None:
                self.judge_rounds.append((stats.mode, batch_counts))
                del self.judge_rounds[:-10_000]  # nobody is draining them: keep memory bounded
        if failures:
            # The trainer's global_step counts the steps finished; this call belongs to the next one, which
            # logging.jsonl shows as "global_step/max_steps" once it is done (its row "3/3" for global_step 2).
            logger.warning("audio-thinker judge: %d of %d %s judgments failed (%s) at step %d/%d on rank %d; "
                           "fallbacks applied (docs/rewards.md §7)", failures, calls, kind,
                           ", ".join(sorted(set(causes))) or "?", stats.global_step + 1, stats.max_steps,
                           stats.rank)

    def flush(self, mode: str | None = None) -> list[StepStats]:
        """Finish the current call and hand over the calls not yet reported (of ``mode``, or all)."""
        with self._lock:
            if self._facts is not None and mode in (None, self._facts.stats.mode):
                self._finish(self._facts.stats)
                self._facts, self._completions = None, None
            taken = [s for s in self.pending if mode in (None, s.mode)]
            self.pending = [s for s in self.pending if mode not in (None, s.mode)]
        return taken

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
