"""RTMO decode, the tensor part: grid points, boxes, scores, the people kept and their DCC keypoints.

As MMPose's ``RTMOHead.predict``: grid points at each cell's pixel centre (offset (stride − 1) / 2),
boxes decoded from (dx, dy, log w, log h) × stride, sigmoid scores and visibilities, then the score
threshold and NMS, then the DCC on the people kept only. ``RTMOKept`` is that whole chain (what we
run and export); in PyTorch its threshold and NMS are ``pose_perception.people_select``, in an ONNX
export the ``NonMaxSuppression`` op, whose semantics are the same. ``RTMODense`` (DCC on every cell,
the selection left to the caller) is the format of our earlier exports.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pose_perception.people_select import select_indices

from .rtmo import RTMO

MAX_KEPT = 2**31 - 1  # NonMaxSuppression's max_output_boxes_per_class: no limit but the threshold


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
    people that survive ``people_select`` equal MMPose's, which runs the DCC after NMS. Our earlier
    ONNX format (``export_rtmo_onnx(decode="dense")``); ``candidates`` serves ``RTMOKept`` too.
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


class KeptRows(torch.autograd.Function):
    """Rows of the people kept: score above ``score_thr``, highest first, greedy NMS at IoU above
    ``nms_thr``. PyTorch runs ``people_select.select_indices``; the ONNX export is the standard
    ``NonMaxSuppression`` (corner boxes, score > threshold kept, IoU > threshold suppressed, equal
    scores in row order), so every runtime selects the same people without our code."""

    @staticmethod
    def forward(
        ctx: object, boxes: torch.Tensor, scores: torch.Tensor, score_thr: torch.Tensor, nms_thr: torch.Tensor
    ) -> torch.Tensor:
        """(1, N, 4) boxes, (1, 1, N) scores, scalar thresholds → (M,) int64 rows, best first."""
        boxes_np, scores_np = boxes[0].detach().cpu().numpy(), scores[0, 0].detach().cpu().numpy()
        kept = select_indices(boxes_np, scores_np, float(score_thr), float(nms_thr))
        return torch.from_numpy(kept).to(boxes.device)

    @staticmethod
    def symbolic(g: Any, boxes: Any, scores: Any, score_thr: Any, nms_thr: Any) -> Any:
        """ONNX: ``NonMaxSuppression`` (one batch, one class) → its selected box column."""
        no_limit = g.op("Constant", value_t=torch.tensor([MAX_KEPT], dtype=torch.int64))
        selected = g.op(
            "NonMaxSuppression", boxes, scores, no_limit, nms_thr, score_thr, center_point_box_i=0
        )
        return g.op("Gather", selected, g.op("Constant", value_t=torch.tensor(2)), axis_i=1)


class RTMOKept(RTMODense):
    """RTMO as MMPose runs it: score threshold and NMS, then the DCC on the kept people only.

    ``forward(x, score_thr, nms_thr)`` (batch 1, scalar float thresholds) returns, in network-input
    pixels and highest score first: boxes (1, M, 4), scores (1, M), keypoints (1, M, K, 2) and
    keypoint scores (1, M, K); M may be 0. Exported to ONNX, the thresholds stay graph inputs.
    """

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, score_thr: torch.Tensor, nms_thr: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        boxes, scores, vis, poses, priors = self.candidates(x)
        rows = KeptRows.apply(boxes[:1], scores[:1].unsqueeze(1), score_thr, nms_thr)
        # One spare row (cell 0), dropped after the DCC: ONNX Runtime's reductions mis-shape an
        # empty (0, K, bins) input, and no person must not be an error. Rows are independent.
        padded = torch.cat((rows, rows.new_zeros(1)))
        keypoints = self.model.head.dcc(
            poses[0].index_select(0, padded), boxes[0].index_select(0, padded), priors.index_select(0, padded)
        )[:-1]
        return (
            boxes[0].index_select(0, rows).unsqueeze(0),
            scores[0].index_select(0, rows).unsqueeze(0),
            keypoints.unsqueeze(0),
            vis[0].index_select(0, rows).unsqueeze(0),
        )
