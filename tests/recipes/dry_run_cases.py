"""The recorded ``DRY_RUN=1`` commands of every row and table: the cases, how one is run, and how its output
is made independent of the checkout's path and the interpreter.

``python -m tests.recipes.dry_run_cases --record`` rewrites ``dry_runs.json`` from the scripts as they are.
It was recorded from the shell recipes (``recipes/_base.sh``, ``_layout.sh`` and ``table.sh`` in shell, last
on main just before the launcher replaced them), so ``test_dry_run_fixture.py`` shows that every command is
the same afterwards (except the differences it lists, each with its reason). Do not re-record it to make
that test pass: a difference is either a fault or a deliberate change to list there.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import REPO

FIXTURE = Path(__file__).with_name("dry_runs.json")
ROWS = ("sft-a", "sft-b", "grpo-a", "grpo-b", "model-a", "model-b", "model-c",
        "sft-c", "sft-d", "grpo-c", "grpo-d", "model-d", "model-e", "model-f")
JUDGE = {"AUDIO_THINKER_JUDGE_URL": "http://judge-node:8000/v1"}
METAS = {"MMAU_META": "/b/mmau.json", "MMAU_V2025_META": "/b/mmau2025.json", "MMAR_META": "/b/mmar.json",
         "AIR_META": "/b/air.json"}
TINY = "<REPO>/.cache/tiny/qwen2-audio"   # an existing folder: --check_model false
CPU_DEMO = {"MODEL": TINY, "USE_CPU": "1", "NPROC_PER_NODE": "1", "DEEPSPEED": "none", "TORCH_DTYPE": "float32",
            "DATALOADER_WORKERS": "0", "REPORT_TO": "none", "PER_DEVICE_BATCH": "4", "GRAD_ACC": "1",
            "MAX_STEPS": "4", "SAVE_STEPS": "4", "NUM_GENERATIONS": "4", "MAX_COMPLETION_LENGTH": "48"}

# name -> (script and arguments, environment); <REPO> stands for the checkout
CASES: dict[str, tuple[list[str], dict[str, str]]] = {
    **{f"{row}": ([f"{row}.sh"], JUDGE) for row in ROWS},
    **{f"{row} overrides": ([f"{row}.sh"], {**JUDGE, "MODEL": "/ckpt/x", "MAX_STEPS": "7", "TUNER": "lora",
                                            "DEEPSPEED": "zero2", "VLLM_MODE": "server",
                                            "VLLM_SERVER_HOST": "10.0.0.2", "NUM_GENERATIONS": "4",
                                            "DATA": "/data/t.jsonl", "OUTPUT_ROOT": "/runs"})
       for row in ("model-c", "grpo-a", "sft-b")},
    "model-f two nodes": (["model-f.sh"], {**JUDGE, "NNODES": "2", "NPROC_PER_NODE": "8", "GRAD_ACC": "1"}),
    "model-c cpu two processes": (["model-c.sh"], {**JUDGE, "USE_CPU": "1", "NPROC_PER_NODE": "2",
                                                   "NUM_GENERATIONS": "4"}),
    "model-a cpu deepspeed": (["model-a.sh"], {"USE_CPU": "1", "NPROC_PER_NODE": "2", "DEEPSPEED": "zero3",
                                               "TORCH_DTYPE": "float32", "PER_DEVICE_BATCH": "4", "GRAD_ACC": "1",
                                               "NUM_GENERATIONS": "4"}),
    "sft-a cpu deepspeed": (["sft-a.sh"], {"USE_CPU": "1", "NPROC_PER_NODE": "2", "DEEPSPEED": "zero3",
                                           "TORCH_DTYPE": "float32"}),
    "model-c demo on cpu": (["model-c.sh"], {**JUDGE, **CPU_DEMO, "OUTPUT_ROOT": "/demo/runs"}),
    "sft-a demo on cpu": (["sft-a.sh"], {**CPU_DEMO, "LR": "1e-4", "OUTPUT_ROOT": "/demo/runs"}),
    "model-c no judge url": (["model-c.sh"], {}),
    "model-c short judge variables": (["model-c.sh"], {"JUDGE_URL": "http://10.0.0.9:8000/v1",
                                                       "JUDGE_MODEL": "qwen", "JUDGE_CHECK_WAIT": "5"}),
    "grpo-b every option": (["grpo-b.sh"], {"LR": "3e-6", "TEMPERATURE": "0.9", "BETA": "0.1", "LORA_RANK": "8",
                                            "TUNER": "lora", "SAVE_STEPS": "5", "LOGGING_STEPS": "2",
                                            "SEED": "7", "REPORT_TO": "wandb", "MODEL_TYPE": "qwen2_audio",
                                            "EXTRA_ARGS": "--max_length 4096 --warmup_ratio 0.1",
                                            "VLLM_GPU_MEMORY_UTILIZATION": "0.3", "SLEEP_LEVEL": "2",
                                            "PER_DEVICE_BATCH": "2", "GRAD_ACC": "4",
                                            "MAX_COMPLETION_LENGTH": "512"}),
    "grpo-a generation batch": (["grpo-a.sh"], {"GENERATION_BATCH_SIZE": "32"}),
    "grpo-a steps per generation": (["grpo-a.sh"], {"STEPS_PER_GENERATION": "4", "GRAD_ACC": "4"}),
    "grpo-a no vllm": (["grpo-a.sh"], {"USE_VLLM": "false"}),
    "grpo-a preflight full": (["grpo-a.sh"], {"PREFLIGHT": "full"}),
    "grpo-a preflight off": (["grpo-a.sh"], {"PREFLIGHT": "off"}),
    "grpo-a preflight drop bad": (["grpo-a.sh"], {"PREFLIGHT_DROP_BAD": "1", "OUTPUT_ROOT": "/runs"}),
    "sft-c epochs": (["sft-c.sh"], {"EPOCHS": "3", "LR": "2e-5"}),
    "grpo-a bad layout": (["grpo-a.sh"], {"NUM_GENERATIONS": "6"}),
    "grpo-a bad number": (["grpo-a.sh"], {"GRAD_ACC": "two"}),
    "grpo-a tensor parallel": (["grpo-a.sh"], {"EXTRA_ARGS": "--vllm_tensor_parallel_size 3"}),
    "grpo-a eval batch": (["grpo-a.sh"], {"EXTRA_ARGS": "--split_dataset_ratio 0.1 --num_generations_eval 3"}),
    "grpo-a visible gpus": (["grpo-a.sh"], {"CUDA_VISIBLE_DEVICES": "0,1"}),
    **{f"table {t}": (["table.sh", t], {"OUTPUT_ROOT": "/runs"}) for t in
       ("table1", "table2", "table3", "table4", "table5", "table6", "all")},
    "table table1 with inputs": (["table.sh", "table1"], {
        "OUTPUT_ROOT": "/runs", **METAS, **JUDGE, "QWEN2_AUDIO_MODEL": "/m/qa", "QWEN2_5_OMNI_MODEL": "/m/omni",
        "GRPO_DATA": "/d/grpo.jsonl", "SFT_ANSWERS_DATA": "/d/ans.jsonl", "SFT_COT_DATA": "/d/cot.jsonl",
        "MAX_STEPS": "2", "EVAL_CHECKPOINTS": "all", "EVAL_BATCH_SIZE": "2", "EVAL_MAX_NEW_TOKENS": "64",
        "EVAL_ENGINE": "vllm", "BASE_PROMPT": "adaptive_think", "MMAU_AUDIO_ROOT": "/audio/mmau"}),
    "table table1 some rows": (["table.sh", "table1", "model-a", "grpo-a", "qwen2.5-omni"],
                               {"OUTPUT_ROOT": "/runs", "BENCHMARKS": "mmau", "MMAU_META": "/b/mmau.json"}),
    "table table2 one model": (["table.sh", "table2", "model-c"], {"OUTPUT_ROOT": "/runs", "MODEL": "/m/x",
                                                                   "MMAU_META": "/b/mmau.json"}),
    "table bad row": (["table.sh", "table2", "grpo-a"], {"OUTPUT_ROOT": "/runs"}),
    "table mixed model": (["table.sh", "table2"], {"OUTPUT_ROOT": "/runs", "MODEL": "/m/x"}),
    "table data": (["table.sh", "table1"], {"OUTPUT_ROOT": "/runs", "DATA": "/d/x.jsonl"}),
    "table unknown": (["table.sh", "table9"], {"OUTPUT_ROOT": "/runs"}),
}


def run_case(name: str, repo: Path = REPO) -> dict:
    """Run one case with a fixed environment; its output with the checkout and interpreter replaced by
    <REPO> and <PYTHON>."""
    argv, env = CASES[name]
    env = {k: v.replace("<REPO>", str(repo)) for k, v in env.items()}
    full = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(repo), "DRY_RUN": "1",
            "PYTHON": sys.executable, **env}
    out = subprocess.run(["bash", str(repo / "recipes" / argv[0]), *argv[1:]], capture_output=True, text=True,
                         env=full, timeout=120, cwd=repo)

    def clean(text: str) -> str:
        return text.replace(sys.executable, "<PYTHON>").replace(str(repo), "<REPO>")
    return {"rc": out.returncode, "stdout": clean(out.stdout),
            "stderr": clean(out.stderr) if out.returncode else ""}


def record() -> None:
    FIXTURE.write_text(json.dumps({name: run_case(name) for name in CASES}, indent=1, sort_keys=False) + "\n",
                       encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python -m tests.recipes.dry_run_cases --record")
    record()
