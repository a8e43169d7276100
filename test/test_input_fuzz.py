"""Seeded hostile inputs through every file input path of the CLI (issue 14): image files and
videos through ``run``, ``--boxes`` JSON, and bags through ``bag``. Each case must end in a
clean result or in one short error line naming the file, never a crash, a traceback or a hang.

The cases of one kind run in one subprocess (``cli_case_runner.py``) under a memory limit and a
timeout that only bounds a hang, so a case that crashes or eats memory fails the test, naming
the case, instead of taking the machine down. The seeds are fixed: a failure reproduces. The
config loader's fuzz is in ``test_config_hostile.py``; Image/CompressedImage messages are fuzzed
in ``test_ros_convert.py``.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from crafted_images import SIZE_LIES, jpeg_with_size, png_with_size, write_huge_png

from pose_perception.cli.boxes import load_boxes_file
from pose_perception.cli.common import CliError

HERE = Path(__file__).resolve().parent
H, W = 96, 128
MAX_LINE = 400  # one error line: a path, a field and a short reason fit in this
MEMORY_LIMIT = 3 << 30  # address space of the subprocess; ONNX Runtime + OpenCV need about 1.5 GiB
HANG_TIMEOUT_S = 900  # bounds a hang only; the cases take seconds


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cases(tmp_path: Path, cases: list[list[str]]) -> list[dict[str, Any]]:
    """Each case's exit code, stderr and escaped exception, from one bounded subprocess."""
    cases_file, results_file = tmp_path / "cases.json", tmp_path / "results.json"
    cases_file.write_text(json.dumps(cases), encoding="utf-8")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env |= {"POSE_PERCEPTION_HOME": str(tmp_path / "cache"), "POSE_PERCEPTION_OFFLINE": "1"}
    command = [sys.executable, str(HERE / "cli_case_runner.py"), str(cases_file), str(results_file)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=HANG_TIMEOUT_S,
            preexec_fn=_limit_memory,
            env=env,
        )
    except subprocess.TimeoutExpired as err:
        started = (err.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
        pytest.fail(f"hang: no result after {HANG_TIMEOUT_S} s; last started: {started}")
    last = done.stderr.strip().splitlines()[-30:]
    assert done.returncode == 0, f"runner died (exit {done.returncode}):\n" + "\n".join(last)
    return list(json.loads(results_file.read_text(encoding="utf-8")))


def problems(results: list[dict[str, Any]], named: Callable[[list[str]], str]) -> list[str]:
    """What is wrong with each result: an escaped exception, a traceback, an exit code other than
    0 (done), 2 (refused) or 1 (stopped part way, e.g. a bag read error), or an error that is not
    one short line naming ``named(argv)``."""
    found = []
    for result in results:
        argv, stderr, rc = result["argv"], result["stderr"], result["rc"]
        errors = [line for line in stderr.splitlines() if line.startswith("pose-perception: error:")]
        if "escaped" in result:
            found.append(f"{argv}: exception escaped main:\n{result['escaped'][-1500:]}")
        elif "Traceback" in stderr:
            found.append(f"{argv}: traceback on stderr:\n{stderr[-1500:]}")
        elif rc not in (0, 1, 2):
            found.append(f"{argv}: exit {rc}: {stderr[-500:]}")
        elif rc != 0 and (len(errors) != 1 or named(argv) not in errors[0] or len(errors[0]) > MAX_LINE):
            found.append(f"{argv}: error is not one short line naming {named(argv)}: {stderr[-800:]!r}")
    return found


# ------------------------------------------------------------------------------------ images


def _picture(seed: int) -> np.ndarray:
    """Smooth content (so JPEG and PNG compress it as they would a photo) with a bright figure."""
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (W, H))
    cv2.ellipse(image, (W // 2, H // 2), (12, 36), 0, 0, 360, (230, 210, 200), -1)
    return image


def _encoded(ext: str, seed: int) -> bytes:
    ok, data = cv2.imencode(ext, _picture(seed))
    assert ok
    return data.tobytes()


def _hostile_image(rng: random.Random) -> tuple[str, bytes]:
    """(extension, file bytes): a valid image cut, bit-flipped, with a lying header, or garbage."""
    ext = rng.choice([".png", ".jpg", ".bmp"])
    data = _encoded(ext, rng.randrange(100))
    kind = rng.randrange(6)
    if kind == 0:
        return ext, data[: rng.randrange(len(data))]
    if kind == 1:
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        return ext, bytes(flipped)
    if kind == 2 and ext == ".png":
        size = rng.choice(SIZE_LIES), rng.choice(SIZE_LIES)
        return ext, png_with_size(data, *size, fix_crc=rng.random() < 0.5)
    if kind == 2 and ext == ".jpg":
        return ext, jpeg_with_size(data, rng.choice(SIZE_LIES[:6]), rng.choice(SIZE_LIES[:6]))
    if kind == 3:
        return ext, bytes(rng.randrange(256) for _ in range(rng.randrange(2000)))
    if kind == 4:
        return ".png", _encoded(".png", 0)[:0] if rng.random() < 0.3 else _tiny_png(rng)
    return ext, data[: len(data) // 2] + bytes(rng.randrange(256) for _ in range(len(data) // 2))


def _tiny_png(rng: random.Random) -> bytes:
    """A valid image far smaller than any detector window (1x1 to 40x20)."""
    return _encoded_array(".png", np.full((rng.randint(1, 20), rng.randint(1, 40), 3), 128, np.uint8))


def _encoded_array(ext: str, image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def _run_argv(source: Path, model: Path, out: Path, *extra: str) -> list[str]:
    common = ["--model", str(model), "--min-score", "0", "--no-images", "--output-dir", str(out)]
    detector = [] if "--detector" in extra or "--box" in extra else ["--detector", "full_frame"]
    return ["run", str(source), *common, *detector, *extra]


SLOW_RUN = pytest.param(2, 300, marks=pytest.mark.slow, id="large")


@pytest.mark.parametrize(("seed", "count"), [pytest.param(1, 36, id="quick"), SLOW_RUN])
def test_hostile_image_files(tmp_path: Path, random_rtmpose_t_onnx: Path, seed: int, count: int) -> None:
    """Truncated, bit-flipped, lying-header, garbage and tiny images; some through the HOG
    detector (which once segfaulted on images smaller than its window)."""
    rng = random.Random(1400 + seed)
    cases = []
    for i in range(count):
        ext, data = _hostile_image(rng)
        path = tmp_path / f"image{i}{ext}"
        path.write_bytes(data)
        extra = ("--detector", "hog") if i % 4 == 0 else ()
        cases.append(_run_argv(path, random_rtmpose_t_onnx, tmp_path / f"out{i}", *extra))
    huge = write_huge_png(tmp_path / "huge.png")
    cases.append(_run_argv(huge, random_rtmpose_t_onnx, tmp_path / "out_huge"))
    folder = tmp_path / "folder"  # all of them in one folder, with one good image: skipped, not fatal
    folder.mkdir()
    for path in [*tmp_path.glob("image*"), huge]:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "good.png").write_bytes(_encoded(".png", 0))
    cases.append(_run_argv(folder, random_rtmpose_t_onnx, tmp_path / "out_folder"))
    results = run_cases(tmp_path, cases)
    assert results[-1]["rc"] == 0, results[-1]["stderr"][-2000:]
    found = problems(results, lambda argv: argv[1])
    assert not found, "\n".join(found)
    assert {r["rc"] for r in results} == {0, 2}  # both outcomes occur: the cases are not all refused


# ------------------------------------------------------------------------------------ videos


def _video(path: Path, fourcc: str, frames: int = 8) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), 10.0, (W, H))
    for i in range(frames):
        writer.write(_picture(i))
    writer.release()
    return path.read_bytes()


def _hostile_video(rng: random.Random, valid: bytes) -> bytes:
    """A valid video cut, with bytes flipped or a block garbled (mid-file or in the header)."""
    kind = rng.randrange(5)
    if kind == 0:
        return valid[: rng.randrange(len(valid))]
    data = bytearray(valid)
    if kind == 1:
        for _ in range(rng.randint(1, 40)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind in (2, 3):
        start = rng.randrange(64) if kind == 2 else rng.randrange(len(data) // 4, len(data))
        length = rng.randint(8, 512)
        data[start : start + length] = bytes(rng.randrange(256) for _ in range(length))
    else:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(4000)))
    return bytes(data)


@pytest.mark.parametrize(("seed", "count"), [pytest.param(2, 24, id="quick"), SLOW_RUN])
def test_hostile_video_files(tmp_path: Path, random_rtmpose_t_onnx: Path, seed: int, count: int) -> None:
    """Truncated and garbled MP4 (mp4v) and AVI (MJPG) files."""
    rng = random.Random(1400 + seed)
    valid = {
        ext: _video(tmp_path / f"valid{ext}", fourcc) for ext, fourcc in ((".mp4", "mp4v"), (".avi", "MJPG"))
    }
    cases = []
    for i in range(count):
        ext = rng.choice(sorted(valid))
        path = tmp_path / f"video{i}{ext}"
        path.write_bytes(_hostile_video(rng, valid[ext]))
        cases.append(_run_argv(path, random_rtmpose_t_onnx, tmp_path / f"out{i}"))
    cases.append(_run_argv(tmp_path / "valid.mp4", random_rtmpose_t_onnx, tmp_path / "out_valid"))
    results = run_cases(tmp_path, cases)
    found = problems(results, lambda argv: argv[1])
    assert not found, "\n".join(found)
    assert results[-1]["rc"] == 0


# ------------------------------------------------------------------------------------ --boxes

HOSTILE_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e308", "1e308", "9" * 5000, "-0", "1e-400"]
HOSTILE_VALUES = [*HOSTILE_NUMBERS, "true", "null", '"10"', "[]", "{}", "[1, 2]", '{"a": 1}']


def _hostile_boxes_text(rng: random.Random) -> str:
    """A ``--boxes`` file: valid boxes with a value, a box, an entry or the whole document
    replaced by something hostile."""
    box = ["10", "10", "60", "90", "0.9"][: rng.choice([4, 5])]
    kind = rng.randrange(7)
    if kind == 0:
        box[rng.randrange(len(box))] = rng.choice(HOSTILE_VALUES)
    elif kind == 1:
        box = box + [rng.choice(HOSTILE_VALUES)] * rng.randint(1, 3)
    boxes = f"[[{', '.join(box)}]]"
    if kind == 2:
        boxes = rng.choice(HOSTILE_VALUES)
    elif kind == 3:  # deep nesting
        depth = rng.choice([50, 5000, 200_000])
        boxes = "[" * depth + "]" * depth
    elif kind == 4:  # a huge array of boxes
        boxes = "[" + ", ".join([f"[{', '.join(box)}]"] * rng.choice([1000, 50_000])) + "]"
    key = json.dumps(rng.choice(["0", "image.png", "x" * 100_000, "\u00e9", ""]))
    document = f"{{{key}: {boxes}}}"
    if kind == 5:
        document = rng.choice([*HOSTILE_VALUES, "{" * 100_000, "", "\ufeff{}", '{"0": [[1,2,3,4]]'])
    if kind == 6:
        document = "[" * 100_000 + "]" * 100_000
    return document


def test_hostile_boxes_files(tmp_path: Path) -> None:
    """Wrong types, NaN, huge numbers, deep nesting and huge arrays in ``--boxes``: a table or
    one short CliError line naming the file."""
    rng = random.Random(1403)
    path = tmp_path / "boxes.json"
    outcomes = set()
    for _ in range(80):
        path.write_text(_hostile_boxes_text(rng), encoding="utf-8")
        try:
            table = load_boxes_file(str(path))
        except CliError as err:
            message = str(err)
            assert "\n" not in message and len(message) < MAX_LINE and str(path) in message, message[:1000]
            outcomes.add("refused")
        else:
            assert all(
                b.ndim == 2 and b.shape[1] == 5 and np.isfinite(b[:, :4]).all() for b in table.values()
            )
            outcomes.add("loaded")
    assert outcomes == {"refused", "loaded"}


def test_non_utf8_and_binary_boxes_files(tmp_path: Path) -> None:
    path = tmp_path / "boxes.json"
    for data in (b'{"0": [[1, 2, 30, 40]]}\xff', b"\x00" * 100, b"\xef\xbb\xbf{}", bytes(range(256))):
        path.write_bytes(data)
        try:
            load_boxes_file(str(path))
        except CliError as err:
            assert "\n" not in str(err) and str(path) in str(err)


# ------------------------------------------------------------------------------------ bags

IMAGE_TOPIC = "/camera/image_raw"
T0 = 1_700_000_000_000_000_000


def _bag_messages(store: Any, msgtype: str) -> list[Any]:
    """Three messages of ``msgtype`` on the image topic: images when it is an image type."""
    types = store.types
    messages = []
    for i in range(3):
        sec, nanosec = divmod(T0 + i * 100_000_000, 1_000_000_000)
        header = types["std_msgs/msg/Header"](
            stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id="camera"
        )
        if msgtype == "sensor_msgs/msg/Image":
            data = _picture(i).reshape(-1).copy()
            fields = {"height": H, "width": W, "encoding": "bgr8", "is_bigendian": 0, "step": 3 * W}
            messages.append(types[msgtype](header=header, data=data, **fields))
        elif msgtype == "sensor_msgs/msg/CompressedImage":
            data = np.frombuffer(_encoded(".jpg", i), np.uint8).copy()
            messages.append(types[msgtype](header=header, format="jpeg", data=data))
        elif msgtype == "std_msgs/msg/Header":
            messages.append(header)
        else:
            messages.append(types["std_msgs/msg/String"](data="not an image"))
    return messages


def _write_bag(path: Path, storage: str, msgtype: str) -> Path:
    """A small rosbag2 with three ``msgtype`` messages on :data:`IMAGE_TOPIC`."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        connection = writer.add_connection(IMAGE_TOPIC, msgtype, typestore=store)
        for i, msg in enumerate(_bag_messages(store, msgtype)):
            writer.write(connection, T0 + i * 100_000_000 + 1000, store.serialize_cdr(msg, msgtype))
    return path


def _damage(path: Path, rng: random.Random, block: int) -> str:
    """Damage the bag's storage file (or its metadata.yaml) in place; says how."""
    storage = next(p for p in path.iterdir() if p.suffix in (".mcap", ".db3"))
    target = path / "metadata.yaml" if rng.random() < 0.15 else storage
    data = bytearray(target.read_bytes())
    kind = rng.randrange(3)
    if kind == 0:
        del data[rng.randrange(len(data)) :]
    elif kind == 1:
        for _ in range(rng.randint(1, 64)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    else:
        start = rng.randrange(len(data))
        data[start : start + block] = bytes(rng.randrange(256) for _ in range(block))
    target.write_bytes(bytes(data[: len(data)]))
    return f"{target.name} kind {kind}"


BAG_TYPES = [
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/CompressedImage",
    "std_msgs/msg/String",
    "std_msgs/msg/Header",
]


@pytest.fixture(scope="module")
def bag_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "bag.yaml"
    path.write_text("output:\n  min_person_score: 0.0\ndetector:\n  type: full_frame\n", encoding="utf-8")
    return path


def _bag_argv(source: Path, model: Path, config: Path, out: Path) -> list[str]:
    return [
        "bag",
        str(source),
        str(out),
        "--model",
        str(model),
        "--config",
        str(config),
        "--image-topic",
        IMAGE_TOPIC,
    ]


BAG_CASES = 14


@pytest.fixture(scope="module")
def bag_results(
    tmp_path_factory: pytest.TempPathFactory, random_rtmpose_t_onnx: Path, bag_config: Path
) -> dict[str, list[dict[str, Any]]]:
    """Bags with bytes overwritten, cut short, a garbled metadata.yaml, or a topic of the wrong
    type, per storage; all cases of a storage in one bounded subprocess."""
    pytest.importorskip("rosbags")
    results = {}
    for storage, seed in (("mcap", 1404), ("sqlite3", 1405)):
        rng = random.Random(seed)
        tmp_path = tmp_path_factory.mktemp(f"bags_{storage}")
        cases = []
        for i in range(BAG_CASES):
            source = _write_bag(tmp_path / f"in{i}", storage, BAG_TYPES[i % len(BAG_TYPES)])
            if i >= len(BAG_TYPES):  # the first ones intact: only the message type is wrong
                _damage(source, rng, block=rng.choice([16, 4096]))
            cases.append(_bag_argv(source, random_rtmpose_t_onnx, bag_config, tmp_path / f"out{i}"))
        results[storage] = run_cases(tmp_path, cases)
    return results


BAG_PARAMS = [
    pytest.param(storage, case, id=f"{storage}-{case}")
    for storage in ("mcap", "sqlite3")
    for case in range(BAG_CASES)
]


@pytest.mark.parametrize(("storage", "case"), BAG_PARAMS)
def test_hostile_bag(bag_results: dict[str, list[dict[str, Any]]], storage: str, case: int) -> None:
    result = bag_results[storage][case]
    found = problems([result], lambda argv: argv[1])
    assert not found, found[0]
    if case < 2:  # the intact image bags convert
        assert result["rc"] == 0, result["stderr"]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"0": [[' + "9" * 5000 + ", 1, 2, 3]]}", "Exceeds the limit"),
        ('{"' + "x" * 100_000 + '": 5}', "must be a list of boxes"),
        ('{"0": [[' + ", ".join(["1"] * 100_000) + "]]}", "expected [x1, y1, x2, y2]"),
    ],
)
def test_boxes_file_errors_are_one_short_line(tmp_path: Path, document: str, problem: str) -> None:
    """Found by the fuzz above: deep nesting escaped as RecursionError, a long integer's
    ValueError did not name the file, and a huge key or box filled the error line."""
    path = tmp_path / "boxes.json"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(CliError) as error:
        load_boxes_file(str(path))
    message = str(error.value)
    assert message.startswith(f"--boxes {path}: ") and problem in message and len(message) < MAX_LINE
