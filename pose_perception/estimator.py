"""PoseEstimator: image + person boxes → keypoints in image pixels, on any backend."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pose_perception.codec import decode_simcc, flip_simcc
from pose_perception.model_info import ModelInfo
from pose_perception.runtime.base import Backend
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

BACKENDS = ("onnxruntime", "torch")


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
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.flip_test = flip_test
        if isinstance(skeleton, str):
            skeleton = get_skeleton(skeleton)
        self.backend, self.info = _open_backend(
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

        Thread-safe (calls are serialised: the estimator reuses its batch buffers).
        """
        boxes = validate_boxes(bboxes_xyxy)
        image = validate_image(image_bgr)
        n, k = len(boxes), self.info.num_keypoints
        if n == 0:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
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


def _open_backend(
    model: Any,
    backend: str,
    device: str,
    arch: str | None,
    skeleton: Skeleton | None,
    threads: int | None,
    cache_dir: str | os.PathLike[str] | None,
    fallback_to_bundled: bool = False,
) -> tuple[Backend, ModelInfo]:
    if not isinstance(model, (str, os.PathLike)):
        return _module_backend(model, backend, device, skeleton, cache_dir)
    path = Path(model)
    if path.suffix == ".onnx":
        if backend != "onnxruntime":
            raise ValueError(f"{path}: an ONNX file runs on backend='onnxruntime', not {backend!r}")
        from pose_perception.runtime.onnxruntime_backend import OnnxRuntimeBackend

        ort_backend = OnnxRuntimeBackend(path, device, threads)
        info = ort_backend.model_info()
        if skeleton is not None:
            info = _with_skeleton(info, skeleton, str(path))
        return ort_backend, info
    if path.suffix in (".pth", ".pt"):
        if arch is None:
            raise ValueError(f"{path}: a .pth checkpoint needs the architecture, e.g. arch='rtmpose-s'")
        return _checkpoint_backend(path, arch, backend, device, skeleton, threads, cache_dir)
    from pose_perception import zoo

    if str(model) in zoo.REGISTRY:
        # the bundled models are ONNX files: a fallback only where ONNX Runtime runs them
        fallback = fallback_to_bundled and backend == "onnxruntime"
        file, entry = zoo.resolve(str(model), cache_dir=cache_dir, task="pose", fallback=fallback)
        return _open_backend(
            file, backend, device, arch or entry.arch,
            skeleton or get_skeleton(entry.skeleton), threads, cache_dir,
        )  # fmt: skip
    raise ValueError(
        f"model {str(model)!r} is not a .onnx/.pth file nor a registry name "
        f"({', '.join(sorted(zoo.REGISTRY))})"
    )


def _with_skeleton(info: ModelInfo, skeleton: Skeleton, source: str) -> ModelInfo:
    if skeleton.num_keypoints != info.num_keypoints:
        raise ValueError(
            f"{source}: skeleton {skeleton.name!r} has {skeleton.num_keypoints} keypoints, "
            f"model has {info.num_keypoints}"
        )
    from dataclasses import replace

    return replace(info, skeleton=skeleton)


def module_info(model: nn.Module, skeleton: Skeleton | None) -> ModelInfo:
    """ModelInfo of an RTMPose module (its variant) and a schema (COCO-17 by default)."""
    from pose_perception.models import RTMPose

    if not isinstance(model, RTMPose):
        raise TypeError("an nn.Module model must be pose_perception.models.RTMPose")
    skeleton = skeleton or (get_skeleton("coco17") if model.num_keypoints == 17 else None)
    if skeleton is None:
        raise ValueError(f"model has {model.num_keypoints} keypoints: pass its skeleton")
    info = ModelInfo(
        input_size=model.variant.input_size,
        simcc_split_ratio=model.variant.simcc_split_ratio,
        arch=model.variant.name,
    )
    return _with_skeleton(info, skeleton, model.variant.name)


def _module_backend(
    model: nn.Module,
    backend: str,
    device: str,
    skeleton: Skeleton | None,
    cache_dir: str | os.PathLike[str] | None,
) -> tuple[Backend, ModelInfo]:
    info = module_info(model, skeleton)
    if backend == "torch":
        from pose_perception.runtime.torch_backend import TorchBackend

        return TorchBackend(model, device), info
    raise ValueError("an nn.Module runs on backend='torch'; export it to ONNX for onnxruntime")


def _checkpoint_backend(
    path: Path,
    arch: str,
    backend: str,
    device: str,
    skeleton: Skeleton | None,
    threads: int | None,
    cache_dir: str | os.PathLike[str] | None,
) -> tuple[Backend, ModelInfo]:
    from pose_perception.models import build_rtmpose, load_checkpoint

    num_keypoints = skeleton.num_keypoints if skeleton is not None else 17
    model = load_checkpoint(build_rtmpose(arch, num_keypoints), path)
    info = module_info(model, skeleton)
    if backend == "torch":
        from pose_perception.runtime.torch_backend import TorchBackend

        return TorchBackend(model, device), info
    from pose_perception.runtime.export import export_onnx
    from pose_perception.runtime.onnxruntime_backend import OnnxRuntimeBackend
    from pose_perception.zoo import default_cache_dir, sha256_of

    key = hashlib.sha256(f"{sha256_of(path)}:{info.to_metadata()}".encode()).hexdigest()[:16]
    onnx_path = Path(cache_dir or default_cache_dir()) / "onnx" / f"{path.stem}-{arch}-{key}.onnx"
    if not onnx_path.is_file():
        export_onnx(model, info, onnx_path)
    return OnnxRuntimeBackend(onnx_path, device, threads), info
