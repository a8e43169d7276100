"""Benchmarks printed as side-by-side ratios measured in one run.

``estimator-overhead``: per-crop time of ``PoseEstimator.estimate`` (pre-process +
inference + decode) against a bare ``onnxruntime.InferenceSession.run`` on the same
ONNX file and the same crops, on the same InferenceSession. Calls run in blocks of
consecutive calls (the steady state of a video stream) alternating in ABBA order so
that load and frequency drift of a shared machine hit both equally; medians compared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pose_perception.codec import decode_simcc
from pose_perception.estimator import PoseEstimator


@dataclass
class OverheadResult:
    batch: int
    ours_ms_per_crop: float
    bare_ms_per_crop: float
    preprocess_ms_per_crop: float
    decode_ms_per_crop: float

    @property
    def ratio(self) -> float:
        return self.ours_ms_per_crop / self.bare_ms_per_crop

    @property
    def overhead_percent(self) -> float:
        return (self.ratio - 1.0) * 100.0


def person_boxes(count: int, width: int, height: int) -> np.ndarray:
    """``count`` person-shaped boxes spread over the image (deterministic)."""
    box_w, box_h = width / max(count, 2) * 0.9, height * 0.8
    xs = np.linspace(0, width - box_w, count)
    return np.array([[x, height * 0.1, x + box_w, height * 0.1 + box_h] for x in xs], np.float32)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def measure_overhead(
    onnx_path: str | Path,
    batch_sizes: tuple[int, ...] = (1, 8),
    repeats: int = 20,
    warmup: int = 2,
    block: int = 5,
    threads: int | None = None,
    image_size: tuple[int, int] = (640, 480),
    seed: int = 0,
) -> list[OverheadResult]:
    estimator = PoseEstimator(str(onnx_path), backend="onnxruntime", threads=threads)
    # The bare baseline runs on the estimator's own InferenceSession: two sessions would
    # each own a spinning thread pool that steals cores from whichever runs next.
    bare = estimator.backend.session  # type: ignore[attr-defined]
    width, height = image_size
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    results = []
    for batch in batch_sizes:
        boxes = person_boxes(batch, width, height)
        crops, _, _ = estimator.preprocess(image, boxes)
        simcc = estimator.infer(crops)
        ours: list[float] = []
        plain: list[float] = []
        pre: list[float] = []
        dec: list[float] = []
        # Blocks of consecutive calls (steady state, as frame after frame), in ABBA
        # order so that drift of this shared machine hits both sides equally.
        for round_index in range(warmup + repeats):
            order = ("ours", "bare") if round_index % 2 == 0 else ("bare", "ours")
            for side in order:
                for _ in range(block):
                    if side == "ours":
                        t = _timed(lambda: estimator.estimate(image, boxes))  # noqa: B023
                    else:
                        t = _timed(lambda: bare.run(None, {"input": crops}))  # noqa: B023
                    if round_index >= warmup:
                        (ours if side == "ours" else plain).append(t)
            if round_index >= warmup:
                pre.append(_timed(lambda: estimator.preprocess(image, boxes)))  # noqa: B023
                dec.append(_timed(lambda: decode_simcc(*simcc, estimator.info.simcc_split_ratio)))  # noqa: B023
        results.append(
            OverheadResult(
                batch=batch,
                ours_ms_per_crop=statistics.median(ours) / batch,
                bare_ms_per_crop=statistics.median(plain) / batch,
                preprocess_ms_per_crop=statistics.median(pre) / batch,
                decode_ms_per_crop=statistics.median(dec) / batch,
            )
        )
    return results


def _export_random(arch: str, directory: str) -> Path:
    """Random weights time exactly like trained ones; used when no ONNX file is given."""
    from pose_perception.runtime.export import export_rtmpose

    return Path(export_rtmpose(arch, Path(directory) / f"{arch}.onnx")[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pose-perception bench",
        description="PoseEstimator overhead vs bare onnxruntime on the same ONNX file and crops.",
    )
    parser.add_argument("--onnx", help="ONNX pose model (default: export --arch with random weights)")
    parser.add_argument("--arch", default="rtmpose-t", help="architecture when --onnx is not given")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=20, help="measured rounds")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds")
    parser.add_argument("--block", type=int, default=5, help="consecutive calls per side per round")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: ORT default)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.onnx) if args.onnx else _export_random(args.arch, tmp)
        results = measure_overhead(
            path, tuple(args.batch_sizes), args.repeats, args.warmup, args.block, args.threads or None
        )
    name = path.name if args.onnx else f"{args.arch} (random weights)"
    print(f"model: {name}; medians of {args.repeats}×{args.block} calls per side")
    print(f"{'batch':>5} {'ours ms/crop':>13} {'bare ms/crop':>13} {'ratio':>7} {'overhead':>9}"
          f" {'pre ms/crop':>12} {'decode ms/crop':>15}")  # fmt: skip
    for r in results:
        print(
            f"{r.batch:>5} {r.ours_ms_per_crop:>13.3f} {r.bare_ms_per_crop:>13.3f} {r.ratio:>7.3f}"
            f" {r.overhead_percent:>8.1f}% {r.preprocess_ms_per_crop:>12.3f} {r.decode_ms_per_crop:>15.4f}"
        )
    if args.json:
        rows = [asdict(r) | {"ratio": r.ratio, "overhead_percent": r.overhead_percent} for r in results]
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0
