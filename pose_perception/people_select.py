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


def select_people(
    dense: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    input_size: tuple[int, int],
    score_thr: float,
    nms_thr: float,
) -> People:
    """One image's per-cell (boxes, scores, keypoints, keypoint scores) → the people kept."""
    boxes, scores, keypoints, keypoint_scores = dense
    candidates = np.flatnonzero(scores > score_thr)
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
    if nms_thr < 1.0 and candidates.size:
        candidates = candidates[nms(boxes[candidates], scores[candidates], nms_thr)]
    kept = boxes[candidates].copy()
    kept[:, 0::2] = np.clip(kept[:, 0::2], 0, input_size[0])
    kept[:, 1::2] = np.clip(kept[:, 1::2], 0, input_size[1])
    return People(kept, scores[candidates], keypoints[candidates], keypoint_scores[candidates])
