"""The named RTMPose variants: architecture and codec facts, without torch.

A checkpoint's :class:`~pose_perception.model_info.ModelInfo` (input size, split ratio)
follows from its variant alone, so the ONNX Runtime path can describe and cache an
export without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RTMPoseVariant:
    """Architecture + codec facts of one official variant (from the RTMPose configs)."""

    name: str
    deepen_factor: float
    widen_factor: float
    input_size: tuple[int, int]  # (width, height)
    sigma: tuple[float, float]  # SimCC Gaussian sigma (x, y), used for training targets
    simcc_split_ratio: float = 2.0


VARIANTS: dict[str, RTMPoseVariant] = {
    v.name: v
    for v in (
        RTMPoseVariant("rtmpose-t", 0.167, 0.375, (192, 256), (4.9, 5.66)),
        RTMPoseVariant("rtmpose-s", 0.33, 0.5, (192, 256), (4.9, 5.66)),
        RTMPoseVariant("rtmpose-m", 0.67, 0.75, (192, 256), (4.9, 5.66)),
        RTMPoseVariant("rtmpose-l", 1.0, 1.0, (192, 256), (4.9, 5.66)),
        RTMPoseVariant("rtmpose-m-384x288", 0.67, 0.75, (288, 384), (6.93, 7.55)),
        RTMPoseVariant("rtmpose-l-384x288", 1.0, 1.0, (288, 384), (6.93, 7.55)),
    )
}


def get_variant(name: str) -> RTMPoseVariant:
    """Look up a variant; ``rtmpose-m-256x192`` is accepted as an alias of ``rtmpose-m``."""
    key = name.lower().removesuffix("-256x192")
    if key not in VARIANTS:
        raise ValueError(f"unknown RTMPose architecture {name!r}; known: {', '.join(VARIANTS)}")
    return VARIANTS[key]
