"""Our RTMO ONNX export selects people in the graph: its NonMaxSuppression equals ``select_indices``;
``threads`` reaches the ONNX Runtime session; the .pth → ONNX cache never hands back an earlier format.

(Conformance of the exported people with MMPose and the PyTorch path, at any thresholds and for
earlier dense exports: ``test_conformance_rtmo.py``.)
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from family_models import few_people_rtmo, rtmo_pth

from pose_perception import OneStageEstimator
from pose_perception.config import EstimatorConfig
from pose_perception.model_kinds import THRESHOLD_INPUTS
from pose_perception.models.rtmo_decode import KeptRows
from pose_perception.people_select import select_indices
from pose_perception.person_source import open_pose_model
from pose_perception.runtime.export_onestage import export_rtmo_onnx
from pose_perception.runtime.onnx_cache import cached_onestage_onnx
from pose_perception.zoo import sha256_of


class Select(torch.nn.Module):
    """The graph's person selection alone: (1, N, 4) boxes, (1, 1, N) scores → kept rows."""

    def forward(
        self, boxes: torch.Tensor, scores: torch.Tensor, score_thr: torch.Tensor, nms_thr: torch.Tensor
    ) -> torch.Tensor:
        return KeptRows.apply(boxes, scores, score_thr, nms_thr)


@pytest.fixture(scope="module")
def select_session(tmp_path_factory: pytest.TempPathFactory) -> ort.InferenceSession:
    path = tmp_path_factory.mktemp("nms") / "select.onnx"
    example = (torch.rand(1, 50, 4) * 10, torch.rand(1, 1, 50), torch.tensor(0.1), torch.tensor(0.65))
    example[0][..., 2:] += example[0][..., :2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Select(), example, str(path), dynamo=False, opset_version=17,
            input_names=["boxes", "scores", *THRESHOLD_INPUTS], output_names=["rows"],
            dynamic_axes={"boxes": {1: "n"}, "scores": {2: "n"}},
        )  # fmt: skip
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def crowded_boxes(seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` boxes in a few tight clusters (most pairs overlap), scores on a coarse grid so
    that many tie: the cases where NMS order and tie-breaking decide."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(50, 250, (4, 2))[rng.integers(0, 4, count)] + rng.normal(0, 6, (count, 2))
    sizes = rng.uniform(20, 60, (count, 2))
    boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1).astype(np.float32)
    scores = (rng.integers(0, 20, count) / 20).astype(np.float32)
    return boxes, scores


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("score_thr", "nms_thr"), [(0.1, 0.65), (0.3, 0.3), (0.0, 0.9), (0.5, 1.0)])
def test_the_graph_s_nms_keeps_what_select_indices_keeps_in_its_order(
    select_session: ort.InferenceSession, seed: int, score_thr: float, nms_thr: float
) -> None:
    boxes, scores = crowded_boxes(seed, 300)
    feed = {
        "boxes": boxes[None],
        "scores": scores[None, None],
        "score_thr": np.array(score_thr, np.float32),
        "nms_thr": np.array(nms_thr, np.float32),
    }
    (rows,) = select_session.run(None, feed)
    expected = select_indices(boxes, scores, score_thr, nms_thr)
    assert 0 < len(expected) < len(boxes) or nms_thr == 1.0
    np.testing.assert_array_equal(rows, expected)


def test_the_graph_s_nms_keeps_a_box_at_the_threshold_score_out(select_session: ort.InferenceSession) -> None:
    """Score > threshold is kept (0.5 at 0.5 is not); IoU exactly at the threshold is not suppressed."""
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.5, 0.9], np.float32)
    feed = {"boxes": boxes[None], "scores": scores[None, None]}
    thresholds = {"score_thr": np.array(0.5, np.float32), "nms_thr": np.array(0.5, np.float32)}
    (rows,) = select_session.run(None, {**feed, **thresholds})
    np.testing.assert_array_equal(rows, select_indices(boxes, scores, 0.5, 0.5))
    np.testing.assert_array_equal(rows, [0, 1])  # box 3 duplicates box 0 (tie: lower row first)


@pytest.fixture(scope="module")
def rtmo_t(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A seeded RTMO-t (a few people pass the threshold) as a .pth and as our ONNX export."""
    folder = tmp_path_factory.mktemp("rtmo-t")
    model = few_people_rtmo(np.full((416, 416, 3), 114, np.uint8))
    return rtmo_pth(model, folder / "rtmo-t.pth"), Path(export_rtmo_onnx(model, "rtmo-t", folder / "t.onnx"))


def test_the_export_takes_the_thresholds_as_inputs(rtmo_t: tuple[Path, Path]) -> None:
    estimator = OneStageEstimator(rtmo_t[1], backend="onnxruntime")
    assert [i.name for i in estimator.session.get_inputs()] == ["input", *THRESHOLD_INPUTS]
    assert estimator.session.get_modelmeta().custom_metadata_map["decode"] == "kept"


def test_threads_set_the_onnx_runtime_session_s_intra_op_threads(rtmo_t: tuple[Path, Path]) -> None:
    estimator = OneStageEstimator(rtmo_t[1], backend="onnxruntime", threads=2)
    assert estimator.session.get_session_options().intra_op_num_threads == 2


def test_estimator_threads_reach_a_one_stage_model_from_the_config(rtmo_t: tuple[Path, Path]) -> None:
    model = open_pose_model(EstimatorConfig(model=str(rtmo_t[1]), backend="onnxruntime", threads=3))
    assert isinstance(model, OneStageEstimator)
    assert model.session.get_session_options().intra_op_num_threads == 3


def test_the_cache_does_not_hand_back_an_earlier_dense_export(
    rtmo_t: tuple[Path, Path], tmp_path: Path
) -> None:
    """An export cached by the earlier release (keyed on "one-stage" alone) is a different file."""
    pth = rtmo_t[0]
    earlier_key = hashlib.sha256(f"{sha256_of(pth)}:one-stage".encode()).hexdigest()[:16]
    earlier = tmp_path / "onnx" / f"{pth.stem}-rtmo-t-{earlier_key}.onnx"
    earlier.parent.mkdir()
    earlier.write_bytes(b"stands for a dense export")
    path = cached_onestage_onnx(pth, "rtmo-t", tmp_path)
    assert path != earlier
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["decode"] == "kept"
