"""Data-parallel cells: torch DDP over the ranks a launcher gives (Slurm tasks, torchrun).

A cell runs on every rank with the same seed, config and data. The ranks see the same
global batches (every rank draws them from the same seeded generator) and each trains on
its contiguous share of every batch; DDP averages the gradients, so one step of N ranks is
one step on the whole batch. Evaluation splits the batches between the ranks and gathers
every prediction before scoring, so metrics are computed over the whole corpus, never
averaged across ranks. Rank 0 alone writes: checkpoints, predictions, the result file,
the log file and MLflow.

``batch_size`` is the batch of one forward and backward over all ranks, whatever their
number; an optimiser step may add up several of them (gradient accumulation, see
``accumulation_steps`` and harness/training/trainer.py), so that the clips of one step, the
effective batch, are ``batch_size x accumulation steps``, i.e. per-rank batch x accumulation steps x
ranks.

What differs from one rank: batch-norm statistics are those of each rank's share (on
CUDA the encoder's batch norms become ``SyncBatchNorm``; gloo on the CPU has no
synchronised batch norm), contrastive losses see the negatives of their own share, and a
last batch that does not split evenly weighs its shares' samples unequally. So N ranks
match one rank within a tolerance, not bit for bit (tests/test_distributed.py states it).

The world comes from the environment: ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (torchrun, or
exported by submitit's ``TorchDistributedEnvironment`` in a Slurm job with several tasks),
with ``MASTER_ADDR``/``MASTER_PORT`` for the rendezvous.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError

#: How long a collective may wait for the other ranks before the cell fails.
TIMEOUT_MIN = 30


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a cell."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def enabled(self) -> bool:
        """Whether more than one rank runs the cell."""
        return self.size > 1

    @property
    def main(self) -> bool:
        """Whether this is the rank that writes."""
        return self.rank == 0

    # -- collectives (no-ops on one rank) ------------------------------------------------
    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """The mean over ranks of each value (same keys on every rank)."""
        if not self.enabled:
            return values
        import torch
        import torch.distributed as dist

        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
        dist.all_reduce(t)
        return {k: float(v) / self.size for k, v in zip(keys, t.tolist(), strict=True)}

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()


SINGLE = World()


def world_from_env() -> World:
    """The world the launcher describes in the environment (one rank when it says nothing)."""
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return SINGLE
    return World(rank=int(os.environ["RANK"]), size=size,
                 local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def export_slurm_world() -> None:
    """In a Slurm job step with several tasks (a submitit job with ``tasks_per_node`` > 1),
    export the rendezvous variables torch reads; nothing on one task."""
    from submitit import JobEnvironment
    from submitit.helpers import TorchDistributedEnvironment

    try:
        tasks = JobEnvironment().num_tasks
    except RuntimeError:  # not in a submitit job
        return
    if tasks > 1:
        TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def init(world: World, device_type: str) -> World:
    """Join the process group of ``world`` (gloo on the CPU, nccl on CUDA)."""
    if not world.enabled:
        return world
    import torch.distributed as dist

    backend = "nccl" if device_type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=world.rank, world_size=world.size,
                                timeout=datetime.timedelta(minutes=TIMEOUT_MIN))
    return World(world.rank, world.size, world.local_rank, backend)


def shutdown(world: World) -> None:
    """Leave the process group."""
    if world.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def share(n: int, world: World) -> slice:
    """This rank's contiguous share of ``n`` items (shares differ in size by at most one)."""
    base, extra = divmod(n, world.size)
    start = world.rank * base + min(world.rank, extra)
    return slice(start, start + base + (1 if world.rank < extra else 0))


def accumulation_steps(stage: str, batch_size: int, effective: int | None) -> int:
    """How many batches of ``batch_size`` (over all ranks) one optimiser step of ``stage``
    adds up to train on ``effective`` clips (None: one batch, no accumulation)."""
    if effective is None:
        return 1
    if effective < 1 or effective % batch_size:
        below = max(0, effective // batch_size) * batch_size
        near = " or ".join(str(n) for n in (below, below + batch_size) if n)
        raise ConfigError(
            f"{stage}.effective_batch_size={effective} is not a multiple of "
            f"{stage}.batch_size={batch_size} (the batch of one forward and backward over all "
            f"devices): set it to a multiple such as {near}, or {stage}.batch_size to a "
            f"divisor of {effective}")
    return effective // batch_size


def wrap(model: Any, world: World, device: Any) -> Any:
    """A DDP module whose forward is ``model.loss`` (methods train through ``loss``)."""
    import torch

    class _Loss(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, batch: Any) -> Any:
            return self.inner.loss(batch)

    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device.index] if device.type == "cuda" else None
    # Ablations and frozen parts leave some parameters without gradients in a step.
    return torch.nn.parallel.DistributedDataParallel(_Loss(model), device_ids=ids,
                                                     find_unused_parameters=True)


def state_checksum(model: Any) -> str:
    """A hash of the model's parameters and buffers (equal on every rank after a DDP run)."""
    import hashlib

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
