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


class TopDownNetwork(nn.Module):
    """A top-down network of a named variant (RTMPose, RTMW): an N×3×H×W normalised RGB batch
    → (simcc_x, simcc_y) logits; it describes what running it needs besides its weights."""

    def __init__(self, variant: RTMPoseVariant, num_keypoints: int) -> None:
        super().__init__()
        self.variant = variant
        self.num_keypoints = num_keypoints

    def model_info(self, skeleton: Skeleton | None = None) -> ModelInfo:
        """Input size, split ratio, arch and skeleton (COCO-17 by default when the count fits)."""
        return rtmpose_info(self.variant, self.num_keypoints, skeleton)


class RTMPose(TopDownNetwork):
    """CSPNeXt backbone + RTMCC head."""

    def __init__(self, variant: RTMPoseVariant, num_keypoints: int = 17) -> None:
        super().__init__(variant, num_keypoints)
        self.backbone = CSPNeXt(deepen_factor=variant.deepen_factor, widen_factor=variant.widen_factor)
        self.head = RTMCCHead(
            in_channels=self.backbone.out_channels,
            num_keypoints=num_keypoints,
            input_size=variant.input_size,
            simcc_split_ratio=variant.simcc_split_ratio,
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.backbone(x))


def build_rtmpose(name: str, num_keypoints: int = 17) -> RTMPose:
    """Build a named variant (``rtmpose-t/s/m/l``, ``rtmpose-m/l-384x288``), randomly initialised."""
    if num_keypoints < 1:
        raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}")
    variant = get_variant(name)
    if variant.head != "rtmcc":
        raise ValueError(f"{name!r} is not an RTMPose architecture; build it with build_model")
    return RTMPose(variant, num_keypoints)


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model; the message counts the offending keys and shows a few."""


SHOWN_KEYS = 3  # per kind: a checkpoint of another architecture differs in ~200 keys, not worth a screen


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
    """Raise CheckpointMismatchError counting missing, unexpected and shape-mismatched keys,
    with the first :data:`SHOWN_KEYS` of each (sorted): one short block whatever the mismatch."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state)
        if state[k].shape != expected[k].shape
    )
    kinds = (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched))
    if not any(keys for _, keys in kinds):
        return
    counts = ", ".join(f"{len(keys)} {title}" for title, keys in kinds)
    lines = [f"  {title}: {_first_keys(keys)}" for title, keys in kinds if keys]
    raise CheckpointMismatchError(
        f"checkpoint does not match the model ({counts} key(s) among the model's {len(expected)}; "
        "another architecture or keypoint count?)\n" + "\n".join(lines)
    )


def _first_keys(keys: list[str]) -> str:
    shown = "; ".join(keys[:SHOWN_KEYS])
    return shown if len(keys) <= SHOWN_KEYS else f"{shown}; ... ({len(keys) - SHOWN_KEYS} more)"


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
