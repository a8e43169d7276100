"""PyTorch backend (CPU or CUDA) for an ``nn.Module`` returning (simcc_x, simcc_y)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def resolve_torch_device(device: str) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but PyTorch sees no CUDA GPU")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported torch device {device!r}; use cpu, cuda, cuda:N or auto")
    return dev


class TorchBackend:
    name = "torch"

    def __init__(self, model: nn.Module, device: str = "cpu", half: bool = False) -> None:
        self.device = resolve_torch_device(device)
        self.half = half and self.device.type == "cuda"
        self.model = model.to(self.device).eval()
        if self.half:
            self.model.half()

    @torch.inference_mode()
    def infer(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        if self.half:
            x = x.half()
        simcc_x, simcc_y = self.model(x)
        return simcc_x.float().cpu().numpy(), simcc_y.float().cpu().numpy()
