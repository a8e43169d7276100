"""Box and pose geometry of the tracker: a constant-velocity Kalman box, IoU, OKS.

Split from ``tracking.py`` (the association and track life) so that each file does one
job; ``tracking`` re-exports these names, which the pipeline and the synthetic data use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pose_perception.skeletons import COCO17

COCO_SIGMAS = np.asarray(COCO17.sigmas, np.float64)  # the built-in skeleton carries them


class BoxKalman:
    """Constant-velocity Kalman filter on a box: state (cx, cy, w, h, vcx, vcy, vw, vh).

    Noise scales with the box size (as in DeepSORT), so near and far people are treated
    alike; process noise is the continuous white-acceleration model integrated over dt.
    With ``size_velocity_tau_s`` the size rates (vw, vh) decay with that time constant
    (a first-order Gauss-Markov velocity, Singer 1970): a walker's box width swings with
    the stride, and extrapolating that swing through a 2 s gap shrinks the box to nothing.
    """

    def __init__(
        self,
        box: np.ndarray,
        measurement_std: float,
        acceleration_std: float,
        size_velocity_tau_s: float | None = None,
    ) -> None:
        self.measurement_std = measurement_std
        self.acceleration_std = acceleration_std
        self.size_velocity_tau_s = size_velocity_tau_s
        z = box_to_cxcywh(box)
        self.x = np.concatenate([z, np.zeros(4)])
        scale = self._scale(z)
        self.P = np.diag(np.concatenate([(2 * measurement_std * scale) ** 2, (0.5 * scale) ** 2]))

    @staticmethod
    def _scale(z: np.ndarray) -> np.ndarray:
        """Per-component size: x and w scale with width, y and h with height."""
        w, h = max(float(z[2]), 1.0), max(float(z[3]), 1.0)
        return np.array([w, h, w, h])

    def predicted(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """(x, P) after ``dt`` seconds, without changing the filter."""
        dt = max(dt, 0.0)
        f = np.eye(8)
        f[:4, 4:] = dt * np.eye(4)
        if self.size_velocity_tau_s:  # size rates decay: ∫₀ᵈᵗ e^(−s/τ) ds = τ(1 − e^(−dt/τ))
            tau = self.size_velocity_tau_s
            decay = np.exp(-dt / tau)
            f[[2, 3], [6, 7]] = tau * (1.0 - decay)
            f[[6, 7], [6, 7]] = decay
        q_acc = (self.acceleration_std * self._scale(self.x[:4])) ** 2
        q = np.zeros((8, 8))
        idx = np.arange(4)
        q[idx, idx] = q_acc * dt**3 / 3
        q[idx, idx + 4] = q[idx + 4, idx] = q_acc * dt**2 / 2
        q[idx + 4, idx + 4] = q_acc * dt
        x = f @ self.x
        x[2:4] = np.maximum(x[2:4], 1.0)  # a box never shrinks below a pixel
        return x, f @ self.P @ f.T + q

    def predict(self, dt: float) -> None:
        self.x, self.P = self.predicted(dt)

    def update(self, box: np.ndarray) -> None:
        """Standard Kalman correction with the measured box."""
        z = box_to_cxcywh(box)
        r = np.diag((self.measurement_std * self._scale(z)) ** 2)
        s = self.P[:4, :4] + r
        gain = np.linalg.solve(s, self.P[:4, :]).T  # P Hᵀ S⁻¹ (S symmetric)
        self.x = self.x + gain @ (z - self.x[:4])
        self.P = self.P - gain @ self.P[:4, :]
        self.P = 0.5 * (self.P + self.P.T)

    @property
    def box(self) -> np.ndarray:
        return cxcywh_to_box(self.x[:4])

    @property
    def position_variance(self) -> float:
        """Mean variance (px²) of the predicted centre, beyond the box-size-relative noise."""
        return float(0.5 * (self.P[0, 0] + self.P[1, 1]))

    @property
    def velocity(self) -> np.ndarray:
        """(vcx, vcy) in pixels per second."""
        return self.x[4:6].copy()


def oks_sigmas(num_keypoints: int, sigmas: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """OKS sigmas: the given ones, COCO-17's for 17 keypoints, else the COCO mean for each."""
    if sigmas is not None:
        return np.asarray(sigmas, np.float64)
    if num_keypoints == len(COCO_SIGMAS):
        return COCO_SIGMAS
    return np.full(num_keypoints, float(np.mean(COCO_SIGMAS)))


def box_to_cxcywh(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box)[:4])
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1.0), max(y2 - y1, 1.0)])


def cxcywh_to_box(z: np.ndarray) -> np.ndarray:
    cx, cy, w, h = (float(v) for v in z[:4])
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (T,4) and (N,4) x1,y1,x2,y2 boxes → (T,N)."""
    inter, area_a, area_b = _intersections(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def box_containment(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """(T, N): fraction of each ``inner`` box's area inside each ``outer`` box."""
    inter, area, _ = _intersections(inner, outer)
    return inter / np.maximum(area, 1e-12)[:, None]


def _intersections(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T,N) intersection areas of two box sets, and each set's areas."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=1)
    return inter, area_a, area_b


def object_keypoint_similarity(
    kps_a: np.ndarray,
    ok_a: np.ndarray,
    kps_b: np.ndarray,
    ok_b: np.ndarray,
    boxes_a: np.ndarray,
    sigmas: np.ndarray,
    extra_var: np.ndarray | None = None,
) -> np.ndarray:
    """(T, N) COCO OKS between pose sets, scaled by ``boxes_a`` area, over keypoints valid in both.

    Pairs sharing no valid keypoint get NaN (no evidence either way).
    """
    d2 = np.sum((kps_a[:, None] - kps_b[None]) ** 2, axis=-1)  # (T, N, K)
    wh = np.clip(boxes_a[:, 2:] - boxes_a[:, :2], 1.0, None)
    area = (wh[:, 0] * wh[:, 1])[:, None, None]
    var = area * (2.0 * sigmas) ** 2
    if extra_var is not None:  # (T,) px²: uncertainty of where pose A's points really are
        var = var + np.asarray(extra_var, np.float64)[:, None, None]
    e = np.exp(-d2 / (2.0 * var))
    valid = ok_a[:, None, :] & ok_b[None, :, :]
    count = valid.sum(-1)
    return np.where(count > 0, (e * valid).sum(-1) / np.maximum(count, 1), np.nan)
