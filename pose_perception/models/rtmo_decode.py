"""RTMO post-processing: dense head outputs → people (boxes, scores, keypoints, keypoint scores).

As MMPose's ``RTMOHead.predict``: grid points at each cell's pixel centre, boxes decoded from
(dx, dy, log w, log h) × stride, sigmoid scores above ``score_thr`` sorted high to low, greedy NMS at
IoU > ``nms_thr``, then the DCC reads the keypoints of the kept people only. Everything is in
network-input pixels; ``bottomup.input_to_image`` maps it to the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .rtmo import NMS_THR, RTMO, SCORE_THR
from .rtmo_head import DCC

IOU_EPS = 1e-6


@dataclass(frozen=True)
class People:
    """One image's detections in network-input pixels, highest score first."""

    bboxes: np.ndarray  # (N, 4) x1, y1, x2, y2
    bbox_scores: np.ndarray  # (N,)
    keypoints: np.ndarray  # (N, K, 2)
    keypoint_scores: np.ndarray  # (N, K)


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


def box_iou(box: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """IoU of one (4,) box with each of (N, 4) boxes."""
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    wh = (torch.minimum(box[2:], boxes[:, 2:]) - torch.maximum(box[:2], boxes[:, :2])).clamp(min=0)
    overlap = wh[:, 0] * wh[:, 1]
    return overlap / (area + areas - overlap).clamp(min=IOU_EPS)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_thr: float) -> torch.Tensor:
    """Greedy NMS: indices of kept boxes, highest score first; a box overlapping a kept one by IoU
    above ``iou_thr`` is dropped."""
    order = scores.argsort(descending=True)
    keep = []
    while order.numel() > 0:
        best, order = order[0], order[1:]
        keep.append(best)
        order = order[box_iou(boxes[best], boxes[order]) <= iou_thr]
    return torch.stack(keep) if keep else torch.zeros(0, dtype=torch.long)


def _image_people(
    dcc: DCC,
    dense: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    grid: tuple[torch.Tensor, torch.Tensor],
    input_size: tuple[int, int],
    thresholds: tuple[float, float],
) -> People:
    """One image: (N,) scores, (N,4) box deltas, (N,K) visibilities, (N,C) pose vectors → people."""
    scores, deltas, vis, poses = dense
    priors, strides = grid
    score_thr, nms_thr = thresholds
    candidates = torch.nonzero(scores > score_thr)[:, 0]
    candidates = candidates[scores[candidates].argsort(descending=True)]
    boxes = decode_boxes(deltas[candidates], priors[candidates], strides[candidates])
    if nms_thr < 1.0:
        survivors = nms(boxes, scores[candidates], nms_thr)
        candidates, boxes = candidates[survivors], boxes[survivors]
    keypoints = dcc(poses[candidates], boxes, priors[candidates])
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, input_size[0])
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, input_size[1])
    return People(
        boxes.cpu().numpy(),
        scores[candidates].cpu().numpy(),
        keypoints.cpu().numpy(),
        vis[candidates].cpu().numpy(),
    )


@torch.no_grad()
def rtmo_people(
    model: RTMO,
    outputs: tuple[list[torch.Tensor], ...],
    score_thr: float = SCORE_THR,
    nms_thr: float = NMS_THR,
) -> list[People]:
    """Per image of the batch: the people above ``score_thr`` after NMS, in input pixels."""
    score_maps, box_maps, vis_maps, pose_maps = outputs
    device = score_maps[0].device
    priors, strides = grid_priors([(m.shape[2], m.shape[3]) for m in score_maps], model.strides)
    grid = (priors.to(device), strides.to(device))
    finest = model.strides[0]
    input_size = (score_maps[0].shape[3] * finest, score_maps[0].shape[2] * finest)
    batch = zip(
        flatten_levels(score_maps).sigmoid().max(dim=-1).values,
        flatten_levels(box_maps),
        flatten_levels(vis_maps).sigmoid(),
        flatten_levels(pose_maps),
        strict=True,
    )
    return [_image_people(model.head.dcc, dense, grid, input_size, (score_thr, nms_thr)) for dense in batch]
