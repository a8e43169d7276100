"""Write synthetic people as a COCO keypoints dataset (images, depth, 3D joints, intrinsics).

Layout under ``out_dir``: ``images/000000.jpg`` (or ``.png``), ``depth/000000.png``
(uint16 millimetres, 0 = no surface) and ``annotations.json`` — standard COCO keypoints
(``images``, ``annotations`` with ``bbox``/``area`` of the visible silhouette, polygon
``segmentation``, ``keypoints`` [x, y, v]×17, ``num_keypoints``, ``iscrowd`` 0, the
``person`` category with the COCO keypoint names and 1-based skeleton) plus extras: per
image ``camera`` {fx, fy, cx, cy}, ``depth_file``, ``depth_scale`` (m per unit), and per
annotation ``keypoints_3d`` (17×[x, y, z], metres, camera optical frame),
``height_m`` and ``pose_kind``.

Image ``i`` is drawn from seed ``[seed, i]`` alone, so datasets are byte-identical for the
same arguments (with any ``workers``) and a longer dataset extends a shorter one.

CLI: ``python -m pose_perception.synthetic.coco OUT --images N --seed S``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pose_perception.skeletons import COCO17
from pose_perception.synthetic.body import COCO_KEYPOINTS, COCO_SKELETON
from pose_perception.synthetic.raster import RenderResult, render_scene
from pose_perception.synthetic.scene import Scene, sample_scene

_LEFT = (80, 220, 80)  # BGR
_RIGHT = (40, 140, 255)
_MID = (230, 160, 60)


def render_example(
    seed: int,
    index: int = 0,
    image_size: tuple[int, int] = (640, 480),
    people: tuple[int, int] | int = (1, 3),
) -> tuple[Scene, RenderResult]:
    """The scene and rendering of dataset image ``index`` for ``seed``."""
    scene = sample_scene([seed, index], image_size, people)
    return scene, render_scene(scene)


def iter_clip(
    seed: int,
    num_frames: int,
    fps: float = 30.0,
    image_size: tuple[int, int] = (640, 480),
    people: tuple[int, int] | int = (1, 3),
) -> Iterator[RenderResult]:
    """Frames of one scene over time (walking/swaying people, fixed camera) for video tests."""
    scene = sample_scene([seed, 1 << 30], image_size, people)
    for i in range(num_frames):
        yield render_scene(scene, i / fps)


def draw_keypoints(result: RenderResult, image: np.ndarray | None = None) -> np.ndarray:
    """A copy of the image with boxes and keypoints: filled = visible, ring = occluded."""
    img = (result.image if image is None else image).copy()
    for label in result.people:
        x, y, w, h = (int(v) for v in label.bbox)
        if w > 0:
            cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), (255, 255, 255), 1)
        for a, b in COCO_SKELETON:
            if label.visibility[a] > 0 and label.visibility[b] > 0:
                pa = tuple(int(v) for v in np.rint(label.keypoints[a]))
                pb = tuple(int(v) for v in np.rint(label.keypoints[b]))
                cv2.line(img, pa, pb, (200, 200, 200), 1, cv2.LINE_AA)
        for i, name in enumerate(COCO_KEYPOINTS):
            v = label.visibility[i]
            if v == 0:
                continue
            c = _LEFT if name.startswith("left") else _RIGHT if name.startswith("right") else _MID
            p = tuple(int(q) for q in np.rint(label.keypoints[i]))
            cv2.circle(img, p, 4, c, -1 if v == 2 else 1, cv2.LINE_AA)
    return img


def _polygons(mask: np.ndarray) -> list[list[float]]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for c in contours:
        c = cv2.approxPolyDP(c, 1.0, True)
        if len(c) >= 3:
            polys.append([float(v) for v in c.reshape(-1)])
    return polys


def _r(values: np.ndarray, digits: int) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(values).reshape(-1)]


def _one(job: tuple[Path, int, int, tuple[int, int], tuple[int, int], str, int, bool]) -> dict[str, Any]:
    """Render, write and describe dataset image ``index`` (also run in worker processes)."""
    out_dir, seed, index, size, people, ext, quality, depth = job
    _, result = render_example(seed, index, size, people)
    name = f"{index:06d}"
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    cv2.imwrite(str(out_dir / "images" / f"{name}.{ext}"), result.image, params)
    image: dict[str, Any] = {
        "id": index + 1,
        "file_name": f"{name}.{ext}",
        "width": size[0],
        "height": size[1],
        "camera": {k: round(v, 4) for k, v in result.camera.intrinsics().items()},
        "camera_elevation_m": round(result.camera.elevation, 4),
        "camera_tilt_rad": round(result.camera.tilt, 5),
    }
    if depth:
        png = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
        cv2.imwrite(str(out_dir / "depth" / f"{name}.png"), result.depth_mm(), png)
        image |= {"depth_file": f"depth/{name}.png", "depth_scale": 0.001}
    anns = []
    for k, label in enumerate(result.people):
        if label.area == 0:
            continue  # fully hidden: nothing to annotate
        kps = np.concatenate([label.keypoints, label.visibility[:, None]], axis=1)
        anns.append(
            {
                "image_id": index + 1,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": _r(label.bbox, 1),
                "area": float(label.area),
                "segmentation": _polygons(result.instance == k),
                "keypoints": [
                    round(float(v), 2) if i % 3 < 2 else int(v) for i, v in enumerate(kps.reshape(-1))
                ],
                "num_keypoints": label.num_keypoints,
                "keypoints_3d": [_r(p, 4) for p in label.keypoints_3d],
                "height_m": round(label.height_m, 3),
                "pose_kind": label.kind,
                "person_index": k,
            }
        )
    return {"image": image, "annotations": anns}


def write_coco_dataset(
    out_dir: str | Path,
    num_images: int,
    seed: int = 0,
    image_size: tuple[int, int] = (640, 480),
    people: tuple[int, int] | int = (1, 3),
    image_format: str = "jpg",
    jpeg_quality: int = 92,
    depth: bool = True,
    workers: int = 1,
    progress: bool = False,
) -> Path:
    """Render ``num_images`` images under ``out_dir`` and return the annotations json path."""
    if num_images < 0:
        raise ValueError("num_images must be >= 0")
    if image_format not in ("jpg", "png"):
        raise ValueError(f"image_format must be 'jpg' or 'png', got {image_format!r}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    if depth:
        (out / "depth").mkdir(parents=True, exist_ok=True)
    span = (people, people) if isinstance(people, int) else (int(people[0]), int(people[1]))
    size = (int(image_size[0]), int(image_size[1]))
    jobs = [(out, seed, i, size, span, image_format, jpeg_quality, depth) for i in range(num_images)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=num_images, unit="img", desc="synthetic")
    results: list[dict[str, Any]] = []
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if workers > 1 and main_file is not None and not Path(main_file).exists():
        workers = 1  # spawned workers re-import __main__ and cannot (a script piped to stdin)
    if workers > 1 and num_images > 1:
        ctx = multiprocessing.get_context("spawn")  # fork can deadlock in OpenCV's thread pool
        with ctx.Pool(workers, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
            for r in pool.imap(_one, jobs, chunksize=4):
                results.append(r)
                if bar is not None:
                    bar.update()
    else:
        for job in jobs:
            results.append(_one(job))
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for r in results:
        images.append(r["image"])
        for a in r["annotations"]:
            annotations.append({"id": len(annotations) + 1, **a})
    data = {
        "info": {
            "description": "pose_perception synthetic people",
            "version": "1",
            "seed": seed,
            "people": list(span),
            "keypoints_3d_frame": "camera optical frame (x right, y down, z forward), metres",
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [COCO17.coco_category()],
    }
    path = out / "annotations.json"
    path.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    return path


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m pose_perception.synthetic.coco",
        description="Render a synthetic COCO-17 keypoints dataset (images, depth, 3D joints).",
    )
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--images", type=int, default=100, help="number of images (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=_size, default=(640, 480), help="WIDTHxHEIGHT (default 640x480)")
    p.add_argument("--people", type=int, nargs=2, default=(1, 3), metavar=("MIN", "MAX"))
    p.add_argument("--format", choices=("jpg", "png"), default="jpg")
    p.add_argument("--quality", type=int, default=92, help="JPEG quality")
    p.add_argument("--no-depth", action="store_true", help="skip the depth PNGs")
    p.add_argument("--workers", type=int, default=1, help="processes (output is identical)")
    args = p.parse_args(argv)
    path = write_coco_dataset(
        args.out,
        args.images,
        args.seed,
        args.size,
        tuple(args.people),
        args.format,
        args.quality,
        not args.no_depth,
        args.workers,
        progress=True,
    )
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
