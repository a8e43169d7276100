"""Pinhole camera model: pixels <-> rays in the camera optical frame (x right, y down, z forward).

The lens distortion of the raw image (``sensor_msgs/CameraInfo.d``) travels with the
intrinsics, so whoever lifts keypoints found in that raw image knows to undistort them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PinholeCamera:
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    # plumb_bob k1, k2, p1, p2, k3 or OpenCV's 8/12/14-term rational model; () or zeros: none
    distortion: tuple[float, ...] = ()

    @classmethod
    def from_k(
        cls, k: Sequence[float], width: int, height: int, distortion: Sequence[float] = ()
    ) -> PinholeCamera:
        """From a row-major 3x3 intrinsic matrix (``sensor_msgs/CameraInfo.k``) and ``d``."""
        if len(k) != 9:
            raise ValueError(f"K must have 9 elements, got {len(k)}")
        fx, fy, cx, cy = float(k[0]), float(k[4]), float(k[2]), float(k[5])
        if not (fx > 0 and fy > 0 and math.isfinite(cx) and math.isfinite(cy)):
            raise ValueError(f"K has no usable focal length: fx={fx}, fy={fy}")
        return cls(fx, fy, cx, cy, int(width), int(height), tuple(float(v) for v in distortion))

    @classmethod
    def nominal(cls, width: int, height: int, hfov_deg: float) -> PinholeCamera:
        """A centred camera with square pixels and the given horizontal field of view."""
        if not 0.0 < hfov_deg < 180.0:
            raise ValueError(f"hfov_deg must be in (0, 180), got {hfov_deg}")
        f = 0.5 * width / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(f, f, (width - 1) / 2.0, (height - 1) / 2.0, int(width), int(height))

    @classmethod
    def for_image(cls, info: PinholeCamera | None, width: int, height: int, hfov_deg: float) -> PinholeCamera:
        """The CameraInfo camera when it describes this image size, else a nominal one."""
        if info is not None and (info.width, info.height) == (width, height):
            return info
        return cls.nominal(width, height, hfov_deg)

    @property
    def has_distortion(self) -> bool:
        return any(v != 0 for v in self.distortion)

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 intrinsic matrix K (what OpenCV's calibration functions take)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def backproject(self, pixels: np.ndarray, depth: np.ndarray | float) -> np.ndarray:
        """(N,2) pixels at depth(s) z -> (N,3) points in metres."""
        pixels = np.asarray(pixels, np.float64).reshape(-1, 2)
        z = np.broadcast_to(np.asarray(depth, np.float64), (len(pixels),))
        x = (pixels[:, 0] - self.cx) * z / self.fx
        y = (pixels[:, 1] - self.cy) * z / self.fy
        return np.stack([x, y, z], axis=1)

    def distance_from_height(self, height_px: float, height_m: float) -> float:
        """Depth at which an object ``height_m`` tall spans ``height_px`` pixels.

        Places a person at a plausible distance (markers, TF) while no depth exists.
        """
        return self.fy * height_m / max(float(height_px), 1.0)
