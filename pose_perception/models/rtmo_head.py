"""RTMO head: per-level classification / box / visibility / pose-vector branches, and the DCC.

The Dynamic Coordinate Classifier (DCC) turns one person's pose vector into per-keypoint 1-D
heatmaps over bins laid across that person's (padded) box, and reads the coordinates as the
heatmaps' expectation. Parameter names follow MMPose's ``RTMOHead`` (``head.head_module.conv_pose``,
``head.dcc.gau.uv``, ``head.dcc.pose_to_kpts`` ...) so that official checkpoints load.
"""

from __future__ import annotations

import torch
from torch import nn

from .cspdarknet import YOLO_NORM
from .cspnext import ConvBNAct
from .rtmcc_head import GatedAttentionUnit
from .sine_encoding import SinePositionalEncoding

SOFTMAX_EPS = 1e-8
COCO_OKS_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip


def _conv_stack(in_channels: int, out_channels: int, depth: int, groups: int = 1) -> nn.Sequential:
    """``depth`` 3×3 conv-BN-SiLU layers; all but the first grouped by ``groups``."""
    layers = [ConvBNAct(in_channels, out_channels, 3, norm=YOLO_NORM)]
    for _ in range(depth - 1):
        layers.append(ConvBNAct(out_channels, out_channels, 3, groups=groups, norm=YOLO_NORM))
    return nn.Sequential(*layers)


class RTMOHeadModule(nn.Module):
    """Splits each level's features in two halves: one for the person score, one for the pose."""

    def __init__(
        self,
        num_keypoints: int,
        in_channels: int,
        widen_factor: float,
        pose_vec_channels: int,
        num_levels: int = 2,
        cls_feat_channels: int = 256,
        stacked_convs: int = 2,
        num_groups: int = 8,
        channels_per_group: int = 36,
    ) -> None:
        super().__init__()
        in_ch, cls_ch = int(in_channels * widen_factor), int(cls_feat_channels * widen_factor)
        pose_ch = num_groups * int(widen_factor * channels_per_group)
        levels = range(num_levels)
        self.conv_cls = nn.ModuleList([_conv_stack(in_ch, cls_ch, stacked_convs) for _ in levels])
        self.out_cls = nn.ModuleList([nn.Conv2d(cls_ch, 1, 1) for _ in levels])
        self.conv_pose = nn.ModuleList(
            [_conv_stack(in_ch, pose_ch, stacked_convs * 2, groups=num_groups) for _ in levels]
        )
        self.out_bbox = nn.ModuleList([nn.Conv2d(pose_ch, 4, 1) for _ in levels])
        self.out_kpt_reg = nn.ModuleList([nn.Conv2d(pose_ch, num_keypoints * 2, 1) for _ in levels])
        self.out_kpt_vis = nn.ModuleList([nn.Conv2d(pose_ch, num_keypoints, 1) for _ in levels])
        self.out_pose = nn.ModuleList([nn.Conv2d(pose_ch, pose_vec_channels, 1) for _ in levels])

    def forward(self, feats: list[torch.Tensor]) -> tuple[list[torch.Tensor], ...]:
        """Per level: score logits (1), box deltas (4), keypoint visibility logits (K), pose vectors."""
        scores, boxes, vis, pose_vecs = [], [], [], []
        for i, feat in enumerate(feats):
            cls_feat, pose_feat = feat.split(feat.size(1) // 2, dim=1)
            cls_feat = self.conv_cls[i](cls_feat)
            pose_feat = self.conv_pose[i](pose_feat)
            scores.append(self.out_cls[i](cls_feat))
            boxes.append(self.out_bbox[i](pose_feat))
            vis.append(self.out_kpt_vis[i](pose_feat))
            pose_vecs.append(self.out_pose[i](pose_feat))
        return scores, boxes, vis, pose_vecs


class PositionalGAU(GatedAttentionUnit):
    """The GAU of ``rtmcc_head`` with a learned per-keypoint code added to queries and keys."""

    def forward_with_pos(self, x: torch.Tensor, pos_enc: torch.Tensor) -> torch.Tensor:
        uv = self.act_fn(self.uv(self.ln(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=-1)
        base = base.unsqueeze(-2) * self.gamma + self.beta
        q, k = torch.unbind(base, dim=-2)
        q, k = q + pos_enc, k + pos_enc
        kernel = torch.square(torch.relu(torch.matmul(q, k.transpose(-1, -2)) / self.sqrt_s))
        return self.res_scale(x) + self.o(u * torch.matmul(kernel, v))


class ScalarScale(nn.Module):
    """Multiply by one learned scalar (``sigma_fc.2.scale``)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class DCC(nn.Module):
    """Dynamic coordinate classifier: pose vectors + boxes → keypoints in input pixels."""

    x_bins: torch.Tensor
    y_bins: torch.Tensor

    def __init__(
        self,
        num_keypoints: int,
        in_channels: int,
        feat_channels: int = 128,
        num_bins: tuple[int, int] = (192, 256),
        spe_channels: int = 128,
        spe_temperature: float = 300.0,
        gau_s: int = 128,
    ) -> None:
        super().__init__()
        self.num_keypoints, self.feat_channels = num_keypoints, feat_channels
        self.spe = SinePositionalEncoding(spe_channels, spe_temperature)
        self.gau = PositionalGAU(feat_channels, expansion_factor=2, s=gau_s)
        self.pos_enc = nn.Parameter(torch.randn(num_keypoints, gau_s))
        self.pose_to_kpts = nn.Sequential(
            nn.Linear(in_channels, feat_channels * num_keypoints),
            nn.BatchNorm1d(feat_channels * num_keypoints),
        )
        self.x_fc = nn.Linear(spe_channels, feat_channels)
        self.y_fc = nn.Linear(spe_channels, feat_channels)
        # Training-only (the learned spread of the target heatmaps); kept so checkpoints load strictly.
        self.sigma_fc = nn.Sequential(nn.Linear(in_channels, num_keypoints), nn.Sigmoid(), ScalarScale(0.1))
        self.register_buffer("y_bins", torch.linspace(-0.5, 0.5, num_bins[1]))
        self.register_buffer("x_bins", torch.linspace(-0.5, 0.5, num_bins[0]))

    @staticmethod
    def _softmax(logits: torch.Tensor) -> torch.Tensor:
        logits = logits.clamp(min=-5e4, max=5e4)
        exp = (logits - logits.max(dim=-1, keepdim=True).values).exp()
        return exp / (exp.sum(dim=-1, keepdim=True) + SOFTMAX_EPS)

    def _axis(
        self,
        bins: torch.Tensor,
        fc: nn.Linear,
        kpt_feats: torch.Tensor,
        center: torch.Tensor,
        scale: torch.Tensor,
        grid: torch.Tensor,
    ) -> torch.Tensor:
        """One axis: bins placed over the box, encoded relative to the grid cell, expectation."""
        spread = bins.view(1, -1) * scale.unsqueeze(-1)  # (N, bins)
        encoding = fc(self.spe.encode(spread + (center - grid).unsqueeze(-1)))  # (N, bins, C)
        probs = self._softmax(torch.matmul(kpt_feats, encoding.transpose(-1, -2)))  # (N, K, bins)
        return (probs * (spread + center.unsqueeze(-1)).unsqueeze(1)).sum(dim=-1)

    def forward(
        self,
        pose_vecs: torch.Tensor,
        boxes_xyxy: torch.Tensor,
        grids: torch.Tensor,
        box_padding: float = 1.25,
    ) -> torch.Tensor:
        """(N,C) pose vectors, (N,4) boxes, (N,2) grid points → (N,K,2) keypoints, all in input pixels."""
        center = (boxes_xyxy[:, 2:] + boxes_xyxy[:, :2]) * 0.5
        scale = (boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]) * box_padding
        kpt_feats = self.pose_to_kpts(pose_vecs).reshape(-1, self.num_keypoints, self.feat_channels)
        kpt_feats = self.gau.forward_with_pos(kpt_feats, self.pos_enc)
        x = self._axis(self.x_bins, self.x_fc, kpt_feats, center[:, 0], scale[:, 0], grids[:, 0])
        y = self._axis(self.y_bins, self.y_fc, kpt_feats, center[:, 1], scale[:, 1], grids[:, 1])
        return torch.stack((x, y), dim=-1)


class OKSSigmas(nn.Module):
    """Holds the per-keypoint OKS sigmas that official checkpoints store as ``head.loss_oks.sigmas``."""

    def __init__(self, num_keypoints: int) -> None:
        super().__init__()
        sigmas = COCO_OKS_SIGMAS if num_keypoints == len(COCO_OKS_SIGMAS) else (0.05,) * num_keypoints
        self.register_buffer("sigmas", torch.tensor(sigmas, dtype=torch.float32))


class RTMOHead(nn.Module):
    """``head_module`` (dense branches), ``dcc`` (keypoints of kept people) and ``loss_oks`` (sigmas)."""

    def __init__(
        self, num_keypoints: int, in_channels: int, widen_factor: float, pose_vec_channels: int
    ) -> None:
        super().__init__()
        self.head_module = RTMOHeadModule(num_keypoints, in_channels, widen_factor, pose_vec_channels)
        self.dcc = DCC(num_keypoints, pose_vec_channels)
        self.loss_oks = OKSSigmas(num_keypoints)

    def forward(self, feats: list[torch.Tensor]) -> tuple[list[torch.Tensor], ...]:
        return self.head_module(feats)
