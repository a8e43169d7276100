"""RTMCC head: 7×7 conv → per-keypoint token → ScaleNorm + Linear → GAU → SimCC x/y logits.

Parameter names match the official MMPose ``RTMCCHead`` (``head.final_layer``,
``head.mlp.0.g``, ``head.gau.uv`` ...). Written from the RTMPose paper and the
published architecture description.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ScaleNorm(nn.Module):
    """x / (‖x‖ · dim^-½) · g — an RMS-style norm with one learned scalar gain."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim**-0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    """Learned per-channel multiplier (residual scaling of the GAU block)."""

    def __init__(self, dim: int, init_value: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(init_value * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class GatedAttentionUnit(nn.Module):
    """Self-attention Gated Attention Unit over keypoint tokens (RTMCCBlock, self-attn).

    Keypoints attend to each other with a squared-ReLU kernel, which is how the head
    models relations between joints.
    """

    def __init__(
        self,
        dims: int,
        expansion_factor: int = 2,
        s: int = 128,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.s = s
        self.e = int(dims * expansion_factor)
        self.o = nn.Linear(self.e, dims, bias=False)
        self.uv = nn.Linear(dims, 2 * self.e + s, bias=False)
        self.gamma = nn.Parameter(torch.rand((2, s)))
        self.beta = nn.Parameter(torch.rand((2, s)))
        self.ln = ScaleNorm(dims, eps=eps)
        self.act_fn = nn.SiLU(inplace=True)
        self.res_scale = Scale(dims)
        self.sqrt_s = math.sqrt(s)
        nn.init.xavier_uniform_(self.uv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        uv = self.act_fn(self.uv(self.ln(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=2)
        base = base.unsqueeze(2) * self.gamma[None, None, :] + self.beta
        q, k = torch.unbind(base, dim=2)
        kernel = torch.square(F.relu(torch.bmm(q, k.permute(0, 2, 1)) / self.sqrt_s))
        return self.res_scale(x) + self.o(u * torch.bmm(kernel, v))


class RTMCCHead(nn.Module):
    """Maps the stride-32 feature map to SimCC logits along x and y for each keypoint."""

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
        """``input_size`` is (width, height) of the network input in pixels."""
        super().__init__()
        width, height = input_size
        flatten_dims = (width // 32) * (height // 32)
        self.final_layer = nn.Conv2d(
            in_channels,
            num_keypoints,
            kernel_size=final_layer_kernel_size,
            padding=final_layer_kernel_size // 2,
        )
        self.mlp = nn.Sequential(ScaleNorm(flatten_dims), nn.Linear(flatten_dims, hidden_dims, bias=False))
        self.gau = GatedAttentionUnit(hidden_dims, expansion_factor=expansion_factor, s=s)
        self.cls_x = nn.Linear(hidden_dims, int(width * simcc_split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden_dims, int(height * simcc_split_ratio), bias=False)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = torch.flatten(self.final_layer(feats), 2)
        tokens = self.gau(self.mlp(tokens))
        return self.cls_x(tokens), self.cls_y(tokens)
