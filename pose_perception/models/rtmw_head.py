"""RTMW head: SimCC logits from two scales (stride 32 and, through a pixel shuffle, stride 16).

Parameter names match MMPose's ``RTMWHead`` (``head.conv_dec``, ``head.final_layer2``,
``head.mlp2.1.weight`` ...); the structure follows its published source (facts only, own code):
each scale gives every keypoint a half-width token, the two halves are concatenated and go
through the same gated attention unit as the RTMCC head.
"""

from __future__ import annotations

import torch
from torch import nn

from pose_perception.models.cspnext import ConvBNAct
from pose_perception.models.rtmcc_head import GatedAttentionUnit, ScaleNorm

SHUFFLE = 2  # pixel-shuffle factor: stride-32 channels → a stride-16 map


class RTMWHead(nn.Module):
    """(stride-16, stride-32) neck maps → (simcc_x, simcc_y)."""

    def __init__(
        self,
        in_channels: int,
        num_keypoints: int,
        input_size: tuple[int, int],
        simcc_split_ratio: float = 2.0,
        final_layer_kernel_size: int = 7,
        hidden_dims: int = 256,
        s: int = 128,
        expansion_factor: int = 2,
    ) -> None:
        """``in_channels`` is the stride-32 map's width; ``input_size`` is (width, height)."""
        super().__init__()
        width, height = input_size
        tokens_32 = (width // 32) * (height // 32)
        tokens_16 = tokens_32 * SHUFFLE**2
        k = final_layer_kernel_size
        self.ps = nn.PixelShuffle(SHUFFLE)
        self.conv_dec = ConvBNAct(in_channels // SHUFFLE**2, in_channels // 4, k, act=nn.ReLU)
        self.final_layer = ConvBNAct(in_channels, num_keypoints, k, act=nn.ReLU)
        stride_16_channels = in_channels // SHUFFLE + in_channels // 4  # neck level 1 + conv_dec
        self.final_layer2 = ConvBNAct(stride_16_channels, num_keypoints, k, act=nn.ReLU)
        self.mlp = nn.Sequential(ScaleNorm(tokens_32), nn.Linear(tokens_32, hidden_dims // 2, bias=False))
        self.mlp2 = nn.Sequential(ScaleNorm(tokens_16), nn.Linear(tokens_16, hidden_dims // 2, bias=False))
        self.gau = GatedAttentionUnit(hidden_dims, expansion_factor=expansion_factor, s=s)
        self.cls_x = nn.Linear(hidden_dims, int(width * simcc_split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden_dims, int(height * simcc_split_ratio), bias=False)

    def forward(self, feats: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        stride_16, stride_32 = feats
        tokens_32 = self.mlp(torch.flatten(self.final_layer(stride_32), 2))
        stride_16 = torch.cat((self.conv_dec(self.ps(stride_32)), stride_16), dim=1)
        tokens_16 = self.mlp2(torch.flatten(self.final_layer2(stride_16), 2))
        tokens = self.gau(torch.cat((tokens_32, tokens_16), dim=2))
        return self.cls_x(tokens), self.cls_y(tokens)
