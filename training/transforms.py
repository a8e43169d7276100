"""The RTMPose top-down training augmentation, written from the official pipeline's
documented behaviour (docs/training.md lists the sources).

Order per instance: box → centre/scale → random flip → half-body → random shift /
scale / rotation (truncated normal) → one affine warp to the input size → HSV jitter →
blur / median blur / coarse dropout (Albumentations) → normalise → SimCC targets.

Every random draw comes from the ``numpy.random.Generator`` the caller passes, so a
sample depends only on (seed, epoch, index): workers, ranks and resumes cannot change it.
The flip is folded into the affine matrix (mirror the crop instead of the image),
which is the same geometry without warping the full image twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from pose_perception.training.config import AugmentConfig

# Albumentations checks PyPI for a newer version at import unless told not to.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

_LOWER_BODY_WORDS = ("hip", "knee", "ankle", "foot", "heel", "toe")


@dataclass(frozen=True)
class Sample:
    """One instance before augmentation: image, box and keypoints in image pixels."""

    image: np.ndarray  # H×W×3 uint8 BGR
    center: np.ndarray  # (2,)
    scale: np.ndarray  # (2,) box size × padding, aspect ratio fixed to the input
    keypoints: np.ndarray  # (K, 2)
    visible: np.ndarray  # (K,) 0/1


def lower_body_mask(keypoint_names: tuple[str, ...]) -> np.ndarray:
    """Half-body split by name (COCO: hips, knees, ankles are the lower body)."""
    return np.array([any(w in n for w in _LOWER_BODY_WORDS) for n in keypoint_names], bool)


def fix_aspect(scale: np.ndarray, aspect: float) -> np.ndarray:
    """Grow the shorter side so that w / h == aspect (what TopdownAffine does)."""
    w, h = float(scale[0]), float(scale[1])
    return np.array([w, w / aspect] if w > h * aspect else [h * aspect, h], np.float32)


def truncnorm(rng: np.random.Generator, size: int | tuple[int, ...] = ()) -> np.ndarray:
    """Standard normal truncated to [-1, 1] by rejection (scipy's truncnorm(-1, 1))."""
    out = rng.standard_normal(size)
    bad = np.abs(out) > 1
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 1
    return out


def half_body(
    sample: Sample, lower: np.ndarray, cfg: AugmentConfig, aspect: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Maybe re-centre the box on the upper or the lower body's visible keypoints."""
    vis = sample.visible > 0
    # draws are made unconditionally so that the stream length never depends on data
    apply, prefer_upper = rng.random() < cfg.half_body_prob, rng.random() < cfg.half_body_upper_prob
    if vis.sum() < cfg.half_body_min_total or not apply:
        return sample.center, sample.scale
    upper_ids = np.flatnonzero(vis & ~lower)
    lower_ids = np.flatnonzero(vis & lower)
    upper_ok = len(upper_ids) >= cfg.half_body_min_upper
    lower_ok = len(lower_ids) >= cfg.half_body_min_lower
    if not (upper_ok or lower_ok):
        return sample.center, sample.scale
    ids = upper_ids if (upper_ok and (prefer_upper or not lower_ok)) else lower_ids
    pts = sample.keypoints[ids]
    center = pts.mean(axis=0).astype(np.float32)
    size = (pts.max(axis=0) - pts.min(axis=0)) * cfg.half_body_padding
    return center, fix_aspect(np.maximum(size, 1.0), aspect)


def random_box(
    center: np.ndarray, scale: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """RandomBBoxTransform: shift ∝ box size, scale in ``scale_range``, rotation, each
    a truncated normal applied with its own probability."""
    t = truncnorm(rng, 4)
    gates = rng.random(3)
    offset = t[:2] * cfg.shift_factor * scale if gates[0] < cfg.shift_prob else np.zeros(2)
    lo, hi = cfg.scale_range
    factor = t[2] * (hi - lo) / 2 + (hi + lo) / 2 if gates[1] < cfg.scale_prob else 1.0
    rotation = float(t[3] * cfg.rotate_factor) if gates[2] < cfg.rotate_prob else 0.0
    return (center + offset).astype(np.float32), (scale * factor).astype(np.float32), rotation


def affine_matrix(
    center: np.ndarray, scale: np.ndarray, rotation_deg: float, input_size: tuple[int, int], flip: bool
) -> np.ndarray:
    """2×3 map image → crop: box centre to crop centre, box width to crop width,
    rotated by ``rotation_deg`` (counter-clockwise), then mirrored if ``flip``."""
    width, height = input_size
    s = width / float(scale[0])
    a = np.deg2rad(rotation_deg)
    cos, sin = np.cos(a) * s, np.sin(a) * s
    m = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]])
    m[:, 2] = np.array([width * 0.5, height * 0.5]) - m[:, :2] @ np.asarray(center, np.float64)
    if flip:
        m[0] = -m[0]
        m[0, 2] += width - 1
    return m


def hsv_jitter(image: np.ndarray, deltas: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """YOLOX HSV augmentation: each of H, S, V is shifted (or not, 50/50) by a uniform
    integer gain; hue wraps at 180 (OpenCV uint8 HSV), S and V clip."""
    gains = rng.uniform(-1, 1, 3) * np.asarray(deltas) * rng.integers(0, 2, 3)
    gains = gains.astype(np.int16)
    if not gains.any():
        return image
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + gains[0]) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] + gains[1], 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] + gains[2], 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


class PixelAugment:
    """Blur, median blur and one coarse-dropout hole via Albumentations.

    Albumentations keeps its own random state; we re-seed it from ``rng`` for every
    sample so that the result is a function of the sample's generator only.
    """

    def __init__(self, cfg: AugmentConfig) -> None:
        try:
            import albumentations as A
        except ImportError as err:  # pragma: no cover - setup_env.sh installs it
            raise ImportError(
                "training needs albumentations (installed with --no-deps next to the OpenCV "
                "contrib build; run scripts/setup_env.sh, see docs/training.md)"
            ) from err
        lo, hi = cfg.dropout_size
        self.compose = A.Compose(
            [
                A.Blur(blur_limit=(3, 7), p=cfg.blur_prob),
                A.MedianBlur(blur_limit=(3, 7), p=cfg.median_blur_prob),
                A.CoarseDropout(
                    num_holes_range=(1, 1),
                    hole_height_range=(lo, hi),
                    hole_width_range=(lo, hi),
                    fill=0,
                    p=cfg.dropout_prob,
                ),
            ]
        )

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        self.compose.set_random_seed(int(rng.integers(0, 2**31 - 1)))
        return self.compose(image=image)["image"]


class TopdownAugment:
    """The whole per-instance train pipeline up to (and excluding) normalisation."""

    def __init__(
        self,
        cfg: AugmentConfig,
        input_size: tuple[int, int],
        flip_indices: tuple[int, ...],
        lower: np.ndarray,
    ) -> None:
        self.cfg = cfg
        self.input_size = input_size
        self.flip_indices = np.asarray(flip_indices)
        self.lower = lower
        self.pixels = PixelAugment(cfg)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """→ crop (H×W×3 uint8 BGR), keypoints (K,2) in crop pixels, visibility (K,)."""
        aspect = self.input_size[0] / self.input_size[1]
        flip = bool(rng.random() < self.cfg.flip_prob)
        center, scale = half_body(sample, self.lower, self.cfg, aspect, rng)
        center, scale, rotation = random_box(center, scale, self.cfg, rng)
        matrix = affine_matrix(center, fix_aspect(scale, aspect), rotation, self.input_size, flip)
        crop = warp(sample.image, matrix, self.input_size)
        keypoints = transform_points(sample.keypoints, matrix)
        visible = sample.visible.copy()
        if flip:
            keypoints, visible = keypoints[self.flip_indices], visible[self.flip_indices]
        crop = hsv_jitter(crop, self.cfg.hsv_deltas, rng)
        crop = self.pixels(crop, rng)
        return crop, keypoints, visible


def warp(image: np.ndarray, matrix: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    return cv2.warpAffine(
        image, matrix, input_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)
