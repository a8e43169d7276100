"""RTMO, the one-stage multi-person pose model: CSPDarknet → HybridEncoder → RTMOHead.

``RTMO_SIZES`` is the t/s/m/l table of the official MMPose configs
(``configs/body_2d_keypoint/rtmo/body7/rtmo-*.py``); ``build_rtmo("rtmo-s")`` builds one with
MMPose's parameter names, so the official ``.pth`` state_dicts load strictly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .cspdarknet import CSPDarknet
from .hybrid_encoder import HybridEncoder
from .rtmo_head import RTMOHead


@dataclass(frozen=True)
class RTMOSize:
    """The numbers that differ between the official sizes."""

    deepen_factor: float
    widen_factor: float
    input_size: tuple[int, int]  # (width, height) of the network input
    pose_vec_channels: int  # also the projector's output width and the DCC's input width


RTMO_SIZES: dict[str, RTMOSize] = {
    "rtmo-t": RTMOSize(0.33, 0.375, (416, 416), 192),
    "rtmo-s": RTMOSize(0.33, 0.5, (640, 640), 256),
    "rtmo-m": RTMOSize(0.67, 0.75, (640, 640), 384),
    "rtmo-l": RTMOSize(1.0, 1.0, (640, 640), 512),
}
FEATMAP_STRIDES = (16, 32)
HEAD_IN_CHANNELS = 256  # before the head's widen_factor


class RTMO(nn.Module):
    """Image batch → per-level (score logits, box deltas, visibility logits, pose vectors)."""

    def __init__(self, size: RTMOSize, num_keypoints: int = 17) -> None:
        super().__init__()
        self.size = size
        self.num_keypoints = num_keypoints
        self.strides = FEATMAP_STRIDES
        self.backbone = CSPDarknet(size.deepen_factor, size.widen_factor)
        self.neck = HybridEncoder(
            self.backbone.out_channels, size.pose_vec_channels, size.deepen_factor, size.widen_factor
        )
        self.head = RTMOHead(num_keypoints, HEAD_IN_CHANNELS, size.widen_factor, size.pose_vec_channels)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], ...]:
        return self.head(self.neck(self.backbone(x)))


def build_rtmo(arch: str, num_keypoints: int = 17) -> RTMO:
    """An RTMO of one official size (``rtmo-t``/``-s``/``-m``/``-l``), in eval mode."""
    if arch not in RTMO_SIZES:
        raise ValueError(f"unknown RTMO architecture {arch!r}; expected one of {sorted(RTMO_SIZES)}")
    return RTMO(RTMO_SIZES[arch], num_keypoints).eval()
