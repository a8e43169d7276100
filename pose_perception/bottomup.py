"""Whole-image preprocessing of one-stage (bottom-up) models, as MMPose's ``BottomupResize``.

The image keeps its aspect ratio, is scaled to fit the network input and centred in it, the rest
filled with 114 (grey); channels stay BGR and are not normalised (RTMO's data preprocessor has mean 0,
std 1). ``input_to_image`` maps network-input pixels back to image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .topdown import warp_matrix

PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """Where the image sits in the network input: MMPose's ``input_center``/``input_scale``."""

    input_size: tuple[int, int]  # (width, height)
    center: np.ndarray  # (2,) image pixels
    scale: np.ndarray  # (2,) image pixels spanned by the whole input


def letterbox(image_size: tuple[int, int], input_size: tuple[int, int]) -> Letterbox:
    """The fit of an image of ``image_size`` (w, h) into ``input_size`` (w, h), aspect kept."""
    img_w, img_h = image_size
    pad_w, pad_h = input_size
    ratio = img_w / img_h
    fit_w, fit_h = min(pad_w, pad_h * ratio), min(pad_h, pad_w / ratio)
    center = np.array([img_w / 2, img_h / 2], dtype=np.float32)
    scale = np.array([img_w * pad_w / fit_w, img_h * pad_h / fit_h], dtype=np.float32)
    return Letterbox(input_size, center, scale)


def bottomup_input(image_bgr: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """(H,W,3) uint8 BGR → (1,3,h,w) float32 network input and its ``Letterbox``."""
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"image: expected an (H, W, 3) BGR array, got shape {image_bgr.shape}")
    box = letterbox((image_bgr.shape[1], image_bgr.shape[0]), input_size)
    warped = cv2.warpAffine(
        image_bgr,
        warp_matrix(box.center, box.scale, input_size),
        input_size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(PAD_VALUE, PAD_VALUE, PAD_VALUE),
    )
    return np.ascontiguousarray(warped.transpose(2, 0, 1)[None], dtype=np.float32), box


def input_to_image(points: np.ndarray, box: Letterbox) -> np.ndarray:
    """(..., 2) network-input pixels → image pixels (the inverse of the letterbox)."""
    size = np.asarray(box.input_size, dtype=np.float32)
    return points / size * box.scale + box.center - 0.5 * box.scale
