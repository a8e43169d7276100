"""``build_model(arch)``: every architecture name → a randomly initialised network, by table."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from pose_perception.models.rtmo import RTMO_SIZES, build_rtmo
from pose_perception.models.rtmpose import RTMPose, TopDownNetwork
from pose_perception.models.rtmw import RTMW
from pose_perception.variants import RTMPoseVariant, get_variant

# Top-down networks by the variant's ``head`` (variants.py lists the names and sizes).
TOP_DOWN_NETWORKS: dict[str, Callable[[RTMPoseVariant, int], TopDownNetwork]] = {
    "rtmcc": RTMPose,
    "rtmw": RTMW,
}


# One-stage networks by name → builder(num_keypoints or None for the official count):
# ``rtmo-{t,s,m,l}`` (models/rtmo.py, COCO-17 officially).
def _rtmo_builder(name: str) -> Callable[[int | None], nn.Module]:
    def build(num_keypoints: int | None) -> nn.Module:
        return build_rtmo(name, num_keypoints or 17)

    return build


ONE_STAGE_BUILDERS: dict[str, Callable[[int | None], nn.Module]] = {
    name: _rtmo_builder(name) for name in RTMO_SIZES
}


def build_model(arch: str, num_keypoints: int | None = None) -> nn.Module:
    """Build the named architecture; ``num_keypoints`` overrides its head's output count."""
    if num_keypoints is not None and num_keypoints < 1:
        raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}")
    if arch.lower() in ONE_STAGE_BUILDERS:
        return ONE_STAGE_BUILDERS[arch.lower()](num_keypoints)
    variant = get_variant(arch)
    return TOP_DOWN_NETWORKS[variant.head](variant, num_keypoints or variant.num_keypoints)


def build_top_down(arch: str, num_keypoints: int | None = None) -> TopDownNetwork:
    """:func:`build_model` for callers that need a top-down network (export, checkpoints)."""
    model = build_model(arch, num_keypoints)
    if not isinstance(model, TopDownNetwork):
        raise ValueError(f"{arch!r} is a one-stage model, not a top-down (person-box) model")
    return model
