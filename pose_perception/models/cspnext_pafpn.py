"""CSPNeXtPAFPN neck (RTMW): a top-down then bottom-up path over the backbone's last three maps.

Parameter names follow MMPose's ``CSPNeXtPAFPN`` (``neck.reduce_layers.0.conv.weight``,
``neck.bottom_up_blocks.1.blocks.0.conv2...``) so official checkpoints load. RTMW's configs
use it without output convolutions (``out_channels=None``); that is the only form built here.
"""

from __future__ import annotations

import torch
from torch import nn

from pose_perception.models.cspnext import ConvBNAct, CSPLayer


class CSPNeXtPAFPN(nn.Module):
    """Path aggregation: small maps are reduced and upsampled into larger ones, then the
    larger ones are downsampled back; returns the levels named by ``out_indices``."""

    def __init__(
        self,
        in_channels: tuple[int, ...],
        num_csp_blocks: int = 2,
        out_indices: tuple[int, ...] = (1, 2),
        expand_ratio: float = 0.5,
    ) -> None:
        super().__init__()
        self.out_indices = out_indices
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        levels = len(in_channels)

        def csp(cin: int, cout: int) -> CSPLayer:
            return CSPLayer(
                cin,
                cout,
                num_csp_blocks,
                add_identity=False,
                expand_ratio=expand_ratio,
                channel_attention=False,
            )

        top_down = range(levels - 1, 0, -1)  # from the smallest map upwards
        self.reduce_layers = nn.ModuleList(
            [ConvBNAct(in_channels[i], in_channels[i - 1], 1) for i in top_down]
        )
        self.top_down_blocks = nn.ModuleList(
            [csp(2 * in_channels[i - 1], in_channels[i - 1]) for i in top_down]
        )
        bottom_up = range(levels - 1)
        self.downsamples = nn.ModuleList(
            [ConvBNAct(in_channels[i], in_channels[i], 3, stride=2) for i in bottom_up]
        )
        self.bottom_up_blocks = nn.ModuleList(
            [csp(2 * in_channels[i], in_channels[i + 1]) for i in bottom_up]
        )

    def forward(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        inner = [inputs[-1]]
        for step, (reduce, block) in enumerate(zip(self.reduce_layers, self.top_down_blocks, strict=True)):
            high = reduce(inner[0])
            inner[0] = high
            inner.insert(0, block(torch.cat((self.upsample(high), inputs[-2 - step]), dim=1)))
        outs = [inner[0]]
        for step, (down, block) in enumerate(zip(self.downsamples, self.bottom_up_blocks, strict=True)):
            outs.append(block(torch.cat((down(outs[-1]), inner[step + 1]), dim=1)))
        return tuple(outs[i] for i in self.out_indices)
