"""rtmpose_node with 3D end to end over real ROS 2: RGB-D (``three_d.mode: depth``) and
the monocular lifter (``three_d.mode: lifter``).

The node runs in its own process as users run it; this process publishes synthetic RGB-D
frames (``render_example``: a colour image, its exact z-buffer depth and intrinsics, and
the true 3D joint centres) on ``image``, ``depth`` and ``camera_info``. For an unregistered
depth, the same scene rendered by a second (depth) camera of another size, view and pose
(``render_rig_depth`` in conftest) goes on ``depth`` with its CameraInfo on
``depth_camera_info``.

The pose model is an *oracle*: an ONNX file whose SimCC output is fixed to the rendered
person's ground-truth keypoints (score 1 for visible joints, 0.1 for hidden ones), so the
published 2D keypoints are known and the 3D positions can be checked against the ground
truth and against the depth image itself. Everything after the model (pipeline,
synchronisation, depth conversion, lifting, messages, TF, markers) is the real code.

Lifter mode plays a synthetic clip (``iter_clip``: a walking person, fixed camera). Its
oracle answers each frame's ground truth: every image carries its frame number as the grey
level of a patch at its centre, and the ONNX graph reads that pixel of the crop and
gathers the frame's SimCC rows (:func:`frame_code_oracle_onnx`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from ros_harness import NodeProcess, TestClient, diagnostic_values, throttled_at_most, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FRAME = "camera_color_optical_frame"
DEPTH_FRAME = "camera_depth_optical_frame"
SEED = 2  # one person, 17 visible joints, 2.5-3.2 m away
SPLIT = 8  # SimCC bins per input pixel of the oracle (0.5 px steps on a 640x480 frame)
BASE_NS = 1_750_000_000_000_000_000
SKEW_NS = 8_000_000  # depth stamped 8 ms after the image: within the default 20 ms slop


@pytest.fixture(scope="module")
def rendered() -> Any:
    from pose_perception.synthetic.coco import render_example

    _, result = render_example(SEED, 0, (640, 480), 1)
    return result


@pytest.fixture(scope="module")
def oracle_model(rendered: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A constant-output pose ONNX answering the rendered person's ground-truth keypoints
    for a full-frame box (official layout: no metadata, split ratio from the shapes)."""
    pytest.importorskip("onnx")
    from onnx_graphs import oracle_pose_onnx

    label = rendered.people[0]
    path = tmp_path_factory.mktemp("oracle") / "oracle_pose.onnx"
    path.write_bytes(oracle_pose_onnx(label.keypoints, label.visibility, rendered.image.shape, SPLIT))
    return path


@pytest.fixture
def depth_node(oracle_model: Any, rclpy_module: Any) -> Any:
    """Start the node in depth mode; on teardown SIGINT must end it with exit code 0."""
    started: list[NodeProcess] = []

    def start(**params: Any) -> NodeProcess:
        values = {
            "estimator.model": str(oracle_model),
            "output.min_person_score": 0.0,
            "detector.type": "full_frame",
            "detector.interval": 1,
            "smoothing.enabled": False,
            "three_d.mode": "depth",
        }
        values.update({k.replace("__", "."): v for k, v in params.items()})
        node = NodeProcess(values)
        started.append(node)
        node.wait_ready()
        return node

    yield start
    for node in started:
        code = node.stop()
        assert code == 0, f"node exit code {code}:\n{node.log}"


# ---------------------------------------------------------------------- RGB-D publishing


def _stamp(msg: Any, ns: int, frame: str = FRAME) -> None:
    msg.header.frame_id = frame
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ns, 1_000_000_000)


def stamp_ns(msg: Any) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


class RgbdPublisher:
    """Publishes the rendered frame as image (bgr8) + depth + CameraInfo with chosen stamps;
    with ``rig``, the depth is the rig's depth camera's, with its CameraInfo on
    /depth_camera_info (``depth_info_size`` overrides the size that CameraInfo states)."""

    def __init__(self, client: TestClient, rendered: Any, rig: Any = None) -> None:
        from sensor_msgs.msg import CameraInfo, Image

        self.client, self.rendered, self.rig = client, rendered, rig
        self.depth_info_size: tuple[int, int] | None = None
        self.image_pub = client.node.create_publisher(Image, "/image", 10)
        self.depth_pub = client.node.create_publisher(Image, "/depth", 10)
        self.info_pub = client.node.create_publisher(CameraInfo, "/camera_info", 10)
        pubs = [self.image_pub, self.depth_pub, self.info_pub]
        if rig is not None:
            self.depth_info_pub = client.node.create_publisher(CameraInfo, "/depth_camera_info", 10)
            pubs.append(self.depth_info_pub)
        for pub in pubs:
            wait_for(
                lambda pub=pub: pub.get_subscription_count() > 0, 20, f"a subscriber on {pub.topic_name}"
            )

    def image(self, ns: int) -> Any:
        from sensor_msgs.msg import Image

        bgr = np.ascontiguousarray(self.rendered.image)
        msg = Image(height=480, width=640, encoding="bgr8", step=640 * 3, data=bgr.tobytes())
        _stamp(msg, ns)
        return msg

    def depth(self, ns: int, encoding: str = "16UC1") -> Any:
        from sensor_msgs.msg import Image

        source = self.rendered if self.rig is None else self.rig
        shape = source.depth.shape
        data = {
            "16UC1": source.depth_mm(),
            "32FC1": np.where(source.depth > 0, source.depth, np.nan).astype(np.float32),
            "8UC1": np.zeros(shape, np.uint8),
            "rgb8": np.zeros((*shape, 3), np.uint8),
        }[encoding]
        data = np.ascontiguousarray(data)
        msg = Image(
            height=shape[0], width=shape[1], encoding=encoding, step=data.strides[0], data=data.tobytes()
        )
        _stamp(msg, ns, FRAME if self.rig is None else DEPTH_FRAME)
        return msg

    def depth_info(self, ns: int) -> Any:
        """The rig's depth camera's CameraInfo (rectified: zero d)."""
        from sensor_msgs.msg import CameraInfo

        camera = self.rig.camera
        width, height = self.depth_info_size or (camera.width, camera.height)
        msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
        msg.k = [camera.fx, 0.0, camera.cx, 0.0, camera.fy, camera.cy, 0.0, 0.0, 1.0]
        msg.d = [0.0] * 5
        _stamp(msg, ns, DEPTH_FRAME)
        return msg

    def info(self, ns: int) -> Any:
        from sensor_msgs.msg import CameraInfo

        msg = CameraInfo(width=640, height=480, distortion_model="plumb_bob")
        msg.k = [float(v) for v in self.rendered.K.reshape(-1)]
        msg.d = [0.0] * 5
        msg.p = [*msg.k[:3], 0.0, *msg.k[3:6], 0.0, *msg.k[6:], 0.0]
        _stamp(msg, ns)
        return msg

    def send(self, ns: int, encoding: str = "16UC1", depth_ns: int | None = None, depth: bool = True) -> None:
        """One frame: image and CameraInfo at ``ns``, depth at ``depth_ns`` (default ns + 8 ms)."""
        self.image_pub.publish(self.image(ns))
        self.info_pub.publish(self.info(ns))
        if depth:
            depth_ns = ns + SKEW_NS if depth_ns is None else depth_ns
            if self.rig is not None:
                self.depth_info_pub.publish(self.depth_info(depth_ns))
            self.depth_pub.publish(self.depth(depth_ns, encoding))


def poses_at(poses: list[Any], ns: int) -> list[Any]:
    return [p for p in poses if stamp_ns(p) == ns]


STEP_NS = 100_000_000  # 10 Hz camera


def send_until_processed(rgbd: RgbdPublisher, poses: list[Any], ns: int, encoding: str = "16UC1") -> int:
    """Send frame ``ns`` and a good frame half a period later, until /poses answers ``ns``
    (best effort may lose a message: each retry uses new stamps); returns the stamp answered.

    The second frame is needed: with the depth 8 ms after the image, the approximate-time
    policy emits a set only once every input has a message at least as new as the set's
    newest (a closer image could still come), so a camera's next frame releases this one.
    """
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rgbd.send(ns, encoding)
        time.sleep(0.03)
        rgbd.send(ns + STEP_NS // 2)
        try:
            wait_for(lambda ns=ns: poses_at(poses, ns), 10.0, f"/poses for stamp {ns}")
            return ns
        except AssertionError:
            ns += STEP_NS
    raise AssertionError(f"no /poses answer for an RGB-D frame near {ns}")


# ---------------------------------------------------------------------- checks


def published_3d(person: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(K,2) pixels, (K,3) positions, (K,) has_position of one published person."""
    kps = np.array([[k.x, k.y] for k in person.keypoints], np.float64)
    xyz = np.array([[k.position.x, k.position.y, k.position.z] for k in person.keypoints], np.float64)
    valid = np.array([k.has_position for k in person.keypoints], bool)
    return kps, xyz, valid


def published_sources(person: Any) -> tuple[np.ndarray, np.ndarray]:
    """(K,) position_source and (K,) position_confidence of one published person."""
    source = np.array([k.position_source for k in person.keypoints], np.uint8)
    confidence = np.array([k.position_confidence for k in person.keypoints], np.float32)
    return source, confidence


def expected_from_depth(rendered: Any, person: Any, kps: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Independent recomputation: each valid joint's ray through its published pixel at the
    median depth of the window around it, pushed from the surface to the joint centre by
    the documented flesh depth (``JOINT_SURFACE_OFFSET_M``)."""
    from pose_perception.depth import JOINT_SURFACE_OFFSET_M, DepthConfig, window_half_size
    from pose_perception.skeletons import COCO17

    depth = rendered.depth_mm().astype(np.float64) / 1000.0
    r = window_half_size(float(person.bbox[3] - person.bbox[1]), DepthConfig())
    k_inv = np.linalg.inv(rendered.K)
    out = np.full((len(kps), 3), np.nan)
    for j in np.flatnonzero(valid):
        x, y = (int(v) for v in np.rint(kps[j]))
        window = depth[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1]
        z = float(np.median(window[(window >= 0.2) & (window <= 10.0)]))
        surface = k_inv @ np.array([kps[j, 0], kps[j, 1], 1.0]) * z
        offset = JOINT_SURFACE_OFFSET_M[COCO17.keypoint_names[j]]
        out[j] = surface * (1.0 + offset / np.linalg.norm(surface))
    return out


def check_tf_and_markers(poses_msg: Any, tf: list[Any], markers: list[Any]) -> int:
    """Per-joint TF frames and marker spheres of ``poses_msg`` match its positions; no NaN.
    Returns the number of joint frames."""
    from pose_perception.depth import TORSO_KEYPOINTS
    from pose_perception.skeletons import COCO17

    names = COCO17.keypoint_names
    ns = stamp_ns(poses_msg)
    (person,) = poses_msg.people
    _, xyz, valid = published_3d(person)
    frame = f"person_{person.track_id}" if person.track_id else "person_untracked_0"
    transforms = {
        t.child_frame_id: t for msg in tf for t in msg.transforms if stamp_ns(t) == ns
    }  # fmt: skip
    joint_frames = {name for name in transforms if name.startswith(frame + "/")}
    assert joint_frames == {f"{frame}/{names[k]}" for k in np.flatnonzero(valid)}
    for k in np.flatnonzero(valid):
        t = transforms[f"{frame}/{names[k]}"]
        v, q = t.transform.translation, t.transform.rotation
        np.testing.assert_allclose([v.x, v.y, v.z], xyz[k], atol=1e-6)
        assert (q.x, q.y, q.z, q.w) == (0.0, 0.0, 0.0, 1.0) and t.header.frame_id == FRAME
    torso = valid & np.isin(names, TORSO_KEYPOINTS)
    v = transforms[frame].transform.translation
    np.testing.assert_allclose([v.x, v.y, v.z], xyz[torso if torso.any() else valid].mean(axis=0), atol=1e-5)

    (array,) = [m for m in markers if m.markers and stamp_ns(m.markers[0]) == ns]
    for marker in array.markers:
        values = [marker.pose.position.x, marker.pose.position.y, marker.pose.position.z]
        values += [c for p in marker.points for c in (p.x, p.y, p.z)]
        assert np.isfinite(values).all(), f"NaN in marker {marker.ns}/{marker.id}"
    namespace = frame if person.track_id else "untracked_0"
    (sphere,) = [m for m in array.markers if m.type == 7 and m.ns == namespace]
    spheres = np.array([[p.x, p.y, p.z] for p in sphere.points])
    shown = valid & (np.array([k.score for k in person.keypoints]) >= 0.3)
    np.testing.assert_allclose(spheres, xyz[shown], atol=1e-6)
    return len(joint_frames)


# ---------------------------------------------------------------------- tests


def test_rgbd_frames_give_metric_3d_keypoints_tf_and_markers(client, depth_node, rendered):
    """16UC1 and 32FC1 depth, stamped 8 ms after the image: 3D keypoints near the ground
    truth, equal to a recomputation from the depth image, on /tf and in the markers."""
    from diagnostic_msgs.msg import DiagnosticArray
    from tf2_msgs.msg import TFMessage
    from visualization_msgs.msg import MarkerArray

    from pose_perception.msg import PersonArray

    node = depth_node()
    poses = client.subscribe(PersonArray, "/poses", 50)
    markers = client.subscribe(MarkerArray, "/poses/markers", 50)
    tf = client.subscribe(TFMessage, "/tf", 100)
    diagnostics = client.subscribe(DiagnosticArray, "/diagnostics")
    rgbd = RgbdPublisher(client, rendered)
    assert "/depth" in node.log and "pose_perception.sync" in node.log  # no message_filters here
    ns = BASE_NS
    deadline = time.monotonic() + 30
    while not (markers and tf) and time.monotonic() < deadline:  # until the node sees our subscribers
        ns = send_until_processed(rgbd, poses, ns) + STEP_NS

    label = rendered.people[0]
    visible = label.visibility == 2
    answered: dict[int, str] = {}
    for encoding in ["16UC1"] * 3 + ["32FC1"] * 3:
        ns = send_until_processed(rgbd, poses, ns, encoding)
        answered[ns] = encoding
        ns += STEP_NS
    wait_for(
        lambda: all(any(stamp_ns(t) == ns for m in tf for t in m.transforms) for ns in answered), 30, "tf"
    )
    wait_for(
        lambda: all(any(m.markers and stamp_ns(m.markers[0]) == ns for m in markers) for ns in answered),
        30,
        "markers",
    )

    errors_mm, joint_frames = [], []
    for ns, encoding in answered.items():
        (msg,) = poses_at(poses, ns)
        assert msg.header.frame_id == FRAME and len(msg.people) == 1
        person = msg.people[0]
        kps, xyz, valid = published_3d(person)
        np.testing.assert_allclose(kps[visible], label.keypoints[visible], atol=0.5)  # the oracle
        assert valid.sum() >= 8 and not (valid & ~visible).any(), (encoding, valid)
        assert np.isfinite(xyz).all() and (xyz[~valid] == 0).all()
        source, confidence = published_sources(person)
        assert (source[valid] == 1).all() and (source[~valid] == 0).all()  # Keypoint.SOURCE_DEPTH, NONE
        assert (
            (confidence[valid] > 0.2).all()
            and (confidence[valid] <= 1).all()
            and (confidence[~valid] == 0).all()
        )
        z_truth = label.keypoints_3d[:, 2]
        assert (xyz[valid, 2] > z_truth.min() - 0.2).all() and (xyz[valid, 2] < z_truth.max() + 0.2).all()
        np.testing.assert_allclose(
            xyz[valid], expected_from_depth(rendered, person, kps, valid)[valid], atol=3e-3
        )
        errors_mm.append(np.linalg.norm(xyz[valid] - label.keypoints_3d[valid], axis=1) * 1000.0)
        joint_frames.append(check_tf_and_markers(msg, tf, markers))
    errors = np.concatenate(errors_mm)
    print(
        f"\n{len(answered)} RGB-D frames: {len(errors) / len(answered):.1f} of {visible.sum()} visible "
        f"joints with 3D per frame; |3D - truth| mean {errors.mean():.1f} mm, max {errors.max():.1f} mm; "
        f"joint TF frames per frame {joint_frames}"
    )
    assert errors.mean() < 40.0 and errors.max() < 120.0
    assert poses[-1].people[0].track_id == 1  # tracked: frames person_1/<joint>

    def all_sets_counted() -> dict[str, str] | None:
        values = diagnostic_values(diagnostics)
        return values if int(values.get("sync_sets", "0")) >= 2 * len(answered) else None

    # Published once per second: wait for one that counts every frame sent.
    v = wait_for(all_sets_counted, 30, "diagnostics of all frames")
    assert float(v["depth_skew_ms_p50"]) == pytest.approx(8.0, abs=0.01)
    assert float(v["depth_ms_p50"]) > 0 and v["frames_rejected"] == "0"


def test_rgbd_synchronisation_and_bad_depth(client, depth_node, rendered):
    """A frame without depth is not processed, an out-of-order depth is dropped, a depth
    of the wrong encoding gives a 2D-only frame (counted, logged) and the node goes on."""
    from diagnostic_msgs.msg import DiagnosticArray

    from pose_perception.msg import PersonArray
    from pose_perception.ros.rtmpose_node import LOG_THROTTLE_S

    node = depth_node()
    poses = client.subscribe(PersonArray, "/poses", 50)
    diagnostics = client.subscribe(DiagnosticArray, "/diagnostics")
    rgbd = RgbdPublisher(client, rendered)

    def counted(key: str) -> int:
        return int(diagnostic_values(diagnostics).get(key, "0"))

    def arrived() -> int:
        """Messages the synchroniser took in: each is queued, in a set, or dropped for a cause."""
        waiting = diagnostic_values(diagnostics).get("sync_waiting", "0")
        dropped = ("sync_dropped_unmatched", "sync_dropped_out_of_order", "sync_dropped_queue_full")
        return sum(map(int, waiting.split(","))) + 3 * counted("sync_sets") + sum(map(counted, dropped))

    def arrived_after_fresh_diagnostics() -> int:
        published = len(diagnostics)
        wait_for(lambda: len(diagnostics) > published, 30, "a new /diagnostics message")
        return arrived()

    t1 = send_until_processed(rgbd, poses, BASE_NS)
    # No depth for t2: its image and CameraInfo wait, and are dropped once t3's set is complete.
    # They must reach the node before t3's replace them in the one-message subscription
    # queues (keep-last 1), so their arrival is awaited.
    before_t2 = arrived_after_fresh_diagnostics()
    t2 = t1 + STEP_NS
    rgbd.send(t2, depth=False)
    wait_for(lambda: arrived() >= before_t2 + 2, 30, "t2's image and CameraInfo in the synchroniser")
    t3 = send_until_processed(rgbd, poses, t2 + STEP_NS)
    # t4's depth is stamped before the last one received: out of order, dropped; t4 stays incomplete.
    t4 = t3 + STEP_NS
    rgbd.send(t4, depth_ns=t3 - 50_000_000)
    wait_for(lambda: counted("sync_dropped_out_of_order") >= 1, 30, "t4's depth dropped as out of order")
    t5 = send_until_processed(rgbd, poses, t4 + STEP_NS)
    # Wrong depth encodings: the frames are published in 2D only, counted and logged.
    bad_started = time.monotonic()
    t6 = send_until_processed(rgbd, poses, t5 + STEP_NS, encoding="8UC1")
    t7 = send_until_processed(rgbd, poses, t6 + STEP_NS, encoding="rgb8")
    bad_span_s = time.monotonic() - bad_started
    # And the next good frame has 3D again. Every older frame was answered before it (one
    # worker, in stamp order); the frame sent after it waits for a newer one, never sent.
    t8 = send_until_processed(rgbd, poses, t7 + STEP_NS)

    def has_3d(msg: Any) -> bool:
        (person,) = msg.people
        return any(k.has_position for k in person.keypoints)

    answered = {stamp_ns(p) for p in poses}
    assert {t1, t3, t5, t6, t7, t8} <= answered and not {t2, t4} & answered
    for ns, expected in [(t1, True), (t3, True), (t5, True), (t6, False), (t7, False), (t8, True)]:
        (msg,) = poses_at(poses, ns)
        assert has_3d(msg) == expected, ns
    assert node.alive()
    two_d_only = str(sum(not has_3d(msg) for msg in poses))  # t6, t7 and any retry of theirs

    def all_counted() -> dict[str, str] | None:
        values = diagnostic_values(diagnostics)
        processed = values.get("frames_processed") == str(len(answered))
        return values if processed and values.get("rejected_depth_unknown_encoding") == two_d_only else None

    v = wait_for(all_counted, 30, "all frames and rejections on /diagnostics")
    assert int(v["sync_dropped_out_of_order"]) >= 1 and int(v["sync_dropped_unmatched"]) >= 2
    assert v["processing_errors"] == "0"
    warnings = [line for line in node.log_lines if "no 3D for this frame" in line]
    assert 1 <= len(warnings) <= throttled_at_most(bad_span_s, LOG_THROTTLE_S)  # once, unless very slow
    assert "'8UC1'" in warnings[0] and "16UC1" in warnings[0]


def test_fused_mode_keeps_depth_joints_fills_the_rest_and_survives_bad_depth(client, depth_node, rendered):
    """three_d.mode fused: the joints depth measures are published as depth mode computes
    them, the others (here the occluded ones, which the oracle scores 0.1) come from the
    lifter fitted to them; a frame whose depth is rejected still gets the lifter's 3D."""
    from pose_perception.msg import PersonArray
    from pose_perception.skeletons import COCO17

    node = depth_node(three_d__mode="fused")
    poses = client.subscribe(PersonArray, "/poses", 50)
    rgbd = RgbdPublisher(client, rendered)
    assert "three_d.mode fused: lifter" in node.log
    label = rendered.people[0]
    body = np.array(
        [n not in ("left_eye", "right_eye", "left_ear", "right_ear") for n in COCO17.keypoint_names]
    )
    ns = BASE_NS
    filled_mm, depth_joints = [], []
    for _ in range(4):
        ns = send_until_processed(rgbd, poses, ns) + STEP_NS
        (msg,) = poses_at(poses, ns - STEP_NS)
        (person,) = msg.people
        kps, xyz, valid = published_3d(person)
        assert valid[body].all(), valid  # every body joint has 3D
        assert np.isfinite(xyz).all() and (xyz[~valid] == 0).all()
        from_depth = expected_from_depth(rendered, person, kps, label.visibility == 2)
        measured = np.isfinite(from_depth).all(axis=1) & valid
        exact = np.linalg.norm(xyz - np.nan_to_num(from_depth), axis=1) < 3e-3
        depth_joints.append(int((measured & exact).sum()))
        filled = valid & body & ~exact
        source, _ = published_sources(person)
        assert (source[measured & exact] == 1).all() and (source[filled] == 2).all()  # DEPTH, LIFTER
        filled_mm.append(np.linalg.norm(xyz[filled] - label.keypoints_3d[filled], axis=1) * 1e3)
    errors = np.concatenate(filled_mm)
    print(
        f"\nfused: {np.mean(depth_joints):.1f} joints per frame as depth measured them, "
        f"{len(errors) / 4:.1f} from the lifter: |3D - truth| mean {errors.mean():.0f} mm, "
        f"max {errors.max():.0f} mm"
    )
    assert min(depth_joints) >= 8 and len(errors) >= 4
    assert errors.mean() < 250.0
    # A rejected depth (wrong encoding): 3D from the lifter alone, not a 2D-only frame.
    bad = send_until_processed(rgbd, poses, ns, encoding="8UC1")
    (msg,) = poses_at(poses, bad)
    _, xyz, valid = published_3d(msg.people[0])
    assert valid[body].all() and np.isfinite(xyz).all()
    assert (published_sources(msg.people[0])[0][valid] == 2).all()  # all from the lifter
    assert node.alive()


# ---------------------------------------------------------------------- unregistered depth


@pytest.fixture(scope="module")
def rig(render_rig_depth: Any) -> Any:
    """SEED's scene seen by the rig's depth camera: 512x384, a wider view, 5 cm right, 2.5 cm
    up, tilted 1.1 degrees (conftest ``render_rig_depth``), and its extrinsic."""
    from pose_perception.synthetic.coco import render_example

    scene, _ = render_example(SEED, 0, (640, 480), 1)
    return render_rig_depth(scene)


def _double_array(values: Any) -> str:
    """A ``-p`` value ROS parses as a double array (every element written as a float)."""
    return "[" + ", ".join(f"{float(v):.9f}" for v in values) + "]"


def rig_params(rig: Any) -> dict[str, Any]:
    return {
        "input__depth_camera_info_topic": "depth_camera_info",
        "depth__extrinsic_translation_m": _double_array(rig.translation),
        "depth__extrinsic_rotation_xyzw": _double_array(rig.quaternion_xyzw),
    }


def core_lift(person_msg: Any, depth_m: np.ndarray, rig: Any, rendered: Any) -> tuple[np.ndarray, np.ndarray]:
    """What the core (``measure_with_unregistered_depth``) gives for a published person's
    2D keypoints and this depth: (K,3) points, (K,) valid."""
    from pose_perception.depth import DepthConfig, measure_with_unregistered_depth
    from pose_perception.people import Person
    from pose_perception.skeletons import COCO17

    kps, _, _ = published_3d(person_msg)
    person = Person(
        0,
        np.asarray(person_msg.bbox, np.float32),
        1.0,
        kps.astype(np.float32),
        np.array([k.score for k in person_msg.keypoints], np.float32),
    )
    config = DepthConfig(
        extrinsic_translation_m=tuple(rig.translation), extrinsic_rotation_xyzw=tuple(rig.quaternion_xyzw)
    )
    colour = rendered.camera.pinhole()
    (joints,), _ = measure_with_unregistered_depth(
        [person], depth_m, rig.camera, colour, config, COCO17.keypoint_names, config.depth_to_color()
    )
    return joints.positions.astype(np.float64), joints.valid


def test_unregistered_depth_is_reprojected_into_the_colour_camera(client, depth_node, rendered, rig):
    """A depth camera of its own (512x384, another view and pose) with its CameraInfo as a
    fourth synchronised input and the extrinsic as parameters: 3D keypoints in the colour
    optical frame near the ground truth, equal to the core's reprojection of the same data."""
    from diagnostic_msgs.msg import DiagnosticArray

    from pose_perception.depth import depth_to_metres
    from pose_perception.msg import PersonArray

    node = depth_node(**rig_params(rig))
    assert "the depth is reprojected into the colour camera" in node.log
    assert "/depth_camera_info" in node.log and "identity" not in node.log  # fourth input; extrinsic set
    poses = client.subscribe(PersonArray, "/poses", 50)
    diagnostics = client.subscribe(DiagnosticArray, "/diagnostics")
    rgbd = RgbdPublisher(client, rendered, rig)
    depth_m = {
        "16UC1": depth_to_metres(rig.depth_mm(), "16UC1"),
        "32FC1": depth_to_metres(np.where(rig.depth > 0, rig.depth, np.nan).astype(np.float32), "32FC1"),
    }
    ns, answered = BASE_NS, {}
    for encoding in ["16UC1"] * 3 + ["32FC1"] * 3:
        ns = send_until_processed(rgbd, poses, ns, encoding)
        answered[ns] = encoding
        ns += STEP_NS

    label = rendered.people[0]
    visible = label.visibility == 2
    errors_mm, valid_counts = [], []
    for ns, encoding in answered.items():
        (msg,) = poses_at(poses, ns)
        assert msg.header.frame_id == FRAME and len(msg.people) == 1  # the colour optical frame
        person = msg.people[0]
        kps, xyz, valid = published_3d(person)
        np.testing.assert_allclose(kps[visible], label.keypoints[visible], atol=0.5)  # the oracle
        assert valid.sum() >= 8 and not (valid & ~visible).any(), (encoding, valid)
        assert np.isfinite(xyz).all() and (xyz[~valid] == 0).all()
        core_xyz, core_valid = core_lift(person, depth_m[encoding], rig, rendered)
        np.testing.assert_array_equal(valid, core_valid)
        np.testing.assert_allclose(xyz[valid], core_xyz[valid], atol=1e-5)
        errors_mm.append(np.linalg.norm(xyz[valid] - label.keypoints_3d[valid], axis=1) * 1000.0)
        valid_counts.append(int(valid.sum()))
    errors = np.concatenate(errors_mm)

    def all_sets_counted() -> dict[str, str] | None:
        values = diagnostic_values(diagnostics)
        return values if int(values.get("sync_sets", "0")) >= 2 * len(answered) - 1 else None

    # Each answered frame was sent with a second one half a period later; the last of those
    # waits for a newer frame to complete its set (the approximate-time policy).
    v = wait_for(all_sets_counted, 30, "diagnostics of all frames")
    print(
        f"\nunregistered depth over ROS, {len(answered)} frames: {np.mean(valid_counts):.1f} of "
        f"{visible.sum()} visible joints with 3D per frame (min {min(valid_counts)}); |3D - truth| mean "
        f"{errors.mean():.1f} mm, max {errors.max():.1f} mm; depth_ms p50 {v['depth_ms_p50']} "
        f"p95 {v['depth_ms_p95']}"
    )
    assert errors.mean() < 40.0 and errors.max() < 120.0
    assert v["depth_registration"] == "reprojected" and v["frames_rejected"] == "0"
    assert v["sync_waiting"].count(",") == 3  # four synchronised inputs
    assert node.alive()


def test_unregistered_depth_with_a_wrong_depth_camera_info_size_goes_out_in_2d(
    client, depth_node, rendered, rig
):
    """A depth CameraInfo whose size is not the depth image's: those frames are published
    without 3D, counted and logged; the node goes on and the next good frame has 3D."""
    from diagnostic_msgs.msg import DiagnosticArray

    from pose_perception.msg import PersonArray
    from pose_perception.ros.rtmpose_node import LOG_THROTTLE_S

    node = depth_node(**rig_params(rig))
    poses = client.subscribe(PersonArray, "/poses", 50)
    diagnostics = client.subscribe(DiagnosticArray, "/diagnostics")
    rgbd = RgbdPublisher(client, rendered, rig)
    t1 = send_until_processed(rgbd, poses, BASE_NS)
    bad_started = time.monotonic()
    rgbd.depth_info_size = (640, 480)  # the colour camera's size, not the depth image's 512x384
    t2 = send_until_processed(rgbd, poses, t1 + STEP_NS)
    rgbd.depth_info_size = None
    # Every frame older than t3 was answered before it (one worker, in stamp order).
    t3 = send_until_processed(rgbd, poses, t2 + STEP_NS)
    bad_span_s = time.monotonic() - bad_started

    def has_3d(ns: int) -> bool:
        (msg,) = poses_at(poses, ns)
        (person,) = msg.people
        return any(k.has_position for k in person.keypoints)

    bad = sorted(stamp_ns(p) for p in poses if t2 <= stamp_ns(p) < t3)
    assert bad and t2 in bad
    assert has_3d(t1) and has_3d(t3) and not any(has_3d(ns) for ns in bad)
    assert node.alive()

    processed = str(len({stamp_ns(p) for p in poses}))

    def all_counted() -> dict[str, str] | None:
        values = diagnostic_values(diagnostics)
        rejected = values.get("rejected_depth_camera_info_size_mismatch") == str(len(bad))
        return values if rejected and values.get("frames_processed") == processed else None

    v = wait_for(all_counted, 30, "the rejections on /diagnostics")
    assert v["processing_errors"] == "0" and v["frames_rejected"] == str(len(bad))
    warnings = [line for line in node.log_lines if "no 3D for this frame" in line]
    assert 1 <= len(warnings) <= throttled_at_most(bad_span_s, LOG_THROTTLE_S)  # once, unless very slow
    assert "depth CameraInfo is for 640x480 but the depth image is 512x384" in warnings[0]


def _depth_message(data: np.ndarray, frame: str = DEPTH_FRAME) -> Any:
    from types import SimpleNamespace

    data = np.ascontiguousarray(data)
    return SimpleNamespace(
        encoding="16UC1" if data.dtype == np.uint16 else "32FC1",
        height=data.shape[0],
        width=data.shape[1],
        step=data.strides[0],
        is_bigendian=0,
        data=data.tobytes(),
        header=SimpleNamespace(stamp=SimpleNamespace(sec=1, nanosec=0), frame_id=frame),
    )


def _info_message(
    camera: Any, size: tuple[int, int] | None = None, d: Any = (0.0,) * 5, model: str = "plumb_bob"
) -> Any:
    from types import SimpleNamespace

    width, height = size or (camera.width, camera.height)
    k = [camera.fx, 0.0, camera.cx, 0.0, camera.fy, camera.cy, 0.0, 0.0, 1.0]
    return SimpleNamespace(k=k, d=list(d), distortion_model=model, width=width, height=height)


def test_rgbd_depth_frame_unregistered_path_and_its_rejections(rendered, rig):
    """``ros.rgbd.depth_frame_from_messages`` (ROS-free, duck-typed messages): with the depth
    CameraInfo the frame carries the depth camera and the extrinsic, and the 3D stage
    reprojects it (the core's result); its rejections have stable reasons; a registered
    depth of another size points the user at input.depth_camera_info_topic."""
    from pose_perception.config import Config
    from pose_perception.depth import DepthConfig, depth_to_metres, measure_with_unregistered_depth
    from pose_perception.people import Person
    from pose_perception.ros.rgbd import DepthFrameRejected, depth_frame_from_messages
    from pose_perception.skeletons import COCO17
    from pose_perception.three_d import ThreeDStage

    label = rendered.people[0]
    names = COCO17.keypoint_names
    colour = rendered.camera.pinhole()

    def person() -> Person:
        x, y, w, h = label.bbox
        scores = (label.visibility == 2).astype(np.float32)
        return Person(
            0, np.array([x, y, x + w, y + h], np.float32), 1.0, label.keypoints.astype(np.float32), scores
        )

    config = DepthConfig(
        extrinsic_translation_m=tuple(rig.translation), extrinsic_rotation_xyzw=tuple(rig.quaternion_xyzw)
    )
    depth_msg, info = _depth_message(rig.depth_mm()), _info_message(colour)
    stage_config = Config()
    stage_config.three_d.mode, stage_config.depth = "depth", config
    frame, camera = depth_frame_from_messages(
        (640, 480), depth_msg, info, stage_config, _info_message(rig.camera)
    )
    assert camera == colour and frame.camera == rig.camera
    (lifted,) = ThreeDStage(stage_config, COCO17).process([person()], (640, 480), 0.0, frame, camera)
    depth_m = depth_to_metres(rig.depth_mm(), "16UC1")
    (expected,), _ = measure_with_unregistered_depth(
        [person()], depth_m, rig.camera, colour, config, names, config.depth_to_color()
    )
    assert lifted.joints_3d is not None and lifted.joints_3d.valid.sum() >= 8
    np.testing.assert_array_equal(lifted.joints_3d.valid, expected.valid)
    np.testing.assert_array_equal(lifted.joints_3d.positions, expected.positions)

    for depth_info, reason, text in [
        (
            _info_message(rig.camera, size=(640, 480)),
            "depth_camera_info_size_mismatch",
            "depth CameraInfo is for 640x480",
        ),
        (
            _info_message(rig.camera, d=(0.1, 0, 0, 0), model="equidistant"),
            "depth_camera_info_distortion",
            "depth CameraInfo",
        ),
        (_info_message(rig.camera, size=(0, 0)), "depth_camera_info_invalid", "depth CameraInfo size 0x0"),
        (None, "depth_size_mismatch", "input.depth_camera_info_topic"),  # registered, but 512x384
    ]:
        with pytest.raises(DepthFrameRejected) as err:
            depth_frame_from_messages((640, 480), depth_msg, info, stage_config, depth_info)
        assert err.value.reason == reason and text in str(err.value), err.value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[0.0, 0.0, 0.0, 0.0]", "depth.extrinsic_rotation_xyzw must be a non-zero quaternion"),
        ("[0.0, 0.0, 1.0]", "depth.extrinsic_rotation_xyzw must be a list of 4 finite numbers"),
        ("[0, 0, 0, 1]", "depth.extrinsic_rotation_xyzw: expected a list of 4 floats"),  # ROS: integer array
    ],
    ids=["zero", "three-elements", "integers"],
)
def test_bad_extrinsic_rotation_is_a_startup_error(oracle_model, rclpy_module, value, expected):
    """A quaternion the node cannot use stops it at startup (exit 2), naming the parameter."""
    params = {
        "estimator.model": str(oracle_model),
        "three_d.mode": "depth",
        "input.depth_camera_info_topic": "depth_camera_info",
        "depth.extrinsic_rotation_xyzw": value,
    }
    node = NodeProcess(params)
    code = node.wait_exit(60)
    assert code == 2, node.log
    assert expected in node.log, node.log


# ---------------------------------------------------------------------- lifter mode

CLIP_SEED = 16  # one person walking away, root 4.3 -> 6.6 m; 12-17 joints visible, none off-image
CLIP_FRAMES = 30
CLIP_FPS = 15.0
CLIP_STEP_NS = int(1e9 / CLIP_FPS)
CODE_BASE, CODE_STEP = 40, 6  # frame i: grey level 40 + 6 i in the centre patch
CODE_HALF = 20  # patch half-size in pixels of a 640x480 image (~5 px in the 192x256 crop)
EYES_AND_EARS = ("left_eye", "right_eye", "left_ear", "right_ear")  # no H36M joint: no 3D
HIPS = [11, 12]  # COCO left/right hip: the lifter's root is their mid-point


@pytest.fixture(scope="module")
def clip() -> list[Any]:
    from pose_perception.synthetic.coco import iter_clip

    frames = list(iter_clip(CLIP_SEED, CLIP_FRAMES, CLIP_FPS, (640, 480), 1))
    assert all(len(f.people) == 1 and (f.people[0].visibility > 0).all() for f in frames)
    return frames


def frame_code_oracle_onnx(simcc_x: np.ndarray, simcc_y: np.ndarray, pixel: tuple[int, int]) -> bytes:
    """A pose ONNX (input (1,3,H,W), outputs simcc_x/y) answering row ``i`` of the tables
    ``simcc_x`` (N,1,K,Wx) and ``simcc_y`` (N,1,K,Wy), where ``i`` is read from the crop's
    red value at ``pixel`` (row, column): grey level ``CODE_BASE + CODE_STEP i`` undone
    from the ImageNet normalisation."""
    from onnx import TensorProto, helper, numpy_helper

    from pose_perception.topdown import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB

    row, col = pixel
    scale = IMAGENET_STD_RGB[0] / CODE_STEP
    offset = (IMAGENET_MEAN_RGB[0] - CODE_BASE) / CODE_STEP
    consts = {
        "starts": np.array([0, 0, row, col], np.int64),
        "ends": np.array([1, 1, row + 1, col + 1], np.int64),
        "scale": np.array(scale, np.float32),
        "offset": np.array(offset, np.float32),
        "scalar": np.zeros(0, np.int64),
        "first": np.array(0, np.int64),
        "last": np.array(len(simcc_x) - 1, np.int64),
        "table_x": simcc_x,
        "table_y": simcc_y,
    }
    nodes = [
        helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))
        for name, value in consts.items()
    ]
    nodes += [
        helper.make_node("Slice", ["input", "starts", "ends"], ["pixel"]),
        helper.make_node("Mul", ["pixel", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "offset"], ["code"]),
        helper.make_node("Round", ["code"], ["rounded"]),
        helper.make_node("Cast", ["rounded"], ["index4"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["index4", "scalar"], ["index"]),
        helper.make_node("Clip", ["index", "first", "last"], ["frame"]),
        helper.make_node("Gather", ["table_x", "frame"], ["simcc_x"], axis=0),
        helper.make_node("Gather", ["table_y", "frame"], ["simcc_y"], axis=0),
    ]
    outputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, list(table.shape[1:]))
        for name, table in (("simcc_x", simcc_x), ("simcc_y", simcc_y))
    ]
    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 256, 192])
    model = helper.make_model(
        helper.make_graph(nodes, "oracle", [image], outputs), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture(scope="module")
def clip_oracle_model(clip: list[Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Each clip frame's ground-truth keypoints (score 1 visible, 0.1 occluded) for a
    full-frame box, selected by the frame code; any image size (the crop is relative)."""
    pytest.importorskip("onnx")
    from onnx_graphs import ORACLE_INPUT_SIZE, oracle_simcc

    width, height = ORACLE_INPUT_SIZE
    per_frame = [oracle_simcc(f.people[0].keypoints, f.people[0].visibility, (480, 640), SPLIT) for f in clip]
    simcc_x = np.stack([x for x, _ in per_frame])
    simcc_y = np.stack([y for _, y in per_frame])
    path = tmp_path_factory.mktemp("clip_oracle") / "clip_oracle_pose.onnx"
    path.write_bytes(frame_code_oracle_onnx(simcc_x, simcc_y, (height // 2, width // 2)))
    return path


def lifter_params(model: Any, **extra: Any) -> dict[str, Any]:
    return {
        "estimator.model": str(model),
        "output.min_person_score": 0.0,
        "detector.type": "full_frame",
        "detector.interval": 1,
        "smoothing.enabled": False,
        "three_d.mode": "lifter",
        **extra,
    }


class ClipPublisher:
    """Publishes clip frames (with their frame code) on ``image`` and the clip's intrinsics on
    ``camera_info`` (not synchronised: the node keeps the newest CameraInfo)."""

    def __init__(self, client: TestClient, clip: list[Any]) -> None:
        from sensor_msgs.msg import CameraInfo, Image

        self.clip = clip
        self.image_pub = client.node.create_publisher(Image, "/image", 10)
        self.info_pub = client.node.create_publisher(CameraInfo, "/camera_info", 10)
        for pub in (self.image_pub, self.info_pub):
            wait_for(
                lambda pub=pub: pub.get_subscription_count() > 0, 20, f"a subscriber on {pub.topic_name}"
            )

    def image(self, index: int, ns: int, size: tuple[int, int] = (640, 480)) -> Any:
        import cv2
        from sensor_msgs.msg import Image

        bgr = self.clip[index].image
        if size != (640, 480):
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        bgr = np.ascontiguousarray(bgr)
        (cx, cy), r = (size[0] // 2, size[1] // 2), CODE_HALF * size[0] // 640
        bgr[cy - r : cy + r, cx - r : cx + r] = CODE_BASE + CODE_STEP * index
        msg = Image(height=size[1], width=size[0], encoding="bgr8", step=size[0] * 3, data=bgr.tobytes())
        _stamp(msg, ns)
        return msg

    def info(self, ns: int) -> Any:
        from sensor_msgs.msg import CameraInfo

        msg = CameraInfo(width=640, height=480, distortion_model="plumb_bob")
        msg.k = [float(v) for v in self.clip[0].K.reshape(-1)]
        msg.d = [0.0] * 5
        _stamp(msg, ns)
        return msg

    def send(self, index: int, ns: int, poses: list[Any], size: tuple[int, int] = (640, 480)) -> Any:
        """Frame ``index`` at ``ns`` (CameraInfo first); waits for and returns its /poses
        message, re-sending if best effort lost the image."""
        for _ in range(3):
            self.info_pub.publish(self.info(ns))
            self.image_pub.publish(self.image(index, ns, size))
            try:
                return wait_for(lambda: poses_at(poses, ns), 10.0, f"/poses for frame {index}")[0]
            except AssertionError:
                continue
        raise AssertionError(f"no /poses answer for clip frame {index}")


def reprojection_px(xyz: np.ndarray, kps: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Pixel distance between each 3D point's projection with intrinsics ``k`` and its 2D keypoint."""
    uvw = xyz @ np.asarray(k, np.float64).T
    return np.linalg.norm(uvw[:, :2] / uvw[:, 2:3] - kps, axis=1)


def test_lifter_mode_gives_causal_metric_3d_tf_and_markers(client, clip, clip_oracle_model, rclpy_module):
    """A walking person, one frame at a time: every frame is answered at once (no future
    frames needed) with 3D joints that project onto its 2D keypoints, at about the true
    depth, on /tf and in the markers; without CameraInfo for the image size the nominal
    camera places them."""
    from tf2_msgs.msg import TFMessage
    from visualization_msgs.msg import MarkerArray

    from pose_perception.camera import PinholeCamera
    from pose_perception.msg import PersonArray
    from pose_perception.skeletons import COCO17

    node = NodeProcess(lifter_params(clip_oracle_model))
    try:
        node.wait_ready()
        assert "three_d.mode lifter" in node.log and "lifter-causal-synthetic.onnx" in node.log
        poses = client.subscribe(PersonArray, "/poses", 100)
        markers = client.subscribe(MarkerArray, "/poses/markers", 100)
        tf = client.subscribe(TFMessage, "/tf", 200)
        pub = ClipPublisher(client, clip)
        # Warm up (the node sees our subscribers, has the CameraInfo) long before the clip:
        # far beyond three_d.lifter_max_age_s and tracker.max_missing_s, so forgotten, even
        # when a busy machine needs hundreds of warm-up frames (their stamps advance).
        ns = BASE_NS - 1000 * 1_000_000_000
        deadline = time.monotonic() + 30
        while not (markers and tf) and time.monotonic() < deadline:
            pub.send(0, ns, poses)
            ns += CLIP_STEP_NS

        answers, latency_ms = [], []
        for i in range(CLIP_FRAMES):  # the next frame goes out only once this one is answered
            sent = time.monotonic()
            answers.append(pub.send(i, BASE_NS + i * CLIP_STEP_NS, poses))
            latency_ms.append((time.monotonic() - sent) * 1e3)
        for msg in answers:
            wait_for(
                lambda msg=msg: any(stamp_ns(t) == stamp_ns(msg) for m in tf for t in m.transforms), 30, "tf"
            )
        wait_for(
            lambda: sum(1 for m in markers if m.markers and stamp_ns(m.markers[0]) >= BASE_NS) >= CLIP_FRAMES,
            30,
            "markers",
        )

        k = clip[0].K
        lifted = ~np.isin(COCO17.keypoint_names, EYES_AND_EARS)
        reproj, depth_err, track_ids, joint_frames = [], [], [], []
        for i, msg in enumerate(answers):
            label = clip[i].people[0]
            assert msg.header.frame_id == FRAME and len(msg.people) == 1
            person = msg.people[0]
            kps, xyz, valid = published_3d(person)
            np.testing.assert_allclose(kps, label.keypoints, atol=0.6)  # the oracle: 2D = ground truth
            assert (valid == lifted).all() and np.isfinite(xyz).all() and (xyz[valid, 2] > 0.5).all()
            source, confidence = published_sources(person)
            assert (source[valid] == 2).all() and (source[~valid] == 0).all()  # Keypoint.SOURCE_LIFTER
            scores = np.array([kp.score for kp in person.keypoints], np.float32)
            np.testing.assert_allclose(confidence[valid], np.clip(scores[valid], 0, 1))  # the 2D score
            confident = valid & (np.array([kp.score for kp in person.keypoints]) >= 0.3)
            reproj.append(reprojection_px(xyz[confident], kps[confident], k))
            true_root_z = label.keypoints_3d[HIPS, 2].mean()
            depth_err.append(xyz[HIPS, 2].mean() / true_root_z - 1.0)
            track_ids.append(person.track_id)
            joint_frames.append(check_tf_and_markers(msg, tf, markers))
        errors = np.concatenate(reproj)
        depth_err_a = np.abs(depth_err)
        print(
            f"\nlifter: {CLIP_FRAMES} frames, answer latency p50 {np.median(latency_ms):.0f} ms "
            f"(max {max(latency_ms):.0f}); reprojection of {len(errors)} confident joints mean "
            f"{errors.mean():.1f} px, p95 {np.percentile(errors, 95):.1f}, max {errors.max():.1f}; "
            f"root depth error mean {np.mean(depth_err) * 100:+.1f} % "
            f"(max |.| {depth_err_a.max() * 100:.1f} %), "
            f"true root depth {clip[0].people[0].keypoints_3d[HIPS, 2].mean():.2f} -> "
            f"{clip[-1].people[0].keypoints_3d[HIPS, 2].mean():.2f} m; "
            f"untracked (lifted alone) frames {track_ids.count(0)}, joint TF frames {min(joint_frames)}"
        )
        assert track_ids[0] == 0 and track_ids[-1] > 0  # untracked first (lifted alone), then tracked
        assert errors.mean() < 5.0 and errors.max() < 12.0
        assert depth_err_a.max() < 0.25
        assert min(joint_frames) == lifted.sum()

        # A 320x240 image: the 640x480 CameraInfo does not apply; the nominal camera
        # (output.assumed_hfov_deg 60) places the joints, and they project with it.
        nominal = PinholeCamera.nominal(320, 240, 60.0)
        k_nominal = np.array([[nominal.fx, 0, nominal.cx], [0, nominal.fy, nominal.cy], [0, 0, 1]])
        ns = BASE_NS + CLIP_FRAMES * CLIP_STEP_NS
        small = [pub.send(i, ns + i * CLIP_STEP_NS, poses, (320, 240)) for i in range(3)]
        for msg in small:
            kps, xyz, valid = published_3d(msg.people[0])
            confident = valid & (np.array([kp.score for kp in msg.people[0].keypoints]) >= 0.3)
            assert reprojection_px(xyz[confident], kps[confident], k_nominal).mean() < 6.0
            assert reprojection_px(xyz[confident], kps[confident], k).mean() > 50.0  # not the 640x480 K
        assert node.alive()
    finally:
        code = node.stop()
    assert code == 0, f"node exit code {code}:\n{node.log}"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"three_d.lifter_model": "/no/such/dir/my_lifter.onnx"},
            "lifter model not found: /no/such/dir/my_lifter.onnx",
        ),
        ({"three_d.lifter_model": "ORACLE"}, "ORACLE: not a lifter export"),
        ({"three_d.lifter_model": "/models/lifter.pth"}, "lifter_model must be an .onnx file"),
        ({"estimator.skeleton": "h36m17"}, "the lifter reads COCO-17 keypoints"),
    ],
    ids=["missing", "not-a-lifter", "not-onnx", "not-coco"],
)
def test_lifter_mode_startup_errors(oracle_model, rclpy_module, params, expected):
    """A lifter that cannot be used stops the node at startup (exit 2) with the file named."""
    params = {k: str(oracle_model) if v == "ORACLE" else v for k, v in params.items()}
    expected = expected.replace("ORACLE", str(oracle_model))
    node = NodeProcess(lifter_params(oracle_model, **params))
    code = node.wait_exit(60)
    assert code == 2, node.log
    assert expected in node.log, node.log


FAKE_MESSAGE_FILTERS = '''
"""Stand-in for ROS message_filters (not on PyPI) with its Python API: Subscriber(node,
type, topic, **create_subscription kwargs) with .sub, ApproximateTimeSynchronizer(fs,
queue_size, slop).registerCallback(cb). Matching: the newest image with the closest
message of each other input within slop."""


class _Filter:
    def __init__(self):
        self.callbacks = []

    def registerCallback(self, cb, *args):
        self.callbacks.append((cb, args))

    def signalMessage(self, *msgs):
        for cb, args in self.callbacks:
            cb(*(msgs + args))


class Subscriber(_Filter):
    def __init__(self, *args, **kwargs):
        super().__init__()
        self.node, self.topic = args[0], args[2]
        kwargs.setdefault("qos_profile", 10)
        self.sub = self.node.create_subscription(*args[1:], self.signalMessage, **kwargs)


class ApproximateTimeSynchronizer(_Filter):
    def __init__(self, fs, queue_size, slop, allow_headerless=False):
        super().__init__()
        self.queues = [{} for _ in fs]
        self.queue_size, self.slop_ns = queue_size, int(slop * 1e9)
        for i, f in enumerate(fs):
            f.registerCallback(self.add, i)

    def add(self, msg, i):
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        queue = self.queues[i]
        queue[stamp] = msg
        while len(queue) > self.queue_size:
            del queue[min(queue)]
        for t in sorted(self.queues[0], reverse=True):
            chosen = [t]
            for other in self.queues[1:]:
                near = [s for s in other if abs(s - t) <= self.slop_ns]
                if not near:
                    break
                chosen.append(min(near, key=lambda s: abs(s - t)))
            else:
                msgs = [q[s] for q, s in zip(self.queues, chosen)]
                for q, s in zip(self.queues, chosen):
                    for old in [x for x in q if x <= s]:
                        del q[old]
                self.signalMessage(*msgs)
                return
'''


def test_message_filters_branch_when_installed(client, depth_node, rendered, tmp_path, monkeypatch):
    """Where ROS has message_filters the node uses its ApproximateTimeSynchronizer (a stand-in
    with the same Python API here): same frames in, same 3D out."""
    from pose_perception.msg import PersonArray

    (tmp_path / "message_filters.py").write_text(FAKE_MESSAGE_FILTERS, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    node = depth_node()
    assert "synchronised: message_filters" in node.log
    poses = client.subscribe(PersonArray, "/poses", 50)
    rgbd = RgbdPublisher(client, rendered)
    ns = send_until_processed(rgbd, poses, BASE_NS)
    (msg,) = poses_at(poses, ns)
    assert sum(k.has_position for k in msg.people[0].keypoints) >= 8
