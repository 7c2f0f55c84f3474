"""``python -m recipes.launch ROW``: train one row of the catalogue (``bash recipes/<row>.sh`` calls it).

    python -m recipes.launch model-c              # -> OUTPUT_ROOT/model-c (default output/)
    DRY_RUN=1 python -m recipes.launch model-c    # print every command, run nothing
    PROFILE=cpu MODEL=... DATA=... python -m recipes.launch model-a   # one CPU process

Before anything loads, in this order: the row's settings (catalogue, ``PROFILE``, the environment), the batch
layout (:mod:`.layout`), the options ms-swift would be run with (the rewards plugin's own rules,
``swift_plugins.options_guard``), the judge's address; then, for a real start, the data pre-flight
(``data_prep.preflight``) and the judge check (``swift_plugins.judge.check``), then a resume's log cuts (so a
refused resume leaves the run as it was), and only then ``swift``.
Every refusal is one ``error: ...`` line and exit status 2. docs/recipes.md documents the overrides.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

from audio_thinker import model_source
from audio_thinker.cli import UsageError, parser as cli_parser, run as cli_run

from swift_plugins import options_guard

from .. import catalogue
from . import life
from .command import Launch, build, shell_line
from .layout import LayoutError
from .ranks import supervise
from .settings import SettingsError, resolve


def swift_args(argv: Sequence[str]) -> SimpleNamespace:
    """The options of a ``swift ...`` command line as ms-swift's arguments object would hold them (what the
    option guard reads): ``--name value`` with true/false and numbers converted, several values as a list."""
    parsed = life.options(argv)

    def convert(word: str):
        if word in ("true", "false"):
            return word == "true"
        for kind in (int, float):
            try:
                return kind(word)
            except ValueError:
                pass
        return word
    return SimpleNamespace(**{k: (convert(v[0]) if len(v) == 1 else [convert(w) for w in v] if v else True)
                              for k, v in parsed.items()})


def refused_options(launch: Launch) -> list[str]:
    """The option guard's refusals of the command about to run (GRPO: the rewards plugin applies the same
    rules again when ms-swift builds the first reward, for direct ``swift rlhf`` calls)."""
    if launch.row.method != "grpo":
        return []
    return [f"audio-thinker: {f.line('is refused')}" for f in options_guard.refusals(swift_args(launch.argv))]


def judge_env(environ) -> dict[str, str]:
    """The judge the row's rewards will ask; no default address: one answering on 127.0.0.1 may be another's."""
    return {"AUDIO_THINKER_JUDGE_URL": environ.get("AUDIO_THINKER_JUDGE_URL") or environ.get("JUDGE_URL") or "",
            "AUDIO_THINKER_JUDGE_MODEL": environ.get("AUDIO_THINKER_JUDGE_MODEL") or environ.get("JUDGE_MODEL")
            or "judge"}


def plan(row_name: str, root: Path, environ=None, table: str | None = None, extra: Sequence[str] = ()) -> Launch:
    """Every decision of one launch, made without touching anything (the dry run prints it)."""
    environ = os.environ if environ is None else environ
    cat = catalogue.load()
    try:
        row = cat.row(row_name)
    except KeyError as err:
        raise UsageError(err.args[0]) from None
    if not row.trained:
        raise UsageError(f"row {row.name} is {row.summary or 'a base model'}: it is evaluated, not trained "
                         f"(bash recipes/table.sh)")
    try:
        settings = resolve(cat, row, root, environ, cat.table(table) if table else None)
        launch = build(cat, row, settings, environ.get("PYTHON") or sys.executable, judge_env(environ),
                       environ.get("CUDA_VISIBLE_DEVICES"), extra)
    except (SettingsError, LayoutError) as err:
        raise UsageError(str(err)) from None
    refused = refused_options(launch)
    if refused:
        raise UsageError("; ".join(refused))
    return launch


def prepare(row: str, root: Path, environ, table: str | None, dry: bool) -> tuple[Launch | None, list[str],
                                                                                 life.Lock | None,
                                                                                 life.Decision | None]:
    """Every decision of a launch, in order: the plan; for a real start the lock (and then what the run's
    directory asks for is done: an old run moved aside); the resume. Returns the launch (None: the run has
    finished, nothing to do), the notes to print, the lock, and a resume still to carry out (its logs cut)
    once the pre-flight and the judge check have passed: a refused resume leaves the run as it was."""
    launch = plan(row, root, environ, table)
    if launch.notes and not dry:
        raise UsageError(launch.notes[0])   # a real start without a judge address: refused before anything
    unloadable = None if dry else model_source.problem(launch.option("--model"), environ)
    if unloadable:   # refused before the lock, so no output folder is left behind
        raise UsageError(f"MODEL={launch.option('--model')}: {unloadable} (set MODEL to a checkpoint folder or a "
                         f"hub id)")
    # Several nodes run the same command into one (shared) output directory: the first node (NODE_RANK 0) holds
    # the lock and settles the directory; the others only read it, so they start the same way.
    leader = launch.settings["NNODES"] == "1" or (environ.get("NODE_RANK") or "0") == "0"
    lock = None
    try:
        if not dry and leader:   # one launch per row at a time, for as long as any of its processes lives
            lock = life.acquire(launch.output_dir, launch.row.name)
        world = int(launch.settings["NPROC_PER_NODE"]) * int(launch.settings["NNODES"])
        decision = life.decide(launch.output_dir, launch.argv, launch.settings["FRESH"] == "1", world)
    except life.RunRefused as err:
        raise UsageError(str(err)) from None
    notes = [*launch.notes, *([lock.note] if lock and lock.note else [])]
    if decision.action == "finished":
        return None, [*notes, *decision.notes], lock, None
    pending = None
    if dry or not leader:
        notes += decision.notes
    elif decision.action == "resume":
        pending = decision
    else:   # an old run moved aside first: the new run's log and pre-flight output go to a folder of its own
        notes += life.carry_out(decision, launch.output_dir)
    if decision.extra:
        launch = plan(row, root, environ, table, decision.extra)
    return launch, notes, lock, pending


def dry_run(row: str, root: Path, environ, table: str | None = None) -> tuple[list[str], list[str]]:
    """What ``DRY_RUN=1`` prints: (stdout lines: every command; stderr lines: notes and the layout)."""
    launch, notes, _, _ = prepare(row, root, environ, table, dry=True)
    err = [f"note: {note}" for note in notes]
    if launch is None:
        return [], err
    if launch.layout:
        err.append(f"[{launch.row.name}] {launch.layout.line()}")
    return launch.lines(), err


def main(argv: Sequence[str] | None = None) -> int:
    parser = cli_parser("recipes.launch", __doc__)
    parser.add_argument("row", help="a row of recipes/catalogue.yaml")
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="the checkout: where the catalogue's data paths and output/ are (default: here)")
    parser.add_argument("--table", help="apply this table's overrides (the table command passes it)")
    parser.add_argument("--log", type=Path, help="append this launch's output to FILE, opened only once the run's "
                        "directory is settled (an old run moved aside keeps its own log)")
    args = parser.parse_args(argv)
    environ = os.environ
    if environ.get("DRY_RUN", "0") == "1":
        out, err = dry_run(args.row, args.root, environ, args.table)
        for line in err:
            print(line, file=sys.stderr)
        if out:
            print("\n".join(out))
        return 0
    launch, notes, lock, pending = prepare(args.row, args.root, environ, args.table, dry=False)
    if args.log and launch is not None:
        args.log.parent.mkdir(parents=True, exist_ok=True)
        log = args.log.open("a", encoding="utf-8")
        log.write(f"== {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} launch {launch.row.name}"
                  f"{f' ({args.table})' if args.table else ''}\n")
        log.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if launch is None:
        return 0
    if launch.layout:
        print(f"[{launch.row.name}] {launch.layout.line()}", file=sys.stderr)
    if lock:
        lock.hand_down()
    return start(launch, args.root, lock, pending)


def start(launch: Launch, root: Path, lock: life.Lock | None = None, pending: life.Decision | None = None) -> int:
    """Run the pre-flight and the judge check, then the resume ``pending`` (its logs cut), then replace this
    process with ``swift`` (the lock is its standard input by now: every process of the run holds it); a run of
    several processes on this node is ``swift``'s parent instead, watching its ranks until they have all ended
    (:mod:`.ranks`)."""
    os.chdir(root)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    launch.output_dir.mkdir(parents=True, exist_ok=True)
    if launch.preflight:   # bad rows stop the run here, naming file, line and clip (docs/bad-input.md)
        code = subprocess.call(list(launch.preflight))
        if code:
            return code
    if launch.judge_check:  # fail before loading a 7B model if the judge does not answer in format
        code = subprocess.call(list(launch.judge_check), env={**os.environ, **launch.judge})
        if code:
            return code
        os.environ.update(launch.judge)
    for note in life.carry_out(pending, launch.output_dir) if pending else ():
        print(f"note: {note}", file=sys.stderr, flush=True)
    os.environ.update(launch.env)
    line = f"[{launch.row.name}] {shell_line(launch.argv)}"
    (launch.output_dir / "command.txt").write_text(line + "\n", encoding="utf-8")
    print(line, flush=True)
    ranks = int(launch.settings["NPROC_PER_NODE"])
    if lock is not None and ranks > 1:
        return supervise(list(launch.argv), lock.path, ranks, launch.output_dir,
                         int(launch.option("--max_steps") or 0) or None)
    os.execvp(launch.argv[0], list(launch.argv))
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(cli_run(main))
