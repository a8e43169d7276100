"""The tracker's fast paths decide exactly what the plain per-track code decided.

The batched Kalman filter (``predict_all``, ``correct_all``), the vectorised box conversions,
IoU, keypoint carrying and ``appearance.describe`` were made fast for issue 16's 1 ms budget.
Below are the plain versions they replaced (one filter, one box, one region at a time):
each fast function is compared with its reference on random inputs, and whole synthetic
sequences go through the tracker twice, once with the references patched in, and must
get the same ids frame by frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from pose_perception import appearance, track_geometry, tracking
from pose_perception.synthetic.frames import render_frames
from pose_perception.synthetic.scenarios import FAMILIES, make_scenario
from pose_perception.synthetic.walkers import Detections, make_sequence, noisy_detections
from pose_perception.track_geometry import BoxKalman
from pose_perception.tracking_eval import Frames, pose_tracker, run_tracker

RNG_SEEDS = range(5)

# -- the plain references ---------------------------------------------------------------


def plain_to_cxcywh(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box)[:4])
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1.0), max(y2 - y1, 1.0)])


def plain_to_box(z: np.ndarray) -> np.ndarray:
    cx, cy, w, h = (float(v) for v in z[:4])
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def plain_scale(z: np.ndarray) -> np.ndarray:
    w, h = max(float(z[2]), 1.0), max(float(z[3]), 1.0)
    return np.array([w, h, w, h])


def plain_predicted(kf: BoxKalman, dt: float) -> tuple[np.ndarray, np.ndarray]:
    dt = max(dt, 0.0)
    f = np.eye(8)
    f[:4, 4:] = dt * np.eye(4)
    if kf.size_velocity_tau_s:
        tau = kf.size_velocity_tau_s
        decay = np.exp(-dt / tau)
        f[[2, 3], [6, 7]] = tau * (1.0 - decay)
        f[[6, 7], [6, 7]] = decay
    q_acc = (kf.acceleration_std * plain_scale(kf.x[:4])) ** 2
    q = np.zeros((8, 8))
    idx = np.arange(4)
    q[idx, idx] = q_acc * dt**3 / 3
    q[idx, idx + 4] = q[idx + 4, idx] = q_acc * dt**2 / 2
    q[idx + 4, idx + 4] = q_acc * dt
    x = f @ kf.x
    x[2:4] = np.maximum(x[2:4], 1.0)
    return x, f @ kf.P @ f.T + q


def plain_update(kf: BoxKalman, box: np.ndarray) -> None:
    z = plain_to_cxcywh(box)
    r = np.diag((kf.measurement_std * plain_scale(z)) ** 2)
    s = kf.P[:4, :4] + r
    gain = np.linalg.solve(s, kf.P[:4, :]).T
    kf.x = kf.x + gain @ (z - kf.x[:4])
    kf.P = kf.P - gain @ kf.P[:4, :]
    kf.P = 0.5 * (kf.P + kf.P.T)


def plain_predict_all(filters: Sequence[BoxKalman], dt: float) -> None:
    for kf in filters:
        kf.x, kf.P = plain_predicted(kf, dt)


def plain_correct_all(filters: Sequence[BoxKalman], boxes: np.ndarray) -> None:
    for kf, box in zip(filters, boxes, strict=True):
        plain_update(kf, box)


def plain_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def plain_carry(keypoints: np.ndarray, old_boxes: np.ndarray, new_boxes: np.ndarray) -> np.ndarray:
    moved = []
    for kps, old_box, new_box in zip(keypoints, old_boxes, new_boxes, strict=True):
        old, new = plain_to_cxcywh(old_box), plain_to_cxcywh(new_box)
        moved.append((kps - old[:2]) * (new[2:] / np.maximum(old[2:], 1e-6)) + new[:2])
    return np.array(moved).reshape(keypoints.shape)


def plain_torso_points(kps: np.ndarray) -> np.ndarray:
    u, v = (g.reshape(1, -1, 1) for g in np.meshgrid(np.linspace(0.2, 0.8, 4), np.linspace(0.2, 0.8, 4)))
    ls, rs, rh, lh = (kps[:, [i]] for i in appearance.SHOULDERS_HIPS)
    top = ls + u * (rs - ls)
    bottom = lh + u * (rh - lh)
    return top + v * (bottom - top)


def plain_leg_points(kps: np.ndarray) -> np.ndarray:
    along = np.array([0.3, 0.5, 0.7])[None, :, None]
    parts = [kps[:, [a]] + along * (kps[:, b] - kps[:, a])[:, None] for a, b in appearance.LEG_SEGMENTS]
    return np.concatenate(parts, axis=1)


def plain_median(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    ordered = np.sort(values, axis=1)
    count = valid.sum(axis=1)
    low = np.take_along_axis(ordered, ((count - 1) // 2)[:, None, None].repeat(3, axis=2), axis=1)
    high = np.take_along_axis(ordered, (count // 2)[:, None, None].repeat(3, axis=2), axis=1)
    return 0.5 * (low + high)[:, 0]


def plain_describe(
    image_bgr: np.ndarray, keypoints: np.ndarray, keypoint_scores: np.ndarray, min_score: float
) -> np.ndarray:
    n = len(keypoints)
    out = np.full((n, appearance.REGIONS, 3), np.nan)
    if n == 0 or keypoints.shape[1] < 17 or image_bgr.ndim != 3:
        return out
    kps = keypoints[:, :17, :2]
    confident = keypoint_scores[:, :17] >= min_score
    needs = (appearance.SHOULDERS_HIPS, tuple(k for seg in appearance.LEG_SEGMENTS for k in seg))
    points_of = (plain_torso_points, plain_leg_points)
    for region, points in enumerate(make(kps) for make in points_of):
        xy = np.rint(points).astype(np.int64)
        inside = (
            (xy[..., 0] >= 0)
            & (xy[..., 0] < image_bgr.shape[1])
            & (xy[..., 1] >= 0)
            & (xy[..., 1] < image_bgr.shape[0])
        )
        x = np.clip(xy[..., 0], 0, image_bgr.shape[1] - 1)
        y = np.clip(xy[..., 1], 0, image_bgr.shape[0] - 1)
        colours = np.where(inside[..., None], image_bgr[y, x, :3] / 255.0, np.nan)
        seen = confident[:, list(needs[region])].all(axis=1) & (inside.mean(axis=1) >= appearance.MIN_INSIDE)
        out[seen, region] = plain_median(colours[seen], inside[seen])
    return out


def plain_box(kf: BoxKalman) -> np.ndarray:
    return plain_to_box(kf.x[:4])


# -- function by function ---------------------------------------------------------------


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Person-like boxes, some thinner than a pixel or inverted (the clamps must agree too)."""
    corner = rng.uniform(-50, 1300, (n, 2))
    size = rng.uniform(-3, 300, (n, 2))
    return np.concatenate([corner, corner + size], axis=1)


def _filters(rng: np.random.Generator, n: int) -> list[BoxKalman]:
    filters = []
    for i, box in enumerate(_boxes(rng, n)):
        kf = BoxKalman(box, rng.uniform(0.01, 0.2), rng.uniform(0.1, 2.0), (None, 1.0, 0.3)[i % 3])
        kf.x = kf.x + rng.normal(0, 20, 8)  # moving, with some history
        kf.P = kf.P + np.diag(rng.uniform(0, 50, 8))
        filters.append(kf)
    return filters


def _clone(filters: list[BoxKalman]) -> list[BoxKalman]:
    clones = []
    for kf in filters:
        twin = BoxKalman(np.zeros(4), kf.measurement_std, kf.acceleration_std, kf.size_velocity_tau_s)
        twin.x, twin.P = kf.x.copy(), kf.P.copy()
        clones.append(twin)
    return clones


_OWN_RATE = np.kron(np.ones((2, 2), bool), np.eye(4, dtype=bool))  # (8, 8): cells (i, i), (i, i+4), (i+4, i)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_batched_kalman_matches_one_filter_at_a_time(seed: int) -> None:
    rng = np.random.default_rng(seed)
    fast = _filters(rng, 9)
    plain = _clone(fast)
    for dt in (1 / 30, 0.0, -0.1, 0.4, 2.5):
        for kf in plain:
            expected = plain_predicted(kf, dt)
            got = kf.predicted(dt)
            np.testing.assert_allclose(got[0], expected[0], rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(got[1], expected[1], rtol=1e-12, atol=1e-9)
        track_geometry.predict_all(fast, dt)
        plain_predict_all(plain, dt)
        measured = _boxes(rng, len(fast))
        track_geometry.correct_all(fast, measured)
        plain_correct_all(plain, measured)
        for a, b in zip(fast, plain, strict=True):
            np.testing.assert_allclose(a.x, b.x, rtol=1e-10, atol=1e-8)
            np.testing.assert_allclose(a.P, b.P, rtol=1e-10, atol=1e-8)
            np.testing.assert_array_equal(a.box, plain_box(a))  # the cached box follows the state
            with pytest.raises(ValueError):  # shared between callers: no one may change it
                a.box[0] = 0.0
            # correct_all divides by S's diagonal: each of cx, cy, w, h is coupled only with its rate
            assert not a.P[~_OWN_RATE].any()
    track_geometry.predict_all([], 0.1)  # no tracks: nothing to do
    track_geometry.correct_all([], np.zeros((0, 4)))


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_vectorised_box_functions_equal_the_plain_ones(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _boxes(rng, 7), _boxes(rng, 5)
    b[0] = a[0]  # identical boxes
    b[1] = [10.0, 10.0, 10.0, 10.0]  # no area at all
    for box in a:
        np.testing.assert_array_equal(track_geometry.box_to_cxcywh(box), plain_to_cxcywh(box))
        z = plain_to_cxcywh(box)
        np.testing.assert_array_equal(track_geometry.cxcywh_to_box(z), plain_to_box(z))
    np.testing.assert_array_equal(track_geometry.box_to_cxcywh(a), [plain_to_cxcywh(box) for box in a])
    np.testing.assert_array_equal(track_geometry.box_iou(a, b), plain_iou(a, b))
    kps = rng.uniform(0, 1280, (7, 17, 2))
    np.testing.assert_array_equal(
        track_geometry.carry_keypoints(kps, a, a[::-1]), plain_carry(kps, a, a[::-1])
    )


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_describe_reads_the_same_colours_as_region_by_region(seed: int) -> None:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (240, 320, 3), np.uint8)
    centre = rng.uniform(-40, 360, (12, 1, 2))  # some people partly or wholly outside
    kps = centre + rng.normal(0, 40, (12, 17, 2))
    scores = rng.uniform(0.0, 1.0, (12, 17)) ** 0.3  # mostly confident, some joints not
    got = appearance.describe(image, kps, scores, 0.3)
    np.testing.assert_array_equal(got, plain_describe(image, kps, scores, 0.3))
    assert np.isnan(got).any() and not np.isnan(got).all()  # both cases were exercised


# -- the whole tracker ------------------------------------------------------------------


def _plain_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route the tracker through the references (where ``tracking`` looks the names up)."""
    monkeypatch.setattr(tracking, "predict_all", plain_predict_all)
    monkeypatch.setattr(tracking, "correct_all", plain_correct_all)
    monkeypatch.setattr(tracking, "carry_keypoints", plain_carry)
    monkeypatch.setattr(tracking, "box_iou", plain_iou)
    monkeypatch.setattr(tracking, "describe", plain_describe)
    monkeypatch.setattr(BoxKalman, "box", property(plain_box))


def _same_ids_either_way(
    monkeypatch: pytest.MonkeyPatch, dets: list[Detections], frames: Frames | None
) -> list[np.ndarray]:
    fast, _ = run_tracker(pose_tracker(), dets, frames)
    with monkeypatch.context() as patched:
        _plain_paths(patched)
        plain, _ = run_tracker(pose_tracker(), dets, frames)
    for index, (a, b) in enumerate(zip(fast, plain, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"frame {index}")
    assert len({int(i) for ids in fast for i in ids if i}) >= 2  # people were named: ids to compare
    return fast


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_families_get_the_same_ids_as_with_the_plain_code(
    monkeypatch: pytest.MonkeyPatch, family: str
) -> None:
    for seed in (0, 1):
        seq = make_scenario(family, seed=seed, seconds=8.0)
        dets = noisy_detections(seq, seed=seed + 100)
        _same_ids_either_way(monkeypatch, dets, render_frames(seq, seed=seed))
        _same_ids_either_way(monkeypatch, dets, None)


@pytest.mark.parametrize("frames", [True, False])
def test_eight_walkers_get_the_same_ids_as_with_the_plain_code(
    monkeypatch: pytest.MonkeyPatch, frames: bool
) -> None:
    seq = make_sequence(8, seconds=4.0, seed=3)
    dets = noisy_detections(seq, seed=103)
    _same_ids_either_way(monkeypatch, dets, render_frames(seq, seed=3) if frames else None)
