"""A run's life: one output directory holds one run, from its first step to its last, however often it is
started (docs/recipes.md, "The life of a run").

* **One launch at a time.** ``OUTPUT_ROOT/<row>.lock`` is locked (``flock``) for as long as any process of the
  run lives: the launcher opens it as its standard input before it becomes (or starts) ``swift``, and every
  process ms-swift, torchrun and the data loaders start inherits standard input, so the lock outlives a launcher
  killed with ``kill -9`` while its orphaned workers still train. A second launch is refused with their PIDs;
  a lock file whose processes are all gone is taken over with a note.
* **Resume or refuse.** Launched into a directory that holds a run, the launcher compares the command it is
  about to run with the run's own ``args.json``: the same settings but for the step budget resume from the
  last complete checkpoint (``--resume_from_checkpoint``: optimizer, scheduler, the step and so the ATAR
  annealing continue); other settings are refused, naming them; ``FRESH=1`` moves the old run aside
  (``<row>.old-<time>``, never deleted) and starts afresh, and so does an attempt that kept no complete
  checkpoint, whatever its settings.
* **Finished means trained** (:func:`progress`): the newest complete checkpoint's step reached the steps planned.
* **Logs of two runs never interleave.** Before a resume, the records an interrupted attempt wrote after its
  last checkpoint (they are written again) are cut from ``logging.jsonl``, ``completions.jsonl`` and the
  batch statistics; the files as they were are kept whole under ``attempts/<time>/``.
"""
from __future__ import annotations

import fcntl
import glob
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECKPOINT = re.compile(r"checkpoint-(\d+)$")
# ms-swift options that may differ between the attempts of one run: the step budget, where and how often it
# logs and saves, and how the machine runs it (DeepSpeed, vLLM); everything else is the experiment (and so is
# the number of training processes, compared apart: it is no option of the command).
MAY_DIFFER = {
    "max_steps", "save_steps", "logging_steps", "output_dir", "resume_from_checkpoint", "report_to",
    "dataloader_num_workers", "add_version", "check_model", "external_plugins", "callbacks", "log_completions",
    "deepspeed", "use_vllm", "vllm_mode", "vllm_server_host", "vllm_server_port", "vllm_gpu_memory_utilization",
    "sleep_level", "use_cpu", "ddp_backend", "fp16", "vllm_limit_mm_per_prompt", "vllm_max_model_len",
    "vllm_tensor_parallel_size", "move_model_batches", "offload_model", "offload_optimizer",
}
# the environment override that sets an ms-swift option (what the refusal names beside the option)
OVERRIDE_OF = {"learning_rate": "LR", "model": "MODEL", "model_type": "MODEL_TYPE", "dataset": "DATA",
               "temperature": "TEMPERATURE", "num_generations": "NUM_GENERATIONS", "beta": "BETA",
               "per_device_train_batch_size": "PER_DEVICE_BATCH", "gradient_accumulation_steps": "GRAD_ACC",
               "max_completion_length": "MAX_COMPLETION_LENGTH", "tuner_type": "TUNER", "lora_rank": "LORA_RANK",
               "torch_dtype": "TORCH_DTYPE", "seed": "SEED", "num_train_epochs": "EPOCHS",
               "generation_batch_size": "GENERATION_BATCH_SIZE", "steps_per_generation": "STEPS_PER_GENERATION"}


class RunRefused(Exception):
    """The launch must not go on (the message is one line: what, and what to do)."""


# ---- the lock --------------------------------------------------------------------------------------------

def lock_path(output_dir: Path) -> Path:
    return output_dir.parent / f"{output_dir.name}.lock"


def holders(path: Path) -> list[int]:
    """PIDs of the processes whose standard input is the lock file (Linux /proc; [] elsewhere)."""
    found = []
    for fd0 in glob.glob("/proc/[0-9]*/fd/0"):
        try:
            if os.readlink(fd0) == str(path):
                found.append(int(fd0.split("/")[2]))
        except OSError:
            continue
    return sorted(found)


@dataclass
class Lock:
    path: Path
    fd: int
    note: str | None = None  # the take-over of a stale lock

    def hand_down(self) -> None:
        """Make the lock this process's standard input, so every process it becomes or starts holds it."""
        os.dup2(self.fd, 0, inheritable=True)


def acquire(output_dir: Path, row: str) -> Lock:
    """Lock the run of ``row`` in ``output_dir`` or refuse, naming the PIDs that hold it."""
    path = lock_path(output_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        recorded = os.pread(fd, 64, 0).decode(errors="replace").strip()
        os.close(fd)
        pids = [p for p in holders(path) if p != os.getpid()] or ([int(recorded)] if recorded.isdigit() else [])
        who = f"PID {pids[0]}" + (f" and {len(pids) - 1} more process(es)" if len(pids) > 1 else "") if pids \
            else "another process"
        raise RunRefused(f"row {row} is already training into {output_dir} ({who} holds {path}); wait for it to "
                         f"end, or stop it (kill {' '.join(map(str, pids)) or '<pid>'}) and run the same command "
                         f"again to resume") from None
    previous = os.pread(fd, 64, 0).decode(errors="replace").strip()
    note = (f"took over the lock of an earlier launch of {row} (PID {previous}), whose processes have all ended"
            if previous else None)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return Lock(path, fd, note)


# ---- what the output directory holds -------------------------------------------------------------------

# What transformers saves into checkpoint-N, in this order (Trainer._save_checkpoint): the weights, the
# optimizer and scheduler, the RNG state, and trainer_state.json last. Weights are one of these files (a full
# model, a sharded one's index, or a LoRA adapter).
WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
           "adapter_model.safetensors", "adapter_model.bin")
STATE = "trainer_state.json"


def checkpoint_step(path: Path) -> int:
    return int(CHECKPOINT.search(path.name).group(1))


def trainer_state(checkpoint: Path) -> dict[str, Any] | None:
    """The checkpoint's ``trainer_state.json`` if it parses and names its step, else None."""
    try:
        state = json.loads((checkpoint / STATE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("global_step"), int) else None


def incomplete(checkpoint: Path) -> str | None:
    """Why ``checkpoint`` is not complete, or None. Complete: its ``trainer_state.json`` parses and names its
    step, and its weights are there. transformers writes the state last, so a save cut off by a kill or a full
    disk leaves a folder without it (or without weights, where the weights were what failed)."""
    if trainer_state(checkpoint) is None:
        return f"no readable {STATE}"
    if not any((checkpoint / name).is_file() for name in WEIGHTS):
        return "no weights (" + ", ".join(WEIGHTS[::2]) + ")"
    return None


def _checkpoint_folders(output_dir: Path) -> list[Path]:
    found = [p for p in output_dir.glob("checkpoint-*") if CHECKPOINT.search(p.name) and p.is_dir()]
    return sorted(found, key=checkpoint_step)


def complete_checkpoints(output_dir: Path) -> list[Path]:
    """The complete ``checkpoint-N`` folders (:func:`incomplete`), by step."""
    return [p for p in _checkpoint_folders(output_dir) if incomplete(p) is None]


def incomplete_checkpoints(output_dir: Path) -> list[tuple[Path, str]]:
    """(folder, why) of every ``checkpoint-N`` folder that is not complete, by step."""
    return [(p, why) for p in _checkpoint_folders(output_dir) if (why := incomplete(p)) is not None]


@dataclass(frozen=True)
class Progress:
    """How far a run trained: the step of its newest complete checkpoint, of the steps it plans."""
    trained: int                  # 0: no complete checkpoint
    planned: int | None           # None: not known (no args.json with max_steps, no checkpoint)
    checkpoint: Path | None       # the newest complete checkpoint

    @property
    def finished(self) -> bool:
        return self.planned is not None and self.trained >= self.planned > 0

    def line(self) -> str:
        return f"{self.trained} of {self.planned if self.planned is not None else '?'} steps"


def _positive(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def progress(output_dir: Path, planned: int | None = None) -> Progress:
    """The steps trained (the newest complete checkpoint's ``trainer_state.json``) of the steps planned
    (``planned``, e.g. the command about to run; else the run's ``args.json`` ``max_steps``; else, for a run
    planned in epochs, the checkpoint's own ``max_steps``).

    The checkpoint, not ms-swift's end-of-training record in ``logging.jsonl``: that record is written on every
    exit of ``swift rlhf``/``sft`` that unwinds (Ctrl-C, an exception) and its ``global_step`` counts steps
    trained after the last save, which a resume trains again; SIGTERM and SIGKILL write no record at all. The
    checkpoint is what a resume continues from and what evaluation loads."""
    done = complete_checkpoints(output_dir)
    state = trainer_state(done[-1]) if done else None
    planned = (_positive(planned) or _positive((run_args(output_dir) or {}).get("max_steps"))
               or _positive((state or {}).get("max_steps")))
    return Progress(state["global_step"] if state else 0, planned, done[-1] if done else None)


def finished(output_dir: Path, planned: int | None = None) -> bool:
    """Is this run done? Its steps trained reached its steps planned (:func:`progress`): the one answer the
    launcher, the table command, ``eval.sweep`` and ``eval.report`` all ask for."""
    return progress(output_dir, planned).finished


def run_args(output_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((output_dir / "args.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _same(ours: Sequence[str], theirs: Any, option: str) -> bool:
    def norm(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        text = str(value)
        if text in ("true", "false", "True", "False"):
            return text.lower() == "true"
        try:
            return float(text)
        except ValueError:
            return text.rstrip("\n") if option == "system" else text
    if option == "system" and ours and Path(ours[0]).is_file():   # we pass the prompt's file, it keeps the text
        ours = [Path(ours[0]).read_text(encoding="utf-8")]
    if isinstance(theirs, (list, tuple)):
        return [norm(x) for x in ours] == [norm(x) for x in theirs]
    return len(ours) == 1 and norm(ours[0]) == norm(theirs)


def options(argv: Sequence[str]) -> dict[str, list[str]]:
    """``--name value …`` (or ``--name=value``) of a command line as {name: [values]}: the one reader of a
    command line's options, for the resume comparison here and the option guard's view in ``run.swift_args``."""
    parsed: dict[str, list[str]] = {}
    key = None
    for word in argv:
        if word.startswith("--"):
            key, _, value = word[2:].partition("=")
            parsed[key] = [value] if value else []
        elif key is not None:
            parsed[key].append(word)
    return parsed


def differences(argv: Sequence[str], args: Mapping[str, Any], world: int | None = None) -> list[str]:
    """The experiment's settings in which the command ``argv`` (run by ``world`` training processes) differs
    from a run's ``args.json``. The number of processes counts: it sets the completions of every step."""
    out = []
    if world is not None and args.get("global_world_size") not in (None, world):
        out.append(f"training processes (NPROC_PER_NODE x NNODES) {args['global_world_size']} there, {world} now")
    for option, ours in options(argv).items():
        if option in MAY_DIFFER or option not in args or _same(ours, args[option], option):
            continue
        theirs = args[option]
        shown = "the other prompt" if option == "system" else (
            " ".join(map(str, theirs)) if isinstance(theirs, list) else theirs)
        now = "this prompt" if option == "system" else " ".join(ours)
        env = f" ({OVERRIDE_OF[option]})" if option in OVERRIDE_OF else ""
        out.append(f"--{option}{env} {shown} there, {now} now")
    return out


# ---- the decision ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    action: str                        # fresh | resume | finished | replace (move an attempt aside, then fresh)
    checkpoint: Path | None = None     # resume from it
    notes: tuple[str, ...] = field(default=())

    @property
    def extra(self) -> list[str]:
        return ["--resume_from_checkpoint", str(self.checkpoint)] if self.action == "resume" else []


def decide(output_dir: Path, argv: Sequence[str], fresh: bool, world: int | None = None) -> Decision:
    """What a launch of ``argv`` into ``output_dir`` does (touches nothing; :func:`carry_out` does it)."""
    args = run_args(output_dir)
    checkpoints = complete_checkpoints(output_dir)
    has_run = args is not None or checkpoints or (output_dir / "logging.jsonl").exists() \
        or any(output_dir.glob("checkpoint-*"))
    if not has_run:
        return Decision("fresh")
    if fresh:
        return Decision("replace", notes=(f"FRESH=1: the run in {output_dir} is moved aside, not deleted",))
    if not checkpoints:   # nothing a resume could continue from: whatever its settings, nothing is lost
        return Decision("replace", notes=(f"{output_dir} holds an attempt that kept no trained step (no complete "
                                          f"checkpoint): it is moved aside and the run starts afresh",))
    diff = differences(argv, args or {}, world)
    if diff:
        raise RunRefused(f"{output_dir} holds a run made with other settings: {'; '.join(diff)}. Run it unchanged "
                         f"to resume it, or FRESH=1 to move it aside (kept as {output_dir.name}.old-<time>) and "
                         f"start afresh")
    done = progress(output_dir, _positive(options(argv).get("max_steps", [None])[0]))
    if done.finished:
        return Decision("finished", notes=(f"{output_dir} finished training ({done.line()}); nothing to do "
                                           f"(FRESH=1 trains it again; a larger MAX_STEPS trains it further)",))
    newest = checkpoints[-1]
    skipped = [f"{p.name} ({why})" for p, why in incomplete_checkpoints(output_dir)
               if checkpoint_step(p) > checkpoint_step(newest)]
    notes = [f"resuming {output_dir} from {newest.name} ({done.line()} trained; the same settings; FRESH=1 starts "
             f"afresh instead)"]
    if skipped:
        notes.append(f"skipped the incomplete {', '.join(skipped)}: moved under {output_dir / 'attempts'}")
    return Decision("resume", newest, tuple(notes))


def stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def move_aside(output_dir: Path) -> Path:
    target = output_dir.with_name(f"{output_dir.name}.old-{stamp()}")
    n = 1
    while target.exists():
        target = output_dir.with_name(f"{output_dir.name}.old-{stamp()}-{n}")
        n += 1
    output_dir.rename(target)
    return target


# ---- trimming the logs of an interrupted attempt --------------------------------------------------------

def _step_of_logging(record: dict) -> float | None:
    if "last_model_checkpoint" in record:   # ms-swift's end-of-training record: an attempt that ended early
        return float("inf")
    value = record.get("global_step/max_steps")
    return int(str(value).split("/")[0]) if value else None


def _step_of_completions(record: dict) -> int | None:
    step = record.get("step")
    step = step[0] if isinstance(step, list) and step else step
    return int(step) if step not in (None, "") else None


def _step_of_batch_stats(record: dict) -> int | None:
    # swift_plugins/batch.py records the trainer's global_step while scoring, before that step completes
    return int(record["global_step"]) + 1 if "global_step" in record else None


# file pattern (relative to the run) -> the training step a record belongs to
STEP_OF: dict[str, Callable[[dict], float | None]] = {
    "logging.jsonl": _step_of_logging,
    "completions.jsonl": _step_of_completions,
    "audio_thinker/batch_stats.*.jsonl": _step_of_batch_stats,
}


def trim_logs(output_dir: Path, step: int) -> list[Path]:
    """Cut every log at the first record of a step after ``step`` (the checkpoint resumed from); the files as
    they were go to ``attempts/<time>/``. Returns the files cut."""
    cut, keep_dir = [], output_dir / "attempts" / stamp()
    for pattern, step_of in STEP_OF.items():
        for path in sorted(output_dir.glob(pattern)):
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
            kept = []
            for line in lines:
                try:
                    at = step_of(json.loads(line))
                except (json.JSONDecodeError, ValueError, TypeError, AttributeError):
                    at = None
                if at is not None and at > step:
                    break
                kept.append(line)
            if len(kept) < len(lines):
                saved = keep_dir / path.relative_to(output_dir)
                saved.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, saved)
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_text("".join(kept), encoding="utf-8")
                os.replace(tmp, path)
                cut.append(path)
    return cut


def carry_out(decision: Decision, output_dir: Path) -> list[str]:
    """Do what :func:`decide` decided (under the lock); the notes to print."""
    notes = list(decision.notes)
    if decision.action == "replace":
        notes.append(f"the earlier run is now {move_aside(output_dir)}")
    elif decision.action == "resume":
        step = checkpoint_step(decision.checkpoint)
        for folder, _ in incomplete_checkpoints(output_dir):   # saved again by the resumed run, into a clean folder
            if checkpoint_step(folder) > step:
                kept = output_dir / "attempts" / stamp() / folder.name
                kept.parent.mkdir(parents=True, exist_ok=True)
                folder.rename(kept)
        cut = trim_logs(output_dir, step)
        if cut:
            notes.append(f"records after step {step} cut from {', '.join(p.name for p in cut)} (written again "
                         f"by the resumed run; the files as they were are under {output_dir / 'attempts'})")
    return notes
