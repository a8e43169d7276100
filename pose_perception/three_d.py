"""The 3D stage of :class:`~pose_perception.pipeline.PosePipeline`: depth, lifter, fusion.

``three_d.mode`` decides, once, at construction: ``off`` (2D only), ``depth`` (joints
measured in a depth image, :mod:`pose_perception.depth`), ``lifter`` (the monocular
temporal lifter, :mod:`pose_perception.lifting`, opened once from ``three_d``) or
``fused`` (both, :func:`pose_perception.fusion.fuse`). Depth measures every keypoint of
any schema; the lifter lifts the COCO-17 body subset (whole-body, body+hands people too)
and leaves the other joints without 3D (fused: depth where measured, the lifter for the
body joints depth missed). Per frame the caller hands over
plain numpy: a :class:`DepthFrame` and the colour camera. Every mode places with the
camera markers and TF use (:meth:`PinholeCamera.for_image`), recorded in ``camera``.

A frame whose depth cannot be used still gives its people (and, in ``fused`` mode, the
lifter's 3D); ``last_rejection`` tells the caller why, so it can count and log it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pose_perception.camera import PinholeCamera
from pose_perception.config import DEPTH_MODES, LIFTER_MODES, Config
from pose_perception.depth import (
    DepthRejected,
    depth_in_metres,
    measure_with_depth,
    measure_with_unregistered_depth,
)
from pose_perception.fusion import fuse
from pose_perception.lifting.temporal import TemporalLifter, lifter_body_indices, open_lifter_for
from pose_perception.people import Joints3D, Person
from pose_perception.skeletons import Skeleton

DEPTH_REJECTED = "depth_rejected"  # reason of a depth the 3D stage itself cannot use


class LifterUnavailable(ValueError):
    """``three_d.mode`` lifter or fused, but the lifter cannot be opened (the message says why)."""


@dataclass(frozen=True)
class DepthFrame:
    """One depth image for a colour frame, as plain numpy.

    ``depth`` (H, W) is metres (``scale`` 1.0, e.g. 32FC1) or raw units that ``scale``
    turns into metres (16UC1 millimetres: 0.001); 0, NaN, inf or negative means no
    measurement. Registered to the colour image (``camera`` None), it has the colour
    image's size. Otherwise ``camera`` is the depth camera (intrinsics and distortion) and
    ``depth_to_color`` its pose in the colour optical frame: (R (3,3), t (3,)) with
    ``p_color = R @ p_depth + t`` (``DepthConfig.depth_to_color``).
    """

    depth: np.ndarray
    scale: float = 1.0
    camera: PinholeCamera | None = None
    depth_to_color: tuple[np.ndarray, np.ndarray] = (np.eye(3), np.zeros(3))

    def metres(self) -> np.ndarray:
        """Float32 metres, NaN where there is no measurement."""
        return depth_in_metres(self.depth, self.scale)


@dataclass(frozen=True)
class DepthRejection:
    """Why a frame's depth gave no 3D: a stable ``reason`` (counters) and a message (logs)."""

    reason: str
    message: str


class ThreeDStage:
    """People (2D, smoothed) + optional depth + camera → the same people with ``joints_3d``.

    ``lifter``: given for tests or a shared model; by default opened from ``config.three_d``
    in modes lifter and fused (:class:`LifterUnavailable` when it cannot be). Not
    thread-safe: the lifter keeps per-track history.
    """

    def __init__(self, config: Config, skeleton: Skeleton, lifter: TemporalLifter | None = None) -> None:
        self.config = config
        self.mode = config.three_d.mode
        self.keypoint_names = tuple(skeleton.keypoint_names)
        self.body: np.ndarray | None = None  # the COCO-17 subset the lifter reads
        if self.mode in LIFTER_MODES:
            try:
                self.body = lifter_body_indices(skeleton, config)
                lifter = lifter if lifter is not None else open_lifter_for(skeleton, config)
            except (OSError, ValueError) as err:
                raise LifterUnavailable(str(err)) from err
        self.lifter = lifter if self.mode in LIFTER_MODES else None
        self.camera: PinholeCamera | None = None  # what placed the last frame's 3D
        self.last_rejection: DepthRejection | None = None
        self.timings: dict[str, float] = {}

    def describe_lifter(self) -> str | None:
        """The lifter in use, for a startup log line; None without one."""
        if self.lifter is None:
            return None
        path = getattr(self.lifter.model, "path", self.config.three_d.lifter_model)
        trained_on = self.lifter.info.extra.get("train_data", "unknown data")
        return (
            f"lifter {path} (receptive field {self.lifter.receptive_field} frames, trained on "
            f"{trained_on}), body height {self.config.three_d.body_height_m} m"
        )

    def reset(self) -> None:
        """Forget every track's 2D history (the pipeline starts afresh)."""
        if self.lifter is not None:
            self.lifter.reset()

    def process(
        self,
        people: list[Person],
        image_size: tuple[int, int],
        stamp: float,
        depth: DepthFrame | None,
        camera: PinholeCamera | None,
    ) -> list[Person]:
        """``people`` of an image of ``image_size`` (width, height) with their 3D joints."""
        width, height = image_size
        three_d = self.config.three_d
        self.camera = PinholeCamera.for_image(camera, width, height, self.config.output.assumed_hfov_deg)
        self.last_rejection = None
        self.timings = {}
        measured: Sequence[Joints3D | None] = [None] * len(people)
        if self.mode in DEPTH_MODES and depth is not None:
            started = time.perf_counter()
            measured = self._measure(people, depth, camera, image_size)
            self.timings["depth_ms"] = (time.perf_counter() - started) * 1e3
        lifted: Sequence[Joints3D | None] = [None] * len(people)
        if self.lifter is not None:
            started = time.perf_counter()
            lifted, _ = self.lifter.lift_people(
                people, stamp, self.camera, three_d.body_height_m, body=self.body
            )
            self.timings["lifter_ms"] = (time.perf_counter() - started) * 1e3
        return [
            dataclasses.replace(person, joints_3d=fuse(m, lifted_joints))
            for person, m, lifted_joints in zip(people, measured, lifted, strict=True)
        ]

    def _measure(
        self,
        people: list[Person],
        depth: DepthFrame,
        camera: PinholeCamera | None,
        image_size: tuple[int, int],
    ) -> Sequence[Joints3D | None]:
        """Each person's depth-measured joints; all None (and ``last_rejection``) when unusable."""
        try:
            if camera is None or (camera.width, camera.height) != image_size:
                width, height = image_size
                raise DepthRejected(f"depth needs the colour camera of this {width}x{height} image")
            depth_m = depth.metres()
            if depth.camera is None:
                return measure_with_depth(people, depth_m, camera, self.config.depth, self.keypoint_names)
            joints, _ = measure_with_unregistered_depth(
                people, depth_m, depth.camera, camera, self.config.depth, self.keypoint_names,
                depth.depth_to_color,
            )  # fmt: skip
            return joints
        except DepthRejected as err:
            self.last_rejection = DepthRejection(DEPTH_REJECTED, str(err))
            return [None] * len(people)
