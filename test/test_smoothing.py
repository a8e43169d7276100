"""One-Euro keypoint smoothing: measured jitter reduction and lag, plus state handling.

Scene: a person ~3 m from a camera with f ≈ 600 px, so 1 m/s ≈ 200 px/s; RTMPose-like
Gaussian keypoint noise with sigma = 2 px on all 17 joints × (x, y), 30 Hz nominal.

* Jitter: RMS of frame-to-frame differences of the output while the joints are at
  rest (ground truth constant), divided into that of the raw input. The first second
  is left out (start-up transient).
* Lag: the joints move at 200 px/s for 2 s; the shift s (in nominal 1/30 s frames,
  0.1-frame steps) minimising the mean squared error between the filtered track at
  tᵢ and the truth at tᵢ − s over the whole moving segment. Truth is analytic, so
  this also works for variable frame rate.
"""

from __future__ import annotations

import numpy as np
import pytest

from pose_perception.smoothing import KeypointSmoother, OneEuroConfig, OneEuroFilter

FPS = 30.0
SIGMA_PX = 2.0
SPEED_PX_S = 200.0  # 1 m/s at 3 m with f = 600 px
K = 17


def _stamps(n: int, rng: np.random.Generator, variable: bool) -> np.ndarray:
    dt = rng.uniform(0.025, 0.040, n) if variable else np.full(n, 1.0 / FPS)
    return np.cumsum(dt) - dt[0]


def _run(stamps: np.ndarray, truth: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Filter noisy observations of ``truth`` (N,K,2); returns (filtered, noisy), both (N,K,2)."""
    noisy = truth + rng.normal(0.0, SIGMA_PX, truth.shape)
    filt = OneEuroFilter(OneEuroConfig())
    return np.stack([filt(noisy[i], float(t)) for i, t in enumerate(stamps)]), noisy


def measure_jitter_ratio(variable: bool, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    stamps = _stamps(300, rng, variable)
    truth = np.broadcast_to(rng.uniform(100, 500, (1, K, 2)), (len(stamps), K, 2))
    out, noisy = _run(stamps, truth, rng)
    keep = stamps >= 1.0

    def rms_step(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(np.diff(x[keep], axis=0) ** 2)))

    return rms_step(noisy) / rms_step(out)


def measure_lag_frames(variable: bool, seed: int = 0) -> float:
    """Joints at rest for 1 s, then moving along x at SPEED_PX_S for 2 s."""
    rng = np.random.default_rng(seed)
    stamps = _stamps(100, rng, variable)
    t_move, t_stop = 1.0, 3.0
    start = rng.uniform(100, 300, (K, 2))

    def truth_at(t: np.ndarray) -> np.ndarray:
        travel = SPEED_PX_S * np.clip(t - t_move, 0.0, t_stop - t_move)
        pos = np.broadcast_to(start, (len(t), K, 2)).copy()
        pos[:, :, 0] += travel[:, None]
        return pos

    out, _ = _run(stamps, truth_at(stamps), rng)
    moving = (stamps >= t_move) & (stamps <= t_stop)
    shifts = np.arange(0.0, 5.0001, 0.1)
    errors = [np.mean((out[moving] - truth_at(stamps[moving] - s / FPS)) ** 2) for s in shifts]
    return float(shifts[int(np.argmin(errors))])


@pytest.mark.parametrize("variable", [False, True], ids=["30Hz", "dt25-40ms"])
def test_jitter_reduced_and_lag_small(variable: bool) -> None:
    ratio = measure_jitter_ratio(variable)
    lag = measure_lag_frames(variable)
    print(f"\n[{'variable' if variable else '30 Hz'}] jitter reduced {ratio:.1f}x, lag {lag:.1f} frames")
    assert ratio >= 3.0
    assert lag <= 2.0


def test_first_sample_passes_through_and_reset() -> None:
    filt = OneEuroFilter()
    first = np.array([[10.0, 20.0], [30.0, 40.0]])
    np.testing.assert_array_equal(filt(first, 0.0), first)
    moved = filt(first + 10.0, 0.033)
    assert np.all(moved > first) and np.all(moved < first + 10.0)
    filt.reset()
    np.testing.assert_array_equal(filt(first + 10.0, 0.066), first + 10.0)


def test_output_is_a_copy() -> None:
    filt = OneEuroFilter()
    out = filt(np.zeros(3), 0.0)
    out[:] = 5.0
    np.testing.assert_array_equal(filt(np.zeros(3), 0.0), np.zeros(3))


def test_equal_stamp_returns_previous_and_backwards_resets() -> None:
    filt = OneEuroFilter()
    filt(np.zeros(2), 1.0)
    prev = filt(np.ones(2), 1.033)
    again = filt(np.full(2, 100.0), 1.033)
    np.testing.assert_array_equal(again, prev)
    assert np.all(np.isfinite(again))
    np.testing.assert_array_equal(filt(np.full(2, 7.0), 0.5), np.full(2, 7.0))


def test_nan_and_mask_keep_previous_value() -> None:
    filt = OneEuroFilter()
    filt(np.array([[1.0, 1.0], [np.nan, 2.0]]), 0.0)
    out = filt(np.array([[np.nan, 5.0], [3.0, 5.0]]), 0.033)
    assert out[0, 0] == 1.0  # NaN input: previous filtered value kept
    assert out[1, 0] == 3.0  # never valid before: first valid value passes through
    assert 2.0 < out[1, 1] < 5.0
    masked = filt(np.full((2, 2), 50.0), 0.066, valid=np.array([False, True]))
    np.testing.assert_array_equal(masked[0], out[0])  # per-joint mask covers x and y
    assert np.all(masked[1] > out[1])
    assert np.all(np.isfinite(filt(np.full((2, 2), 50.0), 0.1)))


def test_never_valid_entry_stays_nan() -> None:
    filt = OneEuroFilter()
    out = filt(np.array([np.nan, 1.0]), 0.0)
    assert np.isnan(out[0]) and out[1] == 1.0


def test_shape_change_and_bad_mask_raise() -> None:
    filt = OneEuroFilter()
    filt(np.zeros((3, 2)), 0.0)
    with pytest.raises(ValueError, match="shape"):
        filt(np.zeros((4, 2)), 0.1)
    with pytest.raises(ValueError, match="valid mask"):
        filt(np.zeros((3, 2)), 0.2, valid=np.ones(4, bool))
    with pytest.raises(ValueError, match="scale"):
        filt(np.zeros((3, 2)), 0.3, scale=0.0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"min_cutoff": 0.0}, "min_cutoff"),
        ({"d_cutoff": -1.0}, "d_cutoff"),
        ({"min_cutoff": float("nan")}, "min_cutoff"),
        ({"beta": -0.1}, "beta"),
    ],
)
def test_config_validation(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        OneEuroConfig(**kwargs).validate()
    with pytest.raises(ValueError, match=name):
        OneEuroFilter(OneEuroConfig(**kwargs))


def test_scale_makes_near_and_far_alike() -> None:
    """A person twice as large moves twice as many px/s; scale=2 gives the same relative track."""
    rng = np.random.default_rng(1)
    stamps = np.arange(60) / FPS
    path = np.cumsum(rng.normal(0, 3.0, 60))
    near, far = OneEuroFilter(), OneEuroFilter()
    out_near = np.array([near(np.array([2 * p]), t, scale=2.0)[0] for p, t in zip(path, stamps, strict=True)])
    out_far = np.array([far(np.array([p]), t)[0] for p, t in zip(path, stamps, strict=True)])
    np.testing.assert_allclose(out_near, 2 * out_far, rtol=1e-9, atol=1e-9)


def test_smoother_tracks_are_independent_and_reborn_fresh() -> None:
    sm = KeypointSmoother()
    a0, b0 = np.zeros((K, 2)), np.full((K, 2), 100.0)
    np.testing.assert_array_equal(sm.smooth(1, a0, 0.0), a0)
    np.testing.assert_array_equal(sm.smooth(2, b0, 0.0), b0)
    a1 = sm.smooth(1, a0 + 10.0, 0.033)
    b1 = sm.smooth(2, b0, 0.033)
    np.testing.assert_array_equal(b1, b0)  # track 2 unaffected by track 1
    assert np.all((a1 > 0) & (a1 < 10))
    sm.forget(1)
    assert sm.track_ids == [2]
    np.testing.assert_array_equal(sm.smooth(1, a0 + 50.0, 0.066), a0 + 50.0)  # re-born: fresh
    sm.forget(99)  # unknown id: no error


def test_smoother_drops_stale_tracks() -> None:
    sm = KeypointSmoother(max_age=0.5)
    sm.smooth(1, np.zeros((K, 2)), 0.0)
    sm.smooth(2, np.zeros((K, 2)), 0.0)
    sm.smooth(2, np.zeros((K, 2)), 0.4)
    sm.smooth(2, np.zeros((K, 2)), 0.8)
    assert sm.track_ids == [2]
    np.testing.assert_array_equal(sm.smooth(1, np.ones((K, 2)), 0.9), np.ones((K, 2)))


def test_smoother_box_height_and_validation() -> None:
    sm = KeypointSmoother()
    sm.smooth(1, np.zeros((K, 2)), 0.0, box_height=680.0)
    out = sm.smooth(1, np.ones((K, 2)), 0.033, valid=np.ones(K, bool), box_height=680.0)
    assert np.all((out > 0) & (out < 1))
    with pytest.raises(ValueError, match="max_age"):
        KeypointSmoother(max_age=0.0)
    with pytest.raises(ValueError, match="reference_height"):
        KeypointSmoother(reference_height=-1.0)
    with pytest.raises(ValueError, match="beta"):
        KeypointSmoother(OneEuroConfig(beta=-1.0))
