"""Benchmarks printed as side-by-side ratios measured in one run.

``estimator-overhead``: per-crop time of ``PoseEstimator.estimate`` (pre-process +
inference + decode) against a bare ``onnxruntime.InferenceSession.run`` on the same
ONNX file and the same crops. Calls alternate between the two so that machine load
and frequency drift hit both equally; medians are compared.
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
    repeats: int = 50,
    warmup: int = 5,
    threads: int | None = None,
    image_size: tuple[int, int] = (640, 480),
    seed: int = 0,
) -> list[OverheadResult]:
    import onnxruntime as ort

    estimator = PoseEstimator(str(onnx_path), backend="onnxruntime", threads=threads)
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    bare = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    width, height = image_size
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    results = []
    for batch in batch_sizes:
        boxes = person_boxes(batch, width, height)
        crops, _, _ = estimator.preprocess(image, boxes)
        simcc = estimator.infer(crops)
        ours, plain, pre, dec = [], [], [], []
        for i in range(warmup + repeats):
            t_ours = _timed(lambda: estimator.estimate(image, boxes))  # noqa: B023
            t_bare = _timed(lambda: bare.run(None, {"input": crops}))  # noqa: B023
            t_pre = _timed(lambda: estimator.preprocess(image, boxes))  # noqa: B023
            t_dec = _timed(lambda: estimator_decode(estimator, simcc))  # noqa: B023
            if i >= warmup:
                ours.append(t_ours)
                plain.append(t_bare)
                pre.append(t_pre)
                dec.append(t_dec)
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


def estimator_decode(estimator: PoseEstimator, simcc: tuple[np.ndarray, np.ndarray]) -> None:
    from pose_perception.codec import decode_simcc

    decode_simcc(simcc[0], simcc[1], estimator.info.simcc_split_ratio)


def _export_random(arch: str, directory: str) -> Path:
    """Random weights time exactly like trained ones; used when no ONNX file is given."""
    import torch

    from pose_perception.estimator import module_info
    from pose_perception.models import build_rtmpose
    from pose_perception.runtime.export import export_onnx

    torch.manual_seed(0)
    model = build_rtmpose(arch)
    return Path(export_onnx(model, module_info(model, None), Path(directory) / f"{arch}.onnx"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pose-perception bench",
        description="PoseEstimator overhead vs bare onnxruntime on the same ONNX file and crops.",
    )
    parser.add_argument("--onnx", help="ONNX pose model (default: export --arch with random weights)")
    parser.add_argument("--arch", default="rtmpose-t", help="architecture when --onnx is not given")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: ORT default)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.onnx) if args.onnx else _export_random(args.arch, tmp)
        results = measure_overhead(
            path, tuple(args.batch_sizes), args.repeats, args.warmup, args.threads or None
        )
    print(f"model: {path.name if args.onnx else args.arch + ' (random weights)'}; medians of {args.repeats}")
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
