"""Training on several processes (torchrun): process group, sharded batches, reductions, rank 0's privileges.

`torchrun --nproc-per-node N cli.py train ...` starts N copies of the command; torchrun's environment
(WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT) is the only switch. Without it `start()` returns a
one-process `Dist` and nothing here talks to a process group, so a plain run is unchanged.

--batch-size stays the global batch: each of the W processes takes 1/W of every batch of the
one-process order (EpochSampler, a pure function of seed and epoch), so a run sees the same images
per step, in the same order, with any number of processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as torch_dist
from torch import nn
from torch.utils.data import Sampler

from modeling.errors import BadTrainingSetup
from modeling.training.data import EpochSampler


@dataclass(frozen=True)
class Dist:
    rank: int  # this process among all (0 writes the run directory, the bar and the logs)
    world_size: int  # processes in the run (1 = not distributed)
    local_rank: int  # this process on its machine: its GPU index

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


SINGLE = Dist(rank=0, world_size=1, local_rank=0)


def start(device: torch.device) -> Dist:
    """Join torchrun's process group (gloo on CPU, NCCL on CUDA); a plain run gets SINGLE."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return SINGLE
    dist = Dist(rank=int(os.environ["RANK"]), world_size=world_size, local_rank=int(os.environ["LOCAL_RANK"]))
    if device.type == "cuda":
        if dist.local_rank >= torch.cuda.device_count():
            raise BadTrainingSetup(f"torchrun started local rank {dist.local_rank} but this machine shows "
                                   f"{torch.cuda.device_count()} GPU(s); use --nproc-per-node <= the GPU count.")
        torch.cuda.set_device(dist.local_rank)
    if not torch_dist.is_initialized():
        torch_dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist


def stop(dist: Dist) -> None:
    """Leave the process group (after a barrier, so no process exits while another still reduces)."""
    if dist.active and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def abandon(dist: Dist) -> None:
    """Leave the process group after a failure, without waiting for processes that may never arrive."""
    if dist.active and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def wrap(model: nn.Module, dist: Dist, device: torch.device, *, unused_parameters: bool) -> nn.Module:
    """The module the loop calls: DistributedDataParallel when distributed, else the model itself.

    `unused_parameters` for runs that freeze the backbone for some epochs (its weights get no gradient then).
    """
    if not dist.active:
        return model
    device_ids = [dist.local_rank] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=unused_parameters)


def broadcast(value, dist: Dist):
    """Rank 0's `value` on every process (any picklable object)."""
    if not dist.active:
        return value
    box = [value if dist.is_main else None]
    torch_dist.broadcast_object_list(box, src=0)
    return box[0]


def reduce_train_stats(stats: dict, dist: Dist) -> dict:
    """One epoch's loss and images/s over all processes: the loss weighted by images, the slowest clock."""
    if not dist.active:
        return stats
    totals = torch.tensor([stats["loss"] * stats["images"], stats["images"], stats["seconds"]], dtype=torch.float64)
    summed, slowest = totals[:2].clone(), totals[2:].clone()
    summed, slowest = _all_reduce(summed, torch_dist.ReduceOp.SUM), _all_reduce(slowest, torch_dist.ReduceOp.MAX)
    images, seconds = float(summed[1]), float(slowest[0])
    return {"loss": float(summed[0]) / max(images, 1.0), "images": int(images),
            "images_per_s": images / max(seconds, 1e-9), "seconds": seconds}


def gather_inference(out: dict, dist: Dist) -> dict:
    """Every process's share of `infer` put back together, in the one-process (manifest) order.

    Process r inferred rows r, r+W, r+2W, ... (see `shard`); the loss is weighted by rows.
    """
    if not dist.active:
        return out
    parts = [None] * dist.world_size
    torch_dist.all_gather_object(parts, out)
    total = sum(len(part["bins"]) for part in parts)
    merged = {}
    for key in ("outputs", "bins", "years"):
        first = parts[0][key]
        merged[key] = np.empty((total, *first.shape[1:]), dtype=first.dtype)
        for rank, part in enumerate(parts):
            merged[key][rank::dist.world_size] = part[key]
    merged["loss"] = sum(part["loss"] * len(part["bins"]) for part in parts) / max(total, 1)
    return merged


def shard(rows: list, dist: Dist) -> list:
    """This process's share of an evaluation split: every W-th row from its rank."""
    return rows[dist.rank::dist.world_size]


class ShardedBatchSampler(Sampler):
    """Batches of (row, augment seed) keys: this process's 1/W of each global batch of an EpochSampler.

    A last global batch too small to give every process two images is dropped (a batch of one breaks
    BatchNorm in train mode); with W = 1 that is the one-image last batch, as a plain DataLoader would drop.
    """

    def __init__(self, sampler: EpochSampler, batch_size: int, dist: Dist):
        if batch_size % dist.world_size:
            raise BadTrainingSetup(f"--batch-size {batch_size} is the global batch and must split evenly over "
                                   f"{dist.world_size} processes; use a multiple of {dist.world_size}.")
        self.sampler, self.batch_size, self.dist = sampler, batch_size, dist

    def _global_batches(self) -> int:
        full, last = divmod(len(self.sampler), self.batch_size)
        return full + (1 if last >= 2 * self.dist.world_size else 0)

    def __len__(self) -> int:
        return self._global_batches()

    def __iter__(self):
        keys = list(self.sampler)
        for step in range(self._global_batches()):
            batch = keys[step * self.batch_size:(step + 1) * self.batch_size]
            yield batch[self.dist.rank::self.dist.world_size]


def _all_reduce(tensor: torch.Tensor, op) -> torch.Tensor:
    # NCCL reduces CUDA tensors only; gloo CPU ones.
    device = torch.device("cuda", torch.cuda.current_device()) if torch_dist.get_backend() == "nccl" else "cpu"
    moved = tensor.to(device)
    torch_dist.all_reduce(moved, op=op)
    return moved.cpu()
