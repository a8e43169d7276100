"""The synthetic scene's pinhole camera: intrinsics, pose above the ground, pixel rays.

World frame (metres, right-handed): X left, Y up, Z forward (the camera's viewing
direction before tilt); the ground is Y = 0 and the camera sits at (0, height, 0).
Camera frame: the REP-103 optical frame (x right, y down, z forward). Pixel centres are
at integer coordinates (``u = fx·x/z + cx``), as in :class:`pose_perception.camera.PinholeCamera`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pose_perception.camera import PinholeCamera


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    elevation: float = 1.5  # metres above the ground
    tilt: float = 0.0  # radians, > 0 looks down

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def rotation(self) -> np.ndarray:
        """World → camera rotation (rows: the camera's right, down, forward axes in the world)."""
        c, s = math.cos(self.tilt), math.sin(self.tilt)
        return np.array([[-1.0, 0.0, 0.0], [0.0, -c, -s], [0.0, -s, c]])

    @property
    def position(self) -> np.ndarray:
        return np.array([0.0, self.elevation, 0.0])

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """(…, 3) world points → camera optical frame."""
        return (np.asarray(points) - self.position) @ self.rotation.T

    def camera_to_world(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points) @ self.rotation + self.position

    def project(self, points: np.ndarray) -> np.ndarray:
        """(…, 3) camera-frame points → (…, 2) pixels (``K·X/Z``)."""
        p = np.asarray(points, np.float64)
        z = p[..., 2]
        return np.stack([self.fx * p[..., 0] / z + self.cx, self.fy * p[..., 1] / z + self.cy], axis=-1)

    def rays(self) -> np.ndarray:
        """(height, width, 3) unit ray directions in the camera frame (cached, read-only)."""
        return _rays(self.width, self.height, self.fx, self.fy, self.cx, self.cy)

    def pinhole(self) -> PinholeCamera:
        return PinholeCamera(self.fx, self.fy, self.cx, self.cy, self.width, self.height)

    def intrinsics(self) -> dict[str, float]:
        return {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy}


@lru_cache(maxsize=8)
def _rays(width: int, height: int, fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    u = (np.arange(width) - cx) / fx
    v = (np.arange(height) - cy) / fy
    d = np.empty((height, width, 3))
    d[..., 0] = u[None, :]
    d[..., 1] = v[:, None]
    d[..., 2] = 1.0
    d /= np.linalg.norm(d, axis=2, keepdims=True)
    d.flags.writeable = False
    return d


def sample_camera(
    rng: np.random.Generator,
    width: int = 640,
    height: int = 480,
    focal_px: tuple[float, float] = (400.0, 1200.0),
    elevation_m: tuple[float, float] = (0.6, 2.2),
) -> Camera:
    """Random intrinsics (fx uniform in ``focal_px`` at 640 px width, scaled with the
    width), principal point near the centre; elevation uniform in ``elevation_m``; the
    tilt is set later by the scene."""
    f = rng.uniform(*focal_px) * width / 640.0
    return Camera(
        width,
        height,
        float(f),
        float(f * rng.uniform(0.99, 1.01)),
        float((width - 1) / 2 + rng.normal(0.0, 0.01 * width)),
        float((height - 1) / 2 + rng.normal(0.0, 0.01 * height)),
        float(rng.uniform(*elevation_m)),
        0.0,
    )
