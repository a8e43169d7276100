"""Frame sources for the CLI: an image, a folder of images, a video file or a camera.

``open_source(spec)`` decides from the spec alone and fails early (missing path,
undecodable image or video, camera that does not open, an image or video larger than
``max_pixels``) so the CLI can report a clear error before any model is loaded. Image sizes
are read from the file header before any pixel is decoded; in a folder, an image too large
is skipped with a warning, as an unreadable one is.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pose_perception.image_header import HeaderUnreadable, file_image_size, too_many_pixels

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Frame:
    """One BGR uint8 image; ``stamp`` is seconds from the start of the source."""

    index: int
    name: str
    image: np.ndarray
    stamp: float


class FrameSource:
    """Iterable of :class:`Frame`; ``kind`` is ``image``, ``folder``, ``video`` or ``camera``."""

    kind: str = ""
    is_video: bool = False  # a timed stream (video file or camera), not independent images
    fps: float | None = None
    missing_frames = 0  # frames announced (frame_count) but not delivered by the last full reading

    def __init__(self, spec: str) -> None:
        self.spec = spec

    @property
    def frame_count(self) -> int | None:
        """Number of frames if known up front (for progress bars), else None."""
        return None

    @property
    def stem(self) -> str:
        """Short name for outputs derived from the source (e.g. ``<stem>_poses.mp4``)."""
        return Path(self.spec).stem or "source"

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release devices; file sources hold nothing open between iterations."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_source(spec: str, max_pixels: int | None = None) -> FrameSource:
    """An existing path (image, folder, video), else a camera index such as ``"0"``; frames of
    more than ``max_pixels`` pixels (``input.max_image_pixels``) are refused (None: no limit)."""
    path = Path(spec).expanduser()
    if path.exists():
        if path.is_dir():
            return ImageSource(spec, _folder_images(path, max_pixels), kind="folder", max_pixels=max_pixels)
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            return ImageSource(spec, [path], kind="image", max_pixels=max_pixels)
        return VideoSource(spec, path, max_pixels)
    if re.fullmatch(r"[0-9]+", spec.strip()):
        return CameraSource(int(spec), max_pixels)
    raise FileNotFoundError(f"source not found: {spec} (not a file, a folder nor a camera index)")


def _natural_key(path: Path) -> list[Any]:
    """Sort ``img2`` before ``img10``: frame dumps are not always zero-padded."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def _oversized(path: Path, max_pixels: int | None) -> str | None:
    """Why ``path`` is refused by its header (too large, or a PNG/JPEG hiding its size;
    nothing is decoded), or None."""
    if max_pixels is None:
        return None
    try:
        size = file_image_size(path)
    except HeaderUnreadable as err:
        return str(err)
    return None if size is None else too_many_pixels(*size, max_pixels)


def _capture_oversized(capture: cv2.VideoCapture, max_pixels: int | None) -> str | None:
    """Why an opened video or camera's frames are too large (its announced size), or None."""
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    return None if max_pixels is None else too_many_pixels(height, width, max_pixels)


def _folder_images(folder: Path, max_pixels: int | None = None) -> list[Path]:
    candidates = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
        key=_natural_key,
    )
    if not candidates:
        raise ValueError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    readable = []
    for p in candidates:
        if not cv2.haveImageReader(str(p)):
            log.warning("skipping %s: not a readable image", p)
        elif reason := _oversized(p, max_pixels):
            log.warning("skipping %s: %s", p, reason)
        else:
            readable.append(p)
    if not readable:
        count = len(candidates)
        raise ValueError(f"{folder}: none of the {count} image files could be read (see the warnings)")
    return readable


class ImageSource(FrameSource):
    """Still images; stamps are the frame index (1 s apart) so they stay monotonic."""

    def __init__(self, spec: str, paths: list[Path], kind: str, max_pixels: int | None = None) -> None:
        super().__init__(spec)
        self.kind = kind
        self.paths = paths
        self.max_pixels = max_pixels
        if kind == "image" and not cv2.haveImageReader(str(paths[0])):
            raise ValueError(f"{paths[0]}: not a readable image")
        if kind == "image" and (reason := _oversized(paths[0], max_pixels)):
            raise ValueError(f"{paths[0]}: {reason}")

    @property
    def frame_count(self) -> int | None:
        return len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        for path in self.paths:
            image, problem = self._read(path)
            if image is None:
                if self.kind == "image":
                    raise ValueError(f"{path}: {problem}")
                log.warning("skipping %s: %s", path, problem)
                continue
            yield Frame(index, path.name, image, float(index))
            index += 1
        if index == 0:
            raise ValueError(f"{self.spec}: none of the images could be decoded")

    def _read(self, path: Path) -> tuple[np.ndarray | None, str]:
        """The decoded image, or None and why; the size check after decoding covers the formats
        whose header :mod:`pose_perception.image_header` does not read (TIFF, ...)."""
        try:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        except cv2.error:  # OpenCV refuses sizes over its own limit with an exception
            image = None
        if image is None:
            return None, "cannot decode image"
        reason = (
            None
            if self.max_pixels is None
            else too_many_pixels(image.shape[0], image.shape[1], self.max_pixels)
        )
        return (None, reason) if reason else (image, "")


def _frame_name(index: int) -> str:
    return f"frame_{index:06d}"


def _fps_of(capture: cv2.VideoCapture) -> float | None:
    fps = capture.get(cv2.CAP_PROP_FPS)
    return float(fps) if math.isfinite(fps) and 0 < fps < 1000 else None


class VideoSource(FrameSource):
    """A video file; each iteration re-opens it, so the source can be read more than once."""

    kind = "video"
    is_video = True

    def __init__(self, spec: str, path: Path, max_pixels: int | None = None) -> None:
        super().__init__(spec)
        self.path = path
        capture = self._open()
        try:
            if reason := _capture_oversized(capture, max_pixels):
                raise ValueError(f"{path}: frames of {reason}")
            ok, _ = capture.read()
            if not ok:
                raise ValueError(f"{path}: not an image or a decodable video")
            self.fps = _fps_of(capture)
            count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            self._count = count if count > 0 else None
        finally:
            capture.release()

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise ValueError(f"{self.path}: cannot open as a video (unknown format or codec)")
        return capture

    @property
    def frame_count(self) -> int | None:
        return self._count

    def __iter__(self) -> Iterator[Frame]:
        capture = self._open()
        previous = -1.0
        try:
            index = 0
            while True:
                ok, image = capture.read()
                if not ok:
                    self._check_complete(index)
                    return
                stamp = self._stamp(capture.get(cv2.CAP_PROP_POS_MSEC), index, previous)
                previous = stamp
                yield Frame(index, _frame_name(index), image, stamp)
                index += 1
        finally:
            capture.release()

    def _check_complete(self, frames_read: int) -> None:
        """A video that stops before the frame count in its header is damaged or truncated: say so,
        since what was read still ends the run normally."""
        self.missing_frames = max(0, (self._count or 0) - frames_read)
        if self.missing_frames:
            log.warning(
                "%s: the video ended after %d of the %d frames its header announces (damaged or "
                "truncated file); the remaining %d are not processed",
                self.path,
                frames_read,
                self._count,
                self.missing_frames,
            )

    def _stamp(self, msec: float, index: int, previous: float) -> float:
        """The container's timestamp when it is sane (increasing), else index / fps."""
        seconds = msec / 1000.0
        if math.isfinite(seconds) and seconds > previous and (seconds > 0 or index == 0):
            return seconds
        return index / self.fps if self.fps else float(index)


class CameraSource(FrameSource):
    """A live camera by index; opened at construction so a missing camera fails early."""

    kind = "camera"
    is_video = True

    def __init__(self, index: int, max_pixels: int | None = None) -> None:
        super().__init__(str(index))
        self.index = index
        self.capture = cv2.VideoCapture(index)
        if not self.capture.isOpened():
            self.capture.release()
            raise ValueError(f"cannot open camera {index} (no such device, or it is busy)")
        if reason := _capture_oversized(self.capture, max_pixels):
            self.capture.release()
            raise ValueError(f"camera {index}: frames of {reason}")
        self.fps = _fps_of(self.capture)

    @property
    def stem(self) -> str:
        return f"camera{self.index}"

    def __iter__(self) -> Iterator[Frame]:
        start = time.monotonic()
        index = 0
        while True:
            ok, image = self.capture.read()
            if not ok:
                log.warning("camera %d stopped delivering frames after %d frames", self.index, index)
                return
            yield Frame(index, _frame_name(index), image, time.monotonic() - start)
            index += 1

    def close(self) -> None:
        self.capture.release()
