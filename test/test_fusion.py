"""Depth + lifter (``three_d.mode: fused``): depth where it measures, the aligned lifter elsewhere.

Measured on synthetic RGB-D frames (``render_example``: exact joint centres, a z-buffer
depth, here with z² noise and holes). Every labelled joint is given to the 3D stage,
occluded ones (v = 1) with score 0.5 as a pose model would, so depth measures the joints
it sees and rejects most of the others (depth edges, someone in front), which the lifter
then fills. Figures print with ``pytest -s``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pose_perception.depth import DepthConfig, measure_with_depth
from pose_perception.fusion import align_to_measured, fuse
from pose_perception.lifting import open_lifter
from pose_perception.people import SOURCE_DEPTH, SOURCE_LIFTER, SOURCE_NONE, Person
from pose_perception.skeletons import COCO17

pytest.importorskip("onnxruntime")

from test_depth import _frame, _sensor_depth

NAMES = COCO17.keypoint_names
FACE = np.array([n in ("left_eye", "right_eye", "left_ear", "right_ear") for n in NAMES])


def _labelled_people(result) -> list[Person]:
    return [label.as_detection(occluded_score=0.5) for label in result.people]


def test_align_recovers_scale_and_shift_and_drops_an_outlier() -> None:
    rng = np.random.default_rng(0)
    lifted = rng.normal(0.0, 0.3, (17, 3)) + np.array([0.0, 0.0, 3.0])
    truth = 1.1 * lifted + np.array([0.2, -0.1, 0.4])
    valid = np.ones(17, bool)
    measured = truth.copy()
    measured[5] += np.array([0.0, 0.0, -0.8])  # a wrist given the depth of something in front of it
    fit = align_to_measured(lifted, valid, measured, valid)
    assert fit is not None
    assert np.abs(fit.points - truth).max() < 1e-6
    assert fit.scale == pytest.approx(1.1)
    assert fit.inliers.tolist() == [i != 5 for i in range(17)]
    # Fewer joints than needed for a scale: translation only, exact when the scale is 1.
    few = np.zeros(17, bool)
    few[:3] = True
    shifted = lifted + np.array([0.1, 0.0, -0.2])
    only_shift = align_to_measured(lifted, valid, shifted, few)
    assert only_shift is not None and np.abs(only_shift.points - shifted).max() < 1e-9
    assert only_shift.inliers.tolist() == few.tolist()
    # The scale is bounded: depth cannot shrink a skeleton to half its size.
    centre = lifted.mean(0)
    half = align_to_measured(lifted, valid, 0.5 * (lifted - centre) + centre, valid)
    assert half is not None and half.scale == pytest.approx(0.8)
    # A person 1.2 m nearer than their size says: the depth is of something in front.
    assert align_to_measured(lifted, valid, lifted - np.array([0.0, 0.0, 1.2]), valid) is None
    assert align_to_measured(lifted, valid, measured, np.zeros(17, bool)) is None


def _errors_mm(xyz: np.ndarray, valid: np.ndarray, truth: np.ndarray, keep: np.ndarray) -> np.ndarray:
    use = valid & keep
    return np.linalg.norm(xyz[use] - truth[use], axis=1) * 1e3


def test_fused_3d_keeps_depth_and_fills_the_missed_joints_better_than_the_lifter_alone() -> None:
    """Coverage, and the errors on the joints depth did not measure (lifter alone vs fused),
    over every labelled body joint of 12 noisy frames with 1-3 people."""
    lifter = open_lifter()  # the bundled causal lifter
    config = DepthConfig()
    errors: dict[str, list[np.ndarray]] = {
        "depth": [],
        "lifter alone, filled joints": [],
        "fused, filled joints": [],
    }
    n_labelled = n_depth = n_fused = 0
    for seed in range(12):
        result = _frame(seed)
        camera = result.camera.pinhole()
        rng = np.random.default_rng(seed)
        people = _labelled_people(result)
        measured = measure_with_depth(people, _sensor_depth(result, rng), camera, config, NAMES)
        lifted, _ = lifter.lift_people(people, float(seed), camera, body_height_m=1.7)
        fused = [fuse(m, lifted_joints) for m, lifted_joints in zip(measured, lifted, strict=True)]
        people = [dataclasses.replace(p, joints_3d=f) for p, f in zip(people, fused, strict=True)]
        for person, label, depth_only, lifter_only in zip(
            people, result.people, measured, lifted, strict=True
        ):
            depth_xyz, depth_valid = depth_only.positions, depth_only.valid
            lifter_xyz = lifter_only.positions
            assert person.joints_3d is not None
            valid = person.joints_3d.valid
            assert np.isfinite(person.joints_3d.positions[valid]).all()
            assert np.isnan(person.joints_3d.positions[~valid]).all()
            # Depth-measured joints come out exactly as measured.
            assert valid[depth_valid].all()
            np.testing.assert_array_equal(person.joints_3d.positions[depth_valid], depth_xyz[depth_valid])
            # Each joint says where its 3D came from and how far to trust it.
            source, confidence = person.joints_3d.source, person.joints_3d.confidence
            assert (source[depth_valid] == SOURCE_DEPTH).all() and (
                source[valid & ~depth_valid] == SOURCE_LIFTER
            ).all()
            assert (source[~valid] == SOURCE_NONE).all() and (confidence[~valid] == 0).all()
            np.testing.assert_array_equal(confidence[depth_valid], depth_only.confidence[depth_valid])
            assert (confidence[depth_valid] > 0).all() and ((confidence >= 0) & (confidence <= 1)).all()
            # A filled joint's confidence is its 2D score (0 for one the pose model did not see).
            filled = valid & ~depth_valid
            np.testing.assert_array_equal(confidence[filled], np.clip(person.keypoint_scores[filled], 0, 1))
            body = (label.visibility > 0) & ~FACE
            truth = label.keypoints_3d
            measured_body, other_body = body & depth_valid, body & ~depth_valid
            n_labelled += int(body.sum())
            n_depth += int(measured_body.sum())
            n_fused += int((valid & body).sum())
            for name, xyz, use in (
                ("depth", depth_xyz, measured_body),
                ("lifter alone, filled joints", lifter_xyz, other_body & valid),
                ("fused, filled joints", person.joints_3d.positions, other_body & valid),
            ):
                errors[name].append(np.linalg.norm(xyz[use] - truth[use], axis=1) * 1e3)
    mm = {name: np.concatenate(e) for name, e in errors.items()}
    print(
        f"\n{n_labelled} labelled body joints (visible: score 1, occluded: 0.5), 12 noisy frames; "
        f"3D from depth for {n_depth / n_labelled:.1%}, fused for {n_fused / n_labelled:.1%}"
    )
    for name, e in mm.items():
        p95 = np.percentile(e, 95)
        print(
            f"  {name:28s} n={len(e):3d}: mean {e.mean():6.1f} mm, median {np.median(e):6.1f}, p95 {p95:6.1f}"
        )
    assert n_depth < 0.8 * n_labelled and n_fused > n_depth + 0.15 * n_labelled
    assert np.median(mm["fused, filled joints"]) < 0.5 * np.median(mm["lifter alone, filled joints"])
