"""PoseEstimator: image + person boxes → keypoints in image pixels, on any backend."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pose_perception.codec import decode_simcc, flip_simcc
from pose_perception.model_info import ModelInfo, checkpoint_info
from pose_perception.model_kinds import ONE_STAGE, USE_ONE_STAGE_ESTIMATOR, arch_kind, model_kind
from pose_perception.runtime.base import Backend
from pose_perception.runtime.table import (
    CHECKPOINT_SUFFIXES,
    MODEL_SUFFIXES,
    backend_row,
    open_backend,
    runs_onnx,
)
from pose_perception.skeletons import Skeleton, get_skeleton
from pose_perception.topdown import (
    boxes_to_center_scale,
    keypoints_to_image,
    normalize_crops,
    warp_crops,
)

if TYPE_CHECKING:
    from torch import nn

    from pose_perception.config import EstimatorConfig
    from pose_perception.zoo import ZooEntry


# Boxes per backend call: beyond this a frame's boxes run in several batches (memory bound;
# more than the detector's default max_people, so a normal frame is one batch).
MAX_BATCH_BOXES = 64


class PoseEstimator:
    """Top-down RTMPose inference on a batch of person boxes.

    ``model`` is a ``.onnx`` file (official or ours), a ``.pth`` checkpoint (needs
    ``arch``), a registry name (``rtmpose-m``) or an ``nn.Module``. A checkpoint run
    on ONNX Runtime is exported once to the cache and reused.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | nn.Module,
        backend: str = "onnxruntime",
        device: str = "cpu",
        flip_test: bool = False,
        arch: str | None = None,
        skeleton: Skeleton | str | None = None,
        threads: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        fallback_to_bundled: bool = False,
    ) -> None:
        backend_row(backend)  # an unknown name fails here, before any model is read
        self.flip_test = flip_test
        if isinstance(skeleton, str):
            skeleton = get_skeleton(skeleton)
        self.backend, self.info = _open_model(
            model, backend, device, arch, skeleton, threads, cache_dir, fallback_to_bundled
        )
        # Reused across calls (a fresh multi-MB batch per frame costs page faults);
        # the lock serialises callers that share this estimator.
        self._lock = threading.Lock()
        width, height = self.info.input_size
        self._batch_buffer = np.empty((0, 3, height, width), np.float32)
        self._crop_buffer = np.empty((0, height, width, 3), np.uint8)

    @classmethod
    def from_config(
        cls, config: EstimatorConfig, cache_dir: str | os.PathLike[str] | None = None
    ) -> PoseEstimator:
        """The estimator a validated ``EstimatorConfig`` describes (empty strings = unset)."""
        return cls(
            config.model,
            backend=config.backend,
            device=config.device,
            flip_test=config.flip_test,
            arch=config.arch or None,
            skeleton=config.skeleton or None,
            threads=config.threads or None,
            cache_dir=cache_dir,
            fallback_to_bundled=config.fallback_to_bundled,
        )

    @property
    def skeleton(self) -> Skeleton:
        return self.info.skeleton

    def preprocess(
        self, image_bgr: np.ndarray, bboxes_xyxy: np.ndarray, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Crops as a normalised (N,3,H,W) batch (written into ``out`` if given), plus
        each crop's centre and scale."""
        boxes = validate_boxes(bboxes_xyxy)
        image = validate_image(image_bgr)
        with self._lock:
            return self._prepare(image, boxes, out)

    def _prepare(
        self, image: np.ndarray, boxes: np.ndarray, out: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        centers, scales = boxes_to_center_scale(boxes, self.info.input_size, self.info.bbox_padding)
        self._crop_buffer = _grow(self._crop_buffer, len(boxes))
        crops = warp_crops(image, centers, scales, self.info.input_size, out=self._crop_buffer[: len(boxes)])
        batch = normalize_crops(crops, self.info.mean_rgb, self.info.std_rgb, out=out)
        return batch, centers, scales

    def infer(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SimCC logits for a normalised batch (flip-test averaged when enabled)."""
        if not self.flip_test:
            return self.backend.infer(batch)
        doubled = np.empty((2 * len(batch), *batch.shape[1:]), np.float32)
        doubled[: len(batch)] = batch
        return self._infer_flip(doubled)

    def _infer_flip(self, doubled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First half holds the crops; the mirrored copies go in the second half so that
        both run in one backend call."""
        n = len(doubled) // 2
        np.copyto(doubled[n:], doubled[:n, ..., ::-1])
        simcc_x, simcc_y = self.backend.infer(doubled)
        flip_x, flip_y = flip_simcc(simcc_x[n:], simcc_y[n:], self.skeleton.flip_indices)
        return (simcc_x[:n] + flip_x) * 0.5, (simcc_y[:n] + flip_y) * 0.5

    def estimate(self, image_bgr: np.ndarray, bboxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (N,K,2) in image pixels and scores (N,K) for N boxes (x1,y1,x2,y2[,score]).

        Thread-safe (calls are serialised: the estimator reuses its batch buffers). The
        boxes run in batches of at most ``MAX_BATCH_BOXES``, so memory stays bounded
        whatever N (1000 boxes in one batch took 6.2 GB).
        """
        boxes = validate_boxes(bboxes_xyxy)
        image = validate_image(image_bgr)
        n, k = len(boxes), self.info.num_keypoints
        if n == 0:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        if n <= MAX_BATCH_BOXES:
            return self._estimate_batch(image, boxes)
        parts = [
            self._estimate_batch(image, boxes[start : start + MAX_BATCH_BOXES])
            for start in range(0, n, MAX_BATCH_BOXES)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _estimate_batch(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(boxes)
        with self._lock:
            rows = 2 * n if self.flip_test else n
            self._batch_buffer = _grow(self._batch_buffer, rows)
            batch = self._batch_buffer[:rows]
            _, centers, scales = self._prepare(image, boxes, out=batch[:n])
            simcc_x, simcc_y = self._infer_flip(batch) if self.flip_test else self.backend.infer(batch)
            keypoints, scores = decode_simcc(simcc_x, simcc_y, self.info.simcc_split_ratio)
        return keypoints_to_image(keypoints, centers, scales, self.info.input_size), scores


def _grow(buffer: np.ndarray, rows: int) -> np.ndarray:
    """``buffer`` if it has at least ``rows`` rows, else a larger one of the same row shape."""
    if rows <= len(buffer):
        return buffer
    return np.empty((max(rows, 2 * len(buffer)), *buffer.shape[1:]), buffer.dtype)


def validate_image(image: Any) -> np.ndarray:
    """An H×W×3 uint8 BGR image (H×W grey is converted); anything else is a clear error."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must be H×W×3 BGR, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    return image


def validate_boxes(bboxes: Any) -> np.ndarray:
    """(N,4) or (N,5) finite boxes with positive width and height → (N,4) float32."""
    boxes = np.asarray(bboxes, dtype=np.float32)
    if boxes.size == 0:
        return np.zeros((0, 4), np.float32)
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(f"boxes must be (N,4) x1,y1,x2,y2 or (N,5) with a score, got {boxes.shape}")
    boxes = boxes[:, :4]
    if not np.isfinite(boxes).all():
        raise ValueError("boxes contain NaN or infinite values")
    bad = np.flatnonzero((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))
    if len(bad):
        raise ValueError(
            f"box {int(bad[0])} {boxes[bad[0]].tolist()} has zero or negative size "
            "(x2 must be > x1 and y2 > y1)"
        )
    return boxes


def _open_model(
    model: Any,
    backend: str,
    device: str,
    arch: str | None,
    skeleton: Skeleton | None,
    threads: int | None,
    cache_dir: str | os.PathLike[str] | None,
    fallback_to_bundled: bool = False,
) -> tuple[Backend, ModelInfo]:
    """A registry name is resolved to its file; a module or checkpoint is described by its
    architecture and ``skeleton`` here, a model file by itself (``skeleton`` overrides)."""
    if isinstance(model, (str, os.PathLike)) and Path(model).suffix not in MODEL_SUFFIXES:
        file, entry = _registry_file(str(model), backend, cache_dir, fallback_to_bundled)
        return _open_model(
            file, backend, device, arch or entry.arch,
            skeleton or get_skeleton(entry.skeleton), threads, cache_dir,
        )  # fmt: skip
    described = _described(model, arch, skeleton)
    opened, info = open_backend(model, backend, device, info=described, threads=threads, cache_dir=cache_dir)
    if described is None and skeleton is not None:
        info = info.with_skeleton(skeleton, str(model))
    return opened, info


def _registry_file(
    name: str, backend: str, cache_dir: str | os.PathLike[str] | None, fallback_to_bundled: bool
) -> tuple[Path, ZooEntry]:
    from pose_perception import zoo

    if name not in zoo.REGISTRY:
        raise ValueError(
            f"model {name!r} is not a {'/'.join(MODEL_SUFFIXES)} file nor a registry name "
            f"({', '.join(sorted(zoo.REGISTRY))})"
        )
    if zoo.REGISTRY[name].one_stage:
        raise ValueError(f"registry model {name!r} {USE_ONE_STAGE_ESTIMATOR}")
    # the bundled models are ONNX files: a fallback only where an ONNX backend runs them
    fallback = fallback_to_bundled and runs_onnx(backend)
    return zoo.resolve(name, cache_dir=cache_dir, task="pose", fallback=fallback)


def _described(model: Any, arch: str | None, skeleton: Skeleton | None) -> ModelInfo | None:
    """The ModelInfo of a module or checkpoint (which carry none); None for a model file."""
    if not isinstance(model, (str, os.PathLike)):
        from pose_perception.models import TopDownNetwork

        if model_kind(model) == ONE_STAGE:
            raise ValueError(f"model: an RTMO module {USE_ONE_STAGE_ESTIMATOR}")
        if not isinstance(model, TopDownNetwork):
            raise TypeError("an nn.Module model must be a pose_perception.models.TopDownNetwork")
        return model.model_info(skeleton)
    if Path(model).suffix not in CHECKPOINT_SUFFIXES:
        return None
    if arch is None:
        raise ValueError(f"{model}: a .pth checkpoint needs the architecture, e.g. arch='rtmpose-s'")
    if arch_kind(arch) == ONE_STAGE:
        raise ValueError(f"{model} (arch {arch!r}) {USE_ONE_STAGE_ESTIMATOR}")
    return checkpoint_info(arch, skeleton)
