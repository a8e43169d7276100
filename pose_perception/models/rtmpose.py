"""RTMPose = CSPNeXt backbone + RTMCC head (of a named variant), and checkpoint loading."""

from __future__ import annotations

import os

import torch
from torch import nn

from pose_perception.model_info import ModelInfo, rtmpose_info
from pose_perception.models.cspnext import CSPNeXt
from pose_perception.models.rtmcc_head import RTMCCHead
from pose_perception.skeletons import Skeleton
from pose_perception.variants import RTMPoseVariant, get_variant


class RTMPose(nn.Module):
    """Top-down pose network: an N×3×H×W normalised RGB batch → (simcc_x, simcc_y) logits."""

    def __init__(self, variant: RTMPoseVariant, num_keypoints: int = 17) -> None:
        super().__init__()
        self.variant = variant
        self.num_keypoints = num_keypoints
        self.backbone = CSPNeXt(deepen_factor=variant.deepen_factor, widen_factor=variant.widen_factor)
        self.head = RTMCCHead(
            in_channels=self.backbone.out_channels,
            num_keypoints=num_keypoints,
            input_size=variant.input_size,
            simcc_split_ratio=variant.simcc_split_ratio,
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.backbone(x))

    def model_info(self, skeleton: Skeleton | None = None) -> ModelInfo:
        """What running this network needs besides its weights (COCO-17 by default)."""
        return rtmpose_info(self.variant, self.num_keypoints, skeleton)


def build_rtmpose(name: str, num_keypoints: int = 17) -> RTMPose:
    """Build a named variant (``rtmpose-t/s/m/l``, ``rtmpose-m/l-384x288``), randomly initialised."""
    if num_keypoints < 1:
        raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}")
    return RTMPose(get_variant(name), num_keypoints)


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model; the message lists every offending key."""


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a plain state_dict or an MMEngine ``{'meta':..., 'state_dict':...}`` file safely."""
    from pose_perception.models.safe_load import safe_torch_load

    obj = safe_torch_load(path)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointMismatchError(
            f"{path}: expected a state_dict (name → tensor) or {{'state_dict': ...}}"
        )
    return obj


def check_state_dict(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Raise CheckpointMismatchError listing missing, unexpected and shape-mismatched keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state)
        if state[k].shape != expected[k].shape
    )
    if missing or unexpected or mismatched:
        parts = []
        for title, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch", mismatched),
        ):
            if keys:
                parts.append(f"{len(keys)} {title}:\n  " + "\n  ".join(keys))
        raise CheckpointMismatchError("checkpoint does not match the model\n" + "\n".join(parts))


def load_checkpoint(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Load weights strictly (official key names, no renaming) and return the model."""
    state = read_state_dict(path)
    try:
        check_state_dict(model, state)
    except CheckpointMismatchError as err:
        raise CheckpointMismatchError(f"{path}: {err}") from None
    model.load_state_dict(state, strict=True)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
