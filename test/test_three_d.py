"""The 3D stage inside the core pipeline (no ROS): ``PosePipeline.process(..., depth=, camera=)``
in each ``three_d.mode``, with registered and unregistered depth, and a depth it cannot use.

A stand-in pose model answers each box with the rendered person's true 2D keypoints, so the
people that reach the 3D stage are known; each mode's 3D must equal what its parts
(``measure_with_depth``, the lifter, ``fuse``) give for those people.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np
import pytest

from pose_perception.camera import PinholeCamera
from pose_perception.config import Config
from pose_perception.depth import (
    DepthConfig,
    depth_to_metres,
    measure_with_depth,
    measure_with_unregistered_depth,
)
from pose_perception.fusion import fuse
from pose_perception.lifting import open_lifter
from pose_perception.people import SOURCE_DEPTH, SOURCE_LIFTER, SOURCE_NONE, Person
from pose_perception.pipeline import PosePipeline
from pose_perception.skeletons import COCO17, H36M17, get_skeleton
from pose_perception.synthetic.coco import render_example
from pose_perception.synthetic.raster import RenderResult
from pose_perception.three_d import DEPTH_REJECTED, DepthFrame, LifterUnavailable

NAMES = COCO17.keypoint_names


@lru_cache(maxsize=4)
def _scene(seed: int) -> tuple[object, RenderResult]:
    return render_example(seed, 0, (640, 480), (1, 3))


class TruthPoseModel:
    """Each box gets the true keypoints of the rendered person it was made from (same
    order): scored 1 where visible, 0.1 elsewhere (never measured with depth)."""

    skeleton = COCO17

    def __init__(self, result: RenderResult) -> None:
        self.people = [label.as_detection() for label in result.people]

    def estimate(self, image_bgr: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert len(boxes) == len(self.people)
        keypoints = np.stack([p.keypoints for p in self.people])
        scores = np.stack([np.maximum(p.keypoint_scores, 0.1) for p in self.people]).astype(np.float32)
        return keypoints, scores


def _config(mode: str, depth: DepthConfig | None = None, lifter_model: str = "") -> Config:
    config = Config()
    config.detector = dataclasses.replace(config.detector, type="full_frame")
    config.output = dataclasses.replace(config.output, min_person_score=0.0)
    config.three_d = dataclasses.replace(config.three_d, mode=mode, lifter_model=lifter_model)
    config.depth = depth or DepthConfig()
    return config


def _pipeline(result: RenderResult, mode: str, depth: DepthConfig | None = None, **kwargs) -> PosePipeline:
    return PosePipeline(_config(mode, depth), TruthPoseModel(result), **kwargs)


def _run(pipeline: PosePipeline, result: RenderResult, **kwargs) -> list[Person]:
    boxes = np.stack([p.bbox for p in TruthPoseModel(result).people])
    return pipeline.process(result.image, 0.0, boxes, **kwargs)


def _check_joints(people: list[Person], source: int) -> None:
    """Every person has 3D, NaN exactly where invalid, from ``source`` where valid."""
    for person in people:
        joints = person.joints_3d
        assert joints is not None and joints.valid.any()
        assert np.isfinite(joints.positions[joints.valid]).all()
        assert np.isnan(joints.positions[~joints.valid]).all()
        assert (joints.source == np.where(joints.valid, source, SOURCE_NONE)).all()
        assert (joints.has_position() == joints.valid).all()


def test_depth_mode_measures_the_people_it_finds_with_raw_or_metre_depth() -> None:
    _, result = _scene(0)
    camera = result.camera.pinhole()
    mm = result.depth_mm()
    pipeline = _pipeline(result, "depth")
    people = _run(pipeline, result, depth=DepthFrame(mm, scale=0.001), camera=camera)
    _check_joints(people, SOURCE_DEPTH)
    expected = measure_with_depth(people, depth_to_metres(mm, "16UC1"), camera, DepthConfig(), NAMES)
    for person, joints in zip(people, expected, strict=True):
        assert person.joints_3d is not None
        np.testing.assert_array_equal(person.joints_3d.positions, joints.positions)
        np.testing.assert_array_equal(person.joints_3d.confidence, joints.confidence)
    assert pipeline.camera == camera and pipeline.last_depth_rejection is None
    assert "depth_ms" in pipeline.timings and "lifter_ms" not in pipeline.timings
    # Metres in (what the node converts a message to) give the same joints as raw millimetres.
    again = _pipeline(result, "depth")
    metres = _run(again, result, depth=DepthFrame(depth_to_metres(mm, "16UC1")), camera=camera)
    for a, b in zip(people, metres, strict=True):
        assert a.joints_3d is not None and b.joints_3d is not None
        np.testing.assert_array_equal(a.joints_3d.positions, b.joints_3d.positions)


def test_unregistered_depth_is_reprojected_by_the_stage(render_rig_depth) -> None:
    scene, result = _scene(1)
    rig = render_rig_depth(scene)
    colour = result.camera.pinhole()
    config = DepthConfig(
        extrinsic_translation_m=tuple(rig.translation),  # type: ignore[arg-type]
        extrinsic_rotation_xyzw=tuple(rig.quaternion_xyzw),  # type: ignore[arg-type]
    )
    frame = DepthFrame(rig.depth_mm(), 0.001, rig.camera, config.depth_to_color())
    people = _run(_pipeline(result, "depth", config), result, depth=frame, camera=colour)
    _check_joints(people, SOURCE_DEPTH)
    depth_m = depth_to_metres(rig.depth_mm(), "16UC1")
    expected, _ = measure_with_unregistered_depth(
        people, depth_m, rig.camera, colour, config, NAMES, config.depth_to_color()
    )
    for person, joints in zip(people, expected, strict=True):
        assert person.joints_3d is not None
        np.testing.assert_array_equal(person.joints_3d.positions, joints.positions)


def test_lifter_mode_places_with_the_nominal_camera_when_none_is_given() -> None:
    _, result = _scene(2)
    pipeline = _pipeline(result, "lifter", lifter=open_lifter())
    people = _run(pipeline, result)
    nominal = PinholeCamera.nominal(640, 480, pipeline.config.output.assumed_hfov_deg)
    assert pipeline.camera == nominal and "lifter_ms" in pipeline.timings
    _check_joints(people, SOURCE_LIFTER)
    expected, _ = open_lifter().lift_people(people, 0.0, nominal, pipeline.config.three_d.body_height_m)
    for person, joints in zip(people, expected, strict=True):
        assert person.joints_3d is not None
        np.testing.assert_array_equal(person.joints_3d.positions, joints.positions)
    # The camera handed in places them when it is this image's; one of another size is not.
    camera = result.camera.pinhole()
    _run(pipeline, result, camera=camera)
    assert pipeline.camera == camera
    _run(pipeline, result, camera=dataclasses.replace(camera, width=1280, height=960))
    assert pipeline.camera == nominal
    # A depth image is not used outside the depth modes.
    assert _run(pipeline, result, depth=DepthFrame(np.zeros((2, 2))))[0].joints_3d is not None


def test_fused_mode_is_fuse_of_depth_and_lifter_and_a_rejected_depth_leaves_the_lifter() -> None:
    _, result = _scene(3)
    camera = result.camera.pinhole()
    mm = result.depth_mm()
    pipeline = _pipeline(result, "fused", lifter=open_lifter())
    people = _run(pipeline, result, depth=DepthFrame(mm, 0.001), camera=camera)
    measured = measure_with_depth(people, depth_to_metres(mm, "16UC1"), camera, DepthConfig(), NAMES)
    lifted, _ = open_lifter().lift_people(people, 0.0, camera, pipeline.config.three_d.body_height_m)
    for person, m, lifted_joints in zip(people, measured, lifted, strict=True):
        expected = fuse(m, lifted_joints)
        assert person.joints_3d is not None and expected is not None
        np.testing.assert_array_equal(person.joints_3d.positions, expected.positions)
        np.testing.assert_array_equal(person.joints_3d.source, expected.source)
    assert {"depth_ms", "lifter_ms"} <= set(pipeline.timings)

    # A depth of the wrong size: 2D people and the lifter's 3D, and the reason why.
    rejected = _run(pipeline, result, depth=DepthFrame(mm[:100], 0.001), camera=camera)
    assert len(rejected) == len(people)
    _check_joints(rejected, SOURCE_LIFTER)
    rejection = pipeline.last_depth_rejection
    assert rejection is not None and rejection.reason == DEPTH_REJECTED and "(w, h)" in rejection.message


def test_depth_mode_without_a_usable_depth_gives_2d_people_and_a_reason() -> None:
    _, result = _scene(0)
    pipeline = _pipeline(result, "depth")
    mm = result.depth_mm()
    for depth, camera, text in (
        (DepthFrame(mm, 0.001), None, "colour camera"),  # no camera to place with
        (DepthFrame(mm, -1.0), result.camera.pinhole(), "scale"),
        (DepthFrame(mm[:, :, None].repeat(3, 2)), result.camera.pinhole(), "2-D"),
    ):
        people = _run(pipeline, result, depth=depth, camera=camera)
        assert people and all(p.joints_3d is None for p in people)
        rejection = pipeline.last_depth_rejection
        assert rejection is not None and rejection.reason == DEPTH_REJECTED and text in rejection.message
    assert not _run(pipeline, result, camera=result.camera.pinhole())[0].joints_3d  # no depth: 2D only
    assert pipeline.last_depth_rejection is None


def test_the_lifter_is_opened_once_from_the_config_and_refused_clearly(tmp_path) -> None:
    _, result = _scene(0)
    pipeline = _pipeline(result, "fused")
    assert pipeline.three_d.lifter is not None and "receptive field" in (
        pipeline.three_d.describe_lifter() or ""
    )
    assert _pipeline(result, "depth").three_d.lifter is None
    missing = tmp_path / "no_lifter.onnx"
    with pytest.raises(LifterUnavailable, match=str(missing)):
        PosePipeline(_config("lifter", lifter_model=str(missing)), TruthPoseModel(result))

    class H36MModel(TruthPoseModel):
        skeleton = H36M17

    with pytest.raises(LifterUnavailable, match="COCO-17"):
        PosePipeline(_config("lifter"), H36MModel(result))


# -- other keypoint schemas: depth for every keypoint, the lifter for the body-17 subset ----------

WHOLEBODY = get_skeleton("coco_wholebody")
BODY_JOINT_OF_GROUP = {
    "feet": "left_ankle",
    "face": "nose",
    "left_hand": "left_wrist",
    "right_hand": "right_wrist",
}


class WholeBodyTruthModel(TruthPoseModel):
    """The true COCO-17 keypoints as the body group of 133 whole-body ones; every other
    group sits on one body joint (face on the nose, hands on their wrists), scored as it."""

    skeleton = WHOLEBODY

    def estimate(self, image_bgr: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        body, body_scores = super().estimate(image_bgr, boxes)
        source = np.arange(WHOLEBODY.num_keypoints)
        for group, joint in BODY_JOINT_OF_GROUP.items():
            source[list(WHOLEBODY.group(group))] = NAMES.index(joint)
        return body[:, source], body_scores[:, source]


def _wholebody_pipeline(result: RenderResult, mode: str, **kwargs) -> PosePipeline:
    return PosePipeline(_config(mode), WholeBodyTruthModel(result), **kwargs)


def _run_with_depth(pipeline: PosePipeline, result: RenderResult) -> tuple[list[Person], list]:
    """The people of a frame with the scene's depth, and what ``measure_with_depth`` gives them."""
    camera, mm = result.camera.pinhole(), result.depth_mm()
    people = _run(pipeline, result, depth=DepthFrame(mm, 0.001), camera=camera)
    names = pipeline.skeleton.keypoint_names
    return people, measure_with_depth(people, depth_to_metres(mm, "16UC1"), camera, DepthConfig(), names)


def test_depth_mode_gives_every_keypoint_of_a_wholebody_person_3d() -> None:
    _, result = _scene(0)
    people, expected = _run_with_depth(_wholebody_pipeline(result, "depth"), result)
    _check_joints(people, SOURCE_DEPTH)
    hands = list(WHOLEBODY.group("left_hand")) + list(WHOLEBODY.group("right_hand"))
    for person, joints in zip(people, expected, strict=True):
        assert person.joints_3d is not None and person.joints_3d.valid.shape == (133,)
        np.testing.assert_array_equal(person.joints_3d.positions, joints.positions)
        assert person.joints_3d.valid[hands].any()  # measured beyond the body group


def test_lifter_mode_lifts_the_body17_subset_of_a_wholebody_person_and_nothing_else() -> None:
    _, result = _scene(2)
    people = _run(_wholebody_pipeline(result, "lifter", lifter=open_lifter()), result)
    body_people = [
        dataclasses.replace(p, keypoints=p.keypoints[:17], keypoint_scores=p.keypoint_scores[:17])
        for p in people
    ]
    nominal = PinholeCamera.nominal(640, 480, 60.0)
    expected, _ = open_lifter().lift_people(body_people, 0.0, nominal, 1.7)
    for person, joints in zip(people, expected, strict=True):
        assert person.joints_3d is not None and person.joints_3d.valid.shape == (133,)
        np.testing.assert_array_equal(person.joints_3d.positions[:17], joints.positions)
        np.testing.assert_array_equal(person.joints_3d.source[:17], joints.source)
        assert (person.joints_3d.source[17:] == SOURCE_NONE).all()
        assert np.isnan(person.joints_3d.positions[17:]).all() and not person.joints_3d.valid[17:].any()


def test_fused_mode_on_wholebody_people_keeps_depth_and_lifts_only_body_joints_depth_missed() -> None:
    _, result = _scene(3)
    people, measured = _run_with_depth(_wholebody_pipeline(result, "fused", lifter=open_lifter()), result)
    for person, m in zip(people, measured, strict=True):
        joints = person.joints_3d
        assert joints is not None
        np.testing.assert_array_equal(joints.positions[m.valid], m.positions[m.valid])
        np.testing.assert_array_equal(joints.source[m.valid], SOURCE_DEPTH)
        lifted = joints.source == SOURCE_LIFTER
        assert not (lifted & m.valid).any() and not lifted[17:].any()  # beyond the body: depth or nothing
        assert (joints.source[17:][~m.valid[17:]] == SOURCE_NONE).all()


@pytest.mark.parametrize("name", ["hand21", "face106", "ap10k"])
def test_lifter_mode_refuses_a_schema_without_body17_naming_three_d_mode(name: str) -> None:
    _, result = _scene(0)

    class OtherModel(TruthPoseModel):
        skeleton = get_skeleton(name)

    for mode in ("lifter", "fused"):
        with pytest.raises(
            LifterUnavailable,
            match=rf"^the lifter reads COCO-17 .* gives {name} \(\d+ keypoints\).*\(three_d\.mode {mode}\)$",
        ):
            PosePipeline(_config(mode), OtherModel(result), lifter=open_lifter())
