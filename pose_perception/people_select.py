"""One-stage person selection: score threshold, then greedy NMS, as MMPose's RTMO ``predict``.

NumPy only, so the PyTorch and ONNX Runtime backends share it (and robots without torch run it):
candidates above ``score_thr`` sorted high to low, a box dropped when its IoU with a kept one
exceeds ``nms_thr``, kept boxes clamped to the network input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IOU_EPS = 1e-6
SCORE_THR = 0.1  # the official RTMO test_cfg
NMS_THR = 0.65


@dataclass(frozen=True)
class People:
    """Detected people, highest score first."""

    bboxes: np.ndarray  # (N, 4) x1, y1, x2, y2
    bbox_scores: np.ndarray  # (N,)
    keypoints: np.ndarray  # (N, K, 2)
    keypoint_scores: np.ndarray  # (N, K)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (4,) box with each of (N, 4) boxes."""
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    wh = np.clip(np.minimum(box[2:], boxes[:, 2:]) - np.maximum(box[:2], boxes[:, :2]), 0, None)
    overlap = wh[:, 0] * wh[:, 1]
    return overlap / np.maximum(area + areas - overlap, np.float32(IOU_EPS))


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Indices of the boxes greedy NMS keeps, highest score first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best, order = order[0], order[1:]
        keep.append(best)
        order = order[box_iou(boxes[best], boxes[order]) <= iou_thr]
    return np.asarray(keep, dtype=np.int64)


def select_indices(boxes: np.ndarray, scores: np.ndarray, score_thr: float, nms_thr: float) -> np.ndarray:
    """Rows of the people kept: above ``score_thr``, highest score first, then NMS."""
    candidates = np.flatnonzero(scores > score_thr)
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
    if nms_thr < 1.0 and candidates.size:
        candidates = candidates[nms(boxes[candidates], scores[candidates], nms_thr)]
    return candidates


def clamp_boxes(boxes: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """A copy of (N, 4) boxes clamped to the (width, height) network input."""
    clamped = boxes.copy()
    clamped[:, 0::2] = np.clip(clamped[:, 0::2], 0, input_size[0])
    clamped[:, 1::2] = np.clip(clamped[:, 1::2], 0, input_size[1])
    return clamped


def select_people(
    dense: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    input_size: tuple[int, int],
    score_thr: float,
    nms_thr: float,
) -> People:
    """One image's per-cell (boxes, scores, keypoints, keypoint scores) → the people kept."""
    boxes, scores, keypoints, keypoint_scores = dense
    kept = select_indices(boxes, scores, score_thr, nms_thr)
    return People(clamp_boxes(boxes[kept], input_size), scores[kept], keypoints[kept], keypoint_scores[kept])
