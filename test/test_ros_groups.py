"""Keypoint groups in the ROS layer (K=133 coco_wholebody): the Skeleton message's groups,
markers per group, per-joint TF of chosen groups, and the group colours of the annotated image."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_ros_core import _factories, _joints

from pose_perception.camera import PinholeCamera
from pose_perception.config import Config, load_config
from pose_perception.group_styles import GROUP_STYLES, keypoint_colors
from pose_perception.people import Person
from pose_perception.ros import messages
from pose_perception.ros.params import ParameterError, config_from_values, config_values
from pose_perception.skeletons import COCO17, Skeleton, get_skeleton
from pose_perception.viz import draw_poses

WHOLEBODY = get_skeleton("coco_wholebody")
CAMERA = PinholeCamera.nominal(640, 480, 60.0)


def _wholebody_person(track_id: int = 3, seed: int = 0) -> Person:
    rng = np.random.default_rng(seed)
    k = WHOLEBODY.num_keypoints
    return Person(
        track_id=track_id,
        bbox=np.array([100, 50, 300, 450], np.float32),
        score=0.8,
        keypoints=rng.uniform([100, 50], [300, 450], (k, 2)).astype(np.float32),
        keypoint_scores=rng.uniform(0.5, 1.0, k).astype(np.float32),
    )


def test_skeleton_message_carries_the_groups_in_both_message_libraries():
    factories, store = _factories()
    for factory in factories:
        msg = messages.skeleton_message(factory, WHOLEBODY)
        if hasattr(msg, "__msgtype__"):  # rosbags: what a bag holds must decode to the same groups
            msg = store.deserialize_cdr(store.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)
        groups = messages.groups_from_message(msg)
        assert groups == {name: WHOLEBODY.group(name) for name, _, _ in WHOLEBODY.groups}
        hand = [msg.keypoint_names[i] for i in groups["left_hand"]]
        assert len(hand) == 21 and all(name.startswith("left_") for name in hand)
        assert messages.groups_from_message(messages.skeleton_message(factory, COCO17)) == {}


def test_wholebody_person_array_round_trips_all_133_keypoints():
    factories, _ = _factories()
    person = _wholebody_person()
    for factory in factories:
        header = messages.header(factory, 5, "cam")
        msg = messages.person_array(factory, header, [person], WHOLEBODY, (640, 480))
        (back,) = messages.people_from_message(msg)
        assert msg.skeleton == "coco_wholebody" and back.num_keypoints == 133
        np.testing.assert_allclose(back.keypoints, person.keypoints)
        np.testing.assert_allclose(back.keypoint_scores, person.keypoint_scores)


def _by_namespace(array) -> dict[str, list]:
    out: dict[str, list] = {}
    for marker in array.markers:
        out.setdefault(marker.ns, []).append(marker)
    return out


def test_markers_draw_each_group_in_its_namespace_colour_and_size():
    factories, _ = _factories()
    for factory in factories:
        tracker = messages.MarkerTracker(factory, messages.MarkerSettings(keypoint_threshold=0.0))
        array = tracker.update(messages.header(factory, 1, "cam"), [_wholebody_person(3)], WHOLEBODY, CAMERA)
        spaces = _by_namespace(array)
        groups = ("feet", "face", "left_hand", "right_hand")
        assert set(spaces) == {"person_3", *(f"person_3/{g}" for g in groups)}
        body_joints = spaces["person_3"][0]
        assert len(body_joints.points) == 17 and len(spaces["person_3"]) == 3  # joints, limbs, label
        track = messages.track_color(3)
        assert (body_joints.color.r, body_joints.color.g, body_joints.color.b) == pytest.approx(track[:3])
        for group in groups:
            joints, limbs = spaces[f"person_3/{group}"]
            assert len(joints.points) == len(WHOLEBODY.group(group))
            assert joints.scale.x < body_joints.scale.x and limbs.scale.x < spaces["person_3"][1].scale.x
            rgb = GROUP_STYLES[group].color
            assert rgb is not None
            assert (joints.color.r, joints.color.g, joints.color.b) == pytest.approx([c / 255 for c in rgb])
        assert len(spaces["person_3/left_hand"][1].points) == 2 * 20  # the hand's 20 links
        assert len(spaces["person_3/face"][1].points) == 0  # the official face has no links


def test_a_vanished_wholebody_person_loses_its_group_markers_too():
    factories, _ = _factories()
    for factory in factories:
        tracker = messages.MarkerTracker(factory, messages.MarkerSettings())
        header = messages.header(factory, 1, "cam")
        tracker.update(header, [_wholebody_person(3)], WHOLEBODY, CAMERA)
        array = tracker.update(header, [], WHOLEBODY, CAMERA)
        deleted = {m.ns for m in array.markers if m.action == messages.MARKER_DELETE}
        assert deleted == {
            "person_3",
            "person_3/feet",
            "person_3/face",
            "person_3/left_hand",
            "person_3/right_hand",
        }


def test_body17_markers_stay_one_namespace_per_person():
    factories, _ = _factories()
    rng = np.random.default_rng(1)
    person = Person(
        3, np.array([100, 50, 300, 450], np.float32), 0.8, rng.uniform(100, 300, (17, 2)), np.ones(17)
    )
    for factory in factories:
        tracker = messages.MarkerTracker(factory, messages.MarkerSettings())
        array = tracker.update(messages.header(factory, 1, "cam"), [person], COCO17, CAMERA)
        assert [(m.ns, m.id) for m in array.markers] == [("person_3", 0), ("person_3", 1), ("person_3", 2)]
        assert array.markers[0].scale.x == messages.MarkerSettings().joint_diameter_m


def _measured_wholebody_person() -> Person:
    person = _wholebody_person(4)
    points = CAMERA.backproject(person.keypoints, 2.0 + 0.001 * np.arange(133))
    person.joints_3d = _joints(points, np.ones(133, bool))
    return person


def test_joint_tf_is_body_only_by_default_and_adds_the_chosen_groups():
    factories, _ = _factories()
    person = _measured_wholebody_person()
    for factory in factories:
        header = messages.header(factory, 1, "cam")
        default = messages.person_transforms(
            factory, header, [person], CAMERA, "person_", messages.MarkerSettings(), WHOLEBODY
        )
        frames = [t.child_frame_id for t in default]
        assert frames == ["person_4"] + [f"person_4/{n}" for n in WHOLEBODY.keypoint_names[:17]]
        hands = dataclasses.replace(messages.MarkerSettings(), joint_tf_groups=("left_hand",))
        with_hand = messages.person_transforms(factory, header, [person], CAMERA, "person_", hands, WHOLEBODY)
        extra = [t.child_frame_id for t in with_hand[len(default) :]]
        assert extra == [f"person_4/{WHOLEBODY.keypoint_names[i]}" for i in WHOLEBODY.group("left_hand")]
        assert "person_4/left_thumb1" in extra and "person_4/left_hand_root" in extra


def test_joint_tf_groups_setting_is_validated_and_reaches_the_marker_settings(tmp_path):
    config = Config()
    config.three_d.joint_tf_groups = "left_hand, right_hand"
    config.validate()
    assert messages.MarkerSettings.from_config(config).joint_tf_groups == ("left_hand", "right_hand")
    values = config_values(config)
    values["three_d.joint_tf_groups"] = "hands"
    with pytest.raises(ParameterError, match=r"joint_tf_groups.*unknown group 'hands'"):
        config_from_values(values)
    path = tmp_path / "bad.yaml"
    path.write_text("three_d:\n  joint_tf_groups: left_hand,tail\n")
    with pytest.raises(ValueError, match=r"bad.yaml: three_d.joint_tf_groups: unknown group 'tail'"):
        load_config(path)


def test_annotated_image_draws_a_hand_smaller_in_its_group_colour():
    """One confident body joint and one confident hand joint, far apart: each is drawn in its
    colour (the body's own, the hand group's), the hand's dot smaller."""
    k = WHOLEBODY.num_keypoints
    keypoints = np.zeros((1, k, 2), np.float32)
    scores = np.zeros((1, k), np.float32)
    body, hand = WHOLEBODY.keypoint_names.index("nose"), WHOLEBODY.group("left_hand")[5]
    keypoints[0, body], keypoints[0, hand] = (100, 100), (300, 100)
    scores[0, [body, hand]] = 1.0
    image = draw_poses(np.zeros((400, 400, 3), np.uint8), keypoints, scores, WHOLEBODY)
    colors = keypoint_colors(WHOLEBODY)
    assert colors[body] == WHOLEBODY.keypoint_colors[body] and colors[hand] == GROUP_STYLES["left_hand"].color
    for index, x in ((body, 100), (hand, 300)):
        assert tuple(image[100, x][::-1]) == colors[index]  # BGR image, RGB table
    body_area = np.count_nonzero(image[:, :200].any(axis=2))
    hand_area = np.count_nonzero(image[:, 200:].any(axis=2))
    assert 0 < hand_area < body_area


def test_group_styles_work_for_a_schema_built_with_lists():
    """A hand-built schema (lists: unhashable, so not cached) gets the same group styles."""
    skeleton = Skeleton("mine", ("a", "b", "c"), links=[[0, 1], [1, 2]], groups=[["left_hand", 1, 2]])
    assert keypoint_colors(skeleton)[1:] == (GROUP_STYLES["left_hand"].color,) * 2
    assert keypoint_colors(skeleton)[0] == skeleton.keypoint_colors[0]
    image = draw_poses(np.zeros((50, 50, 3), np.uint8), np.full((3, 2), 25.0), np.ones(3), skeleton)
    assert tuple(image[25, 25][::-1]) == GROUP_STYLES["left_hand"].color
