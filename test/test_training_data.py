"""COCO parsing, the augmentation geometry, SimCC targets and the global-batch sampler."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("albumentations")

from pose_perception.codec import SimCCCodec
from pose_perception.skeletons import COCO17
from pose_perception.training.config import STAGE2_AUGMENT, AugmentConfig, config_from_dict
from pose_perception.training.data import GlobalBatchSampler, TopdownTrainSet, load_instances
from pose_perception.training.transforms import (
    Sample,
    TopdownAugment,
    affine_matrix,
    lower_body_mask,
    transform_points,
    truncnorm,
)

NO_AUG = AugmentConfig(
    flip_prob=0.0, half_body_prob=0.0, shift_prob=0.0, scale_prob=0.0, rotate_prob=0.0,
    hsv_deltas=(0, 0, 0), blur_prob=0.0, median_blur_prob=0.0, dropout_prob=0.0,
)  # fmt: skip


def _ann(ann_id, kps, **extra):
    flat = [v for x, y, vis in kps for v in (x, y, vis)]
    box = [10, 10, 50, 80]
    return {"id": ann_id, "image_id": 1, "category_id": 1, "bbox": box, "keypoints": flat, **extra}


def test_coco_instances_skip_crowd_ignore_and_unlabelled(tmp_path):
    kps = [(20 + i, 30 + i, 2) for i in range(17)]
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 60}],
        "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.keypoint_names)}],
        "annotations": [
            _ann(1, kps),
            _ann(2, kps, iscrowd=1),
            _ann(3, kps, ignore=1),
            _ann(4, [(0, 0, 0)] * 17),
            _ann(5, [(5, 5, 1)] + [(0, 0, 0)] * 16),
        ],
    }
    path = tmp_path / "a.json"
    path.write_text(json.dumps(coco))
    got = load_instances(path, tmp_path, 17)
    assert [i.ann_id for i in got] == [1, 5]
    np.testing.assert_allclose(got[0].bbox, [10, 10, 39, 59])  # clipped to the image
    assert got[1].visible.tolist() == [1.0] + [0.0] * 16  # v=1 (occluded) still trains
    with pytest.raises(ValueError, match="no category with 4 keypoints"):
        load_instances(path, tmp_path, 4)


def test_affine_maps_keypoints_with_the_pixels():
    """A bright dot warped by the matrix lands where transform_points puts it, flipped or not."""
    image = np.zeros((200, 300, 3), np.uint8)
    point = np.array([[180.0, 70.0]])
    image[70, 180] = 255
    for flip in (False, True):
        for rotation in (0.0, 30.0):
            m = affine_matrix(np.array([150.0, 100.0]), np.array([150.0, 200.0]), rotation, (96, 128), flip)
            import cv2

            crop = cv2.warpAffine(image.astype(np.float32), m, (96, 128), flags=cv2.INTER_LINEAR)
            y, x = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
            expect = transform_points(point, m)[0]
            assert abs(x - expect[0]) <= 1 and abs(y - expect[1]) <= 1, (flip, rotation, (x, y), expect)


def test_flip_swaps_left_and_right():
    rng = np.random.default_rng(0)
    kps = rng.uniform(50, 150, (17, 2)).astype(np.float32)
    sample = Sample(np.zeros((200, 200, 3), np.uint8), np.array([100.0, 100.0]), np.array([150.0, 200.0]),
                    kps, np.ones(17, np.float32))  # fmt: skip
    lower = lower_body_mask(COCO17.keypoint_names)
    plain = TopdownAugment(NO_AUG, (96, 128), COCO17.flip_indices, lower)
    flipped = TopdownAugment(replace(NO_AUG, flip_prob=1.0), (96, 128), COCO17.flip_indices, lower)
    _, kp_a, _ = plain(sample, np.random.default_rng(1))
    _, kp_b, _ = flipped(sample, np.random.default_rng(1))
    left, right = COCO17.keypoint_names.index("left_wrist"), COCO17.keypoint_names.index("right_wrist")
    np.testing.assert_allclose(kp_b[right], [96 - 1 - kp_a[left][0], kp_a[left][1]], atol=1e-4)


def test_lower_body_split_follows_names():
    lower = lower_body_mask(COCO17.keypoint_names)
    assert [n for n, lo in zip(COCO17.keypoint_names, lower, strict=True) if lo] == [
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ]  # fmt: skip


def test_truncated_normal_is_bounded():
    draws = truncnorm(np.random.default_rng(0), 10000)
    assert np.abs(draws).max() <= 1 and 0.5 < draws.std() < 0.6  # std of N(0,1) cut at ±1: 0.54


def test_official_stage_constants():
    s1, s2 = AugmentConfig(), STAGE2_AUGMENT

    def key(s):
        return s.scale_range, s.rotate_factor, s.shift_factor, s.dropout_prob

    assert key(s1) == ((0.6, 1.4), 80.0, 0.16, 1.0)
    assert key(s2) == ((0.75, 1.25), 60.0, 0.0, 0.5)
    cfg = config_from_dict({"epochs": 420, "augment_stage2": {"dropout_prob": 0.3}})
    assert cfg.stage2_begin_epoch == 390
    assert cfg.augment_stage2.rotate_factor == 60.0 and cfg.augment_stage2.dropout_prob == 0.3
    with pytest.raises(ValueError, match="unknown key"):
        config_from_dict({"lr_typo": 1})


def test_dataset_items_are_deterministic_and_targets_match_codec(tmp_path):
    from test_training_fixtures import tiny_coco

    data = tiny_coco(tmp_path)
    instances = load_instances(data / "train.json", data / "train", 17)
    codec = SimCCCodec((64, 96), (1.6, 2.1))
    ds = TopdownTrainSet(instances, COCO17, codec, AugmentConfig(), STAGE2_AUGMENT, 1, seed=0)
    a, b, c = ds[(0, 3)], ds[(0, 3)], ds[(1, 3)]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["image"], c["image"])  # another epoch, another draw (and stage 2)
    assert a["image"].shape == (3, 96, 64) and a["target_x"].shape == (17, 128)
    assert a["target_y"].shape == (17, 192) and a["weight"].shape == (17,)
    peaks = a["target_x"].numpy().max(axis=1)
    assert np.all((peaks == 1.0) | (a["weight"].numpy() == 0))


def test_sampler_splits_global_batches_across_ranks():
    single = list(GlobalBatchSampler(10, 4, seed=1))
    ranks = [list(GlobalBatchSampler(10, 4, seed=1, rank=r, world_size=2)) for r in range(2)]
    assert len(single) == 8  # two full batches; the last 2 instances are dropped
    merged = [x for b in range(2) for r in range(2) for x in ranks[r][2 * b : 2 * b + 2]]
    assert merged == single
    resumed = GlobalBatchSampler(10, 4, seed=1)
    resumed.set_epoch(0, start_iter=1)
    assert list(resumed) == single[4:]
    other = GlobalBatchSampler(10, 4, seed=1)
    other.set_epoch(1)
    assert list(other) != single
