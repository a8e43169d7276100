"""COCO OKS evaluation against hand-checked cases (custom 4-keypoint schema)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("pycocotools")

from pose_perception.training.evaluate import coco_eval, instance_score, oks, oks_nms

SIGMAS = np.full(4, 0.05)
GT_KPS = np.array([[30.0, 20.0], [70.0, 20.0], [40.0, 80.0], [60.0, 80.0]])


def _gt():
    flat = np.concatenate([GT_KPS, np.full((4, 1), 2.0)], axis=1).reshape(-1).tolist()
    return {
        "images": [{"id": 7, "file_name": "x.png", "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "thing", "keypoints": ["a", "b", "c", "d"], "skeleton": []}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [20, 10, 50, 80], "area": 10000.0,
             "iscrowd": 0, "num_keypoints": 4, "keypoints": flat},
        ],
    }  # fmt: skip


def _result(kps, score=0.9):
    flat = np.concatenate([kps, np.ones((4, 1))], axis=1).reshape(-1).tolist()
    return {"image_id": 7, "category_id": 1, "keypoints": flat, "score": score}


def test_perfect_predictions_give_ap_one():
    stats, _ = coco_eval(_gt(), [_result(GT_KPS)], SIGMAS)
    assert stats["AP"] == pytest.approx(1.0)
    assert stats["AR"] == pytest.approx(1.0)


def test_offset_prediction_matches_hand_computed_oks():
    """Every keypoint 8 px off, area 10000, sigma 0.05:
    e = d² / (2σ)² / area / 2 = 64 / 0.01 / 10000 / 2 = 0.32, OKS = exp(−0.32) = 0.7261.
    Matched at thresholds 0.50 … 0.70 (5 of 10) → AP = 0.5, AP50 = 1, AP75 = 0."""
    hand = math.exp(-0.32)
    pred = GT_KPS + np.array([8.0, 0.0])
    stats, evaluator = coco_eval(_gt(), [_result(pred)], SIGMAS)
    assert evaluator.ious[(7, 1)][0, 0] == pytest.approx(hand, rel=1e-9)
    assert oks(pred, GT_KPS, 10000.0, SIGMAS) == pytest.approx(hand, rel=1e-6)
    assert stats["AP"] == pytest.approx(0.5)
    assert stats["AP50"] == pytest.approx(1.0)
    assert stats["AP75"] == pytest.approx(0.0)


def test_scoring_and_oks_nms():
    assert instance_score(0.5, np.array([0.1, 0.4, 0.8])) == pytest.approx(0.5 * 0.6)
    a = dict(_result(GT_KPS, 0.9), area=10000.0)
    b = dict(_result(GT_KPS + 0.5, 0.8), area=10000.0)  # duplicate of a
    c = dict(_result(GT_KPS + 40.0, 0.7), area=10000.0)  # another person
    assert [r["score"] for r in oks_nms([b, a, c], SIGMAS, 0.9)] == [0.9, 0.7]
