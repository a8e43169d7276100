"""Per-person latency of whole-body RTMW-m (133 keypoints) vs body-only RTMPose-m (17), CPU.

    python bench/wholebody_latency.py                        # batch 1 and 8, ORT 1 thread
    python bench/wholebody_latency.py --threads 0 1 2 --batch-sizes 1 4 8 --repeats 30
    python bench/wholebody_latency.py --quick                # smoke run (a few seconds of timing)

Both models are random-weight exports (seed 0) of our builders at 256x192 (``rtmw-m`` with
the ``coco_wholebody`` schema), run by ``PoseEstimator.estimate`` on ONNX Runtime, the
node's default backend: crop, normalise, one batched inference, SimCC decode, back to
image pixels. Each call gets the same image (seeded noise, 1280x720: the cost does not
depend on the pixels) and the first ``batch`` of spread person boxes. Per thread setting
and batch, the two models take turns in rounds of ``--block`` consecutive calls, ABBA
order, after ``--warmup`` unmeasured rounds, so that the drift of a shared machine hits
both alike; ms/person is the median call time over the batch, the ratio RTMW/RTMPose the
median of per-round ratios (min and max shown). ``--threads T``: T intra-op threads and
``cv2.setNumThreads(T)``; 0: ONNX Runtime's defaults.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from vs_rtmlib import OtherLoad, environment

from pose_perception.benchmarks import person_boxes
from pose_perception.estimator import PoseEstimator
from pose_perception.runtime.export import export_rtmpose
from pose_perception.skeletons import get_skeleton

MODELS = {"RTMPose-m": ("rtmpose-m", "coco17"), "RTMW-m": ("rtmw-m", "coco_wholebody")}


def export_models(folder: Path) -> dict[str, Path]:
    """Random-weight ONNX files of both models; prints their size."""
    paths = {}
    for label, (arch, skeleton) in MODELS.items():
        paths[label] = folder / f"{arch}.onnx"
        model, info, _ = export_rtmpose(arch, paths[label], skeleton=get_skeleton(skeleton), seed=0)
        width, height = info.input_size
        params = sum(p.numel() for p in model.parameters()) / 1e6
        keypoints = info.skeleton.num_keypoints
        print(f"{label}: {arch}, {width}x{height}, {keypoints} keypoints, {params:.2f} M parameters")
    return paths


def measure(
    estimators: dict[str, PoseEstimator], batch: int, args: argparse.Namespace
) -> tuple[dict[str, list[float]], list[float]]:
    """Milliseconds per call of each model, and the per-round RTMW/RTMPose ratios."""
    image = np.random.default_rng(0).integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    boxes = person_boxes(batch, args.width, args.height)
    names = list(estimators)
    calls: dict[str, list[float]] = {name: [] for name in names}
    ratios = []
    for round_index in range(args.warmup + args.repeats):
        medians = {}
        for name in names if round_index % 2 == 0 else names[::-1]:
            spent = []
            for _ in range(args.block):
                began = time.perf_counter()
                estimators[name].estimate(image, boxes)
                spent.append((time.perf_counter() - began) * 1e3)
            medians[name] = statistics.median(spent)
            if round_index >= args.warmup:
                calls[name] += spent
        if round_index >= args.warmup:
            ratios.append(medians["RTMW-m"] / medians["RTMPose-m"])
    return calls, ratios


def bench_threads(paths: dict[str, Path], args: argparse.Namespace, threads: int) -> None:
    setting = "ORT defaults" if threads == 0 else f"{threads} intra-op thread(s), cv2 {threads}"
    before = cv2.getNumThreads()
    if threads:
        cv2.setNumThreads(threads)
    estimators = {
        label: PoseEstimator(path, backend="onnxruntime", threads=threads or None)
        for label, path in paths.items()
    }
    print(
        f"\n[{setting}] {args.width}x{args.height} image; median of {args.repeats} rounds x {args.block} "
        f"calls per model, ABBA, after {args.warmup} warm-up rounds"
    )
    print(
        f"  {'batch':>5} | {'RTMPose-m ms/call':>17}{'ms/person':>10} | {'RTMW-m ms/call':>14}"
        f"{'ms/person':>10} | {'RTMW/RTMPose [min, max]':>24} | others"
    )
    try:
        for batch in args.batch_sizes:
            load = OtherLoad([os.getpid()])
            calls, ratios = measure(estimators, batch, args)
            line = f"  {batch:>5} |"
            for name, width in (("RTMPose-m", 17), ("RTMW-m", 14)):
                ms = statistics.median(calls[name])
                line += f" {ms:>{width}.2f}{ms / batch:>10.2f} |"
            print(
                line + f" {statistics.median(ratios):>11.2f}x [{min(ratios):.2f}, {max(ratios):.2f}] |"
                f" {load.fraction():>5.0%}"
            )
    finally:
        cv2.setNumThreads(before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8], help="people per call")
    parser.add_argument("--repeats", type=int, default=20, help="measured rounds")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds first")
    parser.add_argument("--block", type=int, default=5, help="consecutive calls per model per round")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="0 = ORT defaults, T = T threads")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rounds of 1 call, 1 warm-up")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.block, args.warmup = 2, 1, 1
    if min(args.repeats, args.block, *args.batch_sizes) < 1 or min(args.threads) < 0 or args.warmup < 0:
        parser.error("--repeats, --block and --batch-sizes must be >= 1; --threads and --warmup >= 0")

    print(environment())
    with tempfile.TemporaryDirectory() as tmp:
        paths = export_models(Path(tmp))
        for threads in args.threads:
            bench_threads(paths, args, threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
