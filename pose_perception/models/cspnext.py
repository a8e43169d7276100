"""CSPNeXt backbone (P5 architecture) as used by RTMPose.

Module and parameter names follow the official MMPose/MMDetection implementation so
that published checkpoints load without renaming (``backbone.stem.0.conv.weight``,
``backbone.stage4.2.blocks.0.conv2.depthwise_conv.bn.weight`` ...). The architecture
facts (stage table, SPP kernels, channel attention, expand ratio) come from the
RTMDet/RTMPose papers and the official configs; the code is written from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class NormSettings:
    """BatchNorm settings; RTMPose configs use SyncBN defaults (eps 1e-5, momentum 0.1)."""

    eps: float = 1e-5
    momentum: float = 0.1


# (in_channels, out_channels, num_blocks, add_identity, use_spp) before scaling.
P5_STAGES: tuple[tuple[int, int, int, bool, bool], ...] = (
    (64, 128, 3, True, False),
    (128, 256, 6, True, False),
    (256, 512, 6, True, False),
    (512, 1024, 3, False, True),
)


class ConvBNAct(nn.Module):
    """Conv (no bias) → BatchNorm → SiLU; attribute names ``conv``/``bn`` as in MMCV."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        norm: NormSettings = NormSettings(),
        act: type[nn.Module] = nn.SiLU,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=False,
        )
        self.bn = nn.BatchNorm2d(out_channels, eps=norm.eps, momentum=norm.momentum)
        self.act = act(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DepthwiseSeparableConv(nn.Module):
    """Depthwise k×k then pointwise 1×1, each with BN + SiLU."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, norm: NormSettings = NormSettings()
    ) -> None:
        super().__init__()
        self.depthwise_conv = ConvBNAct(in_channels, in_channels, kernel_size, groups=in_channels, norm=norm)
        self.pointwise_conv = ConvBNAct(in_channels, out_channels, 1, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class CSPNeXtBlock(nn.Module):
    """3×3 conv then a 5×5 depthwise-separable conv, with an optional residual."""

    def __init__(
        self, channels: int, add_identity: bool, kernel_size: int = 5, norm: NormSettings = NormSettings()
    ) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 3, norm=norm)
        self.conv2 = DepthwiseSeparableConv(channels, channels, kernel_size, norm=norm)
        self.add_identity = add_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation style gate: global average → 1×1 conv → hard sigmoid."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)
        self.act = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.act(self.fc(self.global_avgpool(x)))


class CSPLayer(nn.Module):
    """Cross-stage partial layer: two 1×1 branches, blocks on one, concat, attention, fuse."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_blocks: int,
        add_identity: bool,
        expand_ratio: float = 0.5,
        channel_attention: bool = True,
        norm: NormSettings = NormSettings(),
    ) -> None:
        super().__init__()
        mid = int(out_channels * expand_ratio)
        self.main_conv = ConvBNAct(in_channels, mid, 1, norm=norm)
        self.short_conv = ConvBNAct(in_channels, mid, 1, norm=norm)
        self.final_conv = ConvBNAct(2 * mid, out_channels, 1, norm=norm)
        self.blocks = nn.Sequential(*[CSPNeXtBlock(mid, add_identity, norm=norm) for _ in range(num_blocks)])
        self.attention: nn.Module = ChannelAttention(2 * mid) if channel_attention else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.blocks(self.main_conv(x))
        short = self.short_conv(x)
        return self.final_conv(self.attention(torch.cat((main, short), dim=1)))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling: 1×1 reduce, max-pools at several sizes, concat, 1×1 fuse."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_sizes: tuple[int, ...] = (5, 9, 13),
        norm: NormSettings = NormSettings(),
    ) -> None:
        super().__init__()
        mid = in_channels // 2
        self.conv1 = ConvBNAct(in_channels, mid, 1, norm=norm)
        self.poolings = nn.ModuleList(
            [nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2) for k in kernel_sizes]
        )
        self.conv2 = ConvBNAct(mid * (len(kernel_sizes) + 1), out_channels, 1, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.poolings], dim=1))


def downsample_stage(
    cin: int,
    cout: int,
    csp: nn.Module,
    use_spp: bool,
    spp_kernel_sizes: tuple[int, ...],
    norm: NormSettings,
) -> nn.Sequential:
    """One P5 backbone stage as MMDetection lays it out (CSPNeXt and CSPDarknet alike): a
    stride-2 3x3 conv, an SPP block in the last stage, then the stage's CSP layer. The layer
    order gives the official parameter names (``stageN.0`` conv, ``stageN.1`` SPP or CSP)."""
    layers: list[nn.Module] = [ConvBNAct(cin, cout, 3, stride=2, norm=norm)]
    if use_spp:
        layers.append(SPPBottleneck(cout, cout, spp_kernel_sizes, norm=norm))
    layers.append(csp)
    return nn.Sequential(*layers)


class CSPNeXt(nn.Module):
    """CSPNeXt-P5 backbone returning the stride-32 feature map (stage 4 output);
    :meth:`stages` gives the stride-8/16/32 maps a neck (RTMW's PAFPN) needs.

    ``deepen_factor`` scales block counts, ``widen_factor`` channel counts, exactly as
    the official variants t/s/m/l/x do.
    """

    def __init__(
        self,
        deepen_factor: float = 1.0,
        widen_factor: float = 1.0,
        expand_ratio: float = 0.5,
        channel_attention: bool = True,
        spp_kernel_sizes: tuple[int, ...] = (5, 9, 13),
        norm: NormSettings = NormSettings(),
    ) -> None:
        super().__init__()
        stem_out = int(P5_STAGES[0][0] * widen_factor)
        self.stem = nn.Sequential(
            ConvBNAct(3, stem_out // 2, 3, stride=2, norm=norm),
            ConvBNAct(stem_out // 2, stem_out // 2, 3, norm=norm),
            ConvBNAct(stem_out // 2, stem_out, 3, norm=norm),
        )
        stages = []
        for cin, cout, blocks, add_identity, use_spp in P5_STAGES:
            cin, cout = int(cin * widen_factor), int(cout * widen_factor)
            csp = CSPLayer(
                cout,
                cout,
                num_blocks=max(round(blocks * deepen_factor), 1),
                add_identity=add_identity,
                expand_ratio=expand_ratio,
                channel_attention=channel_attention,
                norm=norm,
            )
            stages.append(downsample_stage(cin, cout, csp, use_spp, spp_kernel_sizes, norm))
        self.stage1, self.stage2, self.stage3, self.stage4 = stages
        self.stage_channels = tuple(int(stage[1] * widen_factor) for stage in P5_STAGES[1:])
        self.out_channels = self.stage_channels[-1]

    def stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Outputs of stages 2, 3 and 4 (strides 8, 16, 32; MMPose's ``out_indices=(2, 3, 4)``)."""
        c2 = self.stage2(self.stage1(self.stem(x)))
        c3 = self.stage3(c2)
        return c2, c3, self.stage4(c3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)[-1]
