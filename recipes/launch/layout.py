"""The batch-layout check of a GRPO row, run by the launcher before it prints or runs anything (dry run too).

It mirrors, rule for rule, what ms-swift 4.6 checks only after the model is loaded
(``swift/rlhf_trainers/args_mixin.py``, ``RolloutTrainerArgumentsMixin._init_generation_batch_params``;
``tests/recipes/test_layouts.py`` calls that function over a grid of settings and compares):

* global batch = per_device_train_batch_size x world size (NPROC_PER_NODE x NNODES training processes; a vLLM
  rollout server's GPUs are not among them);
* generation batch = global batch x steps_per_generation (default gradient_accumulation_steps), or
  --generation_batch_size, a multiple of the global batch; the two together must agree;
* generation batch % num_generations == 0; with evaluation, per_device_eval_batch_size x world size %
  num_generations_eval == 0;
* colocated vLLM: world size % vllm_tensor_parallel_size == 0 (``rollout_mixin.py``); beyond ms-swift's own
  rule, a tensor-parallel group must fit the GPUs shown and one node (:func:`check_tensor_parallel`).

docs/at-scale.md lists layouts that pass.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

AT_SCALE = "docs/at-scale.md"


class LayoutError(ValueError):
    """A layout ms-swift would refuse; the message names what to change."""


def refuse(what: str, change: str, why: str = "ms-swift 4.6 refuses this at start, after loading the model"):
    raise LayoutError(f"batch layout: {what} ({why}); {change}; see {AT_SCALE}")


def flag(extra_args: Sequence[str], name: str) -> str | None:
    """The value of ``--name`` in the extra arguments (``--name v`` or ``--name=v``), None when absent."""
    for i, token in enumerate(extra_args):
        if token == f"--{name}" and i + 1 < len(extra_args):
            return extra_args[i + 1]
        if token.startswith(f"--{name}="):
            return token.split("=", 1)[1]
    return None


@dataclass(frozen=True)
class Layout:
    world: int             # training processes
    generation_batch: int  # completions per generation
    per_step: int          # completions per optimisation step
    num_generations: int

    def line(self) -> str:
        return (f"layout: {self.world} training processes; {self.generation_batch} completions per generation "
                f"({self.generation_batch // self.num_generations} prompts x {self.num_generations}), "
                f"{self.per_step} per optimisation step")


def _positive(settings: Mapping[str, str], name: str) -> int:
    value = settings[name]
    if not (value.isdigit() and int(value) >= 1 and not value.startswith("0")):
        refuse(f"{name}={value} is not a positive integer", f"set {name} to a whole number >= 1", "not a batch size")
    return int(value)


def check_grpo_layout(settings: Mapping[str, str], extra_args: Sequence[str], vllm_on: bool,
                      visible_devices: str | None) -> Layout:
    """The layout of a GRPO row's settings (environment names), or :class:`LayoutError` naming what to change."""
    nproc, nnodes = _positive(settings, "NPROC_PER_NODE"), _positive(settings, "NNODES")
    per, grad_acc = _positive(settings, "PER_DEVICE_BATCH"), _positive(settings, "GRAD_ACC")
    gens = _positive(settings, "NUM_GENERATIONS")
    world, global_batch = nproc * nnodes, per * nproc * nnodes
    gbs_text = settings.get("GENERATION_BATCH_SIZE") or flag(extra_args, "generation_batch_size")
    spg_text = settings.get("STEPS_PER_GENERATION") or flag(extra_args, "steps_per_generation")
    for name, text in (("gbs", gbs_text), ("spg", spg_text)):
        if text not in (None, "") and not text.lstrip("-").isdigit():
            refuse(f"{name}={text} is not an integer",
                   "set GENERATION_BATCH_SIZE / STEPS_PER_GENERATION to whole numbers", "not a batch size")
    gbs = int(gbs_text) if gbs_text else None
    spg = int(spg_text) if spg_text else None
    term = f"PER_DEVICE_BATCH {per} x NPROC_PER_NODE {nproc} x NNODES {nnodes}"
    if gens < 2:
        refuse(f"NUM_GENERATIONS={gens}", "GRPO needs at least 2 completions per prompt")

    if gbs is None and spg is None:
        generation, source = global_batch * grad_acc, f"{term} x GRAD_ACC {grad_acc}"
    elif spg is None:
        if gbs % global_batch:
            refuse(f"generation_batch_size {gbs} is not a multiple of the global batch {global_batch} ({term})",
                   f"set GENERATION_BATCH_SIZE to a multiple of {global_batch}")
        generation, source = gbs, "GENERATION_BATCH_SIZE"
    elif gbs is None:
        if spg <= 0:
            refuse(f"steps_per_generation {spg}", "set STEPS_PER_GENERATION >= 1")
        generation, source = global_batch * spg, f"{term} x STEPS_PER_GENERATION {spg}"
    else:
        if gbs != global_batch * spg:
            refuse(f"generation_batch_size {gbs} != {term} x STEPS_PER_GENERATION {spg} = {global_batch * spg}",
                   "set only one of GENERATION_BATCH_SIZE and STEPS_PER_GENERATION")
        generation, source = gbs, "GENERATION_BATCH_SIZE"

    if generation % gens:
        fixes = []
        if gbs is None:
            need = gens // math.gcd(gens, global_batch)  # smallest GRAD_ACC (or STEPS_PER_GENERATION) that divides
            # With STEPS_PER_GENERATION set, both change together: the rewards plugin refuses a generation that is
            # not exactly one optimisation step (docs/at-scale.md, "Options the plugin checks").
            with_spg = f" with STEPS_PER_GENERATION={need}" if spg is not None else ""
            fixes.append(f"GRAD_ACC={need}{with_spg} (generation batch {global_batch * need})")
            steps = spg if spg is not None else grad_acc
            for n in range(nproc - 1, 0, -1):  # or fewer training processes per node
                if per * n * nnodes * steps % gens == 0:
                    fixes.append(f"NPROC_PER_NODE={n} (generation batch {per * n * nnodes * steps})")
                    break
        else:
            step = global_batch * gens // math.gcd(global_batch, gens)
            fixes.append(f"GENERATION_BATCH_SIZE={-(-gbs // step) * step}")
        fixes.append(f"NUM_GENERATIONS=a divisor (>= 2) of {generation}")
        refuse(f"generation batch {generation} = {source} is not divisible by NUM_GENERATIONS {gens}",
               "change one of: " + ", or ".join(fixes))

    if any(flag(extra_args, name) for name in ("val_dataset", "split_dataset_ratio", "eval_strategy")):
        eval_per = int(flag(extra_args, "per_device_eval_batch_size") or 1)
        eval_gens = int(flag(extra_args, "num_generations_eval") or gens)
        if eval_per * world % eval_gens:
            refuse(f"global eval batch {eval_per} x {world} processes is not divisible by num_generations_eval "
                   f"{eval_gens}", f"set --per_device_eval_batch_size in EXTRA_ARGS so that it times {world} is a "
                   f"multiple of {eval_gens}")

    shown = len(visible_devices.split(",")) if visible_devices and visible_devices != "-1" else None
    tp_text = flag(extra_args, "vllm_tensor_parallel_size") or settings.get("VLLM_TENSOR_PARALLEL_SIZE")
    if vllm_on and settings.get("VLLM_MODE") == "colocate" and tp_text:
        check_tensor_parallel(tp_text, world, nproc, nnodes, shown)
    if shown is not None:
        if shown < nproc:
            refuse(f"NPROC_PER_NODE {nproc} processes but CUDA_VISIBLE_DEVICES={visible_devices} shows {shown} GPUs",
                   "list one GPU per training process (a rollout server's or a judge's own GPUs are not among them)",
                   "torchrun would start ranks on GPUs that are not there")
    return Layout(world, generation, global_batch * grad_acc, gens)


def check_tensor_parallel(tp_text: str, world: int, nproc: int, nnodes: int, shown: int | None) -> None:
    """Colocated vLLM splits the training processes into tensor-parallel groups of consecutive ranks, one engine
    per group: ms-swift checks only that the size divides the world size (after loading the model); a group
    spanning two nodes or more GPUs than there are fails later still, inside vLLM."""
    if not (tp_text.isdigit() and int(tp_text) >= 1):
        refuse(f"vllm_tensor_parallel_size {tp_text} is not a positive integer",
               "set VLLM_TENSOR_PARALLEL_SIZE to a whole number >= 1", "not a tensor-parallel size")
    tp = int(tp_text)
    if world % tp:
        refuse(f"vllm_tensor_parallel_size {tp} does not divide the {world} training processes",
               f"use a tensor-parallel size that divides {world}")
    if shown is not None and tp > shown:
        refuse(f"vllm_tensor_parallel_size {tp} is more than the {shown} GPUs CUDA_VISIBLE_DEVICES shows",
               f"use a tensor-parallel size of at most {shown}", "vLLM would wait for GPUs that are not there")
    if nnodes > 1 and nproc % tp:
        refuse(f"vllm_tensor_parallel_size {tp} does not divide the {nproc} processes per node (NPROC_PER_NODE): "
               f"a tensor-parallel group would span two nodes", f"use a tensor-parallel size that divides {nproc}",
               "colocated vLLM runs each group's engine on one node")
