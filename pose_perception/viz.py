"""Draw keypoints, limbs and person boxes on a BGR image (a pure function, no state).

Skeleton colours are RGB (as in MMPose dataset files and our ONNX metadata); OpenCV
wants BGR, so every colour is reversed here and nowhere else. Whole-body groups (hands,
face, feet) are drawn smaller and in their group's colour (``group_styles.GROUP_STYLES``,
the table the RViz markers use too).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pose_perception.group_styles import keypoint_colors, keypoint_scales, link_colors, link_scales
from pose_perception.people import Person
from pose_perception.skeletons import Color, Skeleton

_SHIFT = 4  # OpenCV fixed-point bits: sub-pixel accurate anti-aliased drawing
_ONE = 1 << _SHIFT
_MAX_COORD = 1e6  # keeps absurd (but finite) coordinates from overflowing int32 after the shift
_BOX_BGR = (0, 220, 255)
_TEXT_BGR = (0, 0, 0)


def draw_poses(
    image_bgr: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    skeleton: Skeleton,
    threshold: float = 0.3,
    bboxes: np.ndarray | None = None,
    labels: Sequence[str] | None = None,
) -> np.ndarray:
    """A copy of ``image_bgr`` with N poses drawn; joints/limbs below ``threshold`` are left out.

    ``keypoints`` is (N,K,2) in image pixels, ``scores`` (N,K); ``bboxes`` (N,4|5) and
    ``labels`` (one string per box, e.g. ``"id 3 0.87"``) are optional.
    """
    canvas = _color_copy(image_bgr)
    points, confident = _check_poses(keypoints, scores, skeleton, threshold)
    thickness, radius = _sizes(canvas.shape[:2])
    for person, ok in zip(points, confident, strict=True):
        _draw_links(canvas, person, ok, skeleton, thickness)
        _draw_joints(canvas, person, ok, skeleton, radius)
    if bboxes is not None:
        _draw_boxes(canvas, bboxes, labels, thickness)
    elif labels is not None:
        raise ValueError("labels are drawn on boxes: pass bboxes too")
    return canvas


def draw_people(
    image_bgr: np.ndarray, people: Sequence[Person], skeleton: Skeleton, threshold: float
) -> np.ndarray:
    """``draw_poses`` for pipeline output: boxes labelled with track id and score."""
    k = skeleton.num_keypoints
    keypoints = np.array([p.keypoints for p in people], np.float32).reshape(-1, k, 2)
    scores = np.array([p.keypoint_scores for p in people], np.float32).reshape(-1, k)
    boxes = np.array([p.bbox for p in people], np.float32).reshape(-1, 4)
    return draw_poses(image_bgr, keypoints, scores, skeleton, threshold, boxes, [p.label for p in people])


def _color_copy(image: np.ndarray) -> np.ndarray:
    """Always draw on a new 3-channel uint8 array so the caller's frame stays untouched."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("image must be a uint8 numpy array")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be H×W×3 BGR or H×W grey, got shape {image.shape}")
    return image.copy()


def _check_poses(
    keypoints: np.ndarray, scores: np.ndarray, skeleton: Skeleton, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-point pixel coordinates (N,K,2) and a drawable mask (N,K)."""
    k = skeleton.num_keypoints
    kpts = np.asarray(keypoints, dtype=np.float64)
    conf = np.asarray(scores, dtype=np.float64)
    if kpts.ndim == 2 and conf.ndim == 1:  # one person given without the N axis
        kpts, conf = kpts[None], conf[None]
    if kpts.size == 0 and conf.size == 0:
        kpts, conf = kpts.reshape(0, k, 2), conf.reshape(0, k)
    if kpts.ndim != 3 or kpts.shape[1:] != (k, 2) or conf.shape != kpts.shape[:2]:
        raise ValueError(
            f"expected keypoints (N,{k},2) and scores (N,{k}) for skeleton {skeleton.name!r}, "
            f"got {np.shape(keypoints)} and {np.shape(scores)}"
        )
    ok = (conf >= threshold) & np.isfinite(kpts).all(axis=2)
    clean = np.where(ok[..., None], kpts, 0.0).clip(-_MAX_COORD, _MAX_COORD)
    return np.round(clean * _ONE).astype(np.int64), ok


def _sizes(shape: tuple[int, int]) -> tuple[int, int]:
    """Line thickness and joint radius that stay visible on small and large frames alike."""
    side = max(shape)
    return max(1, round(side / 400)), max(2, round(side / 200))


def _bgr(color: Color) -> tuple[int, int, int]:
    r, g, b = color
    return (int(b), int(g), int(r))


def _draw_links(
    canvas: np.ndarray, points: np.ndarray, ok: np.ndarray, skeleton: Skeleton, thickness: int
) -> None:
    styles = zip(skeleton.links, link_colors(skeleton), link_scales(skeleton), strict=True)
    for (a, b), color, scale in styles:
        if ok[a] and ok[b]:
            p, q = tuple(int(v) for v in points[a]), tuple(int(v) for v in points[b])
            cv2.line(canvas, p, q, _bgr(color), max(1, round(thickness * scale)), cv2.LINE_AA, _SHIFT)


def _draw_joints(
    canvas: np.ndarray, points: np.ndarray, ok: np.ndarray, skeleton: Skeleton, radius: int
) -> None:
    colors, scales = keypoint_colors(skeleton), keypoint_scales(skeleton)
    for i in np.flatnonzero(ok):
        center = (int(points[i, 0]), int(points[i, 1]))
        scaled = max(_ONE, round(radius * scales[i] * _ONE))  # sub-pixel radius, at least 1 px
        cv2.circle(canvas, center, scaled, _bgr(colors[i]), cv2.FILLED, cv2.LINE_AA, _SHIFT)


def _draw_boxes(canvas: np.ndarray, bboxes: np.ndarray, labels: Sequence[str] | None, thickness: int) -> None:
    boxes = np.asarray(bboxes, dtype=np.float64)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    elif boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(f"bboxes must be (N,4) or (N,5), got {np.shape(bboxes)}")
    if labels is not None and len(labels) != len(boxes):
        raise ValueError(f"{len(labels)} labels for {len(boxes)} boxes")
    font_scale = max(0.35, max(canvas.shape[:2]) / 1400)
    for i, box in enumerate(boxes[:, :4]):
        if not np.isfinite(box).all():
            continue
        x1, y1, x2, y2 = (round(float(v)) for v in box.clip(-_MAX_COORD, _MAX_COORD))
        cv2.rectangle(canvas, (x1, y1), (x2, y2), _BOX_BGR, thickness, cv2.LINE_AA)
        if labels is not None and labels[i]:
            _draw_label(canvas, labels[i], (x1, y1), font_scale)


def _draw_label(canvas: np.ndarray, text: str, corner: tuple[int, int], font_scale: float) -> None:
    """Text on a filled tag above the box corner (inside the image when the box touches the top)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (w, h), baseline = cv2.getTextSize(text, font, font_scale, 1)
    x = min(max(corner[0], 0), max(canvas.shape[1] - w, 0))
    top = corner[1] - h - baseline - 2
    y = corner[1] if top < 0 else top  # no room above: put the tag inside the box
    cv2.rectangle(canvas, (x, y), (x + w + 2, y + h + baseline + 2), _BOX_BGR, cv2.FILLED)
    cv2.putText(canvas, text, (x + 1, y + h + 1), font, font_scale, _TEXT_BGR, 1, cv2.LINE_AA)
