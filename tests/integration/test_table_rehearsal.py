"""The table command for real, reduced to two rows of Table 1 (the Qwen2-Audio base model and sft-a, whose
two checkpoints are swept): killed mid-way, run again, it finishes without retraining or re-evaluating
what was done, and writes the sweep (one row per checkpoint, a PNG) and a report with a row for each.
scripts/rehearse_tables.sh runs all 16 rows the same way (docs/recipes.md, "Tables in one command")."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.paths import REPO
from tests.helpers.swift import swift_env

pytestmark = pytest.mark.slow


def rehearsal(out: Path, log: Path) -> subprocess.Popen:
    env = swift_env({"REHEARSAL_DIR": str(out), "REHEARSAL_STEPS": "2", "EVAL_CHECKPOINTS": "all"})
    return subprocess.Popen(["bash", str(REPO / "scripts" / "rehearse_tables.sh"), "table1", "qwen2-audio", "sft-a"],
                            cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(path: Path, proc: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"exited {proc.returncode} before {path}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.5)


def mtimes(*paths: Path) -> list[int]:
    return [p.stat().st_mtime_ns for p in paths]


def test_killed_table_run_resumes_without_redoing_finished_work(tmp_path):
    out, log = tmp_path / "rehearsal", tmp_path / "first.log"
    first = rehearsal(out, log)
    # sft-a is trained and its first checkpoint evaluated: kill the whole run (judge, training, inference)
    wait_for(out / "eval" / "sft-a" / "checkpoint-1" / "mmau.sweep.json", first, log)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not (out / "table1" / "report.md").exists()
    trained = [out / "sft-a" / "logging.jsonl", *sorted((out / "sft-a").glob("checkpoint-*/trainer_state.json"))]
    evaluated = [out / "eval" / "qwen2-audio" / "base" / "mmau.infer.log",
                 out / "eval" / "sft-a" / "checkpoint-1" / "mmau.infer.log"]
    before = mtimes(*trained, *evaluated)

    second = subprocess.run(["bash", str(REPO / "scripts" / "rehearse_tables.sh"), "table1", "qwen2-audio", "sft-a"],
                            cwd=REPO, env=swift_env({"REHEARSAL_DIR": str(out), "REHEARSAL_STEPS": "2",
                                                     "EVAL_CHECKPOINTS": "all"}),
                            capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    assert "sft-a: trained already" in second.stdout
    assert mtimes(*trained, *evaluated) == before  # not retrained, finished pairs not re-run
    assert len(trained) == 3 and (out / "sft-a" / "train.log").read_text().count("== ") == 1  # one training

    with (out / "eval" / "sft-a" / "sweep.csv").open() as f:
        sweep = list(csv.DictReader(f))
    assert [(r["step"], r["benchmark"]) for r in sweep] == [("1", "mmau"), ("2", "mmau")]  # one row per checkpoint
    assert all(r["n"] == "12" and r["accuracy"] and r["think_rate"] for r in sweep)
    assert (out / "eval" / "sft-a" / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    report = (out / "table1" / "report.md").read_text()
    # the synthetic set is no official MMAU file: a table of its own, no paper row beside it
    assert "| **qwen2-audio** | 12 |" in report and "| **sft-a** | 12 |" in report and "paper: " not in report
    status = (out / "table1" / "status.tsv").read_text().splitlines()
    assert [line.split("\t")[:3] for line in status[1:]] == [["qwen2-audio", "-", "done"],
                                                             ["sft-a", "finished before", "done"]]


def test_a_failed_row_is_reported_and_the_next_rows_still_run(tmp_path, scripted_server):
    """A judge that answers out of format fails the judge rows at once (one check, not one wait per row);
    the base-model row after them is still evaluated and the report written; the exit code says so."""
    judge = scripted_server(reply="I think it is fine.")  # no verdict line
    data = tmp_path / "data"
    subprocess.run(["python", "-m", "data_prep.synthetic", "--out", str(data), "--train", "4", "--eval", "4"],
                   cwd=REPO, env=swift_env(), check=True, capture_output=True)
    out = tmp_path / "out"
    env = swift_env({"OUTPUT_ROOT": str(out), "QWEN2_5_OMNI_MODEL": str(REPO / ".cache" / "tiny" / "qwen2.5-omni"),
                     "BENCHMARKS": "mmau", "MMAU_META": str(data / "mmau-demo.json"), "EVAL_MAX_NEW_TOKENS": "8",
                     "JUDGE_URL": judge.base_url, "JUDGE_MODEL": "scripted", "AUDIO_THINKER_JUDGE_MAX_RETRIES": "0"})
    env.pop("AUDIO_THINKER_JUDGE_URL", None)
    done = subprocess.run(["bash", str(REPO / "recipes" / "table.sh"), "table1", "model-b", "model-c", "qwen2.5-omni"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "model-b: FAILED, the judge does not answer" in done.stderr
    assert done.stdout.count("judge check:") == 1
    assert "FAILED: model-b model-c" in done.stderr
    status = [line.split("\t")[:3] for line in (out / "table1" / "status.tsv").read_text().splitlines()[1:]]
    assert status == [["model-b", "FAILED", "-"], ["model-c", "FAILED", "-"], ["qwen2.5-omni", "-", "done"]]
    assert not (out / "model-b").exists()  # nothing trained
    assert "| **qwen2.5-omni** |" in (out / "table1" / "report.md").read_text()
