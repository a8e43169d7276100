"""Person detectors: image (BGR) -> person boxes (N,4 x1,y1,x2,y2) + scores (N,).

- ``OnnxDetector``: the detectors the official RTMPose pipeline uses, as ONNX:
  RTMDet and YOLOX in MMDeploy's end-to-end format (``dets`` [1,N,5], ``labels`` [1,N])
  and YOLOX's raw head ([1,A,5+C], decoded on grids at strides 8/16/32, then NMS).
  Official preprocessing: aspect-preserving resize, pad to SxS with 114 (bottom/right),
  BGR; RTMDet normalises with its mean/std, YOLOX takes raw pixel values.
- ``HogDetector``: OpenCV's built-in HOG people detector, the no-weights fallback.
- ``FullFrameDetector``: one box = the image.
All share ``DetectionFilter``: score threshold, minimum box size, NMS, max people.
``DetectorConfig`` (the ``detector`` config section / ROS parameters) and
``build_detector`` pick and configure one of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from pose_perception.settings import check_settings, setting

PAD_VALUE = 114
RTMDET_MEAN = (103.53, 116.28, 123.675)  # BGR, mmdet RTMDet data_preprocessor
RTMDET_STD = (57.375, 57.12, 58.395)
YOLOX_STRIDES = (8, 16, 32)
DETECTOR_KINDS = ("rtmdet", "yolox")
DETECTOR_TYPES = ("onnx", "hog", "full_frame")


@dataclass
class DetectorConfig:
    """Which person detector runs, how often, and how its boxes are filtered."""

    type: str = setting(
        "onnx",
        "onnx: RTMDet/YOLOX model; hog: OpenCV HOG (no weights, weak); full_frame: one box = the image",
        choices=DETECTOR_TYPES,
        read_only=True,
    )
    model: str = setting(
        "rtmdet-nano", "registry name (rtmdet-nano, yolox-tiny, ...) or .onnx path", read_only=True
    )
    format: str = setting(
        "",
        "preprocessing of a .onnx path: rtmdet (mean/std) or yolox (raw pixels); empty = from the registry, "
        "else rtmdet",
        choices=("", *DETECTOR_KINDS),
        read_only=True,
    )
    person_class: int = setting(
        0, "class index of 'person' in the detector's labels", min=0, max=10000, read_only=True
    )
    score_threshold: float = setting(0.5, "boxes scoring below this are dropped", min=0.0, max=1.0)
    nms_threshold: float = setting(
        0.45, "IoU above which the weaker of two boxes is dropped", min=0.0, max=1.0
    )
    min_box_size: float = setting(16.0, "px; boxes with a shorter side are dropped", min=0.0, max=10000.0)
    max_people: int = setting(
        20, "at most this many people per frame (best scores first; a one-stage model's too)", min=1, max=1000
    )
    interval: int = setting(
        5,
        "run the detector every N frames; in between, boxes come from the previous poses (1 = every frame)",
        min=1,
        max=1000,
    )
    redetect_score: float = setting(
        0.4,
        "detect again on the next frame when a tracked person's mean keypoint score (can exceed 1) "
        "falls below this",
        min=0.0,
        max=1.0,
    )
    box_padding: float = setting(
        1.25, "a pose-derived box is the confident keypoints' extent times this", min=1.0, max=4.0
    )
    pose_nms_threshold: float = setting(
        0.7,
        "two people whose poses overlap (OKS) more than this are one: the weaker is dropped",
        min=0.0,
        max=1.0,
    )

    def validate(self) -> DetectorConfig:
        check_settings(self)
        return self

    def filter(self) -> DetectionFilter:
        return DetectionFilter(self.score_threshold, self.nms_threshold, self.min_box_size, self.max_people)


class PersonDetector(Protocol):
    def detect(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class DetectionFilter:
    score_threshold: float = 0.5
    nms_threshold: float = 0.45
    min_box_size: float = 16.0  # pixels, shorter box side
    max_people: int = 20

    def apply(self, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score threshold, minimum size, NMS, then the ``max_people`` best."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        scores = np.asarray(scores, np.float32).reshape(-1)
        sides = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        keep = (scores >= self.score_threshold) & (sides >= self.min_box_size)
        boxes, scores = boxes[keep], scores[keep]
        if len(boxes) == 0:
            return boxes, scores
        kept = nms(boxes, scores, self.nms_threshold)[: self.max_people]
        return boxes[kept], scores[kept]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best first."""
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).tolist()
    kept = cv2.dnn.NMSBoxes(xywh, scores.tolist(), 0.0, float(iou_threshold))
    order = np.asarray(kept, np.int64).reshape(-1)
    return order[np.argsort(-scores[order], kind="stable")]


class FullFrameDetector:
    def detect(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        height, width = image_bgr.shape[:2]
        return np.array([[0.0, 0.0, width, height]], np.float32), np.ones(1, np.float32)


class HogDetector:
    """OpenCV's HOG + linear SVM people detector (Dalal & Triggs): weak, but needs no weights."""

    def __init__(self, detection_filter: DetectionFilter | None = None, scale: float = 1.05) -> None:
        self.filter = detection_filter or DetectionFilter(score_threshold=0.3)
        self.scale = scale
        module = hog_module()
        if module is None:
            raise RuntimeError(
                f"OpenCV {cv2.__version__} has no HOG people detector (OpenCV 5 ships it only in the "
                "contrib build): install opencv-contrib-python-headless or use an ONNX detector"
            )
        self._hog = module.HOGDescriptor()
        self._hog.setSVMDetector(module.HOGDescriptor_getDefaultPeopleDetector())

    def detect(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.fits_window(image_bgr):
            return _no_boxes()
        rects, weights = self._hog.detectMultiScale(image_bgr, winStride=(8, 8), scale=self.scale)
        if len(rects) == 0:
            return _no_boxes()
        rects = np.asarray(rects, np.float32).reshape(-1, 4)
        boxes = np.column_stack([rects[:, :2], rects[:, :2] + rects[:, 2:]])
        # SVM margins -> (0, 1) so one score threshold serves every detector.
        scores = 1.0 / (1.0 + np.exp(-np.asarray(weights, np.float32).reshape(-1)))
        return self.filter.apply(boxes, scores)

    def fits_window(self, image_bgr: np.ndarray) -> bool:
        """Whether one detection window (64x128 px) fits in the image. OpenCV reads past a smaller
        image (SIGSEGV or abort); and since the pyramid only shrinks the image, a person smaller
        than the window is never found at any scale: such an image has nobody in it for HOG."""
        window_width, window_height = self._hog.winSize
        height, width = image_bgr.shape[:2]
        return width >= window_width and height >= window_height


def _no_boxes() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)


def hog_module() -> Any:
    """Where this OpenCV keeps HOGDescriptor: cv2 (4.x and the 5.x contrib build), or None."""
    for module in (cv2, getattr(cv2, "xobjdetect", None)):
        if module is not None and hasattr(module, "HOGDescriptor"):
            return module
    return None


def letterbox(image_bgr: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Aspect-preserving resize into ``size`` (w, h), padded bottom/right with 114."""
    width, height = size
    ratio = min(width / image_bgr.shape[1], height / image_bgr.shape[0])
    new_w, new_h = round(image_bgr.shape[1] * ratio), round(image_bgr.shape[0] * ratio)
    canvas = np.full((height, width, 3), PAD_VALUE, np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return canvas, ratio


class OnnxDetector:
    """RTMDet / YOLOX ONNX (MMDeploy end-to-end or YOLOX raw head); persons only."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        kind: str,
        detection_filter: DetectionFilter | None = None,
        person_class: int = 0,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        from pose_perception.runtime.onnxruntime_backend import open_session
        from pose_perception.zoo.onnx_checks import check_image_input, session_io

        if kind not in DETECTOR_KINDS:
            raise ValueError(f"detector kind must be one of {DETECTOR_KINDS}, got {kind!r}")
        self.kind = kind
        self.filter = detection_filter or DetectionFilter()
        self.person_class = person_class
        self.session = open_session(path, device, threads)
        try:  # a 1-channel or uint8 input would load, then fail on every frame
            check_image_input(session_io(self.session)[0], (None, 3, None, None))
        except ValueError as err:
            raise ValueError(f"{path}: cannot be run as a detector: it {err}") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape
        if not all(isinstance(v, int) for v in shape[2:]):
            raise ValueError(f"{path}: expected one 1x3xHxW input with a fixed H, W; got {shape}")
        self.input_name = inputs[0].name
        self.input_size = (int(shape[3]), int(shape[2]))  # w, h
        self.output_names = [o.name for o in outputs]
        self.format = _output_format(path, [o.shape for o in outputs], self.output_names)

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        padded, ratio = letterbox(image_bgr, self.input_size)
        data: np.ndarray = padded.astype(np.float32)
        if self.kind == "rtmdet":
            data = (data - np.array(RTMDET_MEAN, np.float32)) / np.array(RTMDET_STD, np.float32)
        return np.ascontiguousarray(data.transpose(2, 0, 1)[None]), ratio

    def detect(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch, ratio = self.preprocess(image_bgr)
        outputs = self.session.run(self.output_names, {self.input_name: batch})
        if self.format == "end2end":
            boxes, scores = self._end2end(outputs)
        else:
            boxes, scores = self._yolox_raw(outputs[0][0])
        boxes = boxes / ratio
        height, width = image_bgr.shape[:2]
        boxes = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
        return self.filter.apply(boxes, scores)

    def _end2end(self, outputs: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        by_name = dict(zip(self.output_names, outputs, strict=True))
        dets = np.asarray(by_name.get("dets", outputs[0]), np.float32)[0]
        labels = np.asarray(by_name.get("labels", outputs[1]))[0]
        person = labels == self.person_class
        return dets[person, :4], dets[person, 4]

    def _yolox_raw(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grids, strides = yolox_grids(self.input_size)
        xy = (raw[:, :2] + grids) * strides
        wh = np.exp(np.minimum(raw[:, 2:4], 20.0)) * strides
        boxes = np.column_stack([xy - wh / 2, xy + wh / 2])
        scores = raw[:, 4] * raw[:, 5 + self.person_class]
        return boxes, scores


def yolox_grids(input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(A,2) cell offsets and (A,1) strides of YOLOX's anchor-free head, row-major per stride."""
    width, height = input_size
    grids, strides = [], []
    for stride in YOLOX_STRIDES:
        ys, xs = np.mgrid[0 : height // stride, 0 : width // stride]
        grids.append(np.column_stack([xs.ravel(), ys.ravel()]))
        strides.append(np.full((xs.size, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def _output_format(path: Any, shapes: list[Any], names: list[str]) -> str:
    if len(shapes) == 2 and len(shapes[0]) == 3 and len(shapes[1]) == 2:
        return "end2end"
    if len(shapes) == 1 and len(shapes[0]) == 3:
        return "yolox_raw"
    raise ValueError(
        f"{path}: unknown detector outputs {dict(zip(names, shapes, strict=True))}; expected "
        "MMDeploy end-to-end (dets [1,N,5], labels [1,N]) or a YOLOX raw head [1,A,5+C]"
    )


def build_detector(config: DetectorConfig, device: str = "cpu", threads: int | None = None) -> PersonDetector:
    """The detector ``config`` asks for; registry models are resolved (downloaded) here."""
    config.validate()
    if config.type == "full_frame":
        return FullFrameDetector()
    if config.type == "hog":
        return HogDetector(config.filter())
    path, kind = _detector_model(config)
    return OnnxDetector(path, kind, config.filter(), config.person_class, device, threads)


def _detector_model(config: DetectorConfig) -> tuple[str, str]:
    """(local .onnx path, rtmdet|yolox) of ``config.model``: a file, or a registry entry."""
    if os.path.isfile(config.model) or config.model.endswith(".onnx"):
        if not os.path.isfile(config.model):
            raise FileNotFoundError(f"detector model {config.model} does not exist")
        return config.model, config.format or "rtmdet"
    from pose_perception import zoo

    path, entry = zoo.resolve(config.model, task="detector")
    return str(path), config.format or entry.arch
