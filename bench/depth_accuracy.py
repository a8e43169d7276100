"""Depth-mode 3D accuracy on synthetic RGB-D: ground-truth 2D vs the pose model's own 2D.

    python bench/depth_accuracy.py                                   # ground-truth 2D only
    python bench/depth_accuracy.py --model pose_perception/bundled/rtmpose-t-synthetic.onnx

Frames come from the synthetic generator (``render_example``: 1-3 people, exact joint
centres) with a sensor's depth (``synthetic.sensor``: z² noise, blob holes, speckle;
``--exact`` for the renderer's). For every visible joint (v = 2) it prints the fraction
that gets 3D and the 3D error (mean, p95, mm) against the true joint centre:

* ``ground-truth 2D``: the labelled keypoints, scored 1 (what the depth stage can do);
* ``model 2D`` (with ``--model``): the keypoints the pose model finds in the ground-truth
  boxes, through the same ``PoseEstimator`` the node runs, with their own scores; its 2D
  error (px) is printed too, since the 3D error follows from it.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from pose_perception.depth import DepthConfig, measure_with_depth
from pose_perception.people import Person
from pose_perception.skeletons import COCO17
from pose_perception.synthetic.coco import render_example
from pose_perception.synthetic.sensor import sensor_depth


def ground_truth_people(result) -> list[Person]:
    return [label.as_detection() for label in result.people]


def model_people(estimator, result, truth: list[Person]) -> list[Person]:
    """The model's keypoints in the ground-truth boxes (one person per box, same order)."""
    boxes = np.stack([p.bbox for p in truth]).astype(np.float32)
    keypoints, scores = estimator.estimate(result.image, boxes)
    return [
        Person(track_id=0, bbox=box, score=1.0, keypoints=kp.astype(np.float32), keypoint_scores=sc)
        for box, kp, sc in zip(boxes, keypoints, scores, strict=True)
    ]


def summarise(name: str, errors_mm: list[np.ndarray], n_valid: int, n_visible: int) -> str:
    e = np.concatenate(errors_mm) if errors_mm else np.zeros(0)
    if not len(e):
        return f"{name:16s} 3D for 0/{n_visible} visible joints"
    return (
        f"{name:16s} 3D for {n_valid}/{n_visible} visible joints ({n_valid / n_visible:.1%}): "
        f"mean {e.mean():.1f} mm, median {np.median(e):.1f}, p95 {np.percentile(e, 95):.1f}, "
        f"max {e.max():.0f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="pose model (.onnx, registry name) for the 'model 2D' rows")
    parser.add_argument("--frames", type=int, default=20, help="synthetic frames (seeds 0..N-1)")
    parser.add_argument(
        "--exact", action="store_true", help="the renderer's exact depth (no noise, no holes)"
    )
    args = parser.parse_args(argv)

    estimator = None
    if args.model:
        from pose_perception.estimator import PoseEstimator

        estimator = PoseEstimator(args.model)
    config = DepthConfig()
    names = COCO17.keypoint_names
    sources = ["ground-truth 2D"] + (["model 2D"] if estimator else [])
    errors: dict[str, list[np.ndarray]] = {s: [] for s in sources}
    valid_count = dict.fromkeys(sources, 0)
    n_visible = 0
    pixel_errors: list[np.ndarray] = []
    for seed in range(args.frames):
        result = render_example(seed, 0, (640, 480), (1, 3))[1]
        depth = sensor_depth(result.depth, None if args.exact else np.random.default_rng(seed))
        camera = result.camera.pinhole()
        truth = ground_truth_people(result)
        people = {"ground-truth 2D": truth}
        if estimator is not None:
            people["model 2D"] = model_people(estimator, result, truth)
        for source, persons in people.items():
            measured = measure_with_depth(persons, depth, camera, config, names)
            for person, joints, label in zip(persons, measured, result.people, strict=True):
                visible = label.visibility == 2
                ok = joints.valid & visible
                valid_count[source] += int(ok.sum())
                errors[source].append(
                    np.linalg.norm(joints.positions[ok] - label.keypoints_3d[ok], axis=1) * 1e3
                )
                if source == "model 2D":
                    pixel_errors.append(
                        np.linalg.norm(person.keypoints[visible] - label.keypoints[visible], axis=1)
                    )
        n_visible += int(sum((label.visibility == 2).sum() for label in result.people))
    noise = "exact depth" if args.exact else "z² noise + holes"
    print(f"{args.frames} synthetic RGB-D frames ({noise}), {n_visible} visible joints")
    for source in sources:
        print(summarise(source, errors[source], valid_count[source], n_visible))
    if pixel_errors:
        px = np.concatenate(pixel_errors)
        print(
            f"model 2D error on visible joints: median {np.median(px):.1f} px, "
            f"p95 {np.percentile(px, 95):.1f} px"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
