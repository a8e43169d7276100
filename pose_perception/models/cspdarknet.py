"""CSPDarknet backbone (YOLOX / RTMO), returning the stride 8, 16 and 32 feature maps.

Parameter names follow the official MMDetection implementation (``backbone.stem.conv.conv``,
``backbone.stage4.1.conv1`` for the SPP, ``backbone.stage2.1.blocks.0.conv2`` ...) so that RTMO
checkpoints load. Facts (stage table, Focus stem, SPP kernels, BN eps 1e-3) come from the
official RTMO configs; the code is written here and shares its layers with ``cspnext``.
"""

from __future__ import annotations

import torch
from torch import nn

from .cspnext import ConvBNAct, CSPLayer, NormSettings, downsample_stage

# (in_channels, out_channels, num_blocks, add_identity, use_spp) before scaling: the P5 table.
DARKNET_P5_STAGES: tuple[tuple[int, int, int, bool, bool], ...] = (
    (64, 128, 3, True, False),
    (128, 256, 9, True, False),
    (256, 512, 9, True, False),
    (512, 1024, 3, False, True),
)
YOLO_NORM = NormSettings(eps=1e-3, momentum=0.03)  # backbone and head BatchNorms (the neck's use defaults)


class Focus(nn.Module):
    """Space-to-depth: the four pixel phases stacked as channels, then one 3×3 conv."""

    def __init__(self, in_channels: int, out_channels: int, norm: NormSettings) -> None:
        super().__init__()
        self.conv = ConvBNAct(in_channels * 4, out_channels, 3, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phases = (x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2])
        return self.conv(torch.cat(phases, dim=1))


class DarknetBottleneck(nn.Module):
    """1×1 then 3×3 conv, with the input added back when asked."""

    def __init__(self, channels: int, add_identity: bool, norm: NormSettings) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 1, norm=norm)
        self.conv2 = ConvBNAct(channels, channels, 3, norm=norm)
        self.add_identity = add_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class DarknetCSPLayer(CSPLayer):
    """The CSP layer of ``cspnext`` with Darknet bottlenecks and no channel attention."""

    def __init__(
        self, in_channels: int, out_channels: int, num_blocks: int, add_identity: bool, norm: NormSettings
    ) -> None:
        super().__init__(in_channels, out_channels, 0, add_identity, channel_attention=False, norm=norm)
        mid = int(out_channels * 0.5)
        self.blocks = nn.Sequential(*[DarknetBottleneck(mid, add_identity, norm) for _ in range(num_blocks)])


class CSPDarknet(nn.Module):
    """Focus stem and four stages; ``deepen_factor``/``widen_factor`` give the t/s/m/l sizes."""

    def __init__(
        self,
        deepen_factor: float,
        widen_factor: float,
        spp_kernel_sizes: tuple[int, ...] = (5, 9, 13),
        norm: NormSettings = YOLO_NORM,
    ) -> None:
        super().__init__()
        self.stem = Focus(3, int(DARKNET_P5_STAGES[0][0] * widen_factor), norm)
        stages = []
        for cin, cout, blocks, add_identity, use_spp in DARKNET_P5_STAGES:
            cin, cout = int(cin * widen_factor), int(cout * widen_factor)
            csp = DarknetCSPLayer(cout, cout, max(round(blocks * deepen_factor), 1), add_identity, norm)
            stages.append(downsample_stage(cin, cout, csp, use_spp, spp_kernel_sizes, norm))
        self.stage1, self.stage2, self.stage3, self.stage4 = stages
        self.out_channels = tuple(int(stage[1] * widen_factor) for stage in DARKNET_P5_STAGES[1:])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.stage1(self.stem(x))
        c3 = self.stage2(x)
        c4 = self.stage3(c3)
        return c3, c4, self.stage4(c4)
