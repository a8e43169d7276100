"""Top-down pre/post-processing, numerically identical to the official RTMPose pipeline.

bbox (x1,y1,x2,y2) → centre + scale (padding 1.25, aspect ratio fixed to the network's
w/h) → affine warp (bilinear, zero border) → BGR→RGB → (x − mean) / std; and the
inverse map from network-input pixels back to image pixels. All boxes of a frame are
warped into one batch.
"""

from __future__ import annotations

import cv2
import numpy as np

IMAGENET_MEAN_RGB = (123.675, 116.28, 103.53)
IMAGENET_STD_RGB = (58.395, 57.12, 57.375)


def boxes_to_center_scale(
    bboxes_xyxy: np.ndarray, input_size: tuple[int, int], padding: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """(N,4) boxes → centres (N,2) and scales (N,2) in pixels, aspect ratio = w/h of input."""
    boxes = np.asarray(bboxes_xyxy, dtype=np.float32).reshape(-1, 4)
    center = (boxes[:, :2] + boxes[:, 2:4]) * 0.5
    scale = (boxes[:, 2:4] - boxes[:, :2]) * padding
    aspect = input_size[0] / input_size[1]
    w, h = scale[:, :1], scale[:, 1:]
    scale = np.where(w > h * aspect, np.hstack([w, w / aspect]), np.hstack([h * aspect, h]))
    return center, scale.astype(np.float32)


def warp_matrix(center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """2×3 affine map from the image to the crop (no rotation).

    Built from three float32 point pairs like the official ``get_warp_matrix`` so that
    rounding (and hence the bilinear samples) is bit-for-bit the same.
    """
    dst_w, dst_h = output_size
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = center
    src[1] = center + np.array([scale[0] * -0.5, 0.0])
    dst[0] = (dst_w * 0.5, dst_h * 0.5)
    dst[1] = (dst_w * 0.5 - dst_w * 0.5, dst_h * 0.5)
    for pts in (src, dst):
        direction = pts[0] - pts[1]
        pts[2] = pts[1] + np.array([-direction[1], direction[0]])
    return cv2.getAffineTransform(src, dst)


def warp_crops(
    image_bgr: np.ndarray,
    centers: np.ndarray,
    scales: np.ndarray,
    input_size: tuple[int, int],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Warp every box into an (N,H,W,3) uint8 BGR batch (bilinear, black border).

    ``out`` lets a caller reuse one buffer across frames: a fresh multi-megabyte array
    per frame costs page faults comparable to the warp itself.
    """
    width, height = input_size
    crops = np.empty((len(centers), height, width, 3), dtype=np.uint8) if out is None else out
    for i, (center, scale) in enumerate(zip(centers, scales, strict=False)):
        cv2.warpAffine(
            image_bgr,
            warp_matrix(center, scale, input_size),
            (width, height),
            dst=crops[i],
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    return crops


def normalize_crops(
    crops_bgr: np.ndarray,
    mean_rgb: tuple[float, float, float] = IMAGENET_MEAN_RGB,
    std_rgb: tuple[float, float, float] = IMAGENET_STD_RGB,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """(N,H,W,3) uint8 BGR → (N,3,H,W) float32 RGB, (x − mean) / std (into ``out`` if given).

    Per crop, ``cv2.split`` makes contiguous uint8 planes, then one subtract and one
    divide write straight into the output plane: ~2× faster than strided numpy access
    and ~10× faster than slice/transpose/astype, bit-identical to both. This runs on
    every crop of every frame.
    """
    n, height, width, _ = crops_bgr.shape
    blob = np.empty((n, 3, height, width), dtype=np.float32) if out is None else out
    mean = np.asarray(mean_rgb, np.float32)
    std = np.asarray(std_rgb, np.float32)
    for i in range(n):
        planes_bgr = cv2.split(crops_bgr[i])
        for rgb_channel in range(3):
            plane = blob[i, rgb_channel]
            np.subtract(planes_bgr[2 - rgb_channel], mean[rgb_channel], out=plane)
            np.divide(plane, std[rgb_channel], out=plane)
    return blob


def keypoints_to_image(
    keypoints: np.ndarray, centers: np.ndarray, scales: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """Map (N,K,2) keypoints from network-input pixels back to image pixels."""
    size = np.asarray(input_size, np.float32)
    return (keypoints / size * scales[:, None, :] + centers[:, None, :] - 0.5 * scales[:, None, :]).astype(
        np.float32
    )
