"""Optimiser, learning-rate schedule and EMA of the RTMPose recipe."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from pose_perception.training.config import TrainConfig

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on normalisation layers and biases
    (MMEngine ``norm_decay_mult=0, bias_decay_mult=0``)."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            (no_decay if isinstance(module, _NORMS) or name == "bias" else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.scaled_lr)


def lr_factor(it: int, iters_per_epoch: int, cfg: TrainConfig) -> float:
    """Multiplier of the base lr at iteration ``it``: linear warm-up from
    ``warmup_start_factor`` over ``warmup_iters``, flat, then cosine to ``eta_min_ratio``
    from ``cosine_begin_epoch`` (default half-way) to the end, per iteration."""
    factor = 1.0
    if it < cfg.warmup_iters:
        factor = cfg.warmup_start_factor + (1 - cfg.warmup_start_factor) * it / cfg.warmup_iters
    begin_epoch = cfg.epochs // 2 if cfg.cosine_begin_epoch is None else cfg.cosine_begin_epoch
    begin, end = begin_epoch * iters_per_epoch, cfg.epochs * iters_per_epoch
    if it >= begin and end > begin:
        t = min(1.0, (it - begin) / (end - begin))
        factor *= cfg.eta_min_ratio + (1 - cfg.eta_min_ratio) * 0.5 * (1 + math.cos(math.pi * t))
    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer, iters_per_epoch: int, cfg: TrainConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """Stepped once per iteration; its state is just the iteration count."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: lr_factor(it, iters_per_epoch, cfg))


class ExpMomentumEMA:
    """Exponential moving average of parameters *and* buffers whose momentum decays from
    ~1 to ``momentum`` with time constant ``gamma`` iterations (YOLOX/MMDet style):
    ``m = (1 − momentum)·exp(−(1 + step)/gamma) + momentum``; ``avg ← (1 − m)·avg + m·x``.
    """

    def __init__(self, model: nn.Module, momentum: float = 2e-4, gamma: int = 2000) -> None:
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.momentum, self.gamma, self.steps = momentum, gamma, 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        m = (1 - self.momentum) * math.exp(-float(1 + self.steps) / self.gamma) + self.momentum
        source = model.state_dict()
        for name, avg in self.module.state_dict().items():
            if self.steps == 0 or not avg.dtype.is_floating_point:
                avg.copy_(source[name])
            else:
                avg.mul_(1 - m).add_(source[name].detach(), alpha=m)
        self.steps += 1

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "module": self.module.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.module.load_state_dict(state["module"])
