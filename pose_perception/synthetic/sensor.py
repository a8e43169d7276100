"""A depth sensor's view of a rendered z-buffer: noise growing with z², blob holes, speckle.

The renderer's depth is exact. Structured-light and stereo cameras are not: their depth
noise grows with the square of the distance (σ ≈ 1.2 mm at 1 m, 4.8 mm at 2 m for the
default coefficient, the order of a RealSense D4xx at short range), and they leave blobs
without depth (dark or shiny surfaces, shadowed regions) plus isolated dropouts. Used by
the depth tests and ``bench/depth_accuracy.py`` so both measure against the same sensor.
"""

from __future__ import annotations

import cv2
import numpy as np

from pose_perception.depth import depth_to_metres
from pose_perception.synthetic.raster import depth_to_mm

NOISE_PER_M2 = 0.0012  # σ = NOISE_PER_M2 · z² metres
HOLE_FRACTION = 0.15  # of the image lost in smooth blobs
SPECKLE_FRACTION = 0.01  # isolated pixels lost


def hole_mask(shape: tuple[int, int], fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Blob-shaped dropouts (a smooth random field below its ``fraction`` quantile) + speckle."""
    h, w = shape
    low = rng.random((h // 16 + 2, w // 16 + 2)).astype(np.float32)
    field = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    mask = field < np.quantile(field, fraction)
    return mask | (rng.random(shape) < SPECKLE_FRACTION)


def sensor_depth(
    depth_m: np.ndarray,
    rng: np.random.Generator | None,
    noise_per_m2: float = NOISE_PER_M2,
    hole_fraction: float = HOLE_FRACTION,
) -> np.ndarray:
    """A rendered depth (float metres, 0 = nothing) as a 16UC1 camera would give it, in
    metres with NaN where it gives nothing; ``rng`` None = exact (only mm-quantised)."""
    z = np.asarray(depth_m, np.float64)
    if rng is not None:
        surface = z > 0
        z = z + rng.standard_normal(z.shape) * noise_per_m2 * z**2
        z[~surface | hole_mask(z.shape, hole_fraction, rng)] = 0.0
    return depth_to_metres(depth_to_mm(np.clip(z, 0.0, None).astype(np.float32)), "16UC1")
