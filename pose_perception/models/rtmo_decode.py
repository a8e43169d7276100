"""RTMO decode, the tensor part: grid points, boxes, scores and DCC keypoints of every grid cell.

As MMPose's ``RTMOHead.predict``: grid points at each cell's pixel centre (offset (stride − 1) / 2),
boxes decoded from (dx, dy, log w, log h) × stride, sigmoid scores and visibilities. The score
threshold and NMS are ``pose_perception.people_select`` (NumPy, shared by every backend).
"""

from __future__ import annotations

import torch
from torch import nn

from .rtmo import RTMO


def grid_priors(
    featmap_sizes: list[tuple[int, int]], strides: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-major cell centres (N, 2) of every level, in input pixels, and each cell's stride (N,)."""
    points, cell_strides = [], []
    for (height, width), stride in zip(featmap_sizes, strides, strict=True):
        xs = torch.arange(width, dtype=torch.float32) * stride + (stride - 1) / 2.0
        ys = torch.arange(height, dtype=torch.float32) * stride + (stride - 1) / 2.0
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points.append(torch.stack((grid_x.flatten(), grid_y.flatten()), dim=-1))
        cell_strides.append(torch.full((height * width,), float(stride)))
    return torch.cat(points), torch.cat(cell_strides)


def flatten_levels(levels: list[torch.Tensor]) -> torch.Tensor:
    """Per-level (B, C, H, W) maps → (B, N, C), cells row-major, levels in order."""
    return torch.cat([level.permute(0, 2, 3, 1).flatten(1, 2) for level in levels], dim=1)


def decode_boxes(deltas: torch.Tensor, priors: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
    """(N, 4) (dx, dy, log w, log h) → (N, 4) x1, y1, x2, y2."""
    centers = deltas[:, :2] * strides[:, None] + priors
    half = deltas[:, 2:].exp() * strides[:, None] / 2
    return torch.cat((centers - half, centers + half), dim=-1)


class RTMODense(nn.Module):
    """RTMO with its decode in the graph: every grid cell becomes a candidate person.

    Outputs, in network-input pixels: boxes (B, N, 4), scores (B, N), keypoints (B, N, K, 2) and
    keypoint scores (B, N, K). The DCC reads each cell's keypoints independently, so the rows of the
    people that survive ``people_select`` equal MMPose's, which runs the DCC after NMS; exported to
    ONNX, this is the whole network, and only the threshold and NMS stay outside.
    """

    def __init__(self, model: RTMO) -> None:
        super().__init__()
        self.model = model

    def candidates(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per cell, before the DCC: boxes (B,N,4), scores (B,N), visibilities (B,N,K), pose vectors
        (B,N,C), and the grid points (N,2) the DCC needs."""
        score_maps, box_maps, vis_maps, pose_maps = self.model(x)
        priors, strides = grid_priors([(m.shape[2], m.shape[3]) for m in score_maps], self.model.strides)
        priors, strides = priors.to(x.device), strides.to(x.device)
        batch = x.shape[0]
        boxes = decode_boxes(
            flatten_levels(box_maps).reshape(-1, 4), priors.repeat(batch, 1), strides.repeat(batch)
        )
        return (
            boxes.reshape(batch, -1, 4),
            flatten_levels(score_maps).sigmoid().max(dim=-1).values,
            flatten_levels(vis_maps).sigmoid(),
            flatten_levels(pose_maps),
            priors,
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        boxes, scores, vis, poses, priors = self.candidates(x)
        batch, rows = scores.shape
        keypoints = self.model.head.dcc(poses.flatten(0, 1), boxes.flatten(0, 1), priors.repeat(batch, 1))
        return boxes, scores, keypoints.reshape(batch, rows, -1, 2), vis
