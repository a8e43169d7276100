"""COCO-format keypoint data: person instances, the top-down datasets, and the sampler.

Any keypoint schema works: the category whose ``keypoints`` list has the skeleton's
length is used. Crowd regions (``iscrowd``) and ``ignore`` instances are never trained
on (COCOeval handles them at evaluation); instances without a labelled keypoint are
skipped, as in MMPose's ``CocoDataset``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from pose_perception.codec import SimCCCodec
from pose_perception.skeletons import Skeleton
from pose_perception.topdown import boxes_to_center_scale, normalize_crops
from pose_perception.training.config import AugmentConfig
from pose_perception.training.transforms import Sample, TopdownAugment, lower_body_mask


@dataclass(frozen=True)
class Instance:
    """One person: box (x1, y1, x2, y2) and keypoints in image pixels."""

    image_path: str
    image_id: int
    bbox: np.ndarray  # (4,)
    keypoints: np.ndarray  # (K, 2)
    visible: np.ndarray  # (K,) 0/1 (COCO v > 0)
    ann_id: int = -1
    score: float = 1.0


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def keypoint_category(coco: dict[str, Any], num_keypoints: int, source: str) -> int:
    """The id of the category annotated with ``num_keypoints`` keypoints."""
    for cat in coco.get("categories", []):
        if len(cat.get("keypoints", [])) == num_keypoints:
            return int(cat["id"])
    raise ValueError(f"{source}: no category with {num_keypoints} keypoints (does the skeleton match?)")


def clipped_box(xywh: list[float], width: int, height: int) -> np.ndarray:
    """COCO xywh → xyxy clipped to the image (MMPose clips to ``size - 1``)."""
    x, y, w, h = (float(v) for v in xywh)
    box = np.array([x, y, x + w, y + h], np.float32)
    box[0::2] = np.clip(box[0::2], 0, width - 1)
    box[1::2] = np.clip(box[1::2], 0, height - 1)
    return box


def load_instances(
    ann_file: str | os.PathLike[str], image_root: str | os.PathLike[str], num_keypoints: int
) -> list[Instance]:
    """Trainable (and GT-box evaluable) person instances of a COCO keypoint file."""
    coco = read_json(ann_file)
    cat = keypoint_category(coco, num_keypoints, str(ann_file))
    images = {int(im["id"]): im for im in coco["images"]}
    out = []
    for ann in coco["annotations"]:
        if int(ann.get("category_id", cat)) != cat or ann.get("iscrowd", 0) or ann.get("ignore", 0):
            continue
        kps = np.asarray(ann["keypoints"], np.float32).reshape(-1, 3)
        if len(kps) != num_keypoints:
            raise ValueError(f"{ann_file}: annotation {ann.get('id')} has {len(kps)} keypoints")
        visible = (kps[:, 2] > 0).astype(np.float32)
        if visible.sum() == 0:
            continue
        image = images[int(ann["image_id"])]
        ann_id = int(ann.get("id", -1))
        instance = _instance(image, ann["bbox"], image_root, kps[:, :2].copy(), visible, ann_id=ann_id)
        if instance is not None:
            out.append(instance)
    return out


def load_detections(
    bbox_file: str | os.PathLike[str],
    ann_file: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    num_keypoints: int,
    min_score: float = 0.0,
) -> list[Instance]:
    """Person boxes from a COCO detection-results JSON (category 1 or the keypoint
    category), for evaluation with a detector instead of GT boxes."""
    coco = read_json(ann_file)
    cat = keypoint_category(coco, num_keypoints, str(ann_file))
    images = {int(im["id"]): im for im in coco["images"]}
    zeros = np.zeros((num_keypoints, 2), np.float32)
    out = []
    for det in read_json(bbox_file):
        if int(det.get("category_id", cat)) not in (1, cat) or float(det.get("score", 1.0)) < min_score:
            continue
        image = images[int(det["image_id"])]
        hidden = np.zeros(num_keypoints, np.float32)
        instance = _instance(
            image, det["bbox"], image_root, zeros, hidden, score=float(det.get("score", 1.0))
        )
        if instance is not None:
            out.append(instance)
    return out


def _instance(
    image: dict[str, Any],
    bbox_xywh: Any,
    image_root: str | os.PathLike[str],
    keypoints: np.ndarray,
    visible: np.ndarray,
    ann_id: int = -1,
    score: float = 1.0,
) -> Instance | None:
    """An instance with its COCO box clipped to the image; None if nothing is left of it."""
    box = clipped_box(bbox_xywh, int(image["width"]), int(image["height"]))
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        return None
    path = os.path.join(image_root, image["file_name"])
    return Instance(path, int(image["id"]), box, keypoints, visible, ann_id, score)


def read_image(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return image


class TopdownTrainSet(Dataset):
    """Augmented crops + SimCC targets. Items are addressed by ``(epoch, index)``:
    the epoch picks the stage (stage 2 for the last ``stage2_epochs``) and, with the
    seed and the index, the sample's random generator."""

    def __init__(
        self,
        instances: list[Instance],
        skeleton: Skeleton,
        codec: SimCCCodec,
        augment: AugmentConfig,
        augment_stage2: AugmentConfig,
        stage2_begin_epoch: int,
        seed: int,
    ) -> None:
        self.instances = instances
        self.codec = codec
        self.seed = seed
        self.stage2_begin_epoch = stage2_begin_epoch
        input_size = codec.input_size
        lower = lower_body_mask(skeleton.keypoint_names)
        self.stages = (
            TopdownAugment(augment, input_size, skeleton.flip_indices, lower),
            TopdownAugment(augment_stage2, input_size, skeleton.flip_indices, lower),
        )

    def __len__(self) -> int:
        return len(self.instances)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = key
        inst = self.instances[index]
        rng = np.random.default_rng([self.seed, epoch, index])
        center, scale = boxes_to_center_scale(inst.bbox[None], self.codec.input_size)
        sample = Sample(read_image(inst.image_path), center[0], scale[0], inst.keypoints, inst.visible)
        augment = self.stages[int(epoch >= self.stage2_begin_epoch)]
        crop, keypoints, visible = augment(sample, rng)
        target_x, target_y, weights = self.codec.encode(keypoints[None], visible[None])
        return {
            "image": torch.from_numpy(normalize_crops(crop[None])[0]),
            "target_x": torch.from_numpy(target_x[0]),
            "target_y": torch.from_numpy(target_y[0]),
            "weight": torch.from_numpy(weights[0]),
        }


class GlobalBatchSampler(Sampler):
    """Yields ``(epoch, index)`` keys: this rank's slice of every global batch.

    The order is a permutation drawn from (seed, epoch), cut into global batches of
    ``global_batch`` (the last partial batch dropped); rank r of W takes the r-th
    W-th of each batch. So 1 process with batch B and W processes with B/W each see
    the same global batches, and ``start_iter`` skips batches already trained on
    when a run resumes mid-epoch.
    """

    def __init__(self, size: int, global_batch: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if global_batch % world_size:
            raise ValueError(f"batch_size {global_batch} is not divisible by {world_size} processes")
        if size < global_batch:
            raise ValueError(f"{size} training instances are fewer than one batch of {global_batch}")
        self.size, self.global_batch, self.seed = size, global_batch, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start_iter = 0, 0

    @property
    def iters_per_epoch(self) -> int:
        return self.size // self.global_batch

    def set_epoch(self, epoch: int, start_iter: int = 0) -> None:
        self.epoch, self.start_iter = epoch, start_iter

    def __len__(self) -> int:
        return (self.iters_per_epoch - self.start_iter) * self.global_batch // self.world_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        local = self.global_batch // self.world_size
        for b in range(self.start_iter, self.iters_per_epoch):
            batch = order[b * self.global_batch : (b + 1) * self.global_batch]
            for index in batch[self.rank * local : (self.rank + 1) * local]:
                yield self.epoch, int(index)
