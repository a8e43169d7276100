"""Multi-process training helpers: ``torchrun`` environment, synchronised BatchNorm.

``torch.nn.SyncBatchNorm`` only runs on accelerators, so on CPU (gloo) we swap in a
small BatchNorm whose batch statistics are summed across processes with the
differentiable ``torch.distributed.nn.functional.all_reduce``: autograd then gives
every rank the gradient of the global-batch BatchNorm, as SyncBN does on GPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device_type: str) -> DistInfo:
    """Join the process group ``torchrun`` describes (RANK/WORLD_SIZE/...), if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return info


def all_reduce_sum(value: torch.Tensor) -> torch.Tensor:
    """Sum across processes (no autograd); identity when not distributed."""
    if dist.is_available() and dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the batches of all processes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not dist.is_initialized():
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        # two passes (mean, then centred squares), like BatchNorm2d, for the same rounding
        dims = (0, 2, 3)
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype)
        total = all_reduce(torch.cat([x.sum(dim=dims), count]))
        n = total[-1]
        mean = total[:-1] / n
        centred = x - mean[None, :, None, None]
        var = all_reduce((centred * centred).sum(dim=dims)) / n
        assert self.running_mean is not None and self.running_var is not None
        assert self.num_batches_tracked is not None and self.momentum is not None
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            self.running_mean.mul_(1 - self.momentum).add_(mean.detach(), alpha=self.momentum)
            unbiased = var.detach() * n / (n - 1)
            self.running_var.mul_(1 - self.momentum).add_(unbiased, alpha=self.momentum)
        scale = self.weight / torch.sqrt(var + self.eps)
        return centred * scale[None, :, None, None] + self.bias[None, :, None, None]


def convert_sync_bn(model: nn.Module, device_type: str) -> nn.Module:
    """torch's SyncBatchNorm on GPUs, GlobalBatchNorm2d on CPU."""
    if device_type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            bn = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum)
            bn.load_state_dict(child.state_dict())
            setattr(model, name, bn)
        else:
            convert_sync_bn(child, device_type)
    return model


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
