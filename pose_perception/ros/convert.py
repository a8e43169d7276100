"""Image message <-> numpy conversion with strict validation.

Messages are duck-typed (only attributes are read), so the same code serves rclpy
messages (``data`` is ``array.array('B')`` or bytes) and ``rosbags`` messages (``data``
is a numpy uint8 array). Nothing here imports rclpy or a ROS package at module level;
cv_bridge is imported lazily and only used when it is installed.

Every way a message can be wrong becomes :class:`ImageRejected` with a stable
``reason`` key, so a node can count rejections per reason instead of crashing on one
bad frame. All header fields are checked before ``data`` is touched, so a message
claiming to be 100000x100000 costs nothing to reject.

Data whose length differs from ``step * height`` is rejected either way: fewer bytes
is ``truncated_data``; more bytes is ``size_mismatch``, because ``sensor_msgs/Image``
defines the size as exactly ``step * rows`` and extra bytes mean the producer's
height/step disagree with its buffer (cv_bridge would silently ignore them).
``is_bigendian`` is ignored: it has no meaning for the 8-bit encodings accepted here.
"""

from __future__ import annotations

import functools
import logging
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import cv2
import numpy as np

from pose_perception.image_header import HeaderUnreadable, header_size

log = logging.getLogger(__name__)

SUPPORTED_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")

# Every ``ImageRejected.reason``; lets a node pre-create one counter per reason.
REJECT_REASONS = (
    "bad_field",  # a field is missing or has the wrong type (e.g. a float height)
    "unknown_encoding",
    "zero_size",
    "too_large",
    "bad_step",
    "bad_data",  # data is not a byte buffer (bytes, array.array('B'), numpy uint8)
    "truncated_data",
    "size_mismatch",
    "empty_data",
    "unsupported_format",
    "undecodable",
    "cv_bridge_error",
)

_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
_TO_BGR = {
    "rgb8": cv2.COLOR_RGB2BGR,
    "rgba8": cv2.COLOR_RGBA2BGR,
    "bgra8": cv2.COLOR_BGRA2BGR,
    "mono8": cv2.COLOR_GRAY2BGR,
}

_MsgT = TypeVar("_MsgT")


class ImageRejected(ValueError):
    """A message that cannot be turned into an image.

    ``reason`` is a short stable key for counting (one of :data:`REJECT_REASONS`);
    ``str()`` is a human message naming the offending values.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        # The default pickling would call ImageRejected(message) and fail on the missing argument.
        return (type(self), (self.reason, str(self)))


@dataclass(frozen=True)
class _Layout:
    """The validated geometry of an Image message (everything but its data)."""

    encoding: str
    height: int
    width: int
    channels: int  # bytes per pixel (uint8 channels; 2 or 4 for depth)
    step: int


# --------------------------------------------------------------------------- validation


def _short(value: Any) -> str:
    """repr() cut to a length fit for a log line (fuzzed fields can be huge)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_max_pixels(max_pixels: int) -> int:
    """max_pixels is configuration, not message content: a bad one is a plain ValueError."""
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)) or max_pixels <= 0:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    return int(max_pixels)


def _field(msg: Any, name: str) -> Any:
    """msg.<name>, or ImageRejected when the duck-typed message lacks it."""
    try:
        return getattr(msg, name)
    except AttributeError:
        raise ImageRejected("bad_field", f"message has no {name!r} field") from None


def _int_field(msg: Any, name: str) -> int:
    """An integer field; floats, strings and bools are rejected rather than coerced."""
    value = _field(msg, name)
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise ImageRejected("bad_field", f"{name} must be an integer, got {_short(value)}")


def _check_pixels(height: int, width: int, max_pixels: int, what: str) -> None:
    """Reject images with more than max_pixels pixels (protects memory and latency)."""
    if height * width > max_pixels:
        raise ImageRejected(
            "too_large",
            f"{what} is {width}x{height} = {height * width} pixels, more than max_pixels={max_pixels}",
        )


def _read_layout(
    msg: Any, max_pixels: int, bytes_per_pixel: Mapping[str, int] = _CHANNELS, what: str = "image"
) -> _Layout:
    """Validate encoding, size and step without touching ``data`` (colour images by
    default; depth images pass their own encodings)."""
    max_pixels = _check_max_pixels(max_pixels)
    encoding = _field(msg, "encoding")
    if not isinstance(encoding, str) or encoding not in bytes_per_pixel:
        raise ImageRejected(
            "unknown_encoding",
            f"{what} encoding {_short(encoding)} is not one of {', '.join(bytes_per_pixel)}",
        )
    height = _int_field(msg, "height")
    width = _int_field(msg, "width")
    if height <= 0 or width <= 0:
        raise ImageRejected("zero_size", f"{what} size {width}x{height} (width x height) is empty")
    _check_pixels(height, width, max_pixels, what)
    pixel_bytes = bytes_per_pixel[encoding]
    step = _int_field(msg, "step")
    if step < width * pixel_bytes:
        raise ImageRejected(
            "bad_step",
            f"step {step} is less than width*bytes per pixel = {width}*{pixel_bytes} = "
            f"{width * pixel_bytes} for {encoding}",
        )
    return _Layout(encoding, height, width, pixel_bytes, step)


def _as_uint8(data: Any) -> np.ndarray:
    """A flat uint8 view of ``data`` (no copy for bytes, array.array('B') or numpy uint8)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ImageRejected("bad_data", f"numpy data must be uint8, got {data.dtype}")
        return data.reshape(-1)
    typecode = getattr(data, "typecode", "B")  # array.array of another item type
    if typecode != "B":
        raise ImageRejected("bad_data", f"array.array data must have typecode 'B', got {typecode!r}")
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError, BufferError) as exc:
        raise ImageRejected(
            "bad_data",
            f"data must be a contiguous byte buffer (bytes, array.array('B'), numpy uint8), "
            f"got {type(data).__name__}",
        ) from exc


def _message_bytes(msg: Any, layout: _Layout) -> np.ndarray:
    """The message's data as flat uint8, checked to be exactly step*height bytes."""
    flat = _as_uint8(_field(msg, "data"))
    expected = layout.step * layout.height
    if flat.size != expected:
        reason = "truncated_data" if flat.size < expected else "size_mismatch"
        raise ImageRejected(
            reason,
            f"data has {flat.size} bytes, expected step*height = {layout.step}*{layout.height} = {expected}",
        )
    return flat


# --------------------------------------------------------------------------- Image -> BGR


def _pixel_view(flat: np.ndarray, layout: _Layout) -> np.ndarray:
    """HxWxC view of the data; row padding (step > width*channels) becomes a stride, not a copy."""
    rows = flat.reshape(layout.height, layout.step)
    return rows[:, : layout.width * layout.channels].reshape(layout.height, layout.width, layout.channels)


def _numpy_to_bgr(flat: np.ndarray, layout: _Layout) -> np.ndarray:
    """bgr8 is returned as a view of the message data; other encodings cost one cvtColor copy."""
    pixels = _pixel_view(flat, layout)
    if layout.encoding == "bgr8":
        return pixels
    if layout.channels == 1:
        pixels = pixels[:, :, 0]
    return cv2.cvtColor(pixels, _TO_BGR[layout.encoding])


@functools.lru_cache(maxsize=1)
def _cv_bridge() -> Any | None:
    """A shared CvBridge, or None where cv_bridge is not installed (imported on first use)."""
    try:
        from cv_bridge import CvBridge
    except ImportError as exc:
        log.debug("cv_bridge not importable, using the numpy conversion: %s", exc)
        return None
    return CvBridge()


def _select_bridge(use_cv_bridge: bool | None) -> Any | None:
    """None: cv_bridge if importable; True: cv_bridge or ImportError; False: never."""
    if use_cv_bridge is False:
        return None
    bridge = _cv_bridge()
    if bridge is None and use_cv_bridge:
        raise ImportError("use_cv_bridge=True but cv_bridge cannot be imported")
    return bridge


def _bridge_to_bgr(bridge: Any, msg: Any, layout: _Layout) -> np.ndarray:
    """cv_bridge conversion of an already validated message; its failures become ImageRejected."""
    try:
        image = bridge.imgmsg_to_cv2(msg, desired_encoding="bgr8")
    except Exception as exc:  # CvBridgeError, TypeError, cv2.error: whatever it raises is a rejection
        raise ImageRejected("cv_bridge_error", f"cv_bridge failed on {layout}: {exc}") from exc
    shape = (layout.height, layout.width, 3)
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != shape:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ImageRejected("cv_bridge_error", f"cv_bridge returned {got}, expected uint8 {shape}")
    return image


def image_to_bgr(msg: Any, max_pixels: int, use_cv_bridge: bool | None = None) -> np.ndarray:
    """HxWx3 uint8 BGR image from a ``sensor_msgs/Image``-like message.

    Our validation always runs first. Then, with ``use_cv_bridge`` None (cv_bridge if
    importable) or True, cv_bridge converts (always a copy); otherwise numpy does: bgr8
    comes back as a zero-copy view of ``msg.data`` (strided when rows are padded, read-only
    when the data is bytes), other encodings are converted with one cv2.cvtColor copy.
    cv_bridge is skipped for steps that are not a multiple of the pixel size, which its
    Python reshape cannot represent.

    Raises ImageRejected for any malformed message, ValueError for a bad ``max_pixels`` and
    ImportError for ``use_cv_bridge=True`` without cv_bridge.
    """
    layout = _read_layout(msg, max_pixels)
    flat = _message_bytes(msg, layout)
    bridge = _select_bridge(use_cv_bridge)
    if bridge is not None and layout.step % layout.channels == 0:
        return _bridge_to_bgr(bridge, msg, layout)
    return _numpy_to_bgr(flat, layout)


# --------------------------------------------------------------------------- CompressedImage -> BGR


def _header_size(flat: np.ndarray) -> tuple[int, int]:
    """Image size from the JPEG/PNG header; rejects data that is neither format, or whose
    size is not in its header (decoding it blindly could allocate gigabytes)."""
    buf = flat.data  # memoryview of the contiguous 1-D uint8 array, no copy
    try:
        size = header_size(buf)
    except HeaderUnreadable as err:
        raise ImageRejected("undecodable", str(err)) from None
    if size is None:
        raise ImageRejected("undecodable", f"data is neither JPEG nor PNG (starts with {bytes(buf[:8])!r})")
    return size


def _decode(flat: np.ndarray) -> np.ndarray:
    """cv2.imdecode to 3-channel BGR; a failed decode is a rejection, never None or cv2.error."""
    try:
        image = cv2.imdecode(flat, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageRejected("undecodable", f"cv2.imdecode failed on {flat.size} bytes: {exc}") from exc
    if image is None:
        raise ImageRejected("undecodable", f"cv2.imdecode could not decode {flat.size} bytes")
    return image


def compressed_to_bgr(msg: Any, max_pixels: int) -> np.ndarray:
    """HxWx3 uint8 BGR image from a ``sensor_msgs/CompressedImage`` holding JPEG or PNG.

    The size in the JPEG/PNG header is checked against ``max_pixels`` before decoding (so a
    small file claiming a huge image is rejected cheaply) and the decoded size again after.
    Only JPEG and PNG are accepted (sniffed from the data, not trusted from ``format``);
    ``compressedDepth`` payloads are rejected as they are not colour images.
    """
    max_pixels = _check_max_pixels(max_pixels)
    fmt = _field(msg, "format")
    if not isinstance(fmt, str):
        raise ImageRejected("bad_field", f"format must be a string, got {_short(fmt)}")
    if "compresseddepth" in fmt.lower():
        raise ImageRejected("unsupported_format", f"format {_short(fmt)} is a depth image, not colour")
    flat = _as_uint8(_field(msg, "data"))
    if flat.size == 0:
        raise ImageRejected("empty_data", f"compressed image (format {_short(fmt)}) has no data")
    size = _header_size(flat)
    _check_pixels(size[0], size[1], max_pixels, "compressed image header")
    image = _decode(flat)
    _check_pixels(image.shape[0], image.shape[1], max_pixels, "decoded image")
    return image


# --------------------------------------------------------------------------- depth Image -> metres

# numpy dtype (little-endian) of the depth encodings of REP 118, and their bytes per pixel.
_DEPTH_DTYPES: dict[str, np.dtype] = {
    "16UC1": np.dtype("<u2"),
    "mono16": np.dtype("<u2"),
    "32FC1": np.dtype("<f4"),
}
_DEPTH_BYTES = {encoding: dtype.itemsize for encoding, dtype in _DEPTH_DTYPES.items()}


def depth_image_to_metres(msg: Any, max_pixels: int) -> np.ndarray:
    """HxW float32 metres (NaN = no measurement) from a depth ``sensor_msgs/Image``.

    Encodings: ``16UC1``/``mono16`` (uint16 millimetres, 0 = none) and ``32FC1`` (float32
    metres); ``is_bigendian`` is honoured. Malformed messages raise :class:`ImageRejected`
    with the same reasons as colour images (``unknown_encoding`` for any other encoding,
    e.g. ``rgb8`` or ``8UC1``); the caller prefixes them (``depth_...``) for its counters.
    """
    from pose_perception.depth import depth_to_metres

    layout = _read_layout(msg, max_pixels, _DEPTH_BYTES, "depth image")
    height, width, itemsize, step = layout.height, layout.width, layout.channels, layout.step
    dtype = _DEPTH_DTYPES[layout.encoding]
    flat = _message_bytes(msg, layout)
    big_endian = bool(getattr(msg, "is_bigendian", 0))
    pixels = np.ndarray(
        (height, width),
        dtype.newbyteorder(">") if big_endian else dtype,
        buffer=flat,
        strides=(step, itemsize),
    )  # a strided view of the message's bytes; depth_to_metres makes the one copy
    return depth_to_metres(pixels, layout.encoding)


# --------------------------------------------------------------------------- BGR -> Image


def _check_bgr(image: np.ndarray) -> None:
    """Our own output must be HxWx3 uint8; anything else is a programming error."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 numpy array, got {getattr(image, 'dtype', type(image))}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected a non-empty HxWx3 BGR image, got shape {image.shape}")


def _message_data(image: np.ndarray, msg_type: Any) -> Any:
    """The data field in the form ``msg_type`` wants, always a copy the message owns."""
    if hasattr(msg_type, "__msgtype__"):  # rosbags dataclass: its serializer needs numpy uint8
        return np.array(image, dtype=np.uint8, order="C", copy=True).reshape(-1)
    # rclpy turns bytes into array.array('B') with a C-level copy; a list would be per element.
    return image.tobytes()


def bgr_to_image_msg(image: np.ndarray, header: Any, msg_type: Callable[..., _MsgT]) -> _MsgT:
    """A bgr8 ``msg_type`` (rclpy or rosbags ``sensor_msgs/Image``) holding a copy of ``image``.

    All fields are passed as keyword arguments, which both message flavours accept;
    non-contiguous images (e.g. crops) are fine.
    """
    _check_bgr(image)
    height, width = int(image.shape[0]), int(image.shape[1])
    return msg_type(
        header=header,
        height=height,
        width=width,
        encoding="bgr8",
        is_bigendian=0,
        step=width * 3,
        data=_message_data(image, msg_type),
    )
