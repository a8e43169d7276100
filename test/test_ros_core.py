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
from pose_perception.people import (
    SOURCE_DEPTH,
    SOURCE_NONE,
    UNTRACKED,
    Joints3D,
    Person,
    people_from_estimates,
)
from pose_perception.ros.frame_slot import LatestSlot
from pose_perception.ros.params import (
    ParameterError,
    config_from_values,
    config_values,
    param_specs,
    updated_config,
)
from pose_perception.ros.stats import ERROR, OK, WARN, NodeStats, StampGaps
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
    """take() waits far longer than the joins: a consumer that put()/close() did not wake
    is still alive when the join gives up, however slowly the threads are scheduled."""
    slot: LatestSlot[int] = LatestSlot()
    got: list[int | None] = []
    consumer = threading.Thread(target=lambda: got.append(slot.take(120)), daemon=True)
    consumer.start()
    time.sleep(0.05)  # usually waiting by now; if not, take() finds the frame at once
    slot.put(7)
    consumer.join(30)
    assert not consumer.is_alive() and got == [7]
    consumer = threading.Thread(target=lambda: got.append(slot.take(120)), daemon=True)
    consumer.start()
    slot.close()
    consumer.join(30)
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


def _camera_stamps_ns(count: int, rate_hz: float, jitter_s: float = 0.002, seed: int = 0) -> list[int]:
    """Capture stamps of a camera at ``rate_hz`` with a little jitter, as a driver stamps them."""
    rng = np.random.default_rng(seed)
    start = 1_700_000_000.0
    return [int((start + i / rate_hz + rng.uniform(-jitter_s, jitter_s)) * 1e9) for i in range(count)]


def test_stamp_gaps_count_frames_lost_before_the_node():
    """Issue 14, item 19: raw images lost by DDS are invisible to every other counter."""
    stamps = _camera_stamps_ns(200, 30.0)
    lost = {50, 51, 52, 90}  # after the period is known (the first gaps only measure it)
    now = [0.0]
    stats = NodeStats(clock=lambda: now[0])
    for i, stamp in enumerate(stamps[:100]):
        if i not in lost:
            stats.frame_received(stamp)
    now[0] = 1.0
    summary = stats.summary("/image")
    assert summary.values["frames_missing_input"] == "4"
    assert float(summary.values["input_period_ms"]) == pytest.approx(1000 / 30, abs=2.5)
    assert summary.level == WARN and "4 images missing before the node" in summary.message
    for stamp in stamps[100:150]:
        stats.frame_received(stamp)
    now[0] = 2.0
    summary = stats.summary("/image")
    assert summary.level == OK and summary.values["frames_missing_input"] == "4"  # a total; level per period


def test_stamp_gaps_without_losses_count_nothing():
    """Jitter, a camera pause, unstamped and out-of-order images are not losses."""
    gaps = StampGaps()
    stamps = _camera_stamps_ns(300, 15.0, jitter_s=0.005, seed=3)
    paused = stamps[:100] + [s + 5_000_000_000 for s in stamps[100:]]  # the camera paused 5 s
    for stamp in paused[:150]:
        assert gaps.add(stamp) == 0
    assert gaps.add(0) == 0 and gaps.add(paused[149]) == 0  # unstamped; a resend
    assert gaps.add(paused[120]) == 0  # a stray old frame
    for stamp in paused[150:] + paused[:50]:  # and the whole recording again (a bag in a loop)
        assert gaps.add(stamp) == 0
    assert gaps.missing == 0
    assert gaps.add(paused[52]) == 2  # still counting after the restart: 50 and 51 are missing


def test_stamp_gaps_under_heavy_loss():
    """13 of 55 frames arrived at 10 Hz in the issue's measurement: the period still comes from
    the shortest gaps, so most of the loss is counted."""
    rng = np.random.default_rng(14)
    stamps = _camera_stamps_ns(550, 10.0, seed=1)
    kept = sorted(rng.choice(550, size=130, replace=False))
    gaps = StampGaps()
    for i in kept:
        gaps.add(stamps[i])
    lost = kept[-1] - kept[0] + 1 - len(kept)
    assert gaps.period_s == pytest.approx(0.1, abs=0.005)
    assert 0.9 * lost <= gaps.missing <= lost  # only the gaps before the period was known are missed


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
    from pose_perception.ros.bag_io import pose_typestore

    store = pose_typestore(REPO / "msg")
    out.append(messages.MessageFactory.rosbags(store))
    return out, store


def test_person_array_round_trips_in_both_message_libraries():
    from pose_perception.ros import messages

    factories, store = _factories()
    people = [_person(3, 0), _person(8, 1)]
    people[1].joints_3d = _joints(np.arange(51, dtype=np.float32).reshape(17, 3), np.arange(17) % 2 == 0)
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
        assert back[0].joints_3d is None
        valid = back[1].joints_3d.valid
        assert valid is not None and valid.tolist() == people[1].joints_3d.valid.tolist()
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


# ---------------------------------------------------------------------- 3D (three_d.mode depth)

NAMES = COCO17.keypoint_names
TORSO = [NAMES.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]


def _measured_person(track_id: int = 3) -> Person:
    """A person with measured 3D for most joints: nose, left wrist (a NaN) and right
    ankle (a finite value flagged invalid) are not measured."""
    person = _person(track_id, 0)
    cam = PinholeCamera.nominal(640, 480, 60.0)
    z = 2.0 + 0.01 * np.arange(17)
    points = cam.backproject(person.keypoints, z)
    valid = np.ones(17, bool)
    for name in ("nose", "left_wrist", "right_ankle"):
        valid[NAMES.index(name)] = False
    points[NAMES.index("nose")] = np.nan
    points[NAMES.index("left_wrist")] = np.nan
    points[NAMES.index("right_ankle")] = [9.0, 9.0, 9.0]
    person.joints_3d = _joints(points, valid)
    return person


def _joints(points: np.ndarray, valid: np.ndarray) -> Joints3D:
    """Depth-measured joints at ``points`` (kept as given, NaN or not), ``valid`` as given."""
    source = np.where(valid, SOURCE_DEPTH, SOURCE_NONE).astype(np.uint8)
    return Joints3D(points.astype(np.float32), valid, source, valid.astype(np.float32))


def _finite_points(marker) -> np.ndarray:
    pts = np.array([[p.x, p.y, p.z] for p in marker.points], np.float64).reshape(-1, 3)
    assert np.isfinite(pts).all()
    return pts


def test_measured_3d_markers_have_no_nan_and_draw_only_valid_joints():
    from pose_perception.ros import messages

    factories, _ = _factories()
    cam = PinholeCamera.nominal(640, 480, 60.0)
    person = _measured_person()
    valid = person.joints_3d.valid
    points, measured = messages.person_points_3d(person, cam, 1.7)
    assert np.isfinite(points).all() and measured is not None
    assert measured.tolist() == valid.tolist()
    np.testing.assert_allclose(points[valid], person.joints_3d.positions[valid], rtol=1e-6)
    for factory in factories:
        tracker = messages.MarkerTracker(factory, messages.MarkerSettings(keypoint_threshold=0.0))
        (sphere, lines, label) = tracker.update(
            messages.header(factory, 1, "cam"), [person], COCO17, cam
        ).markers
        assert sphere.type == messages.MARKER_SPHERE_LIST and lines.type == messages.MARKER_LINE_LIST
        np.testing.assert_allclose(_finite_points(sphere), person.joints_3d.positions[valid], rtol=1e-6)
        expected_limbs = [(a, b) for a, b in COCO17.links if valid[a] and valid[b]]
        assert 0 < len(expected_limbs) < len(COCO17.links)
        limb_points = _finite_points(lines)
        assert len(limb_points) == 2 * len(expected_limbs)
        np.testing.assert_allclose(
            limb_points, person.joints_3d.positions[np.array(expected_limbs).reshape(-1)], rtol=1e-6
        )
        torso = person.joints_3d.positions[TORSO].mean(axis=0)
        position = label.pose.position
        np.testing.assert_allclose([position.x, position.y + 0.25, position.z], torso, rtol=1e-5)


def test_person_and_joint_transforms_with_measured_3d():
    from pose_perception.ros import messages

    factories, _ = _factories()
    cam = PinholeCamera.nominal(640, 480, 60.0)
    tracked, untracked, flat = _measured_person(3), _measured_person(UNTRACKED), _person(8, 1)
    valid = tracked.joints_3d.valid
    for factory in factories:
        header = messages.header(factory, 1, "camera_color_optical_frame")
        transforms = messages.person_transforms(
            factory, header, [tracked, untracked, flat], cam, "person_", messages.MarkerSettings(), COCO17
        )
        by_name = {t.child_frame_id: t for t in transforms}
        assert len(by_name) == len(transforms) == 3 + 2 * int(valid.sum())
        assert all(t.header.frame_id == "camera_color_optical_frame" for t in transforms)
        assert all(t.transform.rotation.w == 1.0 and t.transform.rotation.x == 0.0 for t in transforms)

        def xyz(name: str, by_name=by_name) -> np.ndarray:
            v = by_name[name].transform.translation
            return np.array([v.x, v.y, v.z])

        np.testing.assert_allclose(
            xyz("person_3"), tracked.joints_3d.positions[TORSO].mean(axis=0), rtol=1e-5
        )
        for k in np.flatnonzero(valid):
            np.testing.assert_allclose(xyz(f"person_3/{NAMES[k]}"), tracked.joints_3d.positions[k], rtol=1e-6)
            assert f"person_untracked_1/{NAMES[k]}" in by_name
        for name in ("nose", "left_wrist", "right_ankle"):
            assert f"person_3/{name}" not in by_name
        assert "person_8" in by_name and not any(n.startswith("person_8/") for n in by_name)
        expected_z = cam.fy * 1.7 / 400.0  # no 3D: placed from the box height as before
        assert xyz("person_8")[2] == pytest.approx(expected_z)

        no_joints = messages.person_transforms(
            factory, header, [tracked], cam, "person_", messages.MarkerSettings(joint_tf=False), COCO17
        )
        assert [t.child_frame_id for t in no_joints] == ["person_3"]


def test_has_position_exactly_for_valid_finite_joints():
    from pose_perception.ros import messages

    factories, _ = _factories()
    person = _measured_person()
    assert person.joints_3d is not None
    valid = person.joints_3d.valid.copy()
    valid[NAMES.index("left_wrist")] = True  # flagged valid but NaN: not published
    person.joints_3d = _joints(person.joints_3d.positions, valid)
    expected = person.joints_3d.valid & np.isfinite(person.joints_3d.positions).all(axis=1)
    for factory in factories:
        msg = messages.person_array(factory, messages.header(factory, 1, "cam"), [person], COCO17, (640, 480))
        keypoints = msg.people[0].keypoints
        assert [k.has_position for k in keypoints] == expected.tolist()
        positions = np.array([[k.position.x, k.position.y, k.position.z] for k in keypoints])
        assert np.isfinite(positions).all()
        np.testing.assert_allclose(positions[expected], person.joints_3d.positions[expected], rtol=1e-6)


def test_three_d_and_depth_sections_are_validated_parameters():
    specs = {s.name: s for s in param_specs()}
    assert (
        specs["three_d.mode"].choices == ("off", "depth", "lifter", "fused")
        and specs["three_d.mode"].read_only
    )
    assert specs["three_d.publish_joint_tf"].default is True
    assert specs["input.depth_topic"].default == "depth" and specs["input.depth_topic"].read_only
    assert (specs["input.sync_slop_s"].min, specs["input.sync_slop_s"].max) == (0.0, 1.0)
    assert (specs["input.sync_queue_size"].min, specs["input.sync_queue_size"].max) == (1, 100)
    assert "depth.max_joint_spread_m" in specs
    config = updated_config(Config(), {"three_d.mode": "depth", "input.sync_slop_s": 0.05})
    assert config.three_d.mode == "depth" and config.input.sync_slop_s == 0.05
    for changes, word in [
        ({"three_d.mode": "stereo"}, "mode"),
        ({"depth.min_depth_m": 5.0, "depth.max_depth_m": 2.0}, "min_depth_m"),
        ({"input.sync_slop_s": 2.0}, "sync_slop_s"),
        ({"input.sync_queue_size": 0}, "sync_queue_size"),
    ]:
        with pytest.raises(ParameterError, match=word):
            updated_config(Config(), changes)


def test_lifter_parameters():
    specs = {s.name: s for s in param_specs()}
    model, height, age = (
        specs[f"three_d.{k}"] for k in ("lifter_model", "body_height_m", "lifter_max_age_s")
    )
    assert model.default == "" and model.kind is str and model.read_only  # "": the bundled lifter
    assert (height.default, height.min, height.max, height.read_only) == (1.7, 0.5, 2.5, False)
    assert (age.default, age.min, age.read_only) == (1.0, 0.0, True)
    config = updated_config(
        Config(),
        {"three_d.mode": "lifter", "three_d.lifter_model": "/models/my.ONNX", "three_d.body_height_m": 1.2},
    )
    assert config.three_d.lifter_model == "/models/my.ONNX" and config.three_d.body_height_m == 1.2
    for changes, word in [
        ({"three_d.lifter_model": "/models/lifter.pth"}, "lifter_model must be an .onnx file.*lifter.pth"),
        ({"three_d.body_height_m": 3.0}, "body_height_m"),
        ({"three_d.lifter_max_age_s": -1.0}, "lifter_max_age_s"),
    ]:
        with pytest.raises(ParameterError, match=word):
            updated_config(Config(), changes)


def _depth_msg(data: np.ndarray, encoding: str, pad: int = 0, big_endian: bool = False):
    from types import SimpleNamespace

    arr = data.astype(data.dtype.newbyteorder(">")) if big_endian else data
    rows = arr.view(np.uint8).reshape(arr.shape[0], -1)
    rows = np.pad(rows, ((0, 0), (0, pad)))
    return SimpleNamespace(
        encoding=encoding,
        height=data.shape[0],
        width=data.shape[1],
        step=rows.shape[1],
        is_bigendian=int(big_endian),
        data=rows.tobytes(),
        header=SimpleNamespace(stamp=SimpleNamespace(sec=1, nanosec=0), frame_id="cam"),
    )


def test_depth_image_messages_to_metres_and_rejections():
    from pose_perception.ros.convert import ImageRejected, depth_image_to_metres

    mm = np.array([[0, 1500, 3], [700, 65535, 9]], np.uint16)
    for kwargs in ({}, {"pad": 6}, {"big_endian": True}):
        metres = depth_image_to_metres(_depth_msg(mm, "16UC1", **kwargs), 100)
        np.testing.assert_array_equal(np.isnan(metres), mm == 0)
        np.testing.assert_allclose(metres[mm > 0], mm[mm > 0] / 1000.0, rtol=1e-6)
    m = np.array([[1.25, np.nan, -1.0]], np.float32)
    for kwargs in ({}, {"pad": 4}, {"big_endian": True}):
        metres = depth_image_to_metres(_depth_msg(m, "32FC1", **kwargs), 100)
        assert metres[0, 0] == np.float32(1.25) and np.isnan(metres[0, 1:]).all()
    for data, encoding, reason in [
        (np.zeros((2, 3, 3), np.uint8).reshape(2, 9), "rgb8", "unknown_encoding"),
        (np.zeros((2, 3), np.uint8), "8UC1", "unknown_encoding"),
        (np.zeros((200, 200), np.uint16), "16UC1", "too_large"),
    ]:
        with pytest.raises(ImageRejected) as err:
            depth_image_to_metres(_depth_msg(data, encoding), 1000)
        assert err.value.reason == reason, err.value
    short = _depth_msg(mm, "16UC1")
    short.data = short.data[:-1]
    with pytest.raises(ImageRejected) as err:
        depth_image_to_metres(short, 100)
    assert err.value.reason == "truncated_data"


def _info(k=(500.0, 0, 320, 0, 500, 240, 0, 0, 1), d=(), model="plumb_bob", size=(640, 480)):
    from types import SimpleNamespace

    return SimpleNamespace(k=list(k), d=list(d), distortion_model=model, width=size[0], height=size[1])


def test_camera_from_info_distortion_and_rejections():
    from pose_perception.ros.rgbd import DepthFrameRejected, camera_from_info

    camera = camera_from_info(_info(d=(0.0,) * 5))
    assert (camera.fx, camera.cx, camera.width) == (500.0, 320.0, 640) and not camera.has_distortion
    camera = camera_from_info(_info(d=(0.1, -0.05, 0.0, 0.0, 0.01)))
    assert camera.has_distortion and camera.distortion == (0.1, -0.05, 0.0, 0.0, 0.01)
    assert len(camera_from_info(_info(d=(0.1,) * 8, model="rational_polynomial")).distortion) == 8
    assert not camera_from_info(_info(d=(0.0,) * 4, model="equidistant")).has_distortion  # zero d: fine
    for info, reason in [
        (_info(k=(0.0,) * 9), "camera_info_invalid"),
        (_info(size=(0, 0)), "camera_info_invalid"),
        (_info(d=(0.1, 0.0, 0.0, 0.0), model="equidistant"), "camera_info_distortion"),
    ]:
        with pytest.raises(DepthFrameRejected) as err:
            camera_from_info(info)
        assert err.value.reason == reason


def test_depth_frame_from_messages_and_its_rejections():
    """A 16UC1 depth and its CameraInfo become metres and the camera; the pipeline's 3D
    stage then measures the joints on the rays of their keypoints."""
    from pose_perception.ros.rgbd import DepthFrameRejected, depth_frame_from_messages

    depth = np.full((480, 640), 2500, np.uint16)
    frame, camera = depth_frame_from_messages((640, 480), _depth_msg(depth, "16UC1"), _info(), Config())
    assert camera.fx == 500.0 and frame.camera is None and frame.scale == 1.0
    np.testing.assert_array_equal(frame.metres(), np.full((480, 640), 2.5, np.float32))
    for depth_msg, info, reason in [
        (_depth_msg(depth[:240, :320], "16UC1"), _info(), "depth_size_mismatch"),
        (_depth_msg(depth, "16UC1"), _info(size=(320, 240)), "camera_info_size_mismatch"),
        (_depth_msg(depth.astype(np.uint8), "8UC1"), _info(), "depth_unknown_encoding"),
    ]:
        with pytest.raises(DepthFrameRejected) as err:
            depth_frame_from_messages((640, 480), depth_msg, info, Config())
        assert err.value.reason == reason


def test_stamp_sync_matches_within_slop_and_resets_after_a_clock_jump():
    from types import SimpleNamespace

    from pose_perception.ros.rgbd import StampSync

    def msg(name: str, ns: int):
        sec, nanosec = divmod(ns, 1_000_000_000)
        return SimpleNamespace(
            name=name, header=SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=nanosec))
        )

    sets: list[tuple[str, ...]] = []
    sync = StampSync(3, 10, 0.02, lambda *m: sets.append(tuple(x.name for x in m)))
    t0 = 5_000_000_000
    for i in range(3):  # depth 8 ms late, CameraInfo exact: matched
        t = t0 + i * 33_000_000
        sync.add(0, msg(f"image{i}", t))
        sync.add(2, msg(f"info{i}", t))
        sync.add(1, msg(f"depth{i}", t + 8_000_000))
    sync.add(1, msg("old depth", t0 + 40_000_000))  # older than the newest depth: dropped
    assert sync.sync.dropped_out_of_order == 1
    sync.add(0, msg("image3", t0 + 99_000_000))
    sync.add(2, msg("info3", t0 + 99_000_000))
    sync.add(1, msg("depth3", t0 + 99_000_000 + 30_000_000))  # 30 ms > slop: image3 unmatched
    assert ("image0", "depth0", "info0") in sets and ("image2", "depth2", "info2") in sets
    assert not any("image3" in s for s in sets)
    sync.add(0, msg("image4", t0 + 129_000_000))
    sync.add(2, msg("info4", t0 + 129_000_000))
    assert sets[-1] == ("image4", "depth3", "info4")
    emitted = len(sets)
    for i, name in enumerate(("image", "depth", "info")):  # a bag loops: 2 s back
        sync.add(i, msg(f"{name}-loop", t0 - 2_000_000_000))
    assert (
        sync.resets == 1
        and len(sets) == emitted + 1
        and sets[-1] == ("image-loop", "depth-loop", "info-loop")
    )
    counters = sync.counters()
    assert counters["sync_sets"] == str(len(sets)) and counters["sync_dropped_out_of_order"] == "1"
