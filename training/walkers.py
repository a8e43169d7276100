"""A small COCO keypoint set rendered from the synthetic walker sequences.

Stick figures are far from real people, but they make a complete, labelled COCO
dataset in seconds with no download: the training tests and the example config use it
until the 3D body generator's datasets are at hand.

    python -m pose_perception.training.walkers --out data/walkers --frames 200
"""

from __future__ import annotations

import argparse
import json
import os

import cv2
import numpy as np

from pose_perception.skeletons import COCO17


def write_walker_coco(
    out_dir: str,
    split: str = "train",
    frames: int = 60,
    seed: int = 0,
    width: int = 640,
    height: int = 360,
    num_people: int = 4,
    frame_step: int = 3,
) -> str:
    """Render every ``frame_step``-th frame to ``out_dir/<split>/`` and write
    ``out_dir/<split>.json``; hidden people become crowd-free ``num_keypoints: 0``
    annotations (skipped in training, ignored by COCOeval). Returns the JSON path."""
    from pose_perception.synthetic import make_sequence, render

    seq = make_sequence(
        num_people=num_people, seconds=frames * frame_step / 30.0, fps=30.0, seed=seed,
        width=width, height=height, occlusion_seconds=0.5,
    )  # fmt: skip
    image_dir = os.path.join(out_dir, split)
    os.makedirs(image_dir, exist_ok=True)
    images: list[dict[str, object]] = []
    annotations: list[dict[str, object]] = []
    for image_id, index in enumerate(range(0, len(seq.frames), frame_step), start=1):
        name = f"{image_id:06d}.png"
        cv2.imwrite(os.path.join(image_dir, name), render(seq, index))
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        frame = seq.frames[index]
        for row in range(len(frame.gt_ids)):
            kps = frame.keypoints[row]
            inside = (kps[:, 0] >= 0) & (kps[:, 0] < width) & (kps[:, 1] >= 0) & (kps[:, 1] < height)
            vis = np.where(inside & bool(frame.visible[row]), 2, 0)
            x1, y1, x2, y2 = (float(v) for v in frame.boxes[row])
            x1, y1, x2, y2 = max(x1, 0.0), max(y1, 0.0), min(x2, width - 1.0), min(y2, height - 1.0)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            flat = np.concatenate([np.where(vis[:, None] > 0, kps, 0.0), vis[:, None]], axis=1).reshape(-1)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                    "area": round((x2 - x1) * (y2 - y1), 2),
                    "iscrowd": 0,
                    "num_keypoints": int((vis > 0).sum()),
                    "keypoints": [round(float(v), 2) for v in flat],
                }
            )
    path = os.path.join(out_dir, f"{split}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"images": images, "annotations": annotations, "categories": [COCO17.coco_category()]}, f)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="data/walkers")
    parser.add_argument("--frames", type=int, default=200, help="training images")
    parser.add_argument("--val-frames", type=int, default=40)
    args = parser.parse_args(argv)
    print(write_walker_coco(args.out, "train", args.frames, seed=0))
    print(write_walker_coco(args.out, "val", args.val_frames, seed=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
