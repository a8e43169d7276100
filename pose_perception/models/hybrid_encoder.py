"""HybridEncoder neck of RTMO (from RT-DETR): a transformer layer on the stride-32 map, then FPN + PAN.

Parameter names follow MMPose (``neck.input_proj.0.conv``, ``neck.encoder.0.layers.0.self_attn.attn``,
``neck.fpn_blocks.0.bottlenecks.0.branch_3x3`` ..., ``neck.projector.convs``) so official checkpoints
load. The neck's own convs use BatchNorm defaults (eps 1e-5), as in the official configs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .cspnext import ConvBNAct, NormSettings
from .sine_encoding import SinePositionalEncoding

NECK_NORM = NormSettings()


class ConvBN(ConvBNAct):
    """Conv → BatchNorm without an activation (projections and re-parameterisable branches)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, norm=NECK_NORM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class RepVGGBlock(nn.Module):
    """3×3 and 1×1 conv-BN branches summed, then SiLU (no identity branch, as in RTMO)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.branch_3x3 = ConvBN(channels, channels, 3)
        self.branch_1x1 = ConvBN(channels, channels, 1)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.branch_3x3(x) + self.branch_1x1(x))


class CSPRepLayer(nn.Module):
    """Two 1×1 branches, RepVGG blocks on one, summed, then a 1×1 conv when widths differ."""

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int, widen_factor: float) -> None:
        super().__init__()
        hidden = int(out_channels * widen_factor)
        self.conv1 = ConvBNAct(in_channels, hidden, 1, norm=NECK_NORM)
        self.conv2 = ConvBNAct(in_channels, hidden, 1, norm=NECK_NORM)
        self.bottlenecks = nn.Sequential(*[RepVGGBlock(hidden) for _ in range(num_blocks)])
        self.conv3: nn.Module = (
            ConvBNAct(hidden, out_channels, 1, norm=NECK_NORM) if hidden != out_channels else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.bottlenecks(self.conv1(x)) + self.conv2(x))


class SelfAttention(nn.Module):
    """Multi-head self-attention whose queries and keys carry the positional code, values do not."""

    def __init__(self, dims: int, num_heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dims, num_heads, batch_first=True)

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        query = x + pos
        return x + self.attn(query, query, x, need_weights=False)[0]


class FeedForward(nn.Module):
    """Linear → GELU → Linear with a residual (``ffn.layers.0.0`` / ``ffn.layers.1``)."""

    def __init__(self, dims: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(dims, hidden), nn.GELU()), nn.Linear(hidden, dims)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class EncoderLayer(nn.Module):
    """Post-norm transformer layer: attention, LayerNorm, feed-forward, LayerNorm."""

    def __init__(self, dims: int, num_heads: int, hidden: int) -> None:
        super().__init__()
        self.self_attn = SelfAttention(dims, num_heads)
        self.ffn = FeedForward(dims, hidden)
        self.norms = nn.ModuleList([nn.LayerNorm(dims), nn.LayerNorm(dims)])

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        x = self.norms[0](self.self_attn(x, pos))
        return self.norms[1](self.ffn(x))


class TransformerEncoder(nn.Module):
    """A stack of encoder layers (``encoder.<i>.layers.<j>``)."""

    def __init__(self, num_layers: int, dims: int, num_heads: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer(dims, num_heads, hidden) for _ in range(num_layers)])

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, pos)
        return x


class ChannelMapper(nn.Module):
    """One 1×1 conv-BN per level (``projector.convs``), no activation."""

    def __init__(self, in_channels: int, out_channels: int, num_levels: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList([ConvBN(in_channels, out_channels, 1) for _ in range(num_levels)])

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        return [conv(feat) for conv, feat in zip(self.convs, feats, strict=True)]


class HybridEncoder(nn.Module):
    """Three backbone levels → the stride-16 and stride-32 maps the RTMO head reads."""

    def __init__(
        self,
        in_channels: tuple[int, ...],
        out_channels: int,
        deepen_factor: float,
        widen_factor: float,
        hidden_dim: int = 256,
        num_heads: int = 8,
        ffn_channels: int = 1024,
        pe_temperature: float = 10000.0,
        output_indices: tuple[int, ...] = (1, 2),
    ) -> None:
        super().__init__()
        levels = len(in_channels)
        blocks = round(3 * deepen_factor)
        self.hidden_dim = hidden_dim
        self.output_indices = output_indices
        self.input_proj = nn.ModuleList([ConvBN(c, hidden_dim, 1) for c in in_channels])
        self.encoder = nn.ModuleList([TransformerEncoder(1, hidden_dim, num_heads, ffn_channels)])
        self.sincos_pos_enc = SinePositionalEncoding(hidden_dim // 2, pe_temperature)
        self.lateral_convs = nn.ModuleList(
            [ConvBNAct(hidden_dim, hidden_dim, 1, norm=NECK_NORM) for _ in range(levels - 1)]
        )
        self.fpn_blocks = nn.ModuleList(
            [CSPRepLayer(hidden_dim * 2, hidden_dim, blocks, widen_factor) for _ in range(levels - 1)]
        )
        self.downsample_convs = nn.ModuleList(
            [ConvBNAct(hidden_dim, hidden_dim, 3, stride=2, norm=NECK_NORM) for _ in range(levels - 1)]
        )
        self.pan_blocks = nn.ModuleList(
            [CSPRepLayer(hidden_dim * 2, hidden_dim, blocks, widen_factor) for _ in range(levels - 1)]
        )
        self.projector = ChannelMapper(hidden_dim, out_channels, len(output_indices))

    def _encode_top(self, feat: torch.Tensor) -> torch.Tensor:
        """The transformer layer over the coarsest map, with its grid's sine code."""
        batch, channels, height, width = feat.shape
        tokens = feat.flatten(2).permute(0, 2, 1)
        memory = self.encoder[0](tokens, self.sincos_pos_enc.grid(height, width))
        return memory.permute(0, 2, 1).reshape(batch, channels, height, width)

    def forward(self, feats: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        proj = [conv(feat) for conv, feat in zip(self.input_proj, feats, strict=True)]
        proj[-1] = self._encode_top(proj[-1])
        inner = [proj[-1]]  # top-down: coarse to fine
        for step, low in enumerate(reversed(proj[:-1])):
            high = self.lateral_convs[step](inner[0])
            inner[0] = high
            upsampled = F.interpolate(high, scale_factor=2.0, mode="nearest")
            inner.insert(0, self.fpn_blocks[step](torch.cat([upsampled, low], dim=1)))
        outs = [inner[0]]  # bottom-up: fine to coarse
        for step, high in enumerate(inner[1:]):
            down = self.downsample_convs[step](outs[-1])
            outs.append(self.pan_blocks[step](torch.cat([down, high], dim=1)))
        return self.projector([outs[i] for i in self.output_indices])
