"""DeepSpeed on CPU processes: an ``--external_plugins`` file the recipes add when USE_CPU=1 and DEEPSPEED is set.

On a GPU node accelerate starts DeepSpeed's communication layer (``deepspeed.comm``) itself. With
``--use_cpu true`` it does not: accelerate 1.15 (``PartialState.__init__``) takes that branch only
``if not cpu``, and sets up plain torch.distributed (gloo) instead. ZeRO-3's ``zero.Init`` then asks
``deepspeed.comm`` for the world size, gets an error, falls back to 1 and stops on its batch check
("train_batch_size ... 4 != 2 * 1 * 1"); without ``--use_cpu``, accelerate finds no GPU backend and
believes it is alone (ms-swift then refuses "generation_batch_size (2) must be evenly divisible ...").

Starting ``deepspeed.comm`` here, when ms-swift imports its plugins (after torchrun set RANK and
WORLD_SIZE, before the model loads), on DeepSpeed's CPU accelerator (gloo), gives accelerate an
initialised process group to adopt and ZeRO the real world size. Nothing else changes; on a GPU run
the recipes never load this file. docs/at-scale.md has the evidence run.
"""
import os

if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    import deepspeed  # the CPU run asked for DeepSpeed: a missing install should fail here, by name

    if not deepspeed.comm.is_initialized():
        deepspeed.init_distributed(dist_backend="gloo", auto_mpi_discovery=False)
