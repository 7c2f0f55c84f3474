"""Running real ms-swift jobs from tests: their environment, a logged run, where the outputs land, and
audio-QA rows in the format ``data_prep`` writes."""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
from pathlib import Path

from tests.helpers.paths import CACHE, REPO


def swift_env(extra: dict | None = None, cache: Path = CACHE) -> dict[str, str]:
    """This process's environment for a `swift` / recipe job: offline, CPU only, one thread, ms-swift's
    caches under ``cache``, this checkout first on PYTHONPATH (so that jobs load this code's plugin)."""
    env = dict(os.environ)
    env.update(MODELSCOPE_CACHE=str(cache / "modelscope"), HF_HUB_OFFLINE="1", CUDA_VISIBLE_DEVICES="",
               TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    env.update(extra or {})
    return env


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children (and theirs): how long a command takes on a machine shared
    with other jobs, where the wall clock of a one-second refusal reached 30 s under a load of 25."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_logged(cmd: list[str], cwd: Path, env: dict, timeout: int = 600, log: str = "run.log") -> str:
    """Run ``cmd`` in ``cwd``, keep its output in ``cwd/log``, fail the test with the output's tail unless it
    exits 0; returns the output."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
    (Path(cwd) / log).write_text(proc.stdout)
    assert proc.returncode == 0, f"{' '.join(cmd[:3])} exited {proc.returncode}:\n{proc.stdout[-5000:]}"
    return proc.stdout


def run_swift(args: list[str], cwd: Path, env: dict, timeout: int = 600, log: str = "run.log") -> str:
    """``swift ARGS`` through :func:`run_logged`."""
    return run_logged([shutil.which("swift") or "swift", *args], cwd, env, timeout, log)


def recipe_env(model: Path, data: Path, out_root: Path, **overrides) -> dict:
    """The GPU recipe scaled to the tiny checkpoints on CPU, as the offline demo does it."""
    return swift_env({"MODEL": str(model), "DATA": str(data), "OUTPUT_ROOT": str(out_root), "USE_CPU": "1",
                      "NPROC_PER_NODE": "1", "DEEPSPEED": "none", "TORCH_DTYPE": "float32",
                      "DATALOADER_WORKERS": "0", "REPORT_TO": "none", "PER_DEVICE_BATCH": "4", "GRAD_ACC": "1",
                      "MAX_STEPS": "2", "SAVE_STEPS": "2", "NUM_GENERATIONS": "4", "MAX_COMPLETION_LENGTH": "24",
                      **{k: str(v) for k, v in overrides.items()}})


def run_dir(output_dir: Path) -> Path:
    """ms-swift writes into output_dir/vN-<timestamp>/ (or output_dir itself with --add_version false)."""
    if (output_dir / "logging.jsonl").exists():
        return output_dir
    (found,) = sorted(p.parent for p in output_dir.glob("*/logging.jsonl"))
    return found


def audio_qa_row(audio: Path | str, prompt: str, choices: list[str], solution: str, answer_turn: bool = False,
                 **extra) -> dict:
    """One audio-QA row in ms-swift's multimodal format with the columns our rewards read; with
    ``answer_turn`` the gold answer is the assistant turn (an SFT target)."""
    messages = [{"role": "user", "content": f"<audio>{prompt}"}]
    if answer_turn:
        messages.append({"role": "assistant", "content": f"<answer>{solution}</answer>"})
    return {"messages": messages, "audios": [str(audio)], "solution": solution, "choices": list(choices), **extra}
