"""The checks every conformance fixture shares (body, whole-body, face): one implementation.

Criteria from the fixtures' README: raw outputs max|ours − ref| / max|ref| < ``REL_TOL``;
decoded keypoints within 0.01 px; with the flip test, a joint whose averaged x logits have a
mirrored near-tie (bins i and W-1-i within ``MIRROR_TIE_REL`` of the row's maximum) may sit on
either of the two bins, in ours and in MMPose's output alike.
"""

from __future__ import annotations

import numpy as np

from pose_perception import PoseEstimator
from pose_perception.codec import decode_simcc
from pose_perception.topdown import keypoints_to_image

REL_TOL = 1e-4
MIRROR_TIE_REL = 1e-4
PIXEL_TOL = 0.01


def rel_diff(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


def mirror_near_ties(simcc_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,K) mask of rows whose two best bins are mirror images (i, W-1-i) within
    ``MIRROR_TIE_REL`` of the row's maximum, and (N,K,2) those two bins."""
    best_two = np.argsort(simcc_x, axis=-1, kind="stable")[..., -2:]
    values = np.take_along_axis(simcc_x, best_two, axis=-1)
    mirrored = best_two[..., 0] + best_two[..., 1] == simcc_x.shape[-1] - 1
    close = values[..., 1] - values[..., 0] <= MIRROR_TIE_REL * np.abs(simcc_x).max(axis=-1)
    return mirrored & close, best_two


def assert_simcc_matches(simcc_x: np.ndarray, simcc_y: np.ndarray, ref: dict[str, np.ndarray]) -> None:
    """Raw logits within REL_TOL of MMPose's, and they decode to the same keypoints (no flip:
    no excuses)."""
    assert rel_diff(simcc_x, ref["simcc_x"]) < REL_TOL
    assert rel_diff(simcc_y, ref["simcc_y"]) < REL_TOL
    keypoints, scores = decode_simcc(simcc_x, simcc_y)
    ref_keypoints, ref_scores = decode_simcc(ref["simcc_x"], ref["simcc_y"])
    np.testing.assert_array_equal(keypoints, ref_keypoints)
    assert rel_diff(scores, ref_scores) < REL_TOL


def assert_pipeline_matches(
    estimator: PoseEstimator, ref_pipeline: dict[str, np.ndarray], flip_test: bool
) -> None:
    """The full top-down pipeline on the fixture's image and box gives MMPose's keypoints
    (within PIXEL_TOL) and scores (within REL_TOL), the mirror-near-tie rule aside."""
    image, bbox = ref_pipeline["image"], ref_pipeline["bbox"]
    keypoints, scores = estimator.estimate(image, bbox)
    suffix = "flip" if flip_test else "noflip"
    official = ref_pipeline[f"keypoints_{suffix}"]
    k = int(ref_pipeline["num_keypoints"])
    assert keypoints.shape == official.shape == (1, k, 2) and scores.shape == (1, k)
    assert rel_diff(scores, ref_pipeline[f"scores_{suffix}"]) < REL_TOL
    excused, tie_x = mirror_tie_positions(estimator, image, bbox)
    excused &= flip_test  # without the flip test nothing is excused
    agree = np.abs(keypoints - official) < PIXEL_TOL
    assert agree[..., 1].all() and agree[..., 0][~excused].all()
    for x in (keypoints[..., 0], official[..., 0]):  # ours and MMPose's: each on one of the tied bins
        assert (np.abs(tie_x - x[..., None]).min(-1) < PIXEL_TOL)[excused].all()


def mirror_tie_positions(
    estimator: PoseEstimator, image: np.ndarray, bbox: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N,K) mask of joints with a mirrored near-tie in the flip-averaged x logits, and the
    image x of both tied bins (N,K,2)."""
    batch, centers, scales = estimator.preprocess(image, bbox)
    excused, bins = mirror_near_ties(estimator.infer(batch)[0])
    ratio, input_size = estimator.info.simcc_split_ratio, estimator.info.input_size
    in_input = [np.stack((bins[..., b] / ratio, np.zeros(bins.shape[:2])), axis=-1) for b in (0, 1)]
    in_image = [keypoints_to_image(k, centers, scales, input_size)[..., 0] for k in in_input]
    return excused, np.stack(in_image, axis=-1)
