"""COCO keypoint evaluation: top-down inference on GT (or detector) boxes, optional flip
test, results in the COCO results format, OKS AP/AR from ``pycocotools.COCOeval``.

Inference goes through the same ``PoseEstimator`` the robot runs (crop, normalise,
flip-test, SimCC decode), so the number measured is the number deployed. Scoring
follows MMPose's ``CocoMetric`` defaults: instance score = box score × mean of the
keypoint scores above 0.2, then OKS-NMS at 0.9 per image.

    python -m pose_perception.training.evaluate --config CFG --checkpoint work_dirs/x/best.pth
    python -m pose_perception.training.evaluate --model model.onnx --ann val.json --images val/
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
from collections import defaultdict
from typing import Any

import numpy as np

from pose_perception.estimator import PoseEstimator
from pose_perception.skeletons import Skeleton
from pose_perception.training.data import (
    Instance,
    keypoint_category,
    load_detections,
    load_instances,
    read_image,
    read_json,
)

STAT_NAMES = ("AP", "AP50", "AP75", "AP_M", "AP_L", "AR", "AR50", "AR75", "AR_M", "AR_L")


def oks(a: np.ndarray, b: np.ndarray, area: float, sigmas: np.ndarray) -> float:
    """Object keypoint similarity of two (K, 2) poses at object ``area`` (COCO formula)."""
    variances = (2 * sigmas) ** 2
    d2 = ((a - b) ** 2).sum(-1)
    return float(np.mean(np.exp(-d2 / variances / (area + np.spacing(1)) / 2)))


def instance_score(box_score: float, keypoint_scores: np.ndarray, thr: float = 0.2) -> float:
    valid = keypoint_scores[keypoint_scores > thr]
    return float(box_score * valid.mean()) if len(valid) else 0.0


def oks_nms(results: list[dict[str, Any]], sigmas: np.ndarray, thr: float = 0.9) -> list[dict[str, Any]]:
    """Greedy NMS of one image's poses by OKS (area = mean of the two boxes' areas)."""
    order = sorted(range(len(results)), key=lambda i: -results[i]["score"])
    keep: list[int] = []
    for i in order:
        kp_i = np.asarray(results[i]["keypoints"]).reshape(-1, 3)[:, :2]
        if all(
            oks(
                kp_i,
                np.asarray(results[j]["keypoints"]).reshape(-1, 3)[:, :2],
                (results[i]["area"] + results[j]["area"]) / 2,
                sigmas,
            )
            <= thr
            for j in keep
        ):
            keep.append(i)
    return [results[i] for i in sorted(keep)]


def predict(
    estimator: PoseEstimator,
    instances: list[Instance],
    category_id: int,
    sigmas: np.ndarray | None,
    nms_thr: float | None = 0.9,
) -> list[dict[str, Any]]:
    """COCO results (one dict per instance) for every box, image by image."""
    by_image: dict[str, list[Instance]] = defaultdict(list)
    for inst in instances:
        by_image[inst.image_path].append(inst)
    out: list[dict[str, Any]] = []
    for path, group in by_image.items():
        boxes = np.stack([inst.bbox for inst in group])
        keypoints, scores = estimator.estimate(read_image(path), boxes)
        results = []
        for inst, kp, sc, box in zip(group, keypoints, scores, boxes, strict=True):
            flat = np.concatenate([kp, sc[:, None]], axis=1).reshape(-1)
            results.append(
                {
                    "image_id": inst.image_id,
                    "category_id": category_id,
                    "keypoints": [round(float(v), 3) for v in flat],
                    "score": instance_score(inst.score, sc),
                    "area": float((box[2] - box[0]) * (box[3] - box[1])),
                }
            )
        if nms_thr is not None and sigmas is not None:
            results = oks_nms(results, sigmas, nms_thr)
        out.extend(results)
    for r in out:
        del r["area"]
    return out


def coco_eval(
    gt: str | os.PathLike[str] | dict[str, Any], results: list[dict[str, Any]], sigmas: np.ndarray
) -> tuple[dict[str, float], Any]:
    """OKS AP/AR with the skeleton's sigmas; returns the named stats and the COCOeval."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = read_json(gt) if not isinstance(gt, dict) else gt
        coco_gt.createIndex()
        if not results:
            return dict.fromkeys(STAT_NAMES, 0.0), None
        coco_dt = coco_gt.loadRes(results)
        evaluator = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
        evaluator.params.imgIds = sorted(coco_gt.getImgIds())
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(v) for name, v in zip(STAT_NAMES, evaluator.stats, strict=True)}, evaluator


def require_sigmas(skeleton: Skeleton) -> np.ndarray:
    if skeleton.sigmas is None:
        raise ValueError(f"skeleton {skeleton.name!r} has no OKS sigmas: add 'sigmas:' to its YAML")
    return np.asarray(skeleton.sigmas, np.float64)


def evaluate(
    estimator: PoseEstimator,
    ann_file: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    bbox_file: str | os.PathLike[str] | None = None,
    results_file: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Evaluate on GT boxes (or ``bbox_file`` detections); optionally save the results."""
    skeleton = estimator.skeleton
    sigmas = require_sigmas(skeleton)
    k = skeleton.num_keypoints
    if bbox_file is None:
        instances = load_instances(ann_file, image_root, k)
    else:
        instances = load_detections(bbox_file, ann_file, image_root, k)
    category = keypoint_category(read_json(ann_file), k, str(ann_file))
    results = predict(estimator, instances, category, sigmas)
    if results_file is not None:
        os.makedirs(os.path.dirname(os.path.abspath(results_file)), exist_ok=True)
        with open(results_file, "w", encoding="utf-8") as f:
            json.dump(results, f)
    stats, _ = coco_eval(ann_file, results, sigmas)
    return stats, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help="training YAML (architecture, schema, val set)")
    parser.add_argument("--checkpoint", help="training checkpoint or state dict (with --config)")
    parser.add_argument("--model", help="an .onnx model instead of --config/--checkpoint")
    parser.add_argument("--ann", help="COCO keypoint annotations (default: config val_ann)")
    parser.add_argument("--images", help="image folder (default: config val_images)")
    parser.add_argument("--bbox-file", help="COCO detection results to use instead of GT boxes")
    parser.add_argument("--no-flip", action="store_true", help="disable the flip test")
    parser.add_argument("--no-ema", action="store_true", help="use the raw, not the EMA, weights")
    parser.add_argument("--out", help="write the COCO results JSON here")
    args = parser.parse_args(argv)
    ann, images, bbox_file = args.ann, args.images, args.bbox_file
    if args.model:
        estimator = PoseEstimator(args.model, flip_test=not args.no_flip)
    else:
        if not (args.config and args.checkpoint):
            parser.error("give --model X.onnx, or --config and --checkpoint")
        from pose_perception.training.config import load_config
        from pose_perception.training.model import load_trained, skeleton_for

        cfg = load_config(args.config)
        model = load_trained(cfg, args.checkpoint, use_ema=not args.no_ema)
        flip = not args.no_flip
        estimator = PoseEstimator(model, backend="torch", flip_test=flip, skeleton=skeleton_for(cfg))
        ann, images = ann or cfg.val_ann, images or cfg.val_images
        bbox_file = bbox_file or cfg.val_bbox_file
    if not (ann and images):
        parser.error("--ann and --images are needed")
    stats, _ = evaluate(estimator, ann, images, bbox_file, args.out)
    print(json.dumps(stats, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
