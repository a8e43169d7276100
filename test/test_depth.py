"""RGB-D 3D keypoints (``pose_perception.depth``): measured accuracy on synthetic frames.

Synthetic frames (``render_example``) have an exact z-buffer depth image and the true 3D
joint centres. Ground-truth 2D keypoints that are visible (v = 2) are lifted with the
depth and compared with ``keypoints_3d``. Depth sees the body surface while the truth is
the joint centre inside the limb, which ``surface_offset_scale`` (on by default)
compensates with fixed adult flesh depths; both figures are printed (``pytest -s``).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import cv2
import numpy as np
import pytest

from pose_perception.camera import PinholeCamera
from pose_perception.depth import (
    DepthConfig,
    DepthRejected,
    backproject,
    depth_to_metres,
    joint_depths,
    measure_with_depth,
    measure_with_unregistered_depth,
    person_position,
    quaternion_to_matrix,
    rectify_depth,
    reproject_depth_to_color,
    undistort_pixels,
    window_half_size,
)
from pose_perception.people import SOURCE_DEPTH, SOURCE_NONE, Person
from pose_perception.skeletons import COCO17
from pose_perception.synthetic.coco import render_example
from pose_perception.synthetic.raster import RenderResult
from pose_perception.synthetic.sensor import sensor_depth

NAMES = COCO17.keypoint_names
SEEDS = tuple(range(8))


@lru_cache(maxsize=16)
def _frame(seed: int) -> RenderResult:
    return render_example(seed, 0, (640, 480), (1, 3))[1]


def _people(result: RenderResult) -> list[Person]:
    """Ground-truth people: visible keypoints scored 1, the rest 0 (never lifted)."""
    return [label.as_detection() for label in result.people]


def _lift(
    people: list[Person], depth_m: np.ndarray, camera: PinholeCamera, config: DepthConfig
) -> list[Person]:
    """Copies of ``people`` with their depth-measured joints, as the 3D stage hands them out."""
    joints = measure_with_depth(people, depth_m, camera, config, NAMES)
    return [dataclasses.replace(p, joints_3d=j) for p, j in zip(people, joints, strict=True)]


def _sensor_depth(result: RenderResult, rng: np.random.Generator | None) -> np.ndarray:
    """The frame's depth as a 16UC1 sensor gives it, optionally with z² noise and holes."""
    return sensor_depth(result.depth, rng)


def _evaluate(
    seeds: tuple[int, ...], noisy: bool, config: DepthConfig | None = None
) -> tuple[np.ndarray, int, int]:
    """3D errors (mm) of valid visible joints, and (#valid visible, #visible) joints."""
    config = config or DepthConfig()
    errors: list[np.ndarray] = []
    n_valid = n_visible = 0
    for seed in seeds:
        result = _frame(seed)
        rng = np.random.default_rng(seed) if noisy else None
        people = _lift(_people(result), _sensor_depth(result, rng), result.camera.pinhole(), config)
        for person, label in zip(people, result.people, strict=True):
            assert person.joints_3d is not None
            # Never NaN-but-valid, never a number that is flagged invalid.
            valid = person.joints_3d.valid
            assert np.isfinite(person.joints_3d.positions[valid]).all()
            assert np.isnan(person.joints_3d.positions[~valid]).all()
            visible = label.visibility == 2
            assert not (valid & ~visible).any()  # score 0 is never lifted
            n_visible += int(visible.sum())
            n_valid += int(valid.sum())
            errors.append(
                np.linalg.norm(person.joints_3d.positions[valid] - label.keypoints_3d[valid], axis=1)
            )
    return np.concatenate(errors) * 1000.0, n_valid, n_visible


# Encodings


def test_16uc1_millimetres_to_metres_and_zero_is_nan() -> None:
    mm = np.array([[0, 1, 1500], [65535, 200, 0]], np.uint16)
    for encoding in ("16UC1", "mono16"):
        m = depth_to_metres(mm, encoding)
        assert m.dtype == np.float32
        np.testing.assert_array_equal(np.isnan(m), mm == 0)
        np.testing.assert_allclose(m[mm > 0], mm[mm > 0].astype(np.float64) / 1000.0, rtol=1e-7)
        assert m[0, 2] == np.float32(1.5)


def test_32fc1_invalid_values_become_nan() -> None:
    data = np.array([[1.25, np.nan, np.inf], [-np.inf, -0.5, 0.0], [3.0, 1e-3, 7.5]], np.float32)
    m = depth_to_metres(data, "32FC1")
    expected_nan = np.array([[0, 1, 1], [1, 1, 1], [0, 0, 0]], bool)
    np.testing.assert_array_equal(np.isnan(m), expected_nan)
    np.testing.assert_array_equal(m[~expected_nan], data[~expected_nan])
    assert m is not data and data[0, 1] != data[0, 1]  # the input is not modified


def test_bad_encodings_and_dtypes_are_rejected_with_the_encoding_named() -> None:
    with pytest.raises(DepthRejected, match=r"'rgb8'.*16UC1.*32FC1"):
        depth_to_metres(np.zeros((4, 4, 3), np.uint8), "rgb8")
    with pytest.raises(DepthRejected, match=r"'16UC1'.*uint8"):
        depth_to_metres(np.zeros((4, 4), np.uint8), "16UC1")
    with pytest.raises(DepthRejected, match="'32FC1'"):
        depth_to_metres(np.zeros((4, 4), np.uint16), "32FC1")
    with pytest.raises(DepthRejected, match="'16UC1'"):
        depth_to_metres(np.zeros((2, 4, 4), np.uint16), "16UC1")
    assert issubclass(DepthRejected, ValueError)
    assert depth_to_metres(np.ones((3, 4, 1), np.uint16), "16UC1").shape == (3, 4)


# Config


def test_config_defaults_validate_and_bad_values_fail() -> None:
    DepthConfig().validate()
    with pytest.raises(ValueError, match="min_depth_m"):
        DepthConfig(min_depth_m=5.0, max_depth_m=2.0).validate()
    with pytest.raises(ValueError, match="min_window_px"):
        DepthConfig(min_window_px=9, max_window_px=4).validate()
    with pytest.raises(ValueError, match="window_fraction"):
        DepthConfig(window_fraction=-0.1).validate()
    with pytest.raises(ValueError, match="min_valid_fraction"):
        DepthConfig(min_valid_fraction=1.5).validate()


def test_window_scales_with_the_person_and_is_clipped() -> None:
    config = DepthConfig()
    assert window_half_size(100.0, config) == 3  # 0.03 * 100
    assert window_half_size(300.0, config) == 9
    assert window_half_size(10.0, config) == 1  # min_window_px
    assert window_half_size(2000.0, config) == 15  # max_window_px
    assert window_half_size(float("nan"), config) == 1


# Accuracy on synthetic RGB-D frames


def test_synthetic_frames_ground_truth_keypoints_lift_within_30mm() -> None:
    errors, n_valid, n_visible = _evaluate(SEEDS, noisy=False)
    surface, _, _ = _evaluate(SEEDS, noisy=False, config=DepthConfig(surface_offset_scale=0.0))
    print(
        f"\nclean depth: {n_valid}/{n_visible} visible joints valid ({n_valid / n_visible:.1%}); "
        f"error mean {errors.mean():.1f} mm, p95 {np.percentile(errors, 95):.1f} mm "
        f"(surface, no offset: mean {surface.mean():.1f} mm, p95 {np.percentile(surface, 95):.1f} mm)"
    )
    assert n_visible > 100
    assert n_valid / n_visible >= 0.7
    assert errors.mean() <= 30.0
    assert np.percentile(errors, 95) <= 80.0
    assert surface.mean() > errors.mean() + 20.0  # the joint-centre offset is what brings it down


def test_noise_and_holes_keep_the_error_bounded_and_drop_only_some_joints() -> None:
    _, clean_valid, n_visible = _evaluate(SEEDS, noisy=False)
    errors, n_valid, n_visible_noisy = _evaluate(SEEDS, noisy=True)
    assert n_visible_noisy == n_visible
    print(
        f"\nz^2 noise + 15% holes: {n_valid}/{n_visible} valid ({n_valid / n_visible:.1%}, "
        f"clean {clean_valid / n_visible:.1%}); error mean {errors.mean():.1f} mm, "
        f"p95 {np.percentile(errors, 95):.1f} mm, max {errors.max():.0f} mm"
    )
    assert n_valid / n_visible >= 0.55
    assert n_valid < clean_valid  # holes and noise do cost joints ...
    assert errors.mean() <= 45.0  # ... but what is kept stays accurate
    assert np.percentile(errors, 95) <= 120.0
    assert errors.max() <= 400.0  # no joint thrown onto the background


def test_a_joint_whose_window_is_all_holes_is_invalid_not_nan_but_valid() -> None:
    result = _frame(0)
    depth = _sensor_depth(result, None)
    people = _lift(_people(result), depth, result.camera.pinhole(), DepthConfig())
    person = people[0]
    assert person.joints_3d is not None
    j = int(np.flatnonzero(person.joints_3d.valid)[0])
    r = window_half_size(float(person.bbox[3] - person.bbox[1]), DepthConfig())
    x, y = (int(v) for v in np.rint(person.keypoints[j]))
    holed = depth.copy()
    holed[y - r - 1 : y + r + 2, x - r - 1 : x + r + 2] = np.nan
    z, valid, confidence = joint_depths(
        holed, person.keypoints, person.keypoint_scores, float(person.bbox[3] - person.bbox[1]), DepthConfig()
    )
    assert not valid[j] and np.isnan(z[j]) and confidence[j] == 0.0
    (person,) = _lift([person], holed, result.camera.pinhole(), DepthConfig())
    assert person.joints_3d is not None
    assert not person.joints_3d.valid[j] and np.isnan(person.joints_3d.positions[j]).all()
    assert person.joints_3d.valid.sum() >= 3  # the others are untouched


# Depth edges and body consistency


def _person_before_wall() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 2 m-deep block person (x 60..139, y 20..189) before a 4 m wall; 17 keypoints on it."""
    depth = np.full((200, 200), 4.0, np.float32)
    depth[20:190, 60:140] = 2.0
    depth += np.random.default_rng(0).normal(0.0, 0.003, depth.shape).astype(np.float32)
    kps = np.stack([np.linspace(75, 125, 17), np.linspace(30, 180, 17)], axis=1)
    return depth, kps, np.ones(17)


def test_a_keypoint_just_off_the_silhouette_is_rejected_not_given_the_wall_depth() -> None:
    depth, kps, scores = _person_before_wall()
    config = DepthConfig()
    box_h = 170.0
    assert window_half_size(box_h, config) == 5
    kps[3] = (57.0, 100.0)  # 3 px left of the silhouette (x = 60): 3/11 of its window is body
    kps[4] = (63.0, 110.0)  # 3 px inside: 9/11 body, flat enough
    kps[5] = (61.0, 120.0)  # 1 px inside: 7/11 body, the window straddles the edge
    z, valid, confidence = joint_depths(depth, kps, scores, box_h, config)
    assert not valid[3] and np.isnan(z[3])
    assert not valid[5]
    assert valid[4] and abs(z[4] - 2.0) < 0.01
    others = np.delete(np.arange(17), [3, 5])
    assert valid[others].all()
    np.testing.assert_allclose(z[others], 2.0, atol=0.005)
    assert (confidence[others] > 0.9).all() and (confidence[others] <= 1.0).all()

    # Without the spread test the wall depth would be taken; the body check still catches it.
    loose = DepthConfig(max_joint_spread_m=100.0)
    z, valid, _ = joint_depths(depth, kps, scores, box_h, loose)
    assert not valid[3] and np.isnan(z[3])
    kps[3] = (50.0, 100.0)  # wholly on the wall: flat window, only the body check rejects it
    z, valid, _ = joint_depths(depth, kps, scores, box_h, config)
    assert not valid[3]
    z, valid, _ = joint_depths(depth, kps, scores, box_h, DepthConfig(body_depth_tolerance_m=3.0))
    assert valid[3] and abs(z[3] - 4.0) < 0.01  # the check is what rejected it


def test_low_scores_off_image_and_out_of_range_joints_are_invalid() -> None:
    depth, kps, scores = _person_before_wall()
    scores[0] = 0.29  # below min_keypoint_score
    kps[1] = (-3.0, 50.0)  # off the image
    kps[2] = (np.nan, np.nan)
    near = depth.copy()
    near[60:80, 70:90] = 0.1  # closer than min_depth_m: pixels ignored -> no valid pixels there
    kps[6] = (80.0, 70.0)
    z, valid, confidence = joint_depths(near, kps, scores, 170.0, DepthConfig())
    assert not valid[[0, 1, 2, 6]].any() and np.isnan(z[[0, 1, 2, 6]]).all()
    assert (confidence[[0, 1, 2, 6]] == 0.0).all()
    assert valid[7:].all()


# Back-projection and lens distortion


def test_backproject_undistorts_with_plumb_bob_coefficients() -> None:
    camera = PinholeCamera(600.0, 605.0, 322.0, 238.0, 640, 480)
    k = np.array([[600.0, 0.0, 322.0], [0.0, 605.0, 238.0], [0.0, 0.0, 1.0]])
    rng = np.random.default_rng(1)
    z = rng.uniform(0.5, 8.0, 300)
    normalised = (rng.uniform((0, 0), (640, 480), (300, 2)) - (322.0, 238.0)) / (600.0, 605.0)
    points = np.concatenate([normalised * z[:, None], z[:, None]], axis=1)
    for d in ([-0.28, 0.09, 0.001, -0.0005, -0.01], [0.1, -0.25, 0.0008, 0.0003, 0.1]):
        dist = np.array(d)
        pixels = cv2.projectPoints(points, np.zeros(3), np.zeros(3), k, dist)[0].reshape(-1, 2)
        recovered = backproject(dataclasses.replace(camera, distortion=tuple(d)), pixels, z)
        assert np.abs(recovered - points).max() < 1e-3  # < 1 mm
        ignored = backproject(camera, pixels, z)  # distortion ignored: centimetres off
        assert np.linalg.norm(ignored - points, axis=1).max() > 0.03
    # No / all-zero distortion is the plain pinhole model.
    pixels = np.array([[10.0, 20.0], [322.0, 238.0]])
    expected = np.array([[(10 - 322) * 2 / 600, (20 - 238) * 2 / 605, 2.0], [0.0, 0.0, 3.0]])
    np.testing.assert_allclose(backproject(camera, pixels, np.array([2.0, 3.0])), expected)
    zero = dataclasses.replace(camera, distortion=(0.0,) * 5)
    np.testing.assert_allclose(backproject(zero, pixels, np.array([2.0, 3.0])), expected)
    barrel = dataclasses.replace(camera, distortion=(-0.2, 0.0, 0.0, 0.0, 0.0))
    out = backproject(barrel, pixels, np.array([np.nan, 3.0]))
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


# Unregistered depth


def test_reproject_depth_to_color_plane_and_parallax_shift() -> None:
    depth_cam = PinholeCamera(300.0, 300.0, 160.0, 120.0, 320, 240)
    color_cam = PinholeCamera(500.0, 500.0, 320.0, 240.0, 640, 480)  # wider view, finer pixels
    rotation = np.eye(3)
    translation = np.array([-0.05, 0.0, 0.0])  # colour camera 5 cm right of the depth camera
    plane = np.full((240, 320), 3.0, np.float32)
    out = reproject_depth_to_color(plane, depth_cam, color_cam, rotation, translation)
    assert out.shape == (480, 640) and out.dtype == np.float32
    valid = np.isfinite(out)
    np.testing.assert_allclose(out[valid], 3.0, atol=1e-3)
    # Depth column 0 lands at 500 * (-160/300 - 0.05/3) + 320 = 45.0, column 319 at 576.7:
    # the depth camera's view shifted 500 * 0.05 / 3 = 8.3 px left, with 2x2 splats.
    cols = np.flatnonzero(valid.any(axis=0))
    assert cols.min() in (44, 45) and cols.max() in (576, 577)
    rows = np.flatnonzero(valid.any(axis=1))
    assert rows.min() in (39, 40) and rows.max() in (438, 439)
    assert valid[45:435, 50:570].all()  # no splat holes inside on a plane

    # A small box 1 m away, around depth pixel (200, 120): x_d = 40/300 m. From the colour
    # camera (x_c = x_d - 0.05) it is 500 * 0.05 / 1 = 25 px left of where a camera at the
    # depth camera's centre would see it, against 8.3 px for the plane behind.
    scene = np.full((240, 320), 3.0, np.float32)
    scene[118:123, 198:203] = 1.0
    out = reproject_depth_to_color(scene, depth_cam, color_cam, rotation, translation)
    u_expected = 500.0 * (40.0 / 300.0 - 0.05) + 320.0  # 361.7 (386.7 without the baseline)
    near = np.argwhere(out < 2.0)
    assert abs(near[:, 1].mean() - u_expected) <= 0.6 and abs(near[:, 0].mean() - 240.0) <= 0.6
    assert (out[near[:, 0], near[:, 1]] == np.float32(1.0)).all()  # z-buffer: the box is in front
    assert len(near) >= 64  # 5x5 depth pixels at 1.67x: ~8x8 colour pixels
    # The wall the box hid from the depth camera (depth columns 198..202 at 3 m: colour u 375..382,
    # 25 - 8.3 = 16.7 px right of the box) is seen by the colour camera: a hole, left NaN.
    assert np.isnan(out[238:243, round(u_expected + 14.0) : round(u_expected + 20.0)]).all()
    assert abs(out[240, round(u_expected + 30.0)] - 3.0) < 1e-3

    # Restricted to regions (the people's boxes): the same values there, nothing elsewhere.
    regions = np.array([[340.0, 220.0, 400.0, 260.0], [100.0, 100.0, 150.0, 300.0]])
    limited = reproject_depth_to_color(scene, depth_cam, color_cam, rotation, translation, regions)
    inside, near_region = np.zeros_like(valid), np.zeros_like(valid)
    for x1, y1, x2, y2 in regions.astype(int):
        inside[y1 : y2 + 1, x1 : x2 + 1] = True
        near_region[y1 - 4 : y2 + 5, x1 - 4 : x2 + 5] = True  # a splat may reach a few px out
    np.testing.assert_array_equal(limited[inside], out[inside])
    assert np.isnan(limited[~near_region]).all() and np.isfinite(out[~near_region]).sum() > 100_000

    with pytest.raises(DepthRejected):
        reproject_depth_to_color(plane[:100], depth_cam, color_cam, rotation, translation)


def test_reproject_with_rotation_matches_direct_projection() -> None:
    depth_cam = PinholeCamera(400.0, 400.0, 200.0, 150.0, 400, 300)
    color_cam = PinholeCamera(400.0, 400.0, 200.0, 150.0, 400, 300)
    angle = np.radians(3.0)
    rotation = np.array(
        [[np.cos(angle), 0.0, np.sin(angle)], [0.0, 1.0, 0.0], [-np.sin(angle), 0.0, np.cos(angle)]]
    )
    translation = np.array([0.02, -0.01, 0.005])
    depth = np.full((300, 400), 2.0, np.float32)
    out = reproject_depth_to_color(depth, depth_cam, color_cam, rotation, translation)
    p = depth_cam.backproject(np.array([[200.0, 150.0]]), 2.0)[0] @ rotation.T + translation
    u, v = 400.0 * p[0] / p[2] + 200.0, 400.0 * p[1] / p[2] + 150.0
    assert abs(out[round(v), round(u)] - p[2]) < 0.005  # neighbouring splats differ by < 5 mm


# Person position


def test_person_position_uses_the_torso() -> None:
    points = np.full((17, 3), np.nan)
    valid = np.zeros(17, bool)
    torso = [NAMES.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    points[torso] = [[0.2, -0.4, 3.0], [-0.2, -0.4, 3.1], [0.1, 0.1, 3.0], [-0.1, 0.1, 3.1]]
    valid[torso] = True
    points[NAMES.index("left_wrist")] = [1.0, 0.0, 2.0]  # an outstretched arm does not pull it
    valid[NAMES.index("left_wrist")] = True
    position, ok = person_position(points, valid, NAMES)
    assert ok
    np.testing.assert_allclose(position, [0.0, -0.15, 3.05])

    only_hip = np.zeros(17, bool)
    only_hip[NAMES.index("left_hip")] = True
    only_hip[NAMES.index("left_wrist")] = True
    position, ok = person_position(points, only_hip, NAMES)
    assert ok
    np.testing.assert_allclose(position, [0.1, 0.1, 3.0])

    no_torso = np.zeros(17, bool)
    no_torso[NAMES.index("left_wrist")] = True
    position, ok = person_position(points, no_torso, NAMES)
    assert ok
    np.testing.assert_allclose(position, [1.0, 0.0, 2.0])  # fallback: all valid joints

    position, ok = person_position(points, np.zeros(17, bool), NAMES)
    assert not ok and np.isnan(position).all()


# The whole step


def test_lift_people_fills_3d_keypoints_consistently() -> None:
    result = _frame(3)
    camera = result.camera.pinhole()
    people = _people(result)
    people.append(  # a person whose keypoints all score 0: nothing lifted, nothing valid
        Person(0, np.array([0, 0, 50, 100], np.float32), 0.1, np.full((17, 2), 30.0), np.zeros(17))
    )
    people = _lift(people, _sensor_depth(result, None), camera, DepthConfig())
    for person in people:
        assert person.joints_3d is not None
        assert person.joints_3d.positions.shape == (17, 3) and person.joints_3d.valid.shape == (17,)
        assert person.joints_3d.valid.dtype == bool
        valid = person.joints_3d.valid
        assert np.isfinite(person.joints_3d.positions[valid]).all()
        assert np.isnan(person.joints_3d.positions[~valid]).all()
        # A lifted joint lies on its keypoint's ray: it projects back onto the keypoint.
        p = person.joints_3d.positions[valid].astype(np.float64)
        uv = np.stack(
            [camera.fx * p[:, 0] / p[:, 2] + camera.cx, camera.fy * p[:, 1] / p[:, 2] + camera.cy], 1
        )
        np.testing.assert_allclose(uv, person.keypoints[valid], atol=0.01)
    valid_masks = [p.joints_3d.valid for p in people if p.joints_3d is not None]
    assert len(valid_masks) == len(people)
    assert not valid_masks[-1].any()
    assert sum(int(v.sum()) for v in valid_masks[:-1]) >= 5
    first = people[0]
    assert first.joints_3d is not None
    position, ok = person_position(first.joints_3d.positions, first.joints_3d.valid, NAMES)
    assert ok and 0.5 < position[2] < 12.0

    with pytest.raises(DepthRejected, match="register"):
        measure_with_depth(people, np.zeros((10, 10), np.float32), camera, DepthConfig(), NAMES)


# Unregistered depth: the extrinsic as parameters, and lifting through another camera


def test_quaternion_to_matrix_against_rodrigues_and_known_rotations() -> None:
    np.testing.assert_allclose(quaternion_to_matrix([0.0, 0.0, 0.0, 1.0]), np.eye(3))
    s = np.sqrt(0.5)  # 90 degrees about z: x -> y
    quarter_z = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(quaternion_to_matrix([0.0, 0.0, s, s]), quarter_z, atol=1e-12)
    np.testing.assert_allclose(quaternion_to_matrix([0.0, 0.0, 3 * s, 3 * s]), quarter_z, atol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(20):  # axis-angle through OpenCV's Rodrigues: an independent formula
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        angle = rng.uniform(-np.pi, np.pi)
        xyzw = [*(np.sin(angle / 2) * axis), np.cos(angle / 2)]
        expected, _ = cv2.Rodrigues(axis * angle)
        np.testing.assert_allclose(quaternion_to_matrix(xyzw), expected, atol=1e-12)
        np.testing.assert_allclose(quaternion_to_matrix(-np.array(xyzw)), expected, atol=1e-12)  # q ~ -q
        # tf2_echo prints 3 decimals: the rounded quaternion is normalised, not rejected.
        rounded = quaternion_to_matrix(np.round(xyzw, 3))
        assert np.abs(rounded - expected).max() < 2e-3
        np.testing.assert_allclose(rounded @ rounded.T, np.eye(3), atol=1e-12)
    for bad, word in [
        ([0.0, 0.0, 0.0, 0.0], "zero"),
        ([0.0, 0.0, 1.0], "4 finite"),
        ([np.nan, 0, 0, 1], "finite"),
    ]:
        with pytest.raises(ValueError, match=word):
            quaternion_to_matrix(bad)


def test_depth_config_extrinsic_lists_are_validated_and_normalised() -> None:
    import array

    default = DepthConfig()
    assert default.extrinsic_translation_m == (0.0, 0.0, 0.0)
    assert default.extrinsic_rotation_xyzw == (0.0, 0.0, 0.0, 1.0)
    rotation, translation = default.depth_to_color()
    np.testing.assert_array_equal(rotation, np.eye(3))
    np.testing.assert_array_equal(translation, np.zeros(3))
    # YAML gives lists (of ints too), ROS lists or array.array: stored as tuples of floats.
    config = DepthConfig(
        extrinsic_translation_m=[0, -0.025, 0.01],  # type: ignore[arg-type]
        extrinsic_rotation_xyzw=array.array("d", [0.0, 0.0, 0.5, 0.5]),  # type: ignore[arg-type]
    )
    config.validate()
    assert config.extrinsic_translation_m == (0.0, -0.025, 0.01)
    assert all(type(v) is float for v in config.extrinsic_translation_m)
    assert config.extrinsic_rotation_xyzw == (0.0, 0.0, 0.5, 0.5)  # the value as given ...
    rotation, translation = config.depth_to_color()
    np.testing.assert_allclose(rotation, [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)  # ... normalised
    np.testing.assert_array_equal(translation, [0.0, -0.025, 0.01])
    for kwargs, message in [
        (
            {"extrinsic_rotation_xyzw": [0.0, 0.0, 0.0, 0.0]},
            "extrinsic_rotation_xyzw must be a non-zero quaternion",
        ),
        ({"extrinsic_rotation_xyzw": [0.0, 0.0, 1.0]}, "extrinsic_rotation_xyzw must be a list of 4 finite"),
        (
            {"extrinsic_rotation_xyzw": [0.0, 0.0, 0.0, 2.0]},
            "extrinsic_rotation_xyzw elements must be <= 1.0",
        ),
        ({"extrinsic_translation_m": [0.0, 0.0]}, "extrinsic_translation_m must be a list of 3 finite"),
        (
            {"extrinsic_translation_m": [0.0, float("nan"), 0.0]},
            "extrinsic_translation_m must be a list of 3",
        ),
        ({"extrinsic_translation_m": ["a", "b", "c"]}, "extrinsic_translation_m must be a list of 3"),
        ({"extrinsic_translation_m": [0.0, 0.0, 20.0]}, "extrinsic_translation_m elements must be <= 10.0"),
        ({"extrinsic_translation_m": [True, 0.0, 0.0]}, "extrinsic_translation_m must be a list of 3"),
    ]:
        with pytest.raises(ValueError, match=message):
            DepthConfig(**kwargs).validate()  # type: ignore[arg-type]


def test_extrinsic_parameters_are_ros_double_arrays_named_in_errors(tmp_path) -> None:
    """ROS side: double-array parameters with a descriptor; a bad value names the parameter;
    a config file's lists load (YAML ints too); the values round-trip."""
    import array

    from pose_perception.config import Config, load_config
    from pose_perception.ros.params import (
        ParameterError,
        config_from_values,
        config_values,
        param_specs,
        updated_config,
    )

    specs = {s.name: s for s in param_specs()}
    translation, rotation = specs["depth.extrinsic_translation_m"], specs["depth.extrinsic_rotation_xyzw"]
    assert (translation.kind, translation.default, translation.read_only) == (tuple, (0.0, 0.0, 0.0), False)
    assert (rotation.kind, rotation.default, rotation.min, rotation.max) == (
        tuple,
        (0.0, 0.0, 0.0, 1.0),
        -1.0,
        1.0,
    )
    assert (
        specs["input.depth_camera_info_topic"].default == ""
        and specs["input.depth_camera_info_topic"].read_only
    )

    # A set-parameter request carries array.array('d'); a bad one is refused with the name.
    config = updated_config(
        Config(), {"depth.extrinsic_rotation_xyzw": array.array("d", [0.0, 0.0, 0.01, 1.0])}
    )
    assert config.depth.extrinsic_rotation_xyzw == (0.0, 0.0, 0.01, 1.0)
    assert config_from_values(config_values(config)) == config
    with pytest.raises(
        ParameterError, match=r"^depth\.extrinsic_rotation_xyzw must be a non-zero quaternion"
    ):
        updated_config(Config(), {"depth.extrinsic_rotation_xyzw": [0.0, 0.0, 0.0, 0.0]})
    with pytest.raises(ParameterError, match=r"^depth\.extrinsic_translation_m must be a list of 3"):
        updated_config(Config(), {"depth.extrinsic_translation_m": [0.015, 0.0]})

    good = tmp_path / "rig.yaml"
    good.write_text(
        "/**:\n  ros__parameters:\n    depth:\n      extrinsic_translation_m: [0.015, 0, 0]\n"
        "      extrinsic_rotation_xyzw: [0, 0, 0, 1]\n",
        encoding="utf-8",
    )
    assert load_config(good).depth.extrinsic_translation_m == (0.015, 0.0, 0.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("depth:\n  extrinsic_rotation_xyzw: [0, 0, 0, 0]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml: depth\.extrinsic_rotation_xyzw must be a non-zero"):
        load_config(bad)

    pytest.importorskip("rcl_interfaces.msg")
    from rcl_interfaces.msg import ParameterType

    from pose_perception.ros.params import descriptor

    desc = descriptor(rotation)
    assert desc.type == ParameterType.PARAMETER_DOUBLE_ARRAY and not desc.read_only
    assert (
        desc.additional_constraints
        == "a list of 4 floats, e.g. [0.0, 0.0, 0.0, 1.0]; elements in [-1.0, 1.0]"
    )
    assert not desc.floating_point_range and not desc.integer_range


def _distorted(camera: PinholeCamera, pixels: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Where the lens with distortion ``d`` puts the ideal pixels (OpenCV's projection)."""
    k = camera.matrix
    rays = np.column_stack([(pixels[:, 0] - camera.cx) / camera.fx, (pixels[:, 1] - camera.cy) / camera.fy])
    points = np.column_stack([rays, np.ones(len(rays))])
    out, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), k, d)
    return out.reshape(-1, 2)


def _raw_depth(ideal: np.ndarray, camera: PinholeCamera, d: np.ndarray) -> np.ndarray:
    """What a lens with distortion ``d`` records of the ideal depth image: raw pixel (u, v)
    sees the ideal pixel its ray goes through (nearest)."""
    h, w = ideal.shape
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)), -1)
    k = camera.matrix
    src = cv2.undistortPoints(grid.reshape(-1, 1, 2), k, d, P=k).reshape(h, w, 2).astype(np.float32)
    return cv2.remap(ideal, src[..., 0], src[..., 1], cv2.INTER_NEAREST, borderValue=float("nan"))


# A RealSense-like colour lens and an Azure-Kinect-like depth lens (rational_polynomial).
COLOUR_D = np.array([0.12, -0.25, 0.001, -0.0015, 0.1])
DEPTH_D = np.array([0.45, -0.1, 0.0005, 0.0002, -0.01, 0.8, 0.05, -0.05])


def _rig_config(rig) -> DepthConfig:
    """The depth parameters a user would set for this rig (its extrinsic)."""
    config = DepthConfig(
        extrinsic_translation_m=tuple(rig.translation),  # type: ignore[arg-type]
        extrinsic_rotation_xyzw=tuple(rig.quaternion_xyzw),  # type: ignore[arg-type]
    )
    config.validate()
    return config


def _rig_evaluate(
    render_rig_depth, extrinsic: bool = True, distort: bool = False
) -> tuple[np.ndarray, int, int]:
    """Errors (mm) and (#valid, #visible) of ground-truth keypoints lifted with the rig's
    depth camera, with its extrinsic (or identity), optionally both lenses distorted (the
    keypoints and the depth as the lenses record them)."""
    errors: list[np.ndarray] = []
    n_valid = n_visible = 0
    for seed in SEEDS:
        scene, result = render_example(seed, 0, (640, 480), (1, 3))
        rig = render_rig_depth(scene)  # its translation in the colour frame depends on the scene's tilt
        config = _rig_config(rig) if extrinsic else DepthConfig()
        colour = result.camera.pinhole()
        depth = depth_to_metres(rig.depth_mm(), "16UC1")
        people = _people(result)
        depth_camera = rig.camera
        if distort:
            depth = _raw_depth(depth, rig.camera, DEPTH_D)
            depth_camera = dataclasses.replace(rig.camera, distortion=tuple(DEPTH_D))
            for person in people:
                person.keypoints = _distorted(colour, person.keypoints, COLOUR_D).astype(np.float32)
            colour = dataclasses.replace(colour, distortion=tuple(COLOUR_D))
        joints, registered = measure_with_unregistered_depth(
            people, depth, depth_camera, colour, config, NAMES, config.depth_to_color()
        )
        assert registered.shape == (480, 640)
        people = [dataclasses.replace(p, joints_3d=j) for p, j in zip(people, joints, strict=True)]
        for person, label in zip(people, result.people, strict=True):
            assert person.joints_3d is not None
            valid = person.joints_3d.valid
            assert (
                np.isfinite(person.joints_3d.positions[valid]).all()
                and np.isnan(person.joints_3d.positions[~valid]).all()
            )
            assert not (valid & (label.visibility != 2)).any()
            # Where each 3D joint came from, and how far to trust it, survive every lens path.
            assert person.joints_3d is not None
            assert (person.joints_3d.source == np.where(valid, SOURCE_DEPTH, SOURCE_NONE)).all()
            assert (person.joints_3d.confidence[valid] > 0).all()
            n_visible += int((label.visibility == 2).sum())
            n_valid += int(valid.sum())
            errors.append(
                np.linalg.norm(person.joints_3d.positions[valid] - label.keypoints_3d[valid], axis=1)
            )
    return np.concatenate(errors) * 1000.0, n_valid, n_visible


def test_unregistered_depth_from_another_camera_lifts_as_well_as_registered(render_rig_depth) -> None:
    """The rig's depth camera (512x384, wider view, 5 cm right, 2.5 cm up, tilted 1.1 deg)
    renders the same scenes: with the extrinsic as parameters the joints come out as accurate
    as from the registered depth; with the extrinsic left at identity they do not."""
    rig = render_rig_depth(render_example(SEEDS[0], 0, (640, 480), (1, 3))[0])
    rotation, translation = _rig_config(rig).depth_to_color()
    np.testing.assert_allclose(rotation, rig.rotation, atol=1e-12)  # quaternion = rendered rig
    np.testing.assert_array_equal(translation, rig.translation)
    errors, n_valid, n_visible = _rig_evaluate(render_rig_depth)
    registered, reg_valid, _ = _evaluate(SEEDS, noisy=False)
    identity, id_valid, _ = _rig_evaluate(render_rig_depth, extrinsic=False)
    print(
        f"\nunregistered depth: {n_valid}/{n_visible} visible joints valid ({n_valid / n_visible:.1%}); "
        f"error mean {errors.mean():.1f} mm, p95 {np.percentile(errors, 95):.1f}, max {errors.max():.1f} "
        f"(registered: {reg_valid} valid, mean {registered.mean():.1f} mm; extrinsic left at identity: "
        f"{id_valid} valid, mean {identity.mean():.1f} mm, max {identity.max():.0f} mm)"
    )
    assert n_valid / n_visible >= 0.7 and n_valid >= reg_valid - 5
    assert errors.mean() <= registered.mean() + 5.0 and errors.mean() <= 30.0
    assert np.percentile(errors, 95) <= 80.0
    assert identity.mean() > 2.0 * errors.mean() and id_valid < n_valid  # the extrinsic matters


def test_distorted_depth_and_colour_lenses(render_rig_depth) -> None:
    """A distorted raw depth image is rectified and distorted colour keypoints are looked up
    at their undistorted pixels: the same accuracy as with ideal lenses."""
    scene = render_example(SEEDS[0], 0, (640, 480), (1, 3))[0]
    rig = render_rig_depth(scene)
    ideal = depth_to_metres(rig.depth_mm(), "16UC1")
    raw = _raw_depth(ideal, rig.camera, DEPTH_D)
    assert np.nanmean(np.abs(raw - ideal)) > 0.05  # the lens does move the depth around
    depth_camera = dataclasses.replace(rig.camera, distortion=tuple(DEPTH_D))
    rectified = rectify_depth(raw, depth_camera)
    both = np.isfinite(rectified) & np.isfinite(ideal)
    assert both.mean() > 0.9
    rel = np.abs(rectified[both] - ideal[both]) / ideal[both]
    assert (rel < 0.01).mean() > 0.99  # nearest neighbour there and back: a pixel off at most
    with pytest.raises(DepthRejected):
        rectify_depth(raw[:100], depth_camera)
    pixels = np.array([[100.0, 80.0], [320.0, 240.0], [600.0, 400.0], [np.nan, 5.0]])
    colour = PinholeCamera(500.0, 500.0, 319.5, 239.5, 640, 480, tuple(COLOUR_D))
    back = undistort_pixels(colour, _distorted(colour, pixels[:3], COLOUR_D))
    np.testing.assert_allclose(back, pixels[:3], atol=0.02)
    assert np.isnan(undistort_pixels(colour, pixels)[3]).all()

    errors, n_valid, n_visible = _rig_evaluate(render_rig_depth)
    distorted, d_valid, _ = _rig_evaluate(render_rig_depth, distort=True)
    print(
        f"\ndistorted lenses: {d_valid}/{n_visible} valid, mean {distorted.mean():.1f} mm "
        f"(ideal lenses: {n_valid} valid, mean {errors.mean():.1f} mm)"
    )
    assert d_valid >= n_valid - 5 and distorted.mean() <= errors.mean() + 3.0
