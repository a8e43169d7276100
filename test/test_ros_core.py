"""The ROS layer's logic, tested without ROS processes: parameters <-> config, the
newest-frame slot, node statistics, message building (rclpy and rosbags flavours),
camera geometry and Person bundling."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pose_perception.camera import PinholeCamera
from pose_perception.config import Config, load_config
from pose_perception.people import UNTRACKED, Person, people_from_estimates
from pose_perception.ros.frame_slot import LatestSlot
from pose_perception.ros.params import (
    ParameterError,
    config_from_values,
    config_values,
    param_specs,
    updated_config,
)
from pose_perception.ros.stats import ERROR, OK, WARN, NodeStats
from pose_perception.skeletons import COCO17

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------- parameters


def test_every_config_field_is_one_parameter():
    specs = {s.name: s for s in param_specs()}
    config = Config()
    expected = {
        f"{section.name}.{f.name}"
        for section in dataclasses.fields(config)
        for f in dataclasses.fields(getattr(config, section.name))
    }
    assert set(specs) == expected
    assert all(s.description for s in specs.values())
    assert (
        specs["estimator.keypoint_threshold"].min == 0.0 and specs["estimator.keypoint_threshold"].max == 1.0
    )
    assert specs["estimator.backend"].choices == ("onnxruntime", "torch")
    assert specs["estimator.model"].read_only and not specs["estimator.keypoint_threshold"].read_only
    assert specs["input.max_image_pixels"].kind is int and specs["output.publish_tf"].kind is bool


def test_parameter_values_round_trip_to_config():
    config = load_config(REPO / "config" / "rtmpose.yaml")
    assert config_from_values(config_values(config)) == config


@pytest.mark.parametrize(
    ("changes", "word"),
    [
        ({"estimator.keypoint_threshold": 1.5}, "keypoint_threshold"),
        ({"input.max_rate": -1.0}, "max_rate"),
        ({"input.transport": "h264"}, "transport"),
        ({"estimator.device": "gpu"}, "device"),
        ({"output.marker_lifetime": "long"}, "marker_lifetime"),
        ({"output.nonsense": 1}, "nonsense"),
    ],
)
def test_bad_parameter_changes_are_refused_with_the_reason(changes, word):
    with pytest.raises(ParameterError, match=word):
        updated_config(Config(), changes)


def test_good_parameter_change_is_applied_not_clamped():
    config = updated_config(Config(), {"estimator.keypoint_threshold": 0.55, "output.publish_tf": False})
    assert config.estimator.keypoint_threshold == 0.55 and config.output.publish_tf is False


def test_descriptors_carry_ranges_and_read_only():
    pytest.importorskip("rcl_interfaces.msg")
    from pose_perception.ros.params import descriptor

    specs = {s.name: s for s in param_specs()}
    d = descriptor(specs["estimator.keypoint_threshold"])
    assert d.floating_point_range[0].from_value == 0.0 and d.floating_point_range[0].to_value == 1.0
    d = descriptor(specs["input.max_image_pixels"])
    assert d.integer_range[0].from_value == 1 and d.integer_range[0].to_value == 1 << 28
    d = descriptor(specs["estimator.backend"])
    assert d.read_only and "onnxruntime" in d.additional_constraints


# ---------------------------------------------------------------------- newest-frame slot


def test_slot_keeps_only_the_newest_and_counts_drops():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True and slot.put(3) is True
    assert slot.take(0) == 3 and slot.dropped == 2
    assert slot.take(0.01) is None


def test_slot_wakes_a_waiting_consumer_and_close_releases_it():
    slot: LatestSlot[int] = LatestSlot()
    got: list[int | None] = []
    consumer = threading.Thread(target=lambda: got.append(slot.take(5)))
    consumer.start()
    time.sleep(0.05)
    slot.put(7)
    consumer.join(2)
    assert got == [7]
    consumer = threading.Thread(target=lambda: got.append(slot.take(5)))
    consumer.start()
    slot.close()
    consumer.join(2)
    assert not consumer.is_alive() and got[-1] is None


# ---------------------------------------------------------------------- statistics


def test_stats_summary_counts_rates_timings_and_levels():
    now = [0.0]
    stats = NodeStats(clock=lambda: now[0])
    assert stats.summary("/image").level == WARN  # nothing received yet
    for i in range(10):
        stats.frame_received()
        stats.frame_processed({"pose_ms": float(i + 1)}, people=2)
    stats.frame_dropped()
    now[0] = 2.0
    summary = stats.summary("/image")
    assert summary.level == OK
    v = summary.values
    assert v["frames_received"] == "10" and v["frames_processed"] == "10" and v["frames_dropped_busy"] == "1"
    assert float(v["input_rate_hz"]) == pytest.approx(5.0) and v["people_last_frame"] == "2"
    assert float(v["pose_ms_p50"]) == pytest.approx(5.5)
    stats.frame_received()
    stats.frame_rejected("truncated_data")
    now[0] = 3.0
    summary = stats.summary("/image")
    assert summary.level == WARN and summary.values["rejected_truncated_data"] == "1"
    stats.frame_received()
    stats.frame_failed()
    now[0] = 4.0
    assert stats.summary("/image").level == ERROR
    now[0] = 20.0
    summary = stats.summary("/image")
    assert summary.level == WARN and "/image" in summary.message


# ---------------------------------------------------------------------- camera + people


def test_nominal_camera_and_backprojection():
    cam = PinholeCamera.nominal(640, 480, 90.0)
    assert cam.fx == pytest.approx(320.0) and cam.cx == pytest.approx(319.5)
    points = cam.backproject(np.array([[319.5, 239.5], [639.5, 239.5]]), 2.0)
    np.testing.assert_allclose(points, [[0, 0, 2], [2, 0, 2]])
    assert cam.distance_from_height(320.0, 1.6) == pytest.approx(1.6)


def test_camera_from_k_rejects_unusable_intrinsics():
    cam = PinholeCamera.from_k([500, 0, 320, 0, 510, 240, 0, 0, 1], 640, 480)
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (500, 510, 320, 240)
    with pytest.raises(ValueError):
        PinholeCamera.from_k([0] * 9, 640, 480)
    with pytest.raises(ValueError):
        PinholeCamera.from_k([1, 2, 3], 640, 480)


def test_people_from_estimates_scores_and_threshold():
    boxes = np.array([[0, 0, 10, 20], [5, 5, 15, 25]], np.float32)
    keypoints = np.zeros((2, 17, 2), np.float32)
    scores = np.stack([np.full(17, 0.9), np.full(17, 0.1)]).astype(np.float32)
    people = people_from_estimates(boxes, keypoints, scores, min_score=0.5)
    assert len(people) == 1 and people[0].score == pytest.approx(0.9) and people[0].track_id == UNTRACKED
    assert len(people_from_estimates(boxes, keypoints, scores)) == 2


# ---------------------------------------------------------------------- messages


def _person(track_id: int, seed: int) -> Person:
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform([100, 50], [300, 450], (17, 2)).astype(np.float32)
    return Person(
        track_id=track_id,
        bbox=np.array([100, 50, 300, 450], np.float32),
        score=0.8,
        keypoints=keypoints,
        keypoint_scores=rng.uniform(0.5, 1.0, 17).astype(np.float32),
    )


def _factories():
    from pose_perception.ros import messages

    out = []
    try:
        import pose_perception.msg  # noqa: F401

        out.append(messages.MessageFactory.rclpy())
    except ImportError:
        pass
    pytest.importorskip("rosbags")
    from pose_perception.ros.bag import pose_typestore

    store = pose_typestore(REPO / "msg")
    out.append(messages.MessageFactory.rosbags(store))
    return out, store


def test_person_array_round_trips_in_both_message_libraries():
    from pose_perception.ros import messages

    factories, store = _factories()
    people = [_person(3, 0), _person(8, 1)]
    people[1].keypoints_3d = np.arange(51, dtype=np.float32).reshape(17, 3)
    people[1].keypoints_3d_valid = np.arange(17) % 2 == 0
    for factory in factories:
        header = messages.header(factory, 1_700_000_000_123_456_789, "cam")
        msg = messages.person_array(factory, header, people, COCO17, (640, 480))
        assert messages.time_to_ns(msg.header.stamp) == 1_700_000_000_123_456_789
        back = messages.people_from_message(msg)
        for sent, got in zip(people, back, strict=True):
            assert got.track_id == sent.track_id
            np.testing.assert_allclose(got.keypoints, sent.keypoints)
            np.testing.assert_allclose(got.keypoint_scores, sent.keypoint_scores)
            np.testing.assert_allclose(got.bbox, sent.bbox)
        assert back[0].keypoints_3d is None
        valid = back[1].keypoints_3d_valid
        assert valid is not None and valid.tolist() == people[1].keypoints_3d_valid.tolist()
        if hasattr(msg, "__msgtype__"):  # rosbags: must serialise
            raw = store.serialize_cdr(msg, msg.__msgtype__)
            again = store.deserialize_cdr(raw, msg.__msgtype__)
            assert len(again.people) == 2


def test_markers_follow_people_and_delete_vanished_ones():
    from pose_perception.ros import messages

    factories, _ = _factories()
    cam = PinholeCamera.nominal(640, 480, 60.0)
    for factory in factories:
        tracker = messages.MarkerTracker(factory, messages.MarkerSettings(keypoint_threshold=0.0))
        header = messages.header(factory, 1, "cam")
        first = tracker.update(header, [_person(3, 0), _person(8, 1)], COCO17, cam)
        assert {m.ns for m in first.markers} == {"person_3", "person_8"}
        sphere = next(
            m for m in first.markers if m.ns == "person_3" and m.type == messages.MARKER_SPHERE_LIST
        )
        assert len(sphere.points) == 17 and sphere.color.a == 1.0
        lines = next(m for m in first.markers if m.ns == "person_3" and m.type == messages.MARKER_LINE_LIST)
        assert len(lines.points) == 2 * len(COCO17.links)
        second = tracker.update(header, [_person(8, 2)], COCO17, cam)
        deleted = {(m.ns, m.id) for m in second.markers if m.action == messages.MARKER_DELETE}
        assert deleted == {("person_3", i) for i in range(3)}
        assert messages.track_color(3) != messages.track_color(8)
        assert messages.track_color(3) == messages.track_color(3)


def test_person_transforms_place_people_in_front_of_the_camera():
    from pose_perception.ros import messages

    factories, _ = _factories()
    cam = PinholeCamera.nominal(640, 480, 60.0)
    person = _person(5, 0)
    for factory in factories:
        header = messages.header(factory, 1, "cam")
        (tf,) = messages.person_transforms(
            factory, header, [person], cam, "human_", messages.MarkerSettings()
        )
        assert tf.child_frame_id == "human_5" and tf.header.frame_id == "cam"
        expected_z = cam.fy * 1.7 / 400.0  # 1.7 m person, 400 px box
        assert tf.transform.translation.z == pytest.approx(expected_z)
        assert tf.transform.rotation.w == 1.0


def test_skeleton_message_lists_names_and_links():
    from pose_perception.ros import messages

    factories, _ = _factories()
    for factory in factories:
        msg = messages.skeleton_message(factory, COCO17)
        assert list(msg.keypoint_names) == list(COCO17.keypoint_names)
        links = list(zip(list(msg.link_start), list(msg.link_end), strict=True))
        assert links == [tuple(link) for link in COCO17.links]
