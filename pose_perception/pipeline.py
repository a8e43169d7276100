"""``PosePipeline``: frame (+ stamp) in, people out. The one object the ROS node, the
CLI and the bag mode share, so they cannot drift apart.

Today every frame is one person box (the full image); person detection, tracking and
smoothing plug in here (see docs/architecture.md).
"""

from __future__ import annotations

import time

import numpy as np

from pose_perception.config import Config
from pose_perception.estimator import PoseEstimator, validate_image
from pose_perception.people import Person, people_from_estimates
from pose_perception.skeletons import Skeleton


class PosePipeline:
    def __init__(self, config: Config, estimator: PoseEstimator | None = None) -> None:
        config.validate()
        self.config = config
        self.estimator = estimator if estimator is not None else PoseEstimator.from_config(config.estimator)
        # Milliseconds per stage of the last process() call, for diagnostics and benchmarks.
        self.timings: dict[str, float] = {}

    @property
    def skeleton(self) -> Skeleton:
        return self.estimator.skeleton

    def process(self, image_bgr: np.ndarray, stamp: float) -> list[Person]:
        """People in ``image_bgr`` (HxWx3 uint8 BGR) taken at ``stamp`` (seconds)."""
        image_bgr = validate_image(image_bgr)
        started = time.perf_counter()
        boxes = full_frame_box(image_bgr.shape)
        keypoints, scores = self.estimator.estimate(image_bgr, boxes)
        people = people_from_estimates(
            boxes, keypoints, scores, min_score=self.config.output.min_person_score
        )
        self.timings = {"pose_ms": (time.perf_counter() - started) * 1e3}
        return people


def full_frame_box(shape: tuple[int, ...]) -> np.ndarray:
    """(1,4) box covering the whole image."""
    height, width = shape[:2]
    return np.array([[0.0, 0.0, float(width), float(height)]], np.float32)
