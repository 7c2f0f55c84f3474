"""The commands of one launch of a row, built from the catalogue and the resolved settings: the data pre-flight,
the judge check, and the ``swift sft`` / ``swift rlhf`` command with the environment it runs in. Pure: nothing
here reads the environment, touches a file or starts a process, so a unit test can call it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import swift_plugins

from ..catalogue import Catalogue, Row
from .layout import Layout, check_grpo_layout
from .rollout import rollout_args

PLUGINS = Path(swift_plugins.__file__).absolute().parent  # what ms-swift loads (as imported: a linked checkout stays linked)
JUDGE_NOTE = ("row {row} uses the judge (think_consistency / think_quality): set AUDIO_THINKER_JUDGE_URL (e.g. "
              "http://127.0.0.1:8000/v1; bash recipes/judge.sh starts one and prints it)")


def shell_quote(word: str) -> str:
    """A word as bash's ``printf %q`` writes it (what the shell recipes printed; the dry-run fixture holds it)."""
    if word == "":
        return "''"
    return re.sub(r"([^A-Za-z0-9_./:=,+@%^-])", r"\\\1", word)


def shell_line(words: Sequence[str]) -> str:
    return "".join(f"{shell_quote(w)} " for w in words)


@dataclass(frozen=True)
class Launch:
    row: Row
    settings: Mapping[str, str]
    output_dir: Path
    env: Mapping[str, str]                 # what the swift command runs with (printed before it)
    argv: tuple[str, ...]                  # swift ...
    preflight: tuple[str, ...] | None      # python -m data_prep.preflight ...
    judge: Mapping[str, str] | None        # AUDIO_THINKER_JUDGE_URL / _MODEL for the judge check
    judge_check: tuple[str, ...] | None
    layout: Layout | None
    notes: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """The dry run's lines: every command, in the order they run."""
        out = []
        if self.preflight:
            out.append(shell_line(self.preflight))
        if self.judge_check:
            out.append(" ".join(f"{k}={v}" for k, v in self.judge.items()) + " " + shell_line(self.judge_check))
        out.append(" ".join(f"{k}={v}" for k, v in self.env.items()) + " " + shell_line(self.argv))
        return out

    def option(self, name: str) -> str | None:
        return self.argv[self.argv.index(name) + 1] if name in self.argv else None


def build(cat: Catalogue, row: Row, settings: Mapping[str, str], python: str, judge_env: Mapping[str, str],
          visible_devices: str | None = None, extra: Sequence[str] = ()) -> Launch:
    """The launch of ``row`` with ``settings`` (see :func:`settings.resolve`); ``extra`` is appended after
    ``EXTRA_ARGS`` (the launcher's own ``--resume_from_checkpoint``). Raises ``LayoutError`` or ``SettingsError``."""
    s = settings
    output_dir = Path(s["OUTPUT_ROOT"]) / row.name
    cpu = s["USE_CPU"] == "1"
    common = ["--model", s["MODEL"], "--model_type", s["MODEL_TYPE"], "--system", str(row.prompt_file()),
              "--output_dir", str(output_dir), "--add_version", "false", "--tuner_type", s["TUNER"],
              "--torch_dtype", s["TORCH_DTYPE"], "--per_device_train_batch_size", s["PER_DEVICE_BATCH"],
              "--gradient_accumulation_steps", s["GRAD_ACC"], "--save_steps", s["SAVE_STEPS"],
              "--logging_steps", s["LOGGING_STEPS"], "--seed", s["SEED"],
              "--dataloader_num_workers", s["DATALOADER_WORKERS"], "--report_to", s["REPORT_TO"]]
    if Path(s["MODEL"]).is_dir():
        common += ["--check_model", "false"]  # a local checkpoint needs no hub lookup (retried for seconds offline)
    if s["TUNER"] == "lora":
        common += ["--lora_rank", s["LORA_RANK"], "--lora_alpha", str(2 * int(s["LORA_RANK"])),
                   "--target_modules", "all-linear"]
    extra_plugins = []
    if cpu:
        common += ["--use_cpu", "true"]
        if int(s["NPROC_PER_NODE"]) * int(s["NNODES"]) > 1:
            common += ["--ddp_backend", "gloo"]
        if s["DEEPSPEED"] != "none":
            # DeepSpeed's CPU accelerator: its comm layer started by a plugin (accelerate skips it with --use_cpu),
            # and no fp16, which ms-swift turns on for float32 weights and DeepSpeed refuses on CPU.
            extra_plugins.append(str(PLUGINS / "cpu_deepspeed.py"))
            if s["TORCH_DTYPE"] == "float32":
                common += ["--fp16", "false"]
    if s["DEEPSPEED"] != "none":
        common += ["--deepspeed", s["DEEPSPEED"]]
    extra_args = s["EXTRA_ARGS"].split()
    layout = None
    if row.method == "grpo":
        rewards = list(row.rewards)
        names = [n for n, _ in rewards]
        rewards += [(m, "0") for m in cat.monitors if m not in names]  # dashboard monitors, reward unchanged
        argv = ["swift", "rlhf", "--rlhf_type", "grpo", *common, "--dataset", s["DATA"],
                "--external_plugins", str(PLUGINS / "rewards.py"), *extra_plugins, "--callbacks", "audio_thinker",
                "--reward_funcs", *[n for n, _ in rewards], "--reward_weights", *[w for _, w in rewards],
                "--max_steps", s["MAX_STEPS"], "--learning_rate", s["LR"], "--temperature", s["TEMPERATURE"],
                "--num_generations", s["NUM_GENERATIONS"], "--beta", s["BETA"],
                "--max_completion_length", s["MAX_COMPLETION_LENGTH"], "--log_completions", "true"]
        if s.get("GENERATION_BATCH_SIZE"):
            argv += ["--generation_batch_size", s["GENERATION_BATCH_SIZE"]]
        if s.get("STEPS_PER_GENERATION"):
            argv += ["--steps_per_generation", s["STEPS_PER_GENERATION"]]
        vllm_on = s["USE_VLLM"] == "true"
        layout = check_grpo_layout(s, extra_args, vllm_on, visible_devices)
        if vllm_on:
            argv += ["--use_vllm", "true", "--vllm_mode", s["VLLM_MODE"]]
            if s["VLLM_MODE"] == "server":
                argv += ["--vllm_server_host", s["VLLM_SERVER_HOST"], "--vllm_server_port", s["VLLM_SERVER_PORT"]]
            else:
                argv += ["--vllm_gpu_memory_utilization", s["VLLM_GPU_MEMORY_UTILIZATION"],
                         "--sleep_level", s["SLEEP_LEVEL"]]
            argv += rollout_args(s)
    else:
        argv = ["swift", "sft", *common, "--dataset", s["DATA"], "--num_train_epochs", s["EPOCHS"],
                "--external_plugins", str(PLUGINS / "compat_plugin.py"), *extra_plugins,
                "--learning_rate", s["LR"], "--max_steps", s["MAX_STEPS"]]
    # the row's own ms-swift options (a variant's --loss_type ...), before EXTRA_ARGS: the user's word is last
    argv += [word for name, value in row.swift_args for word in (f"--{name}", value)]
    argv += [*extra_args, *extra]

    judge = judge_check = None
    notes = []
    if row.needs_judge:
        judge = dict(judge_env)
        judge_check = (python, "-m", "swift_plugins.judge.check", "--wait", s["JUDGE_CHECK_WAIT"])
        if not judge["AUDIO_THINKER_JUDGE_URL"]:
            notes.append(JUDGE_NOTE.format(row=row.name))
    preflight = None
    if s["PREFLIGHT"] != "off":
        # --model: clips longer than the model's audio window (its feature-extractor config) are bad rows too
        preflight = [python, "-m", "data_prep.preflight", s["DATA"], "--kind", row.method, "--check", s["PREFLIGHT"],
                     "--model", s["MODEL"]]
        if s["PREFLIGHT_DROP_BAD"] == "1":
            clean = str(output_dir / "dataset.clean.jsonl")
            preflight += ["--clean-out", clean]
            argv = [clean if word == s["DATA"] else word for word in argv]
    env = {"NPROC_PER_NODE": s["NPROC_PER_NODE"], "NNODES": s["NNODES"]}
    if s.get("ENABLE_AUDIO_OUTPUT"):
        env["ENABLE_AUDIO_OUTPUT"] = s["ENABLE_AUDIO_OUTPUT"]
    env.update(row.env)   # the row's plugin switches (AUDIO_THINKER_*)
    return Launch(row, dict(s), output_dir, env, tuple(argv), tuple(preflight) if preflight else None, judge,
                  judge_check, layout, tuple(notes))
