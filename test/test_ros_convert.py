"""Image message <-> numpy conversion (pose_perception.ros.convert), without ROS processes.

Most tests use duck-typed SimpleNamespace messages, so they run on a core-only install;
those that need rclpy's sensor_msgs or rosbags skip when those are missing.
"""

from __future__ import annotations

import array
import pickle
import sys
import types
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest
from crafted_images import SIZE_LIES, jpeg_hiding_its_size, jpeg_with_size, png_with_size

from pose_perception.ros import convert
from pose_perception.ros.convert import (
    REJECT_REASONS,
    SUPPORTED_ENCODINGS,
    ImageRejected,
    bgr_to_image_msg,
    compressed_to_bgr,
    image_to_bgr,
)

MAX_PIXELS = 4096 * 4096
CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


# --------------------------------------------------------------------------- helpers


def _bgr(height: int = 5, width: int = 7, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _encode(bgr: np.ndarray, encoding: str) -> tuple[np.ndarray, np.ndarray]:
    """(HxWxC pixels in ``encoding``, the BGR image conversion must give back), by hand with numpy."""
    alpha = np.full((*bgr.shape[:2], 1), 77, np.uint8)
    if encoding == "bgr8":
        return bgr, bgr
    if encoding == "rgb8":
        return bgr[:, :, ::-1], bgr
    if encoding == "bgra8":
        return np.concatenate([bgr, alpha], axis=2), bgr
    if encoding == "rgba8":
        return np.concatenate([bgr[:, :, ::-1], alpha], axis=2), bgr
    gray = bgr[:, :, 1:2]
    return gray, np.repeat(gray, 3, axis=2)


def _rows(pixels: np.ndarray, pad: int) -> bytes:
    """Message data: each row of pixels followed by ``pad`` junk bytes."""
    height = pixels.shape[0]
    flat = np.ascontiguousarray(pixels).reshape(height, -1)
    junk = np.full((height, pad), 0xAB, np.uint8)
    return np.concatenate([flat, junk], axis=1).tobytes()


def _ns_msg(pixels: np.ndarray, encoding: str, pad: int = 0, data: Any = None) -> SimpleNamespace:
    height, width, channels = pixels.shape
    return SimpleNamespace(
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * channels + pad,
        data=_rows(pixels, pad) if data is None else data,
    )


def _good_msg(**overrides: Any) -> SimpleNamespace:
    msg = _ns_msg(_bgr(4, 6), "bgr8")
    for name, value in overrides.items():
        setattr(msg, name, value)
    return msg


def _reject(msg: Any, max_pixels: int = MAX_PIXELS) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        image_to_bgr(msg, max_pixels, use_cv_bridge=False)
    assert info.value.reason in REJECT_REASONS
    return info.value


@pytest.fixture
def ros_image() -> Any:
    """rclpy's sensor_msgs.msg.Image class (skips on a core-only install)."""
    return pytest.importorskip("sensor_msgs.msg", reason="rclpy sensor_msgs not installed").Image


@pytest.fixture
def bag_types() -> Any:
    """rosbags' ROS 2 Jazzy typestore (skips without rosbags)."""
    typesys = pytest.importorskip("rosbags.typesys", reason="rosbags not installed")
    return typesys.get_typestore(typesys.Stores.ROS2_JAZZY)


def _ros_msg(image_type: Any, pixels: np.ndarray, encoding: str, pad: int = 0) -> Any:
    ns = _ns_msg(pixels, encoding, pad)
    return image_type(
        height=ns.height, width=ns.width, encoding=encoding, is_bigendian=0, step=ns.step, data=ns.data
    )


@pytest.fixture
def no_bridge(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """cv_bridge made unimportable, whatever is installed."""
    monkeypatch.setitem(sys.modules, "cv_bridge", None)
    convert._cv_bridge.cache_clear()
    yield
    convert._cv_bridge.cache_clear()


@pytest.fixture
def fake_bridge(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """A stand-in cv_bridge module whose CvBridge records calls; yields the call list."""
    calls: list[Any] = []

    class FakeCvBridge:
        def imgmsg_to_cv2(self, msg: Any, desired_encoding: str = "passthrough") -> np.ndarray:
            calls.append((msg, desired_encoding))
            if getattr(msg, "explode", False):
                raise TypeError("boom")
            return np.zeros((msg.height, msg.width + getattr(msg, "bad_width", 0), 3), np.uint8)

    module = types.ModuleType("cv_bridge")
    setattr(module, "CvBridge", FakeCvBridge)  # noqa: B010 (a module attribute, not a field)
    monkeypatch.setitem(sys.modules, "cv_bridge", module)
    convert._cv_bridge.cache_clear()
    yield calls
    convert._cv_bridge.cache_clear()


# --------------------------------------------------------------------------- pixel values


def test_supported_encodings_constant() -> None:
    assert SUPPORTED_ENCODINGS == ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")
    assert set(SUPPORTED_ENCODINGS) == set(CHANNELS)


@pytest.mark.parametrize("pad", [0, 1, 5])
@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
@pytest.mark.parametrize("container", ["bytes", "bytearray", "array", "numpy"])
def test_pixel_values_exact(encoding: str, pad: int, container: str) -> None:
    pixels, expected = _encode(_bgr(), encoding)
    raw = _rows(pixels, pad)
    data = {
        "bytes": raw,
        "bytearray": bytearray(raw),
        "array": array.array("B", raw),
        "numpy": np.frombuffer(raw, np.uint8).copy(),
    }[container]
    out = image_to_bgr(_ns_msg(pixels, encoding, pad, data=data), MAX_PIXELS, use_cv_bridge=False)
    assert out.dtype == np.uint8 and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


def test_mono8_gives_three_equal_channels() -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4, 1) * 20
    out = image_to_bgr(_ns_msg(gray, "mono8"), MAX_PIXELS, use_cv_bridge=False)
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], gray[:, :, 0])


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1)])
@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_degenerate_shapes(encoding: str, shape: tuple[int, int]) -> None:
    pixels, expected = _encode(_bgr(*shape), encoding)
    out = image_to_bgr(_ns_msg(pixels, encoding, 3), MAX_PIXELS, use_cv_bridge=False)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.ros
@pytest.mark.parametrize("pad", [0, 2])
@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_pixel_values_rclpy_image(ros_image: Any, encoding: str, pad: int) -> None:
    pixels, expected = _encode(_bgr(), encoding)
    msg = _ros_msg(ros_image, pixels, encoding, pad)
    assert isinstance(msg.data, array.array)
    np.testing.assert_array_equal(image_to_bgr(msg, MAX_PIXELS, use_cv_bridge=False), expected)


def test_max_pixels_boundary() -> None:
    msg = _good_msg()  # 4x6 = 24 pixels
    assert image_to_bgr(msg, 24, use_cv_bridge=False).shape == (4, 6, 3)
    assert _reject(msg, 23).reason == "too_large"


# --------------------------------------------------------------------------- zero copy


@pytest.mark.parametrize("pad", [0, 4])
def test_bgr8_numpy_data_is_zero_copy(pad: int) -> None:
    bgr = _bgr()
    data = np.frombuffer(_rows(bgr, pad), np.uint8).copy()
    out = image_to_bgr(_ns_msg(bgr, "bgr8", pad, data=data), MAX_PIXELS, use_cv_bridge=False)
    assert np.shares_memory(out, data)
    np.testing.assert_array_equal(out, bgr)
    if pad:
        assert out.strides[0] == 7 * 3 + pad  # padded rows: a strided view, not a copy


@pytest.mark.ros
@pytest.mark.parametrize("pad", [0, 4])
def test_bgr8_rclpy_image_is_zero_copy(ros_image: Any, pad: int) -> None:
    bgr = _bgr()
    msg = _ros_msg(ros_image, bgr, "bgr8", pad)
    out = image_to_bgr(msg, MAX_PIXELS, use_cv_bridge=False)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))
    msg.data[0] = 255 - msg.data[0]  # a view: writes to the message show through
    assert out[0, 0, 0] == msg.data[0]


def test_bytes_data_gives_read_only_view() -> None:
    out = image_to_bgr(_good_msg(), MAX_PIXELS, use_cv_bridge=False)
    assert not out.flags.writeable


@pytest.mark.parametrize("encoding", [e for e in SUPPORTED_ENCODINGS if e != "bgr8"])
def test_other_encodings_copy_once(encoding: str) -> None:
    pixels, _ = _encode(_bgr(), encoding)
    data = np.frombuffer(_rows(pixels, 0), np.uint8).copy()
    out = image_to_bgr(_ns_msg(pixels, encoding, data=data), MAX_PIXELS, use_cv_bridge=False)
    assert not np.shares_memory(out, data)
    assert out.flags.c_contiguous and out.flags.writeable


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("overrides", "reason", "named"),
    [
        ({"encoding": "16UC1"}, "unknown_encoding", "16UC1"),
        ({"encoding": "mono16"}, "unknown_encoding", "mono16"),
        ({"encoding": "32FC1"}, "unknown_encoding", "32FC1"),
        ({"encoding": ""}, "unknown_encoding", "''"),
        ({"encoding": "BGR8"}, "unknown_encoding", "BGR8"),
        ({"encoding": b"bgr8"}, "unknown_encoding", "b'bgr8'"),
        ({"encoding": None}, "unknown_encoding", "None"),
        ({"encoding": np.array(["bgr8"])}, "unknown_encoding", "array"),
        ({"height": 0}, "zero_size", "6x0"),
        ({"width": 0}, "zero_size", "0x4"),
        ({"height": -4}, "zero_size", "-4"),
        ({"width": -6, "step": -18}, "zero_size", "-6"),
        ({"height": 4.0}, "bad_field", "4.0"),
        ({"width": "6"}, "bad_field", "'6'"),
        ({"step": None}, "bad_field", "None"),
        ({"height": True}, "bad_field", "True"),
        ({"step": 17}, "bad_step", "17"),
        ({"step": -1}, "bad_step", "-1"),
        ({"data": b""}, "truncated_data", "0 bytes"),
        ({"data": bytes(71)}, "truncated_data", "71 bytes"),
        ({"data": bytes(73)}, "size_mismatch", "73 bytes"),
        ({"step": 19}, "truncated_data", "19*4 = 76"),
        ({"data": list(range(72))}, "bad_data", "list"),
        ({"data": "x" * 72}, "bad_data", "str"),
        ({"data": None}, "bad_data", "NoneType"),
        ({"data": np.zeros(36, np.uint16)}, "bad_data", "uint16"),
        ({"data": array.array("H", bytes(72))}, "bad_data", "'H'"),
        ({"data": np.zeros((4, 36), np.uint8)[:, ::2].data}, "bad_data", "memoryview"),
    ],
)
def test_rejections(overrides: dict[str, Any], reason: str, named: str) -> None:
    error = _reject(_good_msg(**overrides))
    assert error.reason == reason, str(error)
    assert named in str(error)


def test_numpy_integer_fields_accepted() -> None:
    msg = _good_msg(height=np.uint32(4), width=np.int64(6), step=np.uint32(18))
    assert image_to_bgr(msg, MAX_PIXELS, use_cv_bridge=False).shape == (4, 6, 3)


@pytest.mark.parametrize("missing", ["height", "width", "encoding", "step", "data"])
def test_missing_field(missing: str) -> None:
    msg = _good_msg()
    delattr(msg, missing)
    error = _reject(msg)
    assert error.reason == "bad_field" and missing in str(error)


class _UntouchableData:
    """A message whose data must never be read (the size checks come first)."""

    height = 100_000
    width = 100_000
    encoding = "bgr8"
    is_bigendian = 0
    step = 300_000

    @property
    def data(self) -> bytes:
        raise AssertionError("data was touched")


def test_too_large_rejected_before_data() -> None:
    error = _reject(_UntouchableData(), max_pixels=1920 * 1080)
    assert error.reason == "too_large"
    assert "100000x100000" in str(error) and str(1920 * 1080) in str(error)


def test_absurd_fields_do_not_overflow() -> None:
    assert _reject(_good_msg(height=2**70, width=2**70)).reason == "too_large"
    assert _reject(_good_msg(step=2**70)).reason == "truncated_data"


@pytest.mark.parametrize("max_pixels", [0, -1, 1.5, "100", None, True])
def test_bad_max_pixels_is_a_plain_value_error(max_pixels: Any) -> None:
    with pytest.raises(ValueError) as info:
        image_to_bgr(_good_msg(), max_pixels, use_cv_bridge=False)
    assert not isinstance(info.value, ImageRejected)


def test_image_rejected_pickles() -> None:
    error = pickle.loads(pickle.dumps(ImageRejected("too_large", "100x100 is too big")))
    assert error.reason == "too_large" and str(error) == "100x100 is too big"
    assert isinstance(error, ValueError)


# --------------------------------------------------------------------------- fuzz


_FUZZ_VALUES: dict[str, list[Any]] = {
    "height": [0, 1, 3, 4, -1, 2**31, 2**64, 4.0, "4", None, True, np.uint32(4), []],
    "width": [0, 1, 5, 6, -5, 2**32 - 1, 6.5, "six", None, np.int8(-1), object()],
    "encoding": [*SUPPORTED_ENCODINGS, "16UC1", "", "bgr", "BGR8", None, 3, b"rgb8", "8UC3"],
    "step": [0, 1, 18, 24, 15, 20, 2**40, -18, 18.0, None, "18"],
    "is_bigendian": [0, 1, 255, None, "yes"],
}


def _fuzz_container(raw: np.ndarray, kind: int) -> Any:
    """The same bytes in one of the shapes ``data`` may take, valid or not."""
    return [
        raw.tobytes(),
        array.array("B", raw.tobytes()),
        raw,
        bytearray(raw.tobytes()),
        memoryview(raw.tobytes()),
        raw.astype(np.uint16),
        raw.tolist(),
        None,
    ][kind]


def _fuzz_fields(rng: np.random.Generator) -> dict[str, Any]:
    """A valid message with 0-3 fields replaced by odd values (so both outcomes occur)."""
    encoding = SUPPORTED_ENCODINGS[int(rng.integers(len(SUPPORTED_ENCODINGS)))]
    height, width, pad = (int(v) for v in rng.integers([1, 1, 0], [5, 7, 3]))
    step = width * CHANNELS[encoding] + pad
    size = step * height
    fields = {"height": height, "width": width, "encoding": encoding, "is_bigendian": 0, "step": step}
    fields["data"] = _fuzz_container(rng.integers(0, 256, size, dtype=np.uint8), int(rng.integers(5)))
    names = [*_FUZZ_VALUES, "data"]
    for name in rng.choice(names, size=int(rng.integers(0, 4)), replace=False):
        if name == "data":
            odd_size = int(rng.choice([0, 1, size - 1, size + 1, 10 * size]))
            raw = rng.integers(0, 256, max(odd_size, 0), dtype=np.uint8)
            fields["data"] = _fuzz_container(raw, int(rng.integers(8)))
        else:
            values = _FUZZ_VALUES[str(name)]
            fields[str(name)] = values[int(rng.integers(len(values)))]
    return fields


def _assert_image_or_rejected(msg: Any, max_pixels: int) -> str:
    try:
        out = image_to_bgr(msg, max_pixels, use_cv_bridge=False)
    except ImageRejected as error:
        assert error.reason in REJECT_REASONS
        return error.reason
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8
    assert out.shape == (msg.height, msg.width, 3)
    return "ok"


def test_fuzz_simple_namespace_messages() -> None:
    rng = np.random.default_rng(1234)
    outcomes = set()
    for _ in range(300):
        fields = _fuzz_fields(rng)
        if rng.random() < 0.1:  # sometimes a field is missing altogether
            del fields[str(rng.choice(sorted(fields)))]
        outcomes.add(_assert_image_or_rejected(SimpleNamespace(**fields), 10_000))
    assert "ok" in outcomes and len(outcomes) >= 8, outcomes


@pytest.mark.ros
def test_fuzz_rclpy_messages(ros_image: Any) -> None:
    rng = np.random.default_rng(99)
    outcomes = set()
    for _ in range(300):
        fields = _fuzz_fields(rng)
        msg = ros_image(check_fields=False)  # the default: rclpy does not type-check assignments
        for name in ("height", "width", "encoding", "step", "is_bigendian"):
            setattr(msg, name, fields[name])
        data = fields["data"]
        msg.data = data.tobytes() if isinstance(data, np.ndarray) else bytes(data or b"")
        outcomes.add(_assert_image_or_rejected(msg, 10_000))
    assert "ok" in outcomes and len(outcomes) >= 7, outcomes


# --------------------------------------------------------------------------- cv_bridge


@pytest.mark.ros
@pytest.mark.parametrize("pad", [0, 12])  # padding a multiple of every pixel size
@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_cv_bridge_matches_numpy_path(ros_image: Any, encoding: str, pad: int) -> None:
    try:
        import cv_bridge  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"cv_bridge not importable (needs a full ROS install): {exc}")
    convert._cv_bridge.cache_clear()
    pixels, expected = _encode(_bgr(6, 8), encoding)
    msg = _ros_msg(ros_image, pixels, encoding, pad)
    via_bridge = image_to_bgr(msg, MAX_PIXELS, use_cv_bridge=True)
    via_numpy = image_to_bgr(msg, MAX_PIXELS, use_cv_bridge=False)
    np.testing.assert_array_equal(via_bridge, via_numpy)
    np.testing.assert_array_equal(via_numpy, expected)


def test_without_cv_bridge_auto_uses_numpy(no_bridge: None) -> None:
    bgr = _bgr()
    data = np.frombuffer(_rows(bgr, 0), np.uint8).copy()
    out = image_to_bgr(_ns_msg(bgr, "bgr8", data=data), MAX_PIXELS)  # use_cv_bridge=None
    assert np.shares_memory(out, data)


def test_without_cv_bridge_forced_raises_import_error(no_bridge: None) -> None:
    with pytest.raises(ImportError, match="cv_bridge"):
        image_to_bgr(_good_msg(), MAX_PIXELS, use_cv_bridge=True)


def test_cv_bridge_called_after_validation(fake_bridge: list[Any]) -> None:
    msg = _good_msg()
    out = image_to_bgr(msg, MAX_PIXELS)
    assert fake_bridge == [(msg, "bgr8")] and out.shape == (4, 6, 3)
    assert _reject(_good_msg(encoding="16UC1")).reason == "unknown_encoding"
    with pytest.raises(ImageRejected):
        image_to_bgr(_good_msg(data=b""), MAX_PIXELS, use_cv_bridge=True)
    assert len(fake_bridge) == 1  # malformed messages never reach cv_bridge


def test_cv_bridge_skipped_for_steps_it_cannot_reshape(fake_bridge: list[Any]) -> None:
    bgr = _bgr(4, 5)
    out = image_to_bgr(_ns_msg(bgr, "bgr8", pad=1), MAX_PIXELS, use_cv_bridge=True)  # step 16
    assert fake_bridge == []
    np.testing.assert_array_equal(out, bgr)


def test_cv_bridge_disabled_explicitly(fake_bridge: list[Any]) -> None:
    image_to_bgr(_good_msg(), MAX_PIXELS, use_cv_bridge=False)
    assert fake_bridge == []


@pytest.mark.parametrize("attr", [{"explode": True}, {"bad_width": 1}])
def test_cv_bridge_failures_become_rejections(fake_bridge: list[Any], attr: dict[str, Any]) -> None:
    with pytest.raises(ImageRejected) as info:
        image_to_bgr(_good_msg(**attr), MAX_PIXELS)
    assert info.value.reason == "cv_bridge_error"


# --------------------------------------------------------------------------- compressed


def _smooth_bgr(height: int = 48, width: int = 64) -> np.ndarray:
    """A gradient, which JPEG reproduces closely (random noise would not)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4, y * 5, (x + y) * 2], axis=2).astype(np.uint8)


def _compressed(ext: str, image: np.ndarray, fmt: str | None = None, container: str = "bytes") -> Any:
    ok, encoded = cv2.imencode(ext, image)
    assert ok
    raw = encoded.tobytes()
    data = {"bytes": raw, "array": array.array("B", raw), "numpy": encoded.reshape(-1)}[container]
    return SimpleNamespace(format=fmt if fmt is not None else ext[1:], data=data)


@pytest.mark.parametrize("container", ["bytes", "array", "numpy"])
def test_png_round_trip_exact(container: str) -> None:
    image = _bgr(30, 40)
    out = compressed_to_bgr(_compressed(".png", image, "bgr8; png compressed bgr8", container), MAX_PIXELS)
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("container", ["bytes", "array", "numpy"])
def test_jpeg_round_trip_close(container: str) -> None:
    image = _smooth_bgr()
    out = compressed_to_bgr(_compressed(".jpg", image, "rgb8; jpeg compressed bgr8", container), MAX_PIXELS)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image.astype(int)).mean() < 3


def test_grey_png_decodes_to_three_channels() -> None:
    gray = _bgr(10, 12)[:, :, 0]
    out = compressed_to_bgr(_compressed(".png", gray), MAX_PIXELS)
    assert out.shape == (10, 12, 3)
    np.testing.assert_array_equal(out[:, :, 2], gray)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_compressed_too_large_rejected_from_header(ext: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decode(*args: Any) -> None:
        raise AssertionError("decoded despite the header size")

    msg = _compressed(ext, _smooth_bgr(48, 64))
    monkeypatch.setattr(convert.cv2, "imdecode", no_decode)
    with pytest.raises(ImageRejected) as info:
        compressed_to_bgr(msg, 48 * 64 - 1)
    assert info.value.reason == "too_large" and "64x48" in str(info.value)


def test_progressive_jpeg_header_read() -> None:
    ok, encoded = cv2.imencode(".jpg", _smooth_bgr(48, 64), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    assert convert._header_size(encoded.reshape(-1)) == (48, 64)


def test_compressed_too_large_checked_after_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert, "_header_size", lambda flat: (1, 1))  # a header that understates
    with pytest.raises(ImageRejected) as info:
        compressed_to_bgr(_compressed(".png", _bgr(10, 10)), 99)
    assert info.value.reason == "too_large" and "decoded" in str(info.value)


@pytest.mark.parametrize(
    ("data", "fmt", "reason"),
    [
        (b"", "jpeg", "empty_data"),
        (np.zeros(0, np.uint8), "png", "empty_data"),
        (array.array("B"), "jpeg", "empty_data"),
        (b"this is not an image at all", "jpeg", "undecodable"),
        (bytes(range(256)) * 4, "png", "undecodable"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "png", "undecodable"),
        (b"\xff\xd8\xff" + b"\xff" * 5000, "jpeg", "undecodable"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(40), "jpeg", "undecodable"),
        (b"BM" + bytes(100), "bmp", "undecodable"),
        (b"\x00" * 12 + b"\x89PNG\r\n\x1a\n", "16UC1; compressedDepth png", "unsupported_format"),
        ([1, 2, 3], "jpeg", "bad_data"),
        (None, "jpeg", "bad_data"),
        (b"\xff\xd8\xff", None, "bad_field"),
    ],
)
def test_compressed_rejections(data: Any, fmt: Any, reason: str) -> None:
    with pytest.raises(ImageRejected) as info:
        compressed_to_bgr(SimpleNamespace(format=fmt, data=data), MAX_PIXELS)
    assert info.value.reason == reason, str(info.value)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_truncated_compressed_rejected(ext: str) -> None:
    msg = _compressed(ext, _bgr(40, 50))
    msg.data = msg.data[: len(msg.data) // 2]
    with pytest.raises(ImageRejected) as info:
        compressed_to_bgr(msg, MAX_PIXELS)
    assert info.value.reason == "undecodable"


def test_compressed_fuzz_only_rejects() -> None:
    rng = np.random.default_rng(7)
    valid = _compressed(".jpg", _smooth_bgr()).data
    for _ in range(100):
        data = bytearray(valid)
        for pos in rng.integers(0, len(data), int(rng.integers(1, 20))):
            data[pos] = int(rng.integers(0, 256))
        data = data[: int(rng.integers(0, len(data) + 1))]
        try:
            out = compressed_to_bgr(SimpleNamespace(format="jpeg", data=bytes(data)), MAX_PIXELS)
        except ImageRejected as error:
            assert error.reason in REJECT_REASONS
        else:
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3


def test_jpeg_hiding_its_frame_header_is_rejected_before_decoding() -> None:
    """A 5 KB JPEG whose frame header sits past the scanned markers once decoded to whatever it
    declared (30000x30000: 5 GB of RSS); here 3000x3000 shows the same path, cheaply."""
    data = jpeg_hiding_its_size(_compressed(".jpg", _smooth_bgr()).data, 3000, 3000)
    with pytest.raises(ImageRejected, match="JPEG frame header not found") as info:
        compressed_to_bgr(SimpleNamespace(format="jpeg", data=data), 640 * 480)
    assert info.value.reason == "undecodable"


def _lying_compressed(rng: np.random.Generator) -> SimpleNamespace:
    """A JPEG or PNG whose header lies about its size (or hides it), cut or bit-flipped, under
    a format string that may lie too."""
    ext = str(rng.choice([".jpg", ".png"]))
    data = _compressed(ext, _smooth_bgr()).data
    width, height = (int(rng.choice(SIZE_LIES)) for _ in range(2))
    kind = int(rng.integers(4))
    if kind == 0 and ext == ".jpg":
        data = jpeg_with_size(data, min(width, 65535), min(height, 65535))
    elif kind == 0:
        data = png_with_size(data, width, height, fix_crc=bool(rng.integers(2)))
    elif kind == 1 and ext == ".jpg":
        data = jpeg_hiding_its_size(data, min(width, 4000), min(height, 4000), int(rng.integers(1000, 1100)))
    elif kind == 2:
        data = data[: int(rng.integers(len(data)))]
    else:
        flipped = bytearray(data)
        for pos in rng.integers(0, len(flipped), int(rng.integers(1, 30))):
            flipped[pos] ^= 1 << int(rng.integers(8))
        data = bytes(flipped)
    fmt = rng.choice(["jpeg", "png", "", "rgb8; jpeg compressed bgr8", "16UC1; compressedDepth", "tiff"])
    return SimpleNamespace(format=str(fmt), data=data)


def test_fuzz_compressed_with_lying_headers() -> None:
    """Seeded; max_pixels of 640x480, so a size that gets past the header check shows."""
    rng = np.random.default_rng(1406)
    outcomes = set()
    for _ in range(200):
        msg = _lying_compressed(rng)
        try:
            out = compressed_to_bgr(msg, 640 * 480)
        except ImageRejected as error:
            assert error.reason in REJECT_REASONS and "\n" not in str(error) and len(str(error)) < 400
            outcomes.add(error.reason)
        else:
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[0] * out.shape[1] <= 640 * 480
            outcomes.add("ok")
    assert {"ok", "undecodable", "too_large"} <= outcomes, outcomes


# --------------------------------------------------------------------------- BGR -> Image


@pytest.mark.ros
def test_bgr_to_rclpy_image_round_trip(ros_image: Any) -> None:
    from std_msgs.msg import Header

    image = _bgr(6, 9)
    header = Header(frame_id="camera")
    msg = bgr_to_image_msg(image, header, ros_image)
    assert isinstance(msg, ros_image) and isinstance(msg.data, array.array)
    assert (msg.height, msg.width, msg.encoding, msg.step, msg.is_bigendian) == (6, 9, "bgr8", 27, 0)
    assert msg.header.frame_id == "camera"
    np.testing.assert_array_equal(image_to_bgr(msg, MAX_PIXELS, use_cv_bridge=False), image)
    image[:] = 0  # the message owns its copy
    assert max(msg.data) > 0


@pytest.mark.ros
def test_bgr_to_rclpy_image_with_field_checks(ros_image: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from std_msgs.msg import Header

    module = sys.modules[ros_image.__module__]
    monkeypatch.setattr(module, "ros_python_check_fields", "1", raising=False)
    image = _bgr(3, 4)
    msg = bgr_to_image_msg(image, Header(), ros_image)
    np.testing.assert_array_equal(image_to_bgr(msg, MAX_PIXELS, use_cv_bridge=False), image)


def test_bgr_to_rosbags_image_round_trip(bag_types: Any) -> None:
    image_type = bag_types.types["sensor_msgs/msg/Image"]
    header_type = bag_types.types["std_msgs/msg/Header"]
    time_type = bag_types.types["builtin_interfaces/msg/Time"]
    header = header_type(stamp=time_type(sec=12, nanosec=34), frame_id="camera")
    image = _bgr(6, 9)[:, ::2]  # non-contiguous input
    msg = bgr_to_image_msg(image, header, image_type)
    assert isinstance(msg.data, np.ndarray) and msg.data.dtype == np.uint8 and msg.data.ndim == 1
    assert not np.shares_memory(msg.data, image)
    np.testing.assert_array_equal(image_to_bgr(msg, MAX_PIXELS, use_cv_bridge=False), image)
    raw = bag_types.serialize_cdr(msg, image_type.__msgtype__)
    back = bag_types.deserialize_cdr(raw, image_type.__msgtype__)
    assert back.header.frame_id == "camera" and back.header.stamp.nanosec == 34
    np.testing.assert_array_equal(image_to_bgr(back, MAX_PIXELS, use_cv_bridge=False), image)


def test_rosbags_compressed_image(bag_types: Any) -> None:
    compressed_type = bag_types.types["sensor_msgs/msg/CompressedImage"]
    header = bag_types.types["std_msgs/msg/Header"](
        stamp=bag_types.types["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id=""
    )
    image = _bgr(8, 8)
    encoded = cv2.imencode(".png", image)[1].reshape(-1)
    msg = compressed_type(header=header, format="png", data=encoded)
    raw = bag_types.serialize_cdr(msg, compressed_type.__msgtype__)
    back = bag_types.deserialize_cdr(raw, compressed_type.__msgtype__)
    np.testing.assert_array_equal(compressed_to_bgr(back, MAX_PIXELS), image)


def test_bgr_to_image_msg_generic_type_gets_bytes() -> None:
    msg = bgr_to_image_msg(_bgr(2, 3), None, SimpleNamespace)
    assert isinstance(msg.data, bytes) and msg.step == 9
    np.testing.assert_array_equal(image_to_bgr(msg, MAX_PIXELS, use_cv_bridge=False), _bgr(2, 3))


@pytest.mark.parametrize(
    ("image", "error"),
    [
        (np.zeros((4, 4), np.uint8), ValueError),
        (np.zeros((4, 4, 4), np.uint8), ValueError),
        (np.zeros((0, 4, 3), np.uint8), ValueError),
        (np.zeros((4, 4, 3), np.float32), TypeError),
        ([[0, 0, 0]], TypeError),
    ],
)
def test_bgr_to_image_msg_rejects_bad_images(image: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        bgr_to_image_msg(image, None, SimpleNamespace)
