"""Person detector adapters on ONNX graphs built here that emit the documented formats
(official detector weights cannot be downloaded on these machines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose_perception import detection
from pose_perception.detection import (
    RTMDET_MEAN,
    RTMDET_STD,
    DetectionFilter,
    FullFrameDetector,
    HogDetector,
    OnnxDetector,
    letterbox,
    nms,
    yolox_grids,
)

onnx = pytest.importorskip("onnx")
from onnx_graphs import constant_onnx  # noqa: E402

SIZE = 64  # detector input S x S


def _constant_graph(path: Path, outputs: dict[str, np.ndarray]) -> Path:
    """A detector file with a 1x3xSxS input whose outputs are fixed tensors."""
    path.write_bytes(constant_onnx([1, 3, SIZE, SIZE], outputs))
    return path


def test_letterbox_keeps_aspect_and_pads_with_114():
    image = np.full((32, 128, 3), 7, np.uint8)
    padded, ratio = letterbox(image, (SIZE, SIZE))
    assert ratio == 0.5 and padded.shape == (SIZE, SIZE, 3)
    assert (padded[:16] == 7).all() and (padded[16:] == 114).all()


def test_end2end_rtmdet_keeps_persons_and_maps_back(tmp_path):
    dets = np.array(
        [[[4, 8, 20, 40, 0.9], [10, 10, 30, 30, 0.8], [0, 0, 2, 2, 0.95], [5, 5, 9, 60, 0.2]]], np.float32
    )
    labels = np.array([[0, 2, 0, 0]], np.int64)  # one car, one tiny person, one low score
    path = _constant_graph(tmp_path / "rtmdet.onnx", {"dets": dets, "labels": labels})
    detector = OnnxDetector(path, "rtmdet", DetectionFilter(score_threshold=0.5, min_box_size=10))
    image = np.zeros((128, 256, 3), np.uint8)  # ratio 0.25 into 64x64
    boxes, scores = detector.detect(image)
    np.testing.assert_allclose(boxes, [[16, 32, 80, 128]])
    np.testing.assert_allclose(scores, [0.9])


def test_rtmdet_and_yolox_preprocessing(tmp_path):
    dets = np.zeros((1, 1, 5), np.float32)
    path = _constant_graph(tmp_path / "m.onnx", {"dets": dets, "labels": np.zeros((1, 1), np.int64)})
    image = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    rtmdet, _ = OnnxDetector(path, "rtmdet").preprocess(image)
    expected = (image.astype(np.float32) - np.array(RTMDET_MEAN, np.float32)) / np.array(
        RTMDET_STD, np.float32
    )
    np.testing.assert_allclose(rtmdet[0].transpose(1, 2, 0), expected, rtol=1e-6)
    yolox, _ = OnnxDetector(path, "yolox").preprocess(image)
    np.testing.assert_array_equal(yolox[0].transpose(1, 2, 0), image.astype(np.float32))  # raw BGR pixels


def test_yolox_raw_head_is_decoded_on_grids_with_nms(tmp_path):
    grids, _ = yolox_grids((SIZE, SIZE))
    assert len(grids) == (SIZE // 8) ** 2 + (SIZE // 16) ** 2 + (SIZE // 32) ** 2
    raw = np.full((1, len(grids), 5 + 3), -0.0, np.float32)
    raw[0, :, 4] = 0.0  # objectness
    # A person centred at (28, 36), 16x24 px, seen by stride-8 cell (3, 4) and, weaker, its neighbour.
    for cell, obj in (((3, 4), 0.9), ((4, 4), 0.8)):
        index = cell[1] * (SIZE // 8) + cell[0]
        raw[0, index, :4] = [28 / 8 - cell[0], 36 / 8 - cell[1], np.log(16 / 8), np.log(24 / 8)]
        raw[0, index, 4] = obj
        raw[0, index, 5] = 1.0  # person class
    car = 2 * (SIZE // 8) + 1
    raw[0, car, :4] = [0.5, 0.5, np.log(3.0), np.log(3.0)]
    raw[0, car, 4], raw[0, car, 7] = 0.99, 1.0  # a confident car: not a person
    path = _constant_graph(tmp_path / "yolox.onnx", {"output": raw})
    detector = OnnxDetector(
        path, "yolox", DetectionFilter(score_threshold=0.5, nms_threshold=0.45, min_box_size=4)
    )
    boxes, scores = detector.detect(np.zeros((SIZE, SIZE, 3), np.uint8))
    np.testing.assert_allclose(boxes, [[20, 24, 36, 48]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.9], atol=1e-6)


def test_unknown_output_format_is_a_clear_error(tmp_path):
    path = _constant_graph(tmp_path / "bad.onnx", {"a": np.zeros((1, 2), np.float32)})
    with pytest.raises(ValueError, match="unknown detector outputs"):
        OnnxDetector(path, "yolox")
    with pytest.raises(ValueError, match="kind"):
        OnnxDetector(path, "ssd")


def test_filter_threshold_size_nms_and_max_people():
    boxes = np.array(
        [[0, 0, 100, 200], [2, 2, 102, 202], [300, 0, 400, 200], [0, 0, 5, 5], [500, 0, 600, 200]]
    )
    scores = np.array([0.9, 0.85, 0.7, 0.99, 0.3])
    _, kept_scores = DetectionFilter(0.5, 0.5, 16, 10).apply(boxes, scores)
    np.testing.assert_allclose(kept_scores, [0.9, 0.7])
    _, top = DetectionFilter(0.0, 0.5, 0, 1).apply(boxes, scores)
    assert top.tolist() == pytest.approx([0.99])
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5).size == 0


def test_full_frame_detector():
    boxes, scores = FullFrameDetector().detect(np.zeros((48, 64, 3), np.uint8))
    np.testing.assert_allclose(boxes, [[0, 0, 64, 48]])
    assert scores.tolist() == [1.0]


def test_hog_detector_finds_nobody_in_a_flat_image():
    # The pinned opencv-contrib build has HOG (OpenCV 5 left it out of the main wheels).
    boxes, scores = HogDetector().detect(np.full((256, 128, 3), 128, np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_hog_detector_says_what_to_install_when_opencv_lacks_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(detection, "hog_module", lambda: None)
    with pytest.raises(RuntimeError, match="opencv-contrib-python-headless"):
        HogDetector()


# (height, width): smaller than HOG's 64x128 window in one or both sides. Before the size check,
# OpenCV read past these images: SIGSEGV (1x1, 50x200, 1x5000, 5000x1, 100x63), abort (63x127,
# 127x40, 8x16) or, for 127x63, no crash but a window over memory outside the image.
TINY_SIZES = [(1, 1), (127, 63), (63, 127), (50, 200), (1, 5000), (5000, 1), (100, 63), (127, 40), (8, 16)]


@pytest.mark.parametrize(("height", "width"), TINY_SIZES)
def test_hog_detector_finds_nobody_in_an_image_smaller_than_its_window(height, width):
    detector = HogDetector()
    image = np.random.default_rng(height * 7919 + width).integers(0, 256, (height, width, 3), np.uint8)
    assert not detector.fits_window(image)
    boxes, scores = detector.detect(image)
    assert boxes.shape == (0, 4) and scores.shape == (0,)
    assert boxes.dtype == np.float32 and scores.dtype == np.float32


def test_hog_window_fits_from_exactly_64x128():
    detector = HogDetector()
    assert detector.fits_window(np.zeros((128, 64, 3), np.uint8))
    assert not detector.fits_window(np.zeros((128, 63, 3), np.uint8))
    assert not detector.fits_window(np.zeros((127, 64, 3), np.uint8))
    boxes, _ = detector.detect(np.zeros((128, 64, 3), np.uint8))  # searched, one window: nobody
    assert boxes.shape == (0, 4)
