"""PyTorch backend (CPU or CUDA) for an RTMPose ``nn.Module`` or checkpoint.

Importing this file does not import torch (the backend table lists it on robots
without torch); building a backend does.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from pose_perception.model_info import DEFAULT_SKELETONS, ModelInfo

if TYPE_CHECKING:
    import torch
    from torch import nn

DEVICES = ("cpu", "cuda", "auto")


def parse_device(device: str) -> tuple[str, int | None]:
    """``cuda:1`` → ("cuda", 1); anything torch cannot run RTMPose on is a clear error."""
    kind, sep, index = device.partition(":")
    if kind not in DEVICES or (sep and (kind == "auto" or not index.isdigit())):
        raise ValueError(f"unsupported torch device {device!r}; use cpu, cuda, cuda:N or auto")
    return kind, int(index) if sep else None


def resolve_torch_device(device: str) -> torch.device:
    import torch

    parse_device(device)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but PyTorch sees no CUDA GPU")
    return dev


class TorchBackend:
    name = "torch"

    def __init__(self, model: nn.Module, device: str = "cpu", half: bool = False) -> None:
        self.device = resolve_torch_device(device)
        self.half = half and self.device.type == "cuda"
        self.model = model.to(self.device).eval()
        if self.half:
            self.model.half()

    def infer(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
            if self.half:
                x = x.half()
            simcc_x, simcc_y = self.model(x)
            return simcc_x.float().cpu().numpy(), simcc_y.float().cpu().numpy()


def open_model(
    model: str | os.PathLike[str] | nn.Module, info: ModelInfo | None, device: str, threads: int | None
) -> tuple[TorchBackend, ModelInfo]:
    """A module as it is, or a checkpoint loaded into the network ``info`` names; ``info``
    describes either (``threads`` is ONNX Runtime's setting: torch keeps its own)."""
    if info is None:
        raise ValueError("the torch backend needs the module's ModelInfo (RTMPose.model_info())")
    if isinstance(model, (str, os.PathLike)):
        model = load_top_down(model, info)
    return TorchBackend(model, device), info


def load_top_down(checkpoint: str | os.PathLike[str], info: ModelInfo) -> nn.Module:
    """The network ``info`` names with ``checkpoint``'s weights. A checkpoint whose keypoint count
    differs from ``info``'s schema (a whole-body model given a body schema) is one clear line."""
    from pose_perception.models import CheckpointMismatchError, build_top_down, load_checkpoint

    model = build_top_down(info.arch, info.num_keypoints)
    try:
        return load_checkpoint(model, checkpoint)
    except CheckpointMismatchError:
        found = _checkpoint_keypoints(model, checkpoint, info.num_keypoints)
        if found is None:
            raise
    hint = f"; pass skeleton={DEFAULT_SKELETONS[found]!r}" if found in DEFAULT_SKELETONS else ""
    raise ValueError(
        f"{checkpoint}: the checkpoint outputs {found} keypoints, skeleton {info.skeleton.name!r} "
        f"has {info.num_keypoints}{hint}"
    ) from None


def _checkpoint_keypoints(model: nn.Module, checkpoint: str | os.PathLike[str], expected: int) -> int | None:
    """The checkpoint's keypoint count when that alone is what differs from ``model``: every
    mismatching tensor is a per-keypoint one (first dimension) of the same count; else None."""
    from pose_perception.models.rtmpose import read_state_dict

    state = read_state_dict(checkpoint)
    ours = model.state_dict()
    if set(state) != set(ours):
        return None
    differing = [(tuple(state[key].shape), tuple(value.shape)) for key, value in ours.items()]
    differing = [(theirs, mine) for theirs, mine in differing if theirs != mine]
    if not differing or not all(t[1:] == m[1:] and m[:1] == (expected,) for t, m in differing):
        return None
    counts = {theirs[0] for theirs, _ in differing}
    return counts.pop() if len(counts) == 1 else None
