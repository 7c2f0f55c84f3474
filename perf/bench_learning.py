"""Evidence of learning on CPU: real `swift rlhf` GRPO runs on the tiny checkpoint, before/after per seed.

    python perf/bench_learning.py [--seeds 1 2 3] [--steps 20] [--experiments format atar control]

Each experiment trains the tiny random Qwen2-Audio (``.cache/tiny/qwen2-audio``, whose untrained weights
follow a noisy answer grammar: think or no-think, a random letter, sometimes broken) with one reward, and
logs two more at weight 0 so that what is *not* rewarded is visible too:

    atar     atar (R_a, Eq. 1–5)     prediction: the think ratio rises while accuracy stays at chance
    control  atar, learning rate 0   prediction: nothing moves (the same sampling, no updates)
    format   adaptive_format (R_f)   prediction: R_f rises (fewer truncated or run-on completions)

Why the think ratio must rise under ATAR at chance accuracy (Eq. 5): E[R_a | think] = γ_t − (1 − p) and
E[R_a | no-think] = (1 + p)·γ_n − 2(1 − p), so think mode has the higher expected reward iff
γ_t + 1 − p > (1 + p)·γ_n. With γ ≡ 1 that is p < 0.5; at p = 0.25 and step 0 it holds for λ < λ*
(printed below, about 0.9), where balancing stops the rise. The tiny model answers one of four letters at
random, so p ≈ 0.25 (lower still: malformed completions are incorrect in either mode).

Before = mean of the first 5 logged steps, after = mean of the last 5 (80 completions each); a change
counts as predicted when it exceeds twice its binomial standard error (the control shows that noise).
Runs are niced; one takes 1–3 minutes on 2 shared cores.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eval.simulate import expected_atar  # noqa: E402

CHOICES = ["a steady tone", "white noise", "a click train", "a chirp"]
# experiment -> (rewards with weights, learning rate, the logged mean it predicts, direction)
EXPERIMENTS = {
    "atar": ({"atar": 1, "think_rate": 0, "choice_accuracy": 0}, 5e-3, "ThinkRate", +1),
    "control": ({"atar": 1, "think_rate": 0, "choice_accuracy": 0}, 0.0, "ThinkRate", 0),
    "format": ({"adaptive_format": 1, "think_rate": 0, "choice_accuracy": 0}, 5e-3, "AdaptiveFormat", +1),
}
WATCHED = ["AdaptiveFormat", "ThinkRate", "ChoiceAccuracy"]
WINDOW = 5  # steps averaged for "before" and for "after"
COMPLETIONS_PER_STEP = 16


def make_data(root: Path, n: int = 16) -> Path:
    """n audio-QA rows (real 1.5 s WAVs, tones and noise), gold options A–D in turn."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * 16000)) / 16000
    options = " ".join(f"({chr(65 + k)}) {c}" for k, c in enumerate(CHOICES))
    rows = []
    for i in range(n):
        wave = 0.3 * np.sin(2 * np.pi * (220 + 55 * i) * t) if i % 2 == 0 else 0.1 * rng.standard_normal(t.size)
        path = root / f"clip_{i}.wav"
        sf.write(path, wave.astype("float32"), 16000, subtype="PCM_16")
        rows.append({"messages": [{"role": "user", "content": f"<audio>What do you hear? {options}"}],
                     "audios": [str(path)], "solution": CHOICES[i % 4], "choices": CHOICES, "id": f"clip_{i}"})
    data = root / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


def grpo(out: Path, data: Path, rewards: dict[str, float], seed: int, steps: int, lr: float,
         max_completion_length: int = 12) -> list[dict]:
    """One `swift rlhf` GRPO run (full fine-tuning, 2 prompts x 8 completions per step, no KL);
    returns the logged rows of its logging.jsonl."""
    args = ["rlhf", "--rlhf_type", "grpo", "--model", str(REPO / ".cache" / "tiny" / "qwen2-audio"),
            "--model_type", "qwen2_audio", "--external_plugins", str(REPO / "swift_plugins" / "rewards.py"),
            "--reward_funcs", *rewards, "--reward_weights", *map(str, rewards.values()),
            "--callbacks", "audio_thinker", "--dataset", str(data),
            "--system", str(REPO / "swift_plugins" / "prompts" / "adaptive_think.txt"),
            "--tuner_type", "full", "--torch_dtype", "float32", "--max_steps", str(steps),
            "--per_device_train_batch_size", str(COMPLETIONS_PER_STEP), "--num_generations", "8",
            "--max_completion_length", str(max_completion_length), "--temperature", "1.0", "--beta", "0.0",
            "--learning_rate", str(lr), "--lr_scheduler_type", "constant", "--warmup_ratio", "0",
            "--logging_steps", "1", "--save_strategy", "no", "--log_completions", "true", "--report_to", "none",
            "--dataloader_num_workers", "0", "--seed", str(seed), "--data_seed", str(seed),
            "--output_dir", str(out), "--add_version", "false"]
    env = {**os.environ, "MODELSCOPE_CACHE": str(REPO / ".cache" / "modelscope"), "HF_HUB_OFFLINE": "1",
           "CUDA_VISIBLE_DEVICES": "", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    out.mkdir(parents=True, exist_ok=True)
    cmd = ["nice", "-n", "10", shutil.which("swift") or "swift", *args]
    proc = subprocess.run(cmd, env=env, cwd=out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (out / "run.log").write_text(proc.stdout)
    log = out / "logging.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    rows = [r for r in rows if "reward" in r]
    if proc.returncode != 0:
        errors = [line for line in proc.stdout.splitlines() if "Error" in line and "WARNING" not in line]
        reason = f"swift rlhf exited {proc.returncode} after {len(rows)} steps: {(errors or ['?'])[-1][:150]}"
        if len(rows) < 2 * WINDOW:  # too few steps for a before/after
            raise RunFailed(f"{reason}; see {out / 'run.log'}")
        print(f"        note for seed {seed}: {reason}; before/after over the {len(rows)} logged steps")
    return rows


class RunFailed(Exception):
    pass


def before_after(rows: list[dict], key: str, k: int = WINDOW) -> tuple[float, float, float]:
    """Mean of ``rewards/<key>/mean`` over the first and the last k steps, and the standard error of their
    difference for a 0/1 reward (binomial, COMPLETIONS_PER_STEP samples a step): the sampling noise that
    the control run shows."""
    values = [r[f"rewards/{key}/mean"] for r in rows]
    before, after = float(np.mean(values[:k])), float(np.mean(values[-k:]))
    n = k * COMPLETIONS_PER_STEP
    se = math.sqrt(max(before * (1 - before), 1 / n) / n + max(after * (1 - after), 1 / n) / n)
    return before, after, se


def think_ratio_equilibrium(accuracy: float, progress: float = 0.0) -> float:
    """λ* where E[R_a | think] = E[R_a | no-think] (Eq. 5); 1.0 when think is better at every λ."""
    gap = lambda lam: (lambda t, n: t - n)(*expected_atar(accuracy, lam, progress))  # noqa: E731
    if gap(1.0) >= 0:
        return 1.0
    if gap(0.0) <= 0:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gap(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--experiments", nargs="+", choices=list(EXPERIMENTS), default=list(EXPERIMENTS))
    ap.add_argument("--keep", help="keep the run directories here (default: a temporary directory)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench_learning_"))
    data = make_data(work / "data")
    p = 0.25
    print(f"Eq. 5 at chance (p = {p}): think has the higher E[R_a] for λ < {think_ratio_equilibrium(p):.2f} "
          f"at step 0, for every λ once annealed (γ = 1: p < 0.5)")
    for name in args.experiments:
        rewards, lr, key, direction = EXPERIMENTS[name]
        print(f"\n{name}: rewards {rewards}, lr {lr}, {args.steps} steps; watched: rewards/{key}/mean "
              f"(predicted {'up' if direction > 0 else 'flat'})")
        print(f"  {'seed':>4}  " + "  ".join(f"{w:>16}" for w in WATCHED) + f"  {key} change ± se  as predicted")
        moves = []
        for seed in args.seeds:
            try:
                rows = grpo(work / f"{name}-seed{seed}", data, rewards, seed, args.steps, lr)
            except RunFailed as err:
                print(f"  {seed:>4}  run failed: {err}")
                continue
            cells = []
            for w in WATCHED:
                if f"rewards/{w}/mean" in rows[0]:
                    b, a, _ = before_after(rows, w)
                    cells.append(f"{b:.2f} -> {a:.2f}")
                else:
                    cells.append("-")
            b, a, se = before_after(rows, key)
            # "moved": the change exceeds twice its sampling standard error, in the predicted direction
            ok = (a - b > 2 * se) if direction > 0 else abs(a - b) <= 2 * se
            moves.append(a - b)
            print(f"  {seed:>4}  " + "  ".join(f"{c:>16}" for c in cells) + f"  {a - b:+.2f} ± {se:.2f}"
                  f"  {'yes' if ok else 'NO'}")
        if moves:
            print(f"  mean change of {key}: {np.mean(moves):+.2f} (min {min(moves):+.2f}, max {max(moves):+.2f})")
    print(f"\nrun directories: {work}")


if __name__ == "__main__":
    main()
