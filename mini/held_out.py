"""The miniature's held-out items answered by the project's own evaluation under one system prompt:
``eval.infer`` -> ``eval.convert mmau`` -> ``eval.score mmau`` with the task's metadata, greedy or sampled.
Shared by ``mini.precondition`` (both prompts, greedy; the always-think prompt sampled) and ``mini.traces``
(sampled think traces of any checkpoint)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def evaluate(model: str, task: Path, out: Path, prompt: str, limit: int | None, batch: int,
             temperature: float = 0.0) -> tuple[dict, float]:
    """One prompt through eval.infer -> eval.convert -> eval.score; returns (score JSON, infer seconds).
    Greedy in ``out/PROMPT``; sampled (``temperature`` > 0) in ``out/PROMPT-sampled``."""
    run = out / (f"{prompt}-sampled" if temperature else prompt)
    run.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "",
           "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    py = [sys.executable, "-m"]
    infer = py + ["eval.infer", "--model", model, "--model-type", "qwen2_audio", "--benchmark-file",
                  str(task / "test.jsonl"), "--out", str(run / "preds.jsonl"), "--system",
                  str(REPO / "swift_plugins" / "prompts" / f"{prompt}.txt"), "--batch-size", str(batch),
                  "--max-new-tokens", "64", "--temperature", str(temperature)]
    if limit:
        infer += ["--limit", str(limit)]
    t0 = time.time()
    with open(run / "infer.log", "w") as log:
        subprocess.run(infer, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=True)
    seconds = time.time() - t0
    subprocess.run(py + ["eval.convert", "mmau", "--predictions", str(run / "preds.jsonl"), "--meta",
                         str(task / "test-meta.json"), "--out", str(run / "mmau_predictions.json")],
                   env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    meta = task / "test-meta.json"
    if limit:  # score the answered prefix only: the denominator is the items asked
        items = json.loads(meta.read_text())[:limit]
        meta = run / "test-meta.limit.json"
        meta.write_text(json.dumps(items))
    subprocess.run(py + ["eval.score", "mmau", "--input", str(run / "mmau_predictions.json"), "--meta", str(meta),
                         "--output", str(run / "mmau.json")], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return json.loads((run / "mmau.json").read_text()), seconds

