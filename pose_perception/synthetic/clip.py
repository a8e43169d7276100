"""Write a synthetic video clip and its person boxes: input for the demo and video tests.

``clip.mp4`` shows people walking and swaying in one scene (fixed camera, 30 fps);
``clip_boxes.json`` holds each frame's visible-silhouette boxes in the format of
``pose-perception run --boxes`` (``{"<frame index>": [[x1, y1, x2, y2], ...]}``), so the
clip can run through the pipeline where no person-detector weights are available.

CLI: ``python -m pose_perception.synthetic.clip OUT_DIR --frames 90 --seed 7``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import cv2
from tqdm import tqdm

from pose_perception.synthetic.coco import iter_clip
from pose_perception.synthetic.raster import RenderResult


def frame_boxes(result: RenderResult) -> list[list[float]]:
    """x1, y1, x2, y2 of each person with a visible silhouette."""
    boxes = []
    for person in result.people:
        if person.area > 0:
            x, y, w, h = (float(v) for v in person.bbox)
            boxes.append([x, y, x + w, y + h])
    return boxes


def write_clip(
    out_dir: str | Path,
    num_frames: int,
    seed: int,
    fps: float = 30.0,
    image_size: tuple[int, int] = (640, 480),
    people: tuple[int, int] = (2, 3),
) -> tuple[Path, Path]:
    """Render the clip; returns (video path, boxes JSON path)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    video_path, boxes_path = out / "clip.mp4", out / "clip_boxes.json"
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter.fourcc(*"mp4v"), fps, image_size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {video_path} (no mp4v encoder?)")
    boxes: dict[str, list[list[float]]] = {}
    try:
        frames = iter_clip(seed, num_frames, fps, image_size, people)
        for index, result in enumerate(tqdm(frames, total=num_frames, desc="rendering", unit="frame")):
            writer.write(result.image)
            boxes[str(index)] = frame_boxes(result)
    finally:
        writer.release()
    boxes_path.write_text(json.dumps(boxes) + "\n", encoding="utf-8")
    return video_path, boxes_path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m pose_perception.synthetic.clip",
        description="Render a synthetic multi-person video (clip.mp4) and its boxes (clip_boxes.json).",
    )
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--frames", type=int, default=90, help="number of frames (default 90)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--people", type=int, nargs=2, default=(2, 3), metavar=("MIN", "MAX"))
    args = p.parse_args(argv)
    video, boxes = write_clip(args.out, args.frames, args.seed, people=tuple(args.people))
    print(video)
    print(boxes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
