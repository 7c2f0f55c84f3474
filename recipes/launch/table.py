"""``python -m recipes.launch.table TABLE [ROW ...]`` (``bash recipes/table.sh`` calls it): train a table's
rows one after another through the launcher, evaluate each with ``eval.sweep`` on the table's benchmarks and
write the paper-layout report with ``eval.report``. docs/recipes.md, "The table command", documents it.

A table is the catalogue's (its rows, in the paper's order, and its benchmarks; a table of existing rows with
shared ``overrides``). Per backbone and method instead of MODEL / DATA: ``<BACKBONE>_MODEL``
(QWEN2_AUDIO_MODEL, QWEN2_5_OMNI_MODEL) and ``GRPO_DATA``, ``SFT_<KIND>_DATA`` (SFT_ANSWERS_DATA,
SFT_COT_DATA). A benchmark LABEL needs ``<LABEL>_META`` (MMAU_META, MMAU_V2025_META, MMAR_META, AIR_META) and
takes ``<LABEL>_AUDIO_ROOT``. Evaluation: EVAL_CHECKPOINTS (last | all), EVAL_BATCH_SIZE, EVAL_MAX_NEW_TOKENS,
EVAL_ENGINE, BASE_PROMPT. Everything this module decides (which rows, which commands) is a function of the
catalogue and the environment; the loop at the end only runs them, a row's failure not stopping the next.
"""
from __future__ import annotations

import datetime
import glob
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from audio_thinker.cli import UsageError

from .. import catalogue
from . import life, run
from .command import shell_quote


class TableError(Exception):
    """A bad table command (printed as ``table: ...``, exit status 2)."""


def env_name(*parts: str) -> str:
    """QWEN2_5_OMNI_MODEL from ("qwen2.5-omni", "MODEL"): the variable naming a backbone's or label's input."""
    return "_".join(p.upper().replace("-", "_").replace(".", "_") for p in parts)


@dataclass(frozen=True)
class Table:
    cat: catalogue.Catalogue
    name: str
    rows: tuple[str, ...]
    benchmarks: tuple[str, ...]
    root: Path
    env: Mapping[str, str]
    python: str                    # runs and is printed in the commands (PYTHON, else this interpreter)

    @property
    def output_root(self) -> Path:
        return Path(self.env.get("OUTPUT_ROOT") or self.root / "output")

    @property
    def eval_root(self) -> Path:
        return self.output_root / "eval"

    @property
    def table_dir(self) -> Path:
        return self.output_root / self.name

    @property
    def dry(self) -> bool:
        return self.env.get("DRY_RUN", "0") == "1"

    def meta(self, label: str) -> str:
        return self.env.get(env_name(label, "META")) or (f"MISSING_{env_name(label, 'META')}" if self.dry else "")

    def bench_rows(self, label: str) -> Path:
        return self.eval_root / "benchmarks" / f"{label}.jsonl"

    def bench_cmd(self, label: str) -> str:
        audio_root = self.env.get(env_name(label, "AUDIO_ROOT"), "")
        return (f"{self.python} -m data_prep.benchmarks {label.split('-')[0]} --meta {shell_quote(self.meta(label))} "
                f"--out {self.bench_rows(label)}" + (f" --audio-root {shell_quote(audio_root)}" if audio_root else ""))

    # --- rows ---------------------------------------------------------------------------------------------
    def row(self, name: str) -> catalogue.Row:
        return self.cat.row(name)

    def train_state(self, name: str) -> str:
        """finished | resume:<checkpoint> | fresh (:func:`recipes.launch.life.progress`)"""
        done = life.progress(self.output_root / name)
        if done.finished:
            return "finished"
        return f"resume:{done.checkpoint}" if done.checkpoint else "fresh"

    def row_env(self, name: str) -> dict[str, str]:
        """The environment a row trains with: the per-backbone model, the per-method data."""
        row, extra = self.row(name), {}
        model = self.env.get(env_name(row.backbone, "MODEL")) or self.env.get("MODEL")
        data = self.env.get("GRPO_DATA" if row.method == "grpo" else env_name("SFT", row.sft_data or "", "DATA"))
        if model:
            extra["MODEL"] = model
        if data:
            extra["DATA"] = data
        return {**self.env, **extra}

    def base_model_args(self, backbone: str) -> str:
        """--base-model / --model-type of a base row: what that backbone's rows train from."""
        first = next((r for r in self.cat.rows.values() if r.trained and r.backbone == backbone), None)
        if first is None:
            return ""
        try:
            launch = run.plan(first.name, self.root, {**self.row_env(first.name), "DRY_RUN": "1"}, self.name)
        except UsageError:
            return ""   # that row's own dry run names the problem
        return (f"--base-model {shell_quote(launch.option('--model'))} "
                f"--model-type {shell_quote(launch.option('--model_type'))} ")

    def sweep_cmd(self, name: str) -> str:
        row = self.row(name)
        cmd = f"{self.python} -m eval.sweep --out {self.eval_root / name} --export-last {self.table_dir / 'results' / name}"
        if not row.trained:
            cmd += f" {self.base_model_args(row.backbone)}--system swift_plugins/prompts/" \
                   f"{self.env.get('BASE_PROMPT') or 'answer_only'}.txt"
        else:
            cmd += f" --run {self.output_root / name}"
            if self.env.get("EVAL_CHECKPOINTS", "last") == "last":
                cmd += " --last"
        for label in self.benchmarks:
            cmd += f" --benchmark {label} {self.bench_rows(label)} {shell_quote(self.meta(label))}"
        return (f"{cmd} --batch-size {self.env.get('EVAL_BATCH_SIZE') or 8} --max-new-tokens "
                f"{self.env.get('EVAL_MAX_NEW_TOKENS') or 1024} --engine {self.env.get('EVAL_ENGINE') or 'transformers'}")

    def report_cmd(self) -> str:
        return f"{self.python} -m eval.report --results {self.table_dir / 'results'} --out {self.table_dir / 'report.md'}"

    def plan_lines(self) -> list[str]:
        every = self.env.get("EVAL_CHECKPOINTS", "last") == "all"
        lines = [f"== {self.name}: rows {' '.join(self.rows)}; benchmarks {' '.join(self.benchmarks)}; outputs "
                 f"under {self.output_root}"]
        for name in self.rows:
            if not self.row(name).trained:
                lines.append(f"  {name}: base model, evaluate only")
            else:
                state = self.train_state(name).replace("resume:", "resume from ")
                lines.append(f"  {name}: train {state}, then evaluate "
                             f"{'every checkpoint' if every else 'the last checkpoint'}")
        lines.append(f"  report: {self.table_dir / 'report.md'}")
        return lines


def table_of(argv: Sequence[str], root: Path, env: Mapping[str, str]) -> Table:
    """The table command's plan, or :class:`TableError` naming what is wrong (before anything runs)."""
    cat = catalogue.load()
    name, wanted = (argv[0] if argv else ""), list(argv[1:])
    if name not in cat.tables:
        raise TableError(f"usage: bash recipes/table.sh {'|'.join(cat.tables)} [ROW ...]  (got '{name}')")
    table = cat.table(name)
    for row in wanted:
        if row not in table.rows:
            raise TableError(f"{row} is not a row of {name} ({' '.join(table.rows)})")
    rows = tuple(r for r in table.rows if r in wanted) if wanted else table.rows
    benchmarks = tuple((env.get("BENCHMARKS") or " ".join(table.benchmarks)).split())
    out = Table(cat, name, rows, benchmarks, root, dict(env), env.get("PYTHON") or sys.executable)
    if env.get("EVAL_CHECKPOINTS", "last") not in ("last", "all"):
        raise TableError("EVAL_CHECKPOINTS must be last or all")
    if env.get("MODEL") and len({cat.row(r).backbone for r in rows}) > 1:
        raise TableError("MODEL would apply to both backbones: set " + " and ".join(
            env_name(b, "MODEL") for b in dict.fromkeys(cat.row(r).backbone for r in rows)) + " instead")
    if env.get("DATA"):
        raise TableError("DATA would apply to SFT and GRPO rows alike: set GRPO_DATA, " + ", ".join(
            env_name("SFT", kind, "DATA") for kind in cat.sft_data))
    missing = [env_name(label, "META") for label in benchmarks if not env.get(env_name(label, "META"))]
    if missing and not out.dry:
        raise TableError(f"{name} needs {' '.join(missing)} (the official metadata file; docs/recipes.md 'Tables "
                         f"in one command'), or BENCHMARKS= to narrow it")
    for label in benchmarks:
        if not out.dry and not Path(out.meta(label)).is_file():
            raise TableError(f"{env_name(label, 'META')}={out.meta(label)}: no such file")
    return out


def dry_run(t: Table) -> None:
    for label in t.benchmarks:
        print(f"# benchmark {label}")
        print(t.bench_cmd(label))
    for name in t.rows:
        print(f"# row {name}")
        if t.row(name).trained:
            if t.train_state(name) == "finished":
                print(f"# (trained: {t.output_root / name} finished, not retrained)")
            else:
                try:
                    out, err = run.dry_run(name, t.root, {**t.row_env(name), "DRY_RUN": "1"}, t.name)
                    for line in err:
                        print(line, file=sys.stderr)
                    if out:
                        print("\n".join(out))
                except UsageError as error:
                    print(f"error: {error}", file=sys.stderr)
                    print("# (the recipe's dry run failed)")
        print(t.sweep_cmd(name))
    print("# report")
    print(t.report_cmd())


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tail(path: Path, n: int) -> str:
    if not path.is_file():
        return "    (none: the launch stopped before training; its message is above)"
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:]
    return "\n".join(f"    {line}" for line in lines)


def _append_run(cmd: str, log: Path, header: str) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as f:
        f.write(f"== {_now()} table.sh {header}\n")
        f.flush()
        return subprocess.call(cmd, shell=True, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def execute(t: Table) -> int:
    tag = f"[{t.name}]"
    t.table_dir.mkdir(parents=True, exist_ok=True)
    (t.eval_root / "benchmarks").mkdir(parents=True, exist_ok=True)
    for label in t.benchmarks:
        rows = t.bench_rows(label)
        if not (rows.is_file() and rows.stat().st_size):
            print(f"{tag} benchmark {label}: {t.bench_cmd(label)}", flush=True)
            with (t.eval_root / "benchmarks" / f"{label}.log").open("w") as log:
                if subprocess.call(t.bench_cmd(label), shell=True, stdout=log, stderr=subprocess.STDOUT):
                    raise TableError(f"building the {label} rows failed; see {t.eval_root / 'benchmarks' / label}.log")

    judge_ok: dict[str, bool] = {}   # the judge rows' own check, run once: a judge that does not answer fails them

    def judge_answers(launch) -> bool:
        if "ok" not in judge_ok:
            log = t.table_dir / "judge_check.log"
            print(f"{tag} judge check: {shlex.join(launch.judge_check)} -> {log}", flush=True)
            with log.open("w") as f:
                judge_ok["ok"] = subprocess.call(list(launch.judge_check), stdout=f, stderr=subprocess.STDOUT,
                                                 env={**os.environ, **launch.judge}) == 0
        return judge_ok["ok"]

    status, failed = [("row", "train", "evaluate", "logs")], []
    for name in t.rows:
        row, train, evaluate, logs = t.row(name), "-", "-", []
        if row.trained:
            out = t.output_root / name
            logs.append(str(out / "train.log"))
            state = t.train_state(name)
            try:
                launch = run.plan(name, t.root, {**t.row_env(name), "DRY_RUN": "1"}, t.name)
            except UsageError:
                launch = None   # the launch itself says why, into train.log
            if state == "finished":
                train = "finished before"
                print(f"{tag} {name}: trained already ({out}), not retrained", flush=True)
            elif launch is not None and launch.judge_check and not judge_answers(launch):
                train = "FAILED"
                print(f"{tag} {name}: FAILED, the judge does not answer (see {t.table_dir / 'judge_check.log'}; "
                      f"docs/judge.md)", file=sys.stderr, flush=True)
            else:
                print(f"{tag} {name}: {state.replace('resume:', 'resume from ')} -> {out / 'train.log'}", flush=True)
                # the launcher opens train.log itself once the row's directory is settled: a run it moves
                # aside keeps its own log, and a refusal shows here
                cmd = [sys.executable, "-m", "recipes.launch", name, "--root", str(t.root), "--table", t.name,
                       "--log", str(out / "train.log")]
                code = subprocess.call(cmd, env={**os.environ, **t.row_env(name)}, stdin=subprocess.DEVNULL)
                done = life.progress(out)
                if code == 0 and done.finished:
                    train = "trained"
                else:
                    train = f"FAILED ({done.line()})"
                    print(f"{tag} {name}: training FAILED at {done.line()}; last lines of {out / 'train.log'}:\n"
                          f"{_tail(out / 'train.log', 15)}", file=sys.stderr, flush=True)
        # an unfinished row's checkpoints are evaluated too: eval.sweep marks them intermediate, and the report
        # shows the row as unfinished with its steps
        if not train.startswith("FAILED") or life.progress(t.output_root / name).checkpoint is not None:
            log = t.eval_root / name / "sweep.log"
            cmd = t.sweep_cmd(name)
            print(f"{tag} {name}: evaluate -> {log}", flush=True)
            if _append_run(cmd, log, f"{t.name}: {cmd}") == 0:
                evaluate = "done"
            else:
                evaluate = "FAILED"
                print(f"{tag} {name}: evaluation FAILED; last lines of {log}:\n{_tail(log, 8)}", file=sys.stderr,
                      flush=True)
            logs.append(str(log))
        if train.startswith("FAILED") or evaluate == "FAILED":
            failed.append(name)
        status.append((name, train, evaluate, " ".join(logs)))
        (t.table_dir / "status.tsv").write_text("".join("\t".join(line) + "\n" for line in status))

    if glob.glob(str(t.table_dir / "results" / "*" / "*.json")):
        print(f"{tag} report: {t.report_cmd()}", flush=True)
        if subprocess.call(t.report_cmd(), shell=True):
            failed.append("report")
    else:
        print(f"{tag} no row has results; no report", file=sys.stderr)
    widths = [max(len(line[i]) for line in status) for i in range(4)]
    for line in status:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
    if failed:
        print(f"{tag} FAILED: {' '.join(failed)} (the other rows are done; fix and run the same command again)",
              file=sys.stderr)
        return 1
    print(f"{tag} done: {t.table_dir / 'report.md'}")
    return 0


def main(argv: Sequence[str] | None = None, root: Path | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    root = root or Path.cwd()   # the checkout (recipes/table.sh runs it there)
    try:
        t = table_of(argv, root, os.environ)
        print("\n".join(t.plan_lines()), flush=True)
        if t.dry:
            dry_run(t)
            return 0

        def interrupted(*_):
            print("table: interrupted; run the same command again to continue", file=sys.stderr)
            raise SystemExit(130)
        signal.signal(signal.SIGINT, interrupted)
        signal.signal(signal.SIGTERM, interrupted)
        return execute(t)
    except TableError as err:
        print(f"table: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
