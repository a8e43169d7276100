"""RGB-D input of ``rtmpose_node`` and bag mode (``three_d.mode: depth``, ``fused``), ROS-free.

The colour image, a depth image and the colour camera's CameraInfo (plus the depth
camera's CameraInfo when the depth is not registered to the colour camera) are grouped by
stamp (:class:`StampSync`, the approximate-time policy of :mod:`pose_perception.sync`);
:func:`depth_frame_from_messages` turns a matched set into the plain numpy the core takes
(a :class:`~pose_perception.three_d.DepthFrame` and the colour
:class:`~pose_perception.camera.PinholeCamera`); ``PosePipeline.process`` does the 3D.

Messages are duck-typed like in :mod:`pose_perception.ros.convert`. Whatever makes a
frame's depth unusable (encoding, size, CameraInfo) raises :class:`DepthFrameRejected`
with a stable ``reason`` (``depth_<image reason>``, ``depth_size_mismatch``,
``camera_info_invalid``, ``camera_info_size_mismatch``, ``camera_info_distortion``; for
an unregistered depth also ``depth_camera_info_invalid``, ``depth_camera_info_distortion``
and ``depth_camera_info_size_mismatch``); the node counts it, logs it and still publishes
that frame's 2D poses. A depth the 3D stage itself cannot use comes back as
``PosePipeline.last_depth_rejection`` (reason ``depth_rejected``) and is handled alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from pose_perception.camera import PinholeCamera
from pose_perception.config import Config
from pose_perception.ros.convert import ImageRejected, depth_image_to_metres
from pose_perception.ros.messages import time_to_ns
from pose_perception.sync import ApproximateTimeSync, seconds_to_ns
from pose_perception.three_d import DepthFrame

# CameraInfo distortion models whose ``d`` OpenCV's undistortPoints understands.
PINHOLE_DISTORTION_MODELS = ("plumb_bob", "rational_polynomial")

# A stamp this much older than the newest of its input is a clock jump (a looping bag, a
# restarted sensor), not a late message: the synchroniser starts afresh.
JUMP_BACK_S = 1.0


class DepthFrameRejected(ImageRejected):
    """This frame's depth (or CameraInfo) cannot be used; its 2D poses still can."""


class StampSync:
    """:class:`~pose_perception.sync.ApproximateTimeSync` over stamped messages
    (``msg.header.stamp``); ``callback(*msgs)`` gets one message per input, in input order.

    A message more than :data:`JUMP_BACK_S` older than the newest one of its input resets
    the synchroniser (counted in ``resets``) instead of being dropped as out of order
    forever after, so a looping bag keeps working.
    """

    def __init__(self, num_inputs: int, queue_size: int, slop_s: float, callback: Callable[..., Any]) -> None:
        self.sync = ApproximateTimeSync(num_inputs, queue_size, slop_s, callback)
        self._newest: list[int | None] = [None] * num_inputs
        self._jump_ns = seconds_to_ns(JUMP_BACK_S)
        self.resets = 0

    def add(self, input_index: int, msg: Any) -> None:
        stamp = time_to_ns(msg.header.stamp)
        newest = self._newest[input_index]
        if newest is not None and stamp < newest - self._jump_ns:
            self.sync.reset()
            self._newest = [None] * len(self._newest)
            self.resets += 1
        if newest is None or stamp > newest:
            self._newest[input_index] = stamp
        self.sync.add(input_index, stamp, msg)

    def flush(self) -> None:
        """End of input: decide the sets still waiting (:meth:`ApproximateTimeSync.flush`)."""
        self.sync.flush()

    def counters(self) -> dict[str, str]:
        """Diagnostic key/values: sets matched, messages dropped per cause, queue lengths."""
        s = self.sync
        return {
            "sync_sets": str(s.emitted),
            "sync_dropped_out_of_order": str(s.dropped_out_of_order),
            "sync_dropped_unmatched": str(s.dropped_unmatched),
            "sync_dropped_queue_full": str(s.dropped_queue_full),
            "sync_resets": str(self.resets),
            "sync_waiting": ",".join(str(n) for n in s.queue_lengths()),
        }


def camera_from_info(info: Any, which: str = "") -> PinholeCamera:
    """Intrinsics (``k``, ``width``, ``height``) and distortion (``d``; () when zero) of a
    ``sensor_msgs/CameraInfo``. Nonzero ``d`` of a model other than
    :data:`PINHOLE_DISTORTION_MODELS` (e.g. ``equidistant``) is rejected: the keypoints
    could not be undistorted, and wrong 3D is worse than none. ``which`` (``"depth"``)
    prefixes the reasons and names the CameraInfo in the messages."""
    prefix, name = (f"{which}_", f"{which} CameraInfo") if which else ("", "CameraInfo")
    try:
        camera = PinholeCamera.from_k(list(info.k), int(info.width), int(info.height))
        d = np.asarray(list(info.d), np.float64).reshape(-1)
    except (AttributeError, TypeError, ValueError) as err:
        raise DepthFrameRejected(f"{prefix}camera_info_invalid", f"unusable {name}: {err}") from None
    if camera.width <= 0 or camera.height <= 0:
        raise DepthFrameRejected(
            f"{prefix}camera_info_invalid", f"{name} size {camera.width}x{camera.height} is empty"
        )
    if not np.isfinite(d).all():
        raise DepthFrameRejected(f"{prefix}camera_info_invalid", f"{name} d has non-finite values: {d}")
    if not np.any(d != 0):
        return camera
    model = str(getattr(info, "distortion_model", ""))
    if model not in PINHOLE_DISTORTION_MODELS:
        raise DepthFrameRejected(
            f"{prefix}camera_info_distortion",
            f"{name} distortion_model {model!r} with nonzero d is not supported "
            f"(use {' or '.join(PINHOLE_DISTORTION_MODELS)}, or rectified images with zero d)",
        )
    return dataclasses.replace(camera, distortion=tuple(float(v) for v in d))


def depth_frame_from_messages(
    image_size: tuple[int, int],
    depth_msg: Any,
    info_msg: Any,
    config: Config,
    depth_info_msg: Any = None,
) -> tuple[DepthFrame, PinholeCamera]:
    """The depth (metres) of an image of ``image_size`` (width, height) and the image's
    camera, from a depth image and the image's CameraInfo. Without ``depth_info_msg`` the
    depth must be registered to the image; with it (the depth camera's CameraInfo) the
    frame carries that camera and the extrinsic of ``config.depth``, to be reprojected into
    the colour camera; ``config.input.max_image_pixels`` bounds the depth image.
    :class:`DepthFrameRejected` when unusable."""
    width, height = image_size
    camera = camera_from_info(info_msg)
    if (camera.width, camera.height) != (width, height):
        raise DepthFrameRejected(
            "camera_info_size_mismatch",
            f"CameraInfo is for {camera.width}x{camera.height} but the image is {width}x{height}",
        )
    try:
        depth_m = depth_image_to_metres(depth_msg, config.input.max_image_pixels)
    except ImageRejected as err:
        raise DepthFrameRejected(f"depth_{err.reason}", f"depth image: {err}") from None
    if depth_info_msg is not None:
        depth_camera = camera_from_info(depth_info_msg, "depth")
        if (depth_camera.width, depth_camera.height) != (depth_m.shape[1], depth_m.shape[0]):
            raise DepthFrameRejected(
                "depth_camera_info_size_mismatch",
                f"depth CameraInfo is for {depth_camera.width}x{depth_camera.height} but the "
                f"depth image is {depth_m.shape[1]}x{depth_m.shape[0]}",
            )
        return DepthFrame(depth_m, camera=depth_camera, depth_to_color=config.depth.depth_to_color()), camera
    if depth_m.shape != (height, width):
        raise DepthFrameRejected(
            "depth_size_mismatch",
            f"depth image is {depth_m.shape[1]}x{depth_m.shape[0]} but the colour image is "
            f"{width}x{height}: depth must be registered to the colour camera (e.g. a "
            "RealSense's aligned_depth_to_color), or set input.depth_camera_info_topic to the "
            "depth camera's CameraInfo (and depth.extrinsic_*) to reproject it",
        )
    return DepthFrame(depth_m), camera


def stamp_skew_ms(a: Any, b: Any) -> float:
    """Milliseconds from message ``a``'s header stamp to ``b``'s (diagnostics)."""
    return (time_to_ns(b.header.stamp) - time_to_ns(a.header.stamp)) * 1e-6


def frame_id_mismatch(image: Any, depth: Any, depth_info: Any = None) -> str | None:
    """A warning when the frame ids of a matched set do not fit together (a registered depth
    in another frame than the image, a depth CameraInfo of another camera); else None."""
    depth_frame = depth.header.frame_id
    if depth_info is None and depth_frame != image.header.frame_id:
        return (
            f"depth frame_id {depth_frame!r} differs from the image's "
            f"{image.header.frame_id!r}: the depth must be registered to the colour camera "
            "(or set input.depth_camera_info_topic and depth.extrinsic_* to reproject it)"
        )
    if depth_info is not None and depth_info.header.frame_id != depth_frame:
        return (
            f"depth CameraInfo frame_id {depth_info.header.frame_id!r} differs from the "
            f"depth image's {depth_frame!r}: is input.depth_camera_info_topic the depth camera's?"
        )
    return None
