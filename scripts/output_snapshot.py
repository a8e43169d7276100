"""Snapshot what the command line writes, to show a refactor left the outputs byte-identical.

Builds a fixed input (seeded synthetic people, see below), runs the package ONLY through its
command line in subprocesses (``sys.executable -m pose_perception bag|run ...``), so the same
script measures whatever code the running interpreter imports, and writes one JSON file:

- ``bag`` runs (``--three-d`` off, depth registered, depth unregistered with the depth camera's
  CameraInfo, lifter, fused): per output topic the message count, the SHA-256 of the
  concatenated serialized payloads (CDR bytes as stored in the output bag, in order), the
  SHA-256 of the messages' log times and each message's SHA-256;
- ``run`` (an image folder with ``--boxes``, 2D and ``--three-d lifter``): the SHA-256, line
  count and per-line SHA-256 of ``keypoints.jsonl``;
- each run's command line (run in the work directory, with paths relative to it) and the
  SHA-256 of every input file.

Nothing is normalised: two runs on the same code give identical JSON files.

Input (``inputs/`` in the work directory; ``--inputs DIR`` reuses one made earlier, so a
comparison runs on the very same bytes even if the generators change):

- ``clip``: an MCAP rosbag2 of 12 frames (10 Hz) of a 3-person walking clip
  (``pose_perception.synthetic.coco.iter_clip``): bgr8 Image, CameraInfo (its K) and a
  registered 16UC1 depth stamped 5 ms after the image (frame 5 has no depth: unmatched);
- ``rig``: an sqlite3 rosbag2 of 8 copies of a 3-person still scene whose depth comes from
  the test rig's own depth camera (``render_rig_depth`` in test/conftest.py: 512x384, another
  view and pose) with that camera's CameraInfo on a fourth topic and the extrinsic in the config;
- models: a constant detector ONNX (rtmdet end-to-end layout) answering the clip's first
  people boxes, and an oracle pose ONNX (test/onnx_graphs.py) answering one person's true
  keypoints, rescaled to fill whatever box it is given; the lifter is the bundled one;
- ``frames/``: the clip's frames as PNG files and ``boxes.json`` (their true boxes; the last
  frame has none, so the detector runs there) for ``run``, and a copy of the bundled lifter:
  ``run --three-d lifter`` names it with ``--lifter-model`` because keypoints.jsonl records
  the lifter's path as given, and the default one's is the package's install path, which
  differs between checkouts (bag mode uses the default lifter: its messages hold no path).

Usage::

    python scripts/output_snapshot.py OUT.json [--compare BASELINE.json] [--workdir DIR] [--inputs DIR]

``--compare`` prints one line per (run, topic) with same/DIFFERENT (and the index of the
first differing message or line) and exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIZE = (640, 480)  # width, height of the colour images
CLIP_SEED, CLIP_FRAMES, CLIP_FPS, PEOPLE = 7, 12, 10.0, 3
RIG_SEED, RIG_FRAMES = 2, 8
NO_DEPTH_FRAME = 5  # a clip frame whose depth image never came
T0 = 1_700_000_000_000_000_000
STEP_NS = 100_000_000
IMAGE_TOPIC = "/camera/color/image_raw"
INFO_TOPIC = "/camera/color/camera_info"
DEPTH_TOPIC = "/camera/depth/image_raw"
DEPTH_INFO_TOPIC = "/camera/depth/camera_info"
LIFTER = "lifter-causal-synthetic.onnx"  # the bundled lifter, copied into the inputs for run
COLOR_FRAME, DEPTH_FRAME = "camera_color_optical_frame", "camera_depth_optical_frame"


# ---------------------------------------------------------------------------- input


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_helpers() -> tuple[Any, Any]:
    """The repository's test helpers: test/onnx_graphs.py and the rig renderer of conftest."""
    sys.path.insert(0, str(REPO / "test"))
    import conftest

    import onnx_graphs

    fixture = conftest.render_rig_depth
    return onnx_graphs, getattr(fixture, "__wrapped__", fixture)()


def typestore() -> Any:
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


def header(store: Any, stamp_ns: int, frame_id: str) -> Any:
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    stamp = store.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
    return store.types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def image_message(store: Any, stamp_ns: int, frame_id: str, pixels: np.ndarray, encoding: str) -> Any:
    """bgr8 (H,W,3) uint8 or 16UC1 (H,W) uint16 pixels as a sensor_msgs/Image (little endian)."""
    data = np.ascontiguousarray(pixels.astype(pixels.dtype.newbyteorder("<")))
    height, width = data.shape[:2]
    return store.types["sensor_msgs/msg/Image"](
        header=header(store, stamp_ns, frame_id),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=data.strides[0],
        data=np.frombuffer(data.tobytes(), np.uint8).copy(),
    )


def camera_info_message(
    store: Any, stamp_ns: int, frame_id: str, k: np.ndarray, size: tuple[int, int]
) -> Any:
    """A rectified pinhole CameraInfo (zero distortion) of intrinsics ``k`` and ``size`` (w, h)."""
    k = np.asarray(k, np.float64).reshape(3, 3)
    p = np.concatenate([k, np.zeros((3, 1))], axis=1)
    roi = store.types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return store.types["sensor_msgs/msg/CameraInfo"](
        header=header(store, stamp_ns, frame_id),
        height=size[1],
        width=size[0],
        distortion_model="plumb_bob",
        d=np.zeros(5),
        k=k.reshape(-1),
        r=np.eye(3).reshape(-1),
        p=p.reshape(-1),
        binning_x=0,
        binning_y=0,
        roi=roi,
    )


def write_bag(path: Path, storage: str, messages: list[tuple[str, str, int, Any]]) -> None:
    """(topic, msgtype, log_ns, message) in the order given, as a rosbag2 of ``storage``."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = typestore()
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        connections: dict[str, Any] = {}
        for topic, msgtype, log_ns, msg in messages:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(connections[topic], log_ns, store.serialize_cdr(msg, msgtype))


def xyxy(bbox_xywh: np.ndarray) -> list[float]:
    x, y, w, h = (float(v) for v in bbox_xywh)
    return [x, y, x + w, y + h]


def box_filling_keypoints(label: Any) -> np.ndarray:
    """The person's keypoints moved from its own box to the full frame, so that the oracle,
    which answers the same crop-relative pose for any box, lays a body over every box."""
    x1, y1, x2, y2 = xyxy(label.bbox)
    relative = (np.asarray(label.keypoints, np.float64) - [x1, y1]) / [x2 - x1, y2 - y1]
    return relative * np.array(SIZE, np.float64)


def write_models(out: Path, onnx_graphs: Any, first_frame: Any) -> None:
    """oracle_pose.onnx, detector.onnx (the first frame's boxes, every time) and the configs."""
    label = first_frame.people[0]
    oracle = onnx_graphs.oracle_pose_onnx(
        box_filling_keypoints(label), label.visibility, (SIZE[1], SIZE[0], 3)
    )
    (out / "oracle_pose.onnx").write_bytes(oracle)
    boxes = [[*xyxy(p.bbox), 0.9 - 0.05 * i] for i, p in enumerate(first_frame.people) if p.area > 0]
    dets = np.array([boxes], np.float32)
    labels = np.zeros((1, len(boxes)), np.int64)  # class 0: person
    detector = onnx_graphs.constant_onnx([1, 3, SIZE[1], SIZE[0]], {"dets": dets, "labels": labels})
    (out / "detector.onnx").write_bytes(detector)


def write_configs(out: Path, rig: Any) -> None:
    """config.yaml: an ONNX detector every other frame (pose-derived boxes between), tracking
    and smoothing on, every person kept; rig.yaml adds the rig's depth extrinsic. The detector
    file goes on the command line, so the configs hold no path."""
    base = (
        "output:\n  min_person_score: 0.0\n"
        "detector:\n  type: onnx\n  interval: 2\n"
        "smoothing:\n  enabled: true\n"
    )
    (out / "config.yaml").write_text(base, encoding="utf-8")
    translation = ", ".join(f"{v:.6f}" for v in rig.translation)
    rotation = ", ".join(f"{v:.8f}" for v in rig.quaternion_xyzw)
    extrinsic = (
        f"depth:\n  extrinsic_translation_m: [{translation}]\n  extrinsic_rotation_xyzw: [{rotation}]\n"
    )
    (out / "rig.yaml").write_text(base + extrinsic, encoding="utf-8")


def write_clip_bag(path: Path, clip: list[Any]) -> None:
    store = typestore()
    image_t, info_t = "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo"
    messages = []
    for i, frame in enumerate(clip):
        stamp = T0 + i * STEP_NS
        info = camera_info_message(store, stamp, COLOR_FRAME, frame.K, SIZE)
        image = image_message(store, stamp, COLOR_FRAME, frame.image, "bgr8")
        messages.append((INFO_TOPIC, info_t, stamp + 1_000_000, info))
        messages.append((IMAGE_TOPIC, image_t, stamp + 2_000_000, image))
        if i != NO_DEPTH_FRAME:
            depth = image_message(store, stamp + 5_000_000, COLOR_FRAME, frame.depth_mm(), "16UC1")
            messages.append((DEPTH_TOPIC, image_t, stamp + 6_000_000, depth))
    write_bag(path, "mcap", messages)


def write_rig_bag(path: Path, rendered: Any, rig: Any) -> None:
    store = typestore()
    image_t, info_t = "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo"
    camera = rig.camera
    depth_k = np.array([[camera.fx, 0, camera.cx], [0, camera.fy, camera.cy], [0, 0, 1.0]])
    depth_size = (camera.width, camera.height)
    messages = []
    for i in range(RIG_FRAMES):
        stamp = T0 + i * STEP_NS
        depth_stamp = stamp + 4_000_000
        info = camera_info_message(store, stamp, COLOR_FRAME, rendered.K, SIZE)
        image = image_message(store, stamp, COLOR_FRAME, rendered.image, "bgr8")
        depth_info = camera_info_message(store, depth_stamp, DEPTH_FRAME, depth_k, depth_size)
        depth = image_message(store, depth_stamp, DEPTH_FRAME, rig.depth_mm(), "16UC1")
        messages += [
            (INFO_TOPIC, info_t, stamp + 1_000_000, info),
            (IMAGE_TOPIC, image_t, stamp + 2_000_000, image),
            (DEPTH_INFO_TOPIC, info_t, stamp + 3_000_000, depth_info),
            (DEPTH_TOPIC, image_t, stamp + 3_000_000, depth),
        ]
    write_bag(path, "sqlite3", messages)


def write_frames(out: Path, clip: list[Any]) -> None:
    """frames/NNNNNN.png and boxes.json (true boxes, none for the last frame: the detector runs)."""
    import cv2

    (out / "frames").mkdir()
    boxes = {}
    for i, frame in enumerate(clip):
        name = f"{i:06d}.png"
        if not cv2.imwrite(str(out / "frames" / name), frame.image):
            raise OSError(f"could not write {out / 'frames' / name}")
        if i < len(clip) - 1:
            boxes[name] = [xyxy(p.bbox) for p in frame.people if p.area > 0]
    (out / "boxes.json").write_text(json.dumps(boxes, indent=1), encoding="utf-8")


def build_inputs(out: Path) -> None:
    """Everything the runs read, from fixed seeds."""
    from pose_perception.synthetic.coco import iter_clip, render_example

    onnx_graphs, render_rig_depth = test_helpers()
    clip = list(iter_clip(CLIP_SEED, CLIP_FRAMES, CLIP_FPS, SIZE, PEOPLE))
    scene, rendered = render_example(RIG_SEED, 0, SIZE, PEOPLE)
    rig = render_rig_depth(scene)
    out.mkdir(parents=True)
    write_models(out, onnx_graphs, clip[0])
    write_configs(out, rig)
    write_clip_bag(out / "clip", clip)
    write_rig_bag(out / "rig", rendered, rig)
    write_frames(out, clip)
    bundled = importlib.resources.files("pose_perception") / "bundled" / LIFTER
    (out / LIFTER).write_bytes(bundled.read_bytes())


def file_digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256(p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------- runs


def runs(workdir: Path) -> dict[str, list[str]]:
    """Run name -> command-line arguments after ``python -m pose_perception``, with paths
    relative to ``workdir`` (the runs' current directory), so no output holds the work
    directory's name."""
    inputs, outputs = Path("inputs"), Path("outputs")
    clip, rig, model = inputs / "clip", inputs / "rig", inputs / "oracle_pose.onnx"
    detector = inputs / "detector.onnx"
    common = ["--image-topic", IMAGE_TOPIC, "--model", str(model), "--detector-model", str(detector)]
    clip_args = [*common, "--config", str(inputs / "config.yaml")]
    depth = ["--depth-topic", DEPTH_TOPIC]
    commands = {
        "bag_off": ["bag", str(clip), str(outputs / "bag_off"), *clip_args, "--three-d", "off"],
        "bag_depth": ["bag", str(clip), str(outputs / "bag_depth"), *clip_args, "--three-d", "depth", *depth],
        "bag_depth_unregistered": [
            "bag", str(rig), str(outputs / "bag_depth_unregistered"), *common,
            "--config", str(inputs / "rig.yaml"), "--three-d", "depth", *depth,
            "--depth-camera-info-topic", DEPTH_INFO_TOPIC,
        ],
        "bag_lifter": ["bag", str(clip), str(outputs / "bag_lifter"), *clip_args, "--three-d", "lifter"],
        "bag_fused": ["bag", str(clip), str(outputs / "bag_fused"), *clip_args, "--three-d", "fused", *depth],
    }  # fmt: skip
    run_args = [str(inputs / "frames"), "--model", str(model), "--detector-model", str(detector)]
    run_args += ["--config", str(inputs / "config.yaml")]
    run_args += ["--boxes", str(inputs / "boxes.json"), "--no-images"]
    k = intrinsics(workdir / inputs)
    commands["run_2d"] = ["run", *run_args, "--output-dir", str(outputs / "run_2d")]
    commands["run_lifter"] = [
        "run", *run_args, "--output-dir", str(outputs / "run_lifter"),
        "--three-d", "lifter", "--lifter-model", str(inputs / LIFTER),
        "--fx", k[0], "--fy", k[1], "--cx", k[2], "--cy", k[3],
    ]  # fmt: skip
    return commands


def intrinsics(inputs: Path) -> list[str]:
    """fx, fy, cx, cy of the clip's camera, read back from its first CameraInfo."""
    from rosbags.highlevel import AnyReader

    with AnyReader([inputs / "clip"]) as reader:
        connection = next(c for c in reader.connections if c.topic == INFO_TOPIC)
        _, _, raw = next(iter(reader.messages(connections=[connection])))
        info: Any = reader.deserialize(raw, connection.msgtype)
        k = info.k
    return [repr(float(v)) for v in (k[0], k[4], k[2], k[5])]


def execute(args: list[str], workdir: Path) -> None:
    """One command-line run in ``workdir`` with its own empty model cache, offline; a failure
    stops the snapshot with its output."""
    env = dict(os.environ, POSE_PERCEPTION_HOME=str(workdir / "cache"), POSE_PERCEPTION_OFFLINE="1")
    command = [sys.executable, "-m", "pose_perception", *args]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"output_snapshot: {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )


def digest_sequence(items: Iterable[bytes]) -> dict[str, Any]:
    parts = list(items)
    return {"count": len(parts), "sha256": sha256(b"".join(parts)), "messages": [sha256(p) for p in parts]}


def bag_digests(path: Path) -> dict[str, Any]:
    """Per topic of an output bag: its payloads (in log-time order) and their log times."""
    from rosbags.highlevel import AnyReader

    by_topic: dict[str, list[tuple[int, bytes]]] = {}
    with AnyReader([path]) as reader:
        for connection in reader.connections:
            by_topic.setdefault(connection.topic, [])
        for connection, log_ns, raw in reader.messages():
            by_topic[connection.topic].append((log_ns, bytes(raw)))
    topics = {}
    for topic, messages in sorted(by_topic.items()):
        entry = digest_sequence(raw for _, raw in messages)
        entry["log_times_sha256"] = sha256(b"".join(t.to_bytes(8, "little") for t, _ in messages))
        topics[topic] = entry
    return topics


def jsonl_digests(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    entry = digest_sequence(data.splitlines(keepends=True))
    return {"keypoints.jsonl": {**entry, "sha256": sha256(data)}}


def snapshot(workdir: Path, inputs: Path | None) -> dict[str, Any]:
    input_dir = workdir / "inputs"
    if inputs is None:
        build_inputs(input_dir)
    else:
        shutil.copytree(inputs, input_dir)
    outputs = workdir / "outputs"
    outputs.mkdir()
    result: dict[str, Any] = {"inputs": file_digests(input_dir), "runs": {}}
    for name, args in runs(workdir).items():
        execute(args, workdir)
        out = outputs / name
        topics = bag_digests(out) if args[0] == "bag" else jsonl_digests(out / "keypoints.jsonl")
        result["runs"][name] = {"command": ["python", "-m", "pose_perception", *args], "topics": topics}
    return result


# ---------------------------------------------------------------------------- compare


def first_difference(a: list[str], b: list[str]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def compare(current: dict[str, Any], baseline: dict[str, Any]) -> bool:
    """Print one line per (run, topic) and per differing input; True when all are the same."""
    same = True
    changed_inputs = sorted(
        k for k in current["inputs"].keys() | baseline["inputs"].keys()
        if current["inputs"].get(k) != baseline["inputs"].get(k)
    )  # fmt: skip
    for name in changed_inputs:
        print(f"input {name}: DIFFERENT (not the same input: use --inputs)")
    rows = []
    for run in sorted(current["runs"].keys() | baseline["runs"].keys()):
        now = current["runs"].get(run, {}).get("topics", {})
        then = baseline["runs"].get(run, {}).get("topics", {})
        for topic in sorted(now.keys() | then.keys()):
            rows.append((run, topic, describe(now.get(topic), then.get(topic))))
    width = max((len(f"{r} {t}") for r, t, _ in rows), default=0)
    for run, topic, verdict in rows:
        print(f"{run} {topic}".ljust(width), verdict)
        same = same and verdict == "same"
    return same and not changed_inputs


def describe(now: dict[str, Any] | None, then: dict[str, Any] | None) -> str:
    if now is None or then is None:
        return "DIFFERENT (missing " + ("now" if now is None else "in the baseline") + ")"
    if now == then:
        return "same"
    index = first_difference(now["messages"], then["messages"])
    detail = f"count {then['count']} -> {now['count']}, first differing message/line {index}"
    if now["messages"] == then["messages"]:
        detail = "log times differ"
    return f"DIFFERENT ({detail})"


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("output", type=Path, help="JSON file to write")
    parser.add_argument("--compare", type=Path, metavar="BASELINE", help="JSON of an earlier run")
    parser.add_argument("--workdir", type=Path, help="keep inputs and outputs here (must not exist)")
    parser.add_argument("--inputs", type=Path, help="reuse the inputs/ folder of an earlier --workdir")
    args = parser.parse_args(argv)
    if args.workdir and args.workdir.exists():
        parser.error(f"--workdir {args.workdir}: already exists")
    if args.inputs and not (args.inputs / "clip").is_dir():
        parser.error(f"--inputs {args.inputs}: not an inputs/ folder of an earlier --workdir")
    baseline = json.loads(args.compare.read_text(encoding="utf-8")) if args.compare else None
    if args.workdir:
        args.workdir.mkdir(parents=True)
        result = snapshot(args.workdir.resolve(), args.inputs)
    else:
        with tempfile.TemporaryDirectory(prefix="output_snapshot_") as tmp:
            result = snapshot(Path(tmp), args.inputs)
    args.output.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if baseline is not None:
        return 0 if compare(result, baseline) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
