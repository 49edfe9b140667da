"""Data-parallel training with PyTorch DDP, launched by torchrun (gloo on CPU, nccl on GPU).

Each rank computes the same global batch of clip indices for a step and decodes only its contiguous
share. BatchNorm statistics are synchronised over the ranks (PyTorch's SyncBatchNorm is GPU-only), so a
run on W ranks computes what one process computes on the global batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..model.batch_norm import Synchronisation
from ..model.layers import TorchBatchNorm1d


@dataclass(frozen=True)
class Context:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str = "cpu") -> Context:
    """Join the process group torchrun describes (WORLD_SIZE > 1), else run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Context(0, 1, torch.device(device))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    rank = dist.get_rank()
    if device.startswith("cuda"):
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
        torch.cuda.set_device(device)
    return Context(rank, dist.get_world_size(), torch.device(device))


def teardown(context: Context) -> None:
    if context.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def share(keys: list, context: Context) -> list:
    """This rank's contiguous share of a global batch (the batch size must divide by the world size)."""
    if len(keys) % context.world:
        raise ValueError(f"batch size {len(keys)} does not divide over {context.world} processes")
    size = len(keys) // context.world
    return keys[context.rank * size : (context.rank + 1) * size]


def mean_over_ranks(value: float, context: Context) -> float:
    if context.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor)
    return tensor.item() / context.world


def sum_over_ranks(value: int, context: Context) -> int:
    if context.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=context.device)
    dist.all_reduce(tensor)
    return int(tensor.item())


class SyncedBatchNorm1d(TorchBatchNorm1d):
    """Training-mode BN with mean and biased variance over all ranks' samples (model/batch_norm.py)."""

    synchronisation = Synchronisation()


def _rebuilt(module: TorchBatchNorm1d, kind: type[TorchBatchNorm1d]) -> TorchBatchNorm1d:
    """A new `kind` module holding the same parameters and buffers (no copy), like convert_sync_batchnorm."""
    new = kind(module.num_features, eps=module.eps, momentum=module.momentum)
    new.weight, new.bias = module.weight, module.bias
    new.running_mean, new.running_var = module.running_mean, module.running_var
    new.num_batches_tracked = module.num_batches_tracked
    new.torch7_batch1_rule = module.torch7_batch1_rule
    new.train(module.training)
    return new


def _replace(model: nn.Module, source: type[nn.Module], kind: type[TorchBatchNorm1d]) -> nn.Module:
    for name, child in model.named_children():
        if type(child) is source:
            setattr(model, name, _rebuilt(child, kind))
        else:
            _replace(child, source, kind)
    return model


def synchronise_batchnorm(model: nn.Module) -> nn.Module:
    """Replace every TorchBatchNorm1d of `model` by a new SyncedBatchNorm1d sharing its parameters and buffers."""
    SyncedBatchNorm1d.synchronisation = Synchronisation(dist.new_group() if dist.is_initialized() else None)
    return _replace(model, TorchBatchNorm1d, SyncedBatchNorm1d)


def restore_batchnorm(model: nn.Module) -> nn.Module:
    """Undo synchronise_batchnorm (before saving or evaluating alone): new TorchBatchNorm1d modules again."""
    return _replace(model, SyncedBatchNorm1d, TorchBatchNorm1d)
