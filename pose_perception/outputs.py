"""The files a run writes: the keypoints.jsonl record (one JSON line per frame, a product
interface other front ends can write too) and the annotated images or video."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pose_perception.camera import PinholeCamera
from pose_perception.people import Person
from pose_perception.sources import Frame, FrameSource


def frame_record(
    frame: Frame,
    people: Sequence[Person],
    keypoint_names: Sequence[str] | None,
    camera: PinholeCamera | None = None,
) -> dict[str, Any]:
    """One keypoints.jsonl line: frame facts and, per person, id, box, score, [x, y, score]s;
    with 3D also the camera that placed it and, per person, 3D joints and their validity."""
    height, width = frame.image.shape[:2]
    record: dict[str, Any] = {
        "frame": frame.index,
        "name": frame.name,
        "stamp": round(frame.stamp, 6),
        "width": width,
        "height": height,
    }
    if keypoint_names is not None:
        record["keypoint_names"] = list(keypoint_names)
    if camera is not None:
        record["camera"] = {k: round(float(getattr(camera, k)), 4) for k in ("fx", "fy", "cx", "cy")}
    record["people"] = [_person(p) for p in people]
    return record


def _person(person: Person) -> dict[str, Any]:
    record: dict[str, Any] = {
        "track_id": person.track_id,
        "bbox": [round(float(v), 2) for v in person.bbox[:4]],
        "score": round(person.score, 4),
        "keypoints": [
            [round(float(x), 2), round(float(y), 2), round(float(s), 4)]
            for (x, y), s in zip(person.keypoints, person.keypoint_scores, strict=True)
        ],
    }
    if person.joints_3d is not None:
        # Like Keypoint.position / has_position on /poses: JSON has no NaN, so a joint
        # without 3D is [0, 0, 0] with valid false.
        points = np.asarray(person.joints_3d.positions, np.float64).reshape(-1, 3)
        valid = person.joints_3d.has_position()
        record["keypoints_3d"] = [
            [round(float(v), 4) for v in xyz] if ok else [0.0, 0.0, 0.0]
            for xyz, ok in zip(points, valid, strict=True)
        ]
        record["keypoints_3d_valid"] = [bool(v) for v in valid]
    return record


class FrameWriter:
    """Where annotated frames go; ``close`` finalises the output."""

    def write(self, frame: Frame, image: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to finalise for per-frame files."""


class ImageWriter(FrameWriter):
    """One file per frame: the input's file name, or ``frame_000123.jpg`` for camera frames."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, frame: Frame, image: np.ndarray) -> None:
        import cv2

        name = frame.name if Path(frame.name).suffix else f"{frame.name}.jpg"
        path = self.directory / name
        if not cv2.imwrite(str(path), image):
            raise OSError(f"cannot write annotated image {path}")


class VideoWriter(FrameWriter):
    """An mp4 (mp4v) at the source's frame rate, opened on the first frame to learn its size."""

    def __init__(self, path: Path, fps: float | None) -> None:
        self.path = path
        self.fps = fps or 30.0
        self._writer: Any = None
        self._size: tuple[int, int] = (0, 0)

    def write(self, frame: Frame, image: np.ndarray) -> None:
        import cv2

        if self._writer is None:
            self._size = (image.shape[1], image.shape[0])
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self._size)
            if not self._writer.isOpened():
                raise OSError(f"cannot open video writer for {self.path}")
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size)
        self._writer.write(image)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


def frame_writer_for(source: FrameSource, output_dir: Path) -> FrameWriter:
    """A video becomes ``<stem>_poses.mp4``; images and camera frames become one file each."""
    if source.kind == "video":
        return VideoWriter(output_dir / f"{source.stem}_poses.mp4", source.fps)
    return ImageWriter(output_dir)
