"""Box and pose geometry of the tracker: a constant-velocity Kalman box, IoU, OKS.

Split from ``tracking.py`` (the association and track life) so that each file does one
job; ``tracking`` re-exports these names, which the pipeline and the synthetic data use.
"""

from __future__ import annotations

import functools
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
    The tracker advances and corrects all its filters at once (``predict_all``,
    ``correct_all``): one stacked product instead of a dozen tiny ones per track.
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
        scale = _scales(z)
        self.P = np.diag(np.concatenate([(2 * measurement_std * scale) ** 2, (0.5 * scale) ** 2]))
        self._box = (self.x, _read_only(cxcywh_to_box(self.x)))  # (state it was made from, box)

    def predicted(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """(x, P) after ``dt`` seconds, without changing the filter."""
        x, p = _predicted([self], self.x[None], self.P[None], dt)
        return x[0], p[0]

    def predict(self, dt: float) -> None:
        predict_all([self], dt)

    def update(self, box: np.ndarray) -> None:
        """Standard Kalman correction with the measured box."""
        correct_all([self], np.asarray(box, np.float64)[None, :4])

    @property
    def box(self) -> np.ndarray:
        """x1, y1, x2, y2 of the state: computed once per state and shared, so read-only."""
        if self._box[0] is not self.x:
            self._box = (self.x, _read_only(cxcywh_to_box(self.x)))
        return self._box[1]

    @property
    def position_variance(self) -> float:
        """Mean variance (px²) of the predicted centre, beyond the box-size-relative noise."""
        return float(0.5 * (self.P[0, 0] + self.P[1, 1]))

    @property
    def velocity(self) -> np.ndarray:
        """(vcx, vcy) in pixels per second."""
        return self.x[4:6].copy()


def predict_all(filters: Sequence[BoxKalman], dt: float) -> None:
    """Advance every filter by ``dt`` seconds (each as its own ``predict`` would)."""
    if not filters:
        return
    states, covariances = np.array([f.x for f in filters]), np.array([f.P for f in filters])
    _store(filters, *_predicted(filters, states, covariances, dt))


def correct_all(filters: Sequence[BoxKalman], boxes: np.ndarray) -> None:
    """Correct filter i with measured box i (M, 4): the standard Kalman update, stacked."""
    if not filters:
        return
    z = box_to_cxcywh(boxes)
    x, p = np.array([f.x for f in filters]), np.array([f.P for f in filters])
    measurement_std = np.array([f.measurement_std for f in filters])
    r = (measurement_std[:, None] * _scales(z)) ** 2
    # cx, cy, w, h are independent in this model (diagonal noise; the transition couples each
    # only with its own rate), so P's measured block, and S with it, is diagonal: dividing by
    # S's diagonal is the exact solve, without a batched LU per frame.
    s = p[:, _IDX, _IDX] + r  # (M, 4): diag(P[:4, :4] + R)
    gain = (p[:, :4, :] / s[:, :, None]).transpose(0, 2, 1)  # P Hᵀ S⁻¹
    x = x + (gain @ (z - x[:, :4])[:, :, None])[:, :, 0]
    p = p - gain @ p[:, :4, :]
    _store(filters, x, 0.5 * (p + p.transpose(0, 2, 1)))


def _store(filters: Sequence[BoxKalman], x: np.ndarray, p: np.ndarray) -> None:
    """Give each filter its row of the stacked states, with its box (one conversion for all)."""
    boxes = _read_only(cxcywh_to_box(x))
    for f, fx, fp, box in zip(filters, x, p, boxes, strict=True):
        f.x, f.P, f._box = fx, fp, (fx, box)


def _read_only(array: np.ndarray) -> np.ndarray:
    """``array``, no longer writable: a cached box handed out twice must not change under anyone."""
    array.flags.writeable = False
    return array


def _scales(z: np.ndarray) -> np.ndarray:
    """(..., 4) per-component size of (..., 4) cx, cy, w, h: x and w scale with width, y and h with height."""
    wh = np.maximum(z[..., 2:4], 1.0)
    return np.concatenate([wh, wh], axis=-1)


@functools.lru_cache(maxsize=16)
def _transition(dt: float, tau: float | None) -> np.ndarray:
    """(8, 8) state transition over ``dt`` s; with ``tau`` the size rates fade. Read-only and
    cached: a camera's frame interval repeats, so most frames reuse the last few.

    ∫₀ᵈᵗ e^(−s/τ) ds = τ(1 − e^(−dt/τ)) is how far a fading rate moves the size.
    """
    f = np.eye(8)
    f[_IDX, _IDX + 4] = dt
    if tau:
        decay = np.exp(-dt / tau)
        f[[2, 3], [6, 7]] = tau * (1.0 - decay)
        f[[6, 7], [6, 7]] = decay
    return _read_only(f)


def _predicted(
    filters: Sequence[BoxKalman], x: np.ndarray, p: np.ndarray, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """(T, 8) states and (T, 8, 8) covariances of ``filters`` (given as ``x``, ``p``) after ``dt``."""
    dt = max(dt, 0.0)
    taus = {fl.size_velocity_tau_s for fl in filters}
    if len(taus) == 1:  # the tracker's case: one transition for all
        f = _transition(dt, taus.pop())
    else:
        f = np.array([_transition(dt, fl.size_velocity_tau_s) for fl in filters])
    acceleration_std = np.array([fl.acceleration_std for fl in filters])
    q_acc = (acceleration_std[:, None] * _scales(x[:, :4])) ** 2
    cross = q_acc * dt**2 / 2
    q = np.zeros((len(filters), 64))
    q[:, _Q_CELLS] = np.concatenate([q_acc * dt**3 / 3, cross, cross, q_acc * dt], axis=1)
    x = (f @ x[:, :, None])[:, :, 0]
    x[:, 2:4] = np.maximum(x[:, 2:4], 1.0)  # a box never shrinks below a pixel
    return x, f @ p @ np.swapaxes(f, -1, -2) + q.reshape(-1, 8, 8)


_IDX = np.arange(4)
# Flat (8×8) cells of the white-acceleration process noise: position, the two cross terms, velocity.
_Q_CELLS = np.concatenate([_IDX * 9, _IDX * 9 + 4, (_IDX + 4) * 8 + _IDX, (_IDX + 4) * 9])


def oks_sigmas(num_keypoints: int, sigmas: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """OKS sigmas: the given ones, COCO-17's for 17 keypoints, else the COCO mean for each."""
    if sigmas is not None:
        return np.asarray(sigmas, np.float64)
    if num_keypoints == len(COCO_SIGMAS):
        return COCO_SIGMAS
    return np.full(num_keypoints, float(np.mean(COCO_SIGMAS)))


def box_to_cxcywh(box: np.ndarray) -> np.ndarray:
    """(..., 4) x1, y1, x2, y2 → cx, cy, w, h (w, h at least a pixel); extra columns ignored."""
    b = np.asarray(box, np.float64)[..., :4]
    return np.concatenate([(b[..., :2] + b[..., 2:]) / 2, np.maximum(b[..., 2:] - b[..., :2], 1.0)], axis=-1)


def cxcywh_to_box(z: np.ndarray) -> np.ndarray:
    """(..., 4) cx, cy, w, h → x1, y1, x2, y2; extra columns (velocities) ignored."""
    z = np.asarray(z, np.float64)
    half = z[..., 2:4] / 2
    return np.concatenate([z[..., :2] - half, z[..., :2] + half], axis=-1)


def carry_keypoints(keypoints: np.ndarray, old_boxes: np.ndarray, new_boxes: np.ndarray) -> np.ndarray:
    """(T, K, 2) keypoints carried along from ``old_boxes`` to ``new_boxes`` (T, 4): shift and scale."""
    old, new = box_to_cxcywh(old_boxes)[:, None], box_to_cxcywh(new_boxes)[:, None]
    scale = new[..., 2:] / np.maximum(old[..., 2:], 1e-6)
    return (keypoints - old[..., :2]) * scale + new[..., :2]


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
    overlap = np.maximum(
        np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]), 0.0
    )
    size_a, size_b = np.maximum(a[:, 2:] - a[:, :2], 0.0), np.maximum(b[:, 2:] - b[:, :2], 0.0)
    return overlap[..., 0] * overlap[..., 1], size_a[:, 0] * size_a[:, 1], size_b[:, 0] * size_b[:, 1]


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
    d = kps_a[:, None] - kps_b[None]  # (T, N, K, 2)
    d *= d
    d2 = d[..., 0] + d[..., 1]  # (T, N, K); not np.sum over the last axis: 4× its cost at these sizes
    wh = np.maximum(boxes_a[:, 2:] - boxes_a[:, :2], 1.0)
    area = (wh[:, 0] * wh[:, 1])[:, None, None]
    var = area * (2.0 * sigmas) ** 2
    if extra_var is not None:  # (T,) px²: uncertainty of where pose A's points really are
        var = var + np.asarray(extra_var, np.float64)[:, None, None]
    e = np.exp(-d2 / (2.0 * var))
    valid = ok_a[:, None, :] & ok_b[None, :, :]
    count = valid.sum(-1)
    return np.where(count > 0, (e * valid).sum(-1) / np.maximum(count, 1), np.nan)
