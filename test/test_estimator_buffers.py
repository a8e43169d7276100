"""PoseEstimator reuses its batch buffers across calls: results must not leak between calls."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from pose_perception import PoseEstimator
from pose_perception.models import build_rtmpose


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(3)
    return build_rtmpose("rtmpose-t").eval()


def _scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    x = rng.uniform(0, 200, 4)
    boxes = np.stack([x, x * 0.3, x + 100, x * 0.3 + 180], axis=1).astype(np.float32)
    return image, boxes


@pytest.mark.parametrize("flip_test", [False, True])
def test_varying_batch_sizes_match_fresh_estimators(model: torch.nn.Module, flip_test: bool) -> None:
    reused = PoseEstimator(model, backend="torch", flip_test=flip_test)
    for seed, count in [(0, 3), (1, 1), (2, 4), (3, 2)]:
        image, boxes = _scene(seed)
        fresh = PoseEstimator(model, backend="torch", flip_test=flip_test)
        expected = fresh.estimate(image, boxes[:count])
        got = reused.estimate(image, boxes[:count])
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_public_infer_with_flip_equals_estimate_path(model: torch.nn.Module) -> None:
    estimator = PoseEstimator(model, backend="torch", flip_test=True)
    image, boxes = _scene(5)
    batch, _, _ = estimator.preprocess(image, boxes)
    x_public, _ = estimator.infer(batch.copy())
    from pose_perception.codec import decode_simcc

    _, scores_public = decode_simcc(x_public, estimator.infer(batch.copy())[1])
    _, scores = estimator.estimate(image, boxes)
    np.testing.assert_allclose(scores, scores_public, rtol=1e-5)


def test_concurrent_calls_give_each_caller_its_own_result(model: torch.nn.Module) -> None:
    estimator = PoseEstimator(model, backend="torch")
    scenes = [_scene(seed) for seed in range(4)]
    expected = [estimator.estimate(image, boxes[: 1 + i % 4]) for i, (image, boxes) in enumerate(scenes)]
    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def work(i: int) -> None:
        image, boxes = scenes[i]
        for _ in range(3):
            results[i] = estimator.estimate(image, boxes[: 1 + i % 4])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        np.testing.assert_array_equal(results[i][0], expected[i][0])
