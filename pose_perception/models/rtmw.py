"""RTMW = CSPNeXt backbone + CSPNeXtPAFPN neck + RTMW head (of a named variant)."""

from __future__ import annotations

import torch

from pose_perception.models.cspnext import CSPNeXt
from pose_perception.models.cspnext_pafpn import CSPNeXtPAFPN
from pose_perception.models.rtmpose import TopDownNetwork
from pose_perception.models.rtmw_head import RTMWHead
from pose_perception.variants import RTMPoseVariant


class RTMW(TopDownNetwork):
    """Whole-body network: CSPNeXt's stride-8/16/32 maps → PAFPN → the two-scale RTMW head."""

    def __init__(self, variant: RTMPoseVariant, num_keypoints: int = 133) -> None:
        super().__init__(variant, num_keypoints)
        self.backbone = CSPNeXt(deepen_factor=variant.deepen_factor, widen_factor=variant.widen_factor)
        self.neck = CSPNeXtPAFPN(self.backbone.stage_channels, num_csp_blocks=variant.neck_csp_blocks)
        self.head = RTMWHead(
            in_channels=self.backbone.out_channels,
            num_keypoints=num_keypoints,
            input_size=variant.input_size,
            simcc_split_ratio=variant.simcc_split_ratio,
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.neck(self.backbone.stages(x)))
