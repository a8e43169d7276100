"""Temporal smoothing of keypoints with the One-Euro filter (ROS-free core).

Implemented from the equations of G. Casiez, N. Roussel, D. Vogel, "1€ Filter: A
Simple Speed-based Low-pass Filter for Noisy Input in Interactive Systems", CHI 2012:

* exponential smoothing  ``x̂ᵢ = α·xᵢ + (1 − α)·x̂ᵢ₋₁``,
  ``α = 1 / (1 + τ/Tₑ)``, ``τ = 1 / (2π·f_c)``, ``Tₑ`` the sampling period;
* the derivative ``dxᵢ = (xᵢ − x̂ᵢ₋₁) / Tₑ`` is itself smoothed at ``d_cutoff``;
* the cutoff follows speed: ``f_c = min_cutoff + β·|dx̂ᵢ|``.

At rest the cutoff is low (jitter removed), when the joint moves it rises (lag
removed). ``Tₑ`` is taken from real timestamps, so variable frame rates work.

Choices made here (documented because callers depend on them):

* Elementwise: every array entry (each x and each y of each joint) is its own 1-D
  filter with its own state and last timestamp.
* Scale awareness: the speed term is ``β·|dx̂| / scale``. With ``scale = 1`` the
  units are pixels (``β`` in 1/px); :class:`KeypointSmoother` passes
  ``scale = box_height / reference_height`` so the same ``β`` behaves the same for a
  person near the camera (big, fast in pixels) and far away (small, slow in pixels).
  Only the speed term is scaled: the rest cutoff does not depend on size.
* Invalid entries (NaN/inf, or ``valid`` False) do not touch the state: their output
  is the last filtered value (NaN if the entry was never valid). When they come back,
  their ``Tₑ`` spans the gap, so a long gap means little smoothing of the first value.
* Timestamps: an equal stamp returns the previous output unchanged (no division by
  zero); a backwards stamp (bag loop, clock reset) resets the filter and passes the
  value through.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from pose_perception.settings import check_settings, setting

__all__ = ["KeypointSmoother", "OneEuroConfig", "OneEuroFilter"]


@dataclass
class OneEuroConfig:
    """One-Euro parameters; defaults tuned for pixel keypoints of a ~340 px tall person at 30 Hz.

    With 2 px Gaussian jitter they cut frame-to-frame jitter at rest by > 3x while a
    joint moving at 200 px/s (1 m/s at 3 m, f = 600 px) lags by about one frame
    (measured in ``test/test_smoothing.py``). ``enabled`` is read by the pipeline.
    """

    enabled: bool = setting(True, "One-Euro smoothing of tracked people's keypoints")
    min_cutoff: float = setting(
        1.0, "Hz; cutoff at rest: lower = smoother but laggier when slow", min=1e-3, max=1000.0
    )
    beta: float = setting(
        0.02, "how fast the cutoff rises with joint speed (1/px for a 340 px tall person)", min=0.0, max=100.0
    )
    d_cutoff: float = setting(1.0, "Hz; cutoff of the joint-speed estimate", min=1e-3, max=1000.0)

    def validate(self) -> None:
        """Raise ``ValueError`` on parameters that would make the filter meaningless (NaN, inf,
        cutoffs <= 0: the ranges of the settings)."""
        check_settings(self)


def _alpha(cutoff: np.ndarray | float, dt: np.ndarray) -> np.ndarray:
    """Smoothing factor α = 1 / (1 + τ/Tₑ) with τ = 1/(2π·f_c)."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, np.float64))
    return np.asarray(1.0 / (1.0 + tau / dt))


def _expand_mask(valid: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """A mask of shape ``shape``; a (K,) per-joint mask covers all coordinates of joint k."""
    if valid is None:
        return np.ones(shape, bool)
    mask = np.asarray(valid, bool)
    if mask.shape != shape[: mask.ndim]:
        raise ValueError(f"valid mask shape {mask.shape} does not match value shape {shape}")
    return np.broadcast_to(mask.reshape(mask.shape + (1,) * (len(shape) - mask.ndim)), shape)


class OneEuroFilter:
    """Vectorised One-Euro filter over an array of fixed shape, driven by real timestamps.

    Filters elementwise (e.g. the (K,2) keypoints of one person); see the module
    docstring for the handling of invalid entries and equal/backwards stamps.
    """

    def __init__(self, config: OneEuroConfig | None = None) -> None:
        self.config = config if config is not None else OneEuroConfig()
        self.config.validate()
        self._x: np.ndarray | None = None  # filtered value, NaN where never valid
        self._dx: np.ndarray | None = None  # filtered derivative (units/s)
        self._t: np.ndarray | None = None  # last stamp each entry was valid, NaN if never
        self._stamp: float | None = None  # last stamp seen

    def reset(self) -> None:
        """Forget all state: the next call passes its value through."""
        self._x = self._dx = self._t = None
        self._stamp = None

    def __call__(
        self,
        value: np.ndarray,
        stamp: float,
        valid: np.ndarray | None = None,
        scale: float = 1.0,
    ) -> np.ndarray:
        """Filter ``value`` taken at ``stamp`` (seconds); returns a new float64 array.

        ``valid`` (value's shape, or its leading axes such as (K,) for (K,2)) marks
        entries to use; non-finite entries are always invalid. ``scale`` (> 0) divides
        the speed term, e.g. the person's size relative to a reference size.
        """
        x = np.asarray(value, np.float64)
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        if self._x is not None and x.shape != self._x.shape:
            raise ValueError(f"value shape {x.shape} differs from the filter's {self._x.shape}")
        mask = _expand_mask(valid, x.shape) & np.isfinite(x)
        if self._stamp is not None and stamp == self._stamp:
            return self._output()
        if self._stamp is not None and stamp < self._stamp:
            self.reset()
        if self._x is None:
            self._init_state(x.shape)
        self._stamp = stamp
        self._update(x, float(stamp), mask, scale)
        return self._output()

    def _init_state(self, shape: tuple[int, ...]) -> None:
        self._x = np.full(shape, np.nan)
        self._dx = np.zeros(shape)
        self._t = np.full(shape, np.nan)

    def _update(self, x: np.ndarray, stamp: float, mask: np.ndarray, scale: float) -> None:
        """One filter step on the valid entries; first-seen entries pass through."""
        assert self._x is not None and self._dx is not None and self._t is not None
        fresh = mask & np.isnan(self._t)
        step = mask & ~fresh
        self._x[fresh] = x[fresh]
        self._dx[fresh] = 0.0
        if step.any():
            cfg = self.config
            dt = stamp - self._t[step]
            prev = self._x[step]
            dx = (x[step] - prev) / dt
            dx_hat = self._dx[step] + _alpha(cfg.d_cutoff, dt) * (dx - self._dx[step])
            cutoff = cfg.min_cutoff + cfg.beta * np.abs(dx_hat) / scale
            self._x[step] = prev + _alpha(cutoff, dt) * (x[step] - prev)
            self._dx[step] = dx_hat
        self._t[mask] = stamp

    def _output(self) -> np.ndarray:
        assert self._x is not None
        return self._x.copy()


@dataclass
class _Track:
    filter: OneEuroFilter
    last_seen: float


@dataclass
class KeypointSmoother:
    """One :class:`OneEuroFilter` per track id.

    Tracks not seen for longer than ``max_age`` seconds are dropped (checked on every
    ``smooth`` call), as are tracks passed to ``forget``; an id seen again afterwards
    starts fresh. ``reference_height`` (px) is the box height at which ``config.beta``
    holds as given; boxes of other heights rescale the speed term (module docstring).
    """

    config: OneEuroConfig = field(default_factory=OneEuroConfig)
    max_age: float = 1.0  # s
    reference_height: float = 340.0  # px: 1.7 m person at 3 m with f = 600 px
    _tracks: dict[Hashable, _Track] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.config.validate()
        if not self.max_age > 0:
            raise ValueError(f"max_age must be > 0 s, got {self.max_age!r}")
        if not self.reference_height > 0:
            raise ValueError(f"reference_height must be > 0 px, got {self.reference_height!r}")

    def smooth(
        self,
        track_id: Hashable,
        keypoints: np.ndarray,
        stamp: float,
        valid: np.ndarray | None = None,
        box_height: float | None = None,
    ) -> np.ndarray:
        """Smoothed copy of ``keypoints`` (K,2) of ``track_id`` at ``stamp`` (s)."""
        self.prune(stamp)
        track = self._tracks.get(track_id)
        if track is None:
            track = self._tracks[track_id] = _Track(OneEuroFilter(self.config), stamp)
        track.last_seen = stamp
        scale = box_height / self.reference_height if box_height else 1.0
        return track.filter(keypoints, stamp, valid=valid, scale=scale)

    def forget(self, track_id: Hashable) -> None:
        """Drop the state of a removed track (no error if unknown)."""
        self._tracks.pop(track_id, None)

    def prune(self, stamp: float) -> None:
        """Drop tracks last seen more than ``max_age`` seconds before ``stamp``."""
        stale = [tid for tid, tr in self._tracks.items() if stamp - tr.last_seen > self.max_age]
        for tid in stale:
            del self._tracks[tid]

    @property
    def track_ids(self) -> list[Hashable]:
        """Ids currently holding state."""
        return list(self._tracks)
