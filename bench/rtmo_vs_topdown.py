"""RTMO-s (one-stage) vs the top-down pipeline (detector every 5 frames + RTMPose-s): frames/s on CPU.

    python bench/rtmo_vs_topdown.py                        # 1, 6 and 20 people, 1280x720, ORT 1 thread
    python bench/rtmo_vs_topdown.py --people 1 4 8 12 16 20 --threads 1 2 --frames 60
    python bench/rtmo_vs_topdown.py --quick                # smoke run: 1 and 2 people, 1 frame each

Random weights (seed 0), exported by our exporters and run by ONNX Runtime on the CPU, the
node's default backend. Both sides get the same frames: ``pose_perception.synthetic``
walkers (all visible, little overlap; the scenes of ``bench/vs_rtmlib.py``), N people each.

- **top-down**: ``PosePipeline.process`` (boxes, batched RTMPose-s, tracker, smoother) with
  the detector every ``--interval`` frames, pose-derived boxes in between. No RTMDet-nano
  architecture is in the package, so the detector is a *stand-in* of the same input size
  (320x320, RTMDet preprocessing): CSPNeXt at RTMDet-nano's factors (deepen 0.33, widen
  0.25), CSPNeXtPAFPN over its stride-8/16/32 maps and a two-conv head per level, exported
  to ONNX and run by ``OnnxDetector`` (pre-process, inference, decode, filter). It uses
  plain convolutions where RTMDet-nano uses depthwise ones, so it is heavier than the real
  one (its parameter count is printed): the top-down side is timed pessimistically. Its
  own random boxes are dropped and the frame's true boxes returned, so that the pose
  stage sees exactly N people. Random keypoints are scored 0 after they are estimated
  (``ScoredZero``: boxes derived from them would shrink off the people) and the
  thresholds random weights would trip (minimum person score, re-detection on weak
  people, pose NMS) are off, so between detector frames each person keeps its box, the
  detector runs exactly every ``--interval`` frames, and the counts printed show it.
- **RTMO-s**: ``OneStageEstimator.estimate`` on the whole frame (640x640 letterbox), on
  our ONNX export with ONNX Runtime (the node's default; score threshold, NMS and the
  DCC of the kept people inside the graph) and/or in PyTorch (the same order: the DCC
  runs on the people kept after NMS only, as MMPose does), ``--rtmo-backends``. Random
  weights put ~2000 people above the official score threshold, whose NMS alone would
  dominate; so each frame's score threshold is calibrated (one untimed run) to keep N
  people, as a trained model does (random weights tie many scores, so the count can
  miss: the people column shows what each side got). Where ``PosePipeline`` has its
  one-stage mode (``pose_perception.person_source``), this side runs through it too
  (tracker, smoother); in a checkout without it, ``estimate`` alone (the top-down
  pipeline's tracker + smoother share is printed).

Each people count gets one rendered frame (``--scenes``), fed as a still video: with random
weights the pose-derived boxes between detector frames stay where the boxes were, so on a
still they stay on the people, as a trained model's do on a real video; with several
spread-out frames the jumps between them make the pipeline carry people it lost as
"missed" on detector frames, and more crops than people are estimated (the crops/fr
column shows it).

Per thread setting and people count the two sides take turns in rounds of ``--block``
frames, ABBA order, so the drift of a shared machine hits both alike; frames/s are
totals, the ratio the median of per-round ratios. ``--threads T``: T intra-op threads on
every ONNX Runtime session, ``torch.set_num_threads(T)`` and ``cv2.setNumThreads(T)``; 0: the
libraries' defaults. The crossover is
where the top-down frame time (fitted linear in N) reaches RTMO's (mean over N).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from vs_rtmlib import OtherLoad, Scene, environment, make_scenes

from pose_perception.config import Config
from pose_perception.detection import FullFrameDetector, OnnxDetector
from pose_perception.estimator import PoseEstimator
from pose_perception.models import build_model
from pose_perception.models.cspnext import ConvBNAct, CSPNeXt
from pose_perception.models.cspnext_pafpn import CSPNeXtPAFPN
from pose_perception.onestage import OneStageEstimator
from pose_perception.pipeline import PosePipeline
from pose_perception.runtime.export import export_rtmpose
from pose_perception.runtime.export_onestage import export_rtmo_onnx

DETECTOR_SIZE = 320  # RTMDet-nano person detector input (official config)
HEAD_CHANNELS = 64  # RTMDet-nano head width
Side = Callable[[int], int]  # frame index -> people out
TOP_DOWN = "top-down"
SHORT = {"onnxruntime": "ORT", "torch": "torch"}


class DetectorStandIn(nn.Module):
    """RTMDet-nano's layout from the package's blocks (see the module docstring); outputs
    the YOLOX raw-head layout [1, A, 4 box + objectness + person] that ``OnnxDetector`` reads."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = CSPNeXt(deepen_factor=0.33, widen_factor=0.25)
        channels = self.backbone.stage_channels
        self.neck = CSPNeXtPAFPN(channels, num_csp_blocks=1, out_indices=(0, 1, 2))
        self.stems = nn.ModuleList(
            nn.Sequential(ConvBNAct(c, HEAD_CHANNELS, 3), ConvBNAct(HEAD_CHANNELS, HEAD_CHANNELS, 3))
            for c in channels
        )
        self.box = nn.ModuleList(nn.Conv2d(HEAD_CHANNELS, 4, 1) for _ in channels)
        self.score = nn.ModuleList(nn.Conv2d(HEAD_CHANNELS, 2, 1) for _ in channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = []
        for feature, stem, box, score in zip(
            self.neck(self.backbone.stages(x)), self.stems, self.box, self.score, strict=True
        ):
            head = stem(feature)
            raw = torch.cat((box(head), score(head).sigmoid()), dim=1)
            levels.append(raw.flatten(2).transpose(1, 2))  # row-major cells, as yolox_grids
        return torch.cat(levels, dim=1)


def export_detector(path: Path) -> int:
    """Writes the stand-in detector (seed 0) as ONNX; returns its parameter count."""
    torch.manual_seed(0)
    model = DetectorStandIn().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, DETECTOR_SIZE, DETECTOR_SIZE),),
            str(path),
            dynamo=False,
            input_names=["input"],
            output_names=["raw"],
            opset_version=17,
        )
    return sum(p.numel() for p in model.parameters())


def export_models(folder: Path, rtmo_onnx: bool) -> dict[str, Path]:
    """Random-weight ONNX files of the networks (RTMO-s with ``rtmo_onnx``), in ``folder``."""
    paths = {name: folder / f"{name}.onnx" for name in ("detector", "rtmpose-s", "rtmo-s")}
    params = export_detector(paths["detector"])
    export_rtmpose("rtmpose-s", paths["rtmpose-s"], seed=0)
    torch.manual_seed(0)
    rtmo = build_model("rtmo-s")
    if rtmo_onnx:
        export_rtmo_onnx(rtmo, "rtmo-s", paths["rtmo-s"])
    print(
        f"detector stand-in: {params / 1e6:.2f} M parameters, {DETECTOR_SIZE}x{DETECTOR_SIZE}; "
        f"rtmo-s: {sum(p.numel() for p in rtmo.parameters()) / 1e6:.2f} M parameters"
    )
    return paths


class TrueBoxes:
    """The stand-in detector's full cost, then the frame's true boxes (see the module docstring)."""

    def __init__(self, detector: OnnxDetector) -> None:
        self.detector = detector
        self.truth = np.zeros((0, 4), np.float32)

    def detect(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.detector.detect(image_bgr)
        return self.truth, np.ones(len(self.truth), np.float32)


class ScoredZero(PoseEstimator):
    """Random weights' keypoints are no pose (they huddle in one spot of the crop, scoring ~7),
    and a box derived from them shrinks frame by frame, off the person; scored 0, they leave
    each person the detector's box until the next detector frame, as a trained model's
    pose-derived box stays on its person. The estimation itself is timed as it is."""

    def estimate(self, image_bgr: np.ndarray, bboxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keypoints, scores = super().estimate(image_bgr, bboxes_xyxy)
        return keypoints, np.zeros_like(scores)


def bench_config(threads: int, interval: int) -> Config:
    """The node's defaults, minus the thresholds random weights would trip."""
    config = Config()
    return dataclasses.replace(
        config,
        estimator=dataclasses.replace(config.estimator, threads=threads),
        detector=dataclasses.replace(
            config.detector, interval=interval, redetect_score=0.0, pose_nms_threshold=1.0
        ),
        output=dataclasses.replace(config.output, min_person_score=0.0),
    )


def open_rtmo(paths: dict[str, Path], backend: str, threads: int) -> OneStageEstimator:
    """``OneStageEstimator`` of the exported file (ONNX Runtime, ``threads`` intra-op threads,
    0: defaults) or of the same random weights in PyTorch (threads: ``thread_limits``)."""
    if backend == "torch":
        torch.manual_seed(0)
        return OneStageEstimator(build_model("rtmo-s"))
    return OneStageEstimator(paths["rtmo-s"], backend="onnxruntime", threads=threads or None)


def calibrated_thresholds(rtmo: OneStageEstimator, scenes: list[Scene], people: int) -> list[float]:
    """Per scene, a score threshold at which RTMO keeps ``people`` people: greedy NMS keeps a
    prefix of its full answer as the threshold rises, so a threshold between the
    ``people``-th and the next kept score does it (random weights tie many scores: then the
    threshold whose count is nearest)."""
    thresholds = []
    for image, _ in scenes:
        rtmo.score_thr = 0.0
        scores = rtmo.estimate(image)[1]
        if len(scores) <= people:
            thresholds.append(0.0)
            continue
        options = ((scores[people - 1] + scores[people]) / 2, np.nextafter(scores[people - 1], -1.0))
        thresholds.append(float(min(options, key=lambda t: abs(int((scores > t).sum()) - people))))
    return thresholds


@dataclasses.dataclass
class Tally:
    """Per-frame seconds and people of one side, per-round frames/s, extra counters."""

    seconds: list[float] = dataclasses.field(default_factory=list)
    people: list[int] = dataclasses.field(default_factory=list)
    round_fps: list[float] = dataclasses.field(default_factory=list)
    detector_runs: int = 0
    track_smooth_ms: list[float] = dataclasses.field(default_factory=list)

    @property
    def fps(self) -> float:
        return len(self.seconds) / sum(self.seconds)


def top_down_side(
    paths: dict[str, Path], scenes: list[Scene], threads: int, interval: int, tally: Tally
) -> Side:
    estimator = ScoredZero(paths["rtmpose-s"], backend="onnxruntime", threads=threads or None)
    detector = TrueBoxes(OnnxDetector(paths["detector"], "rtmdet", threads=threads or None))
    pipeline = PosePipeline(bench_config(threads, interval), estimator=estimator, detector=detector)

    def run(frame: int) -> int:
        image, boxes = scenes[frame % len(scenes)]
        detector.truth = boxes
        people = pipeline.process(image, frame / 30.0)
        timings = pipeline.timings
        tally.detector_runs += "detect_ms" in timings
        tally.track_smooth_ms.append(timings["track_ms"] + timings["smooth_ms"])
        return len(people)

    return run


def rtmo_pipeline(rtmo: OneStageEstimator, threads: int) -> PosePipeline | None:
    """The node's path for RTMO (``PosePipeline`` in its one-stage mode: the model's people,
    tracker, smoother) where this checkout has that mode; None: ``estimate`` alone."""
    if importlib.util.find_spec("pose_perception.person_source") is None:
        return None
    return PosePipeline(bench_config(threads, 1), estimator=rtmo, detector=FullFrameDetector())


def rtmo_side(rtmo: OneStageEstimator, scenes: list[Scene], thresholds: list[float], threads: int) -> Side:
    pipeline = rtmo_pipeline(rtmo, threads)

    def run(frame: int) -> int:
        index = frame % len(scenes)
        rtmo.score_thr = thresholds[index]
        if pipeline is None:
            return len(rtmo.estimate(scenes[index][0])[0])
        return len(pipeline.process(scenes[index][0], frame / 30.0))

    return run


def run_rounds(
    sides: dict[str, Side], tallies: dict[str, Tally], frames: int, block: int, warmup: int
) -> None:
    """``block`` consecutive frames per side per round, the order reversed every other round."""
    names = list(sides)
    for name in names:
        for frame in range(warmup):
            sides[name](frame)
    tallies[TOP_DOWN].detector_runs, tallies[TOP_DOWN].track_smooth_ms = 0, []
    for r in range(max(1, -(-frames // block))):
        for name in names if r % 2 == 0 else names[::-1]:
            spent = 0.0
            for frame in range(warmup + r * block, warmup + (r + 1) * block):
                began = time.perf_counter()
                people = sides[name](frame)
                seconds = time.perf_counter() - began
                spent += seconds
                tallies[name].seconds.append(seconds)
                tallies[name].people.append(people)
            tallies[name].round_fps.append(block / spent)


@contextlib.contextmanager
def thread_limits(threads: int) -> Iterator[None]:
    """OpenCV's and PyTorch's thread counts set to ``threads`` (0: left alone) meanwhile."""
    before = cv2.getNumThreads(), torch.get_num_threads()
    if threads:
        cv2.setNumThreads(threads)
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        cv2.setNumThreads(before[0])
        torch.set_num_threads(before[1])


def bench_threads(paths: dict[str, Path], args: argparse.Namespace, threads: int) -> list[dict[str, Any]]:
    """Rows (people, tallies of every side, other load) of one thread setting."""
    setting = "ORT and torch defaults" if threads == 0 else f"{threads} thread(s): ORT intra-op, torch, cv2"
    rows = []
    with thread_limits(threads):
        rtmos = {f"RTMO-s {SHORT[b]}": open_rtmo(paths, b, threads) for b in args.rtmo_backends}
        for people in args.people:
            scenes = make_scenes(args.width, args.height, people, count=args.scenes)
            tallies = {name: Tally() for name in (TOP_DOWN, *rtmos)}
            sides = {TOP_DOWN: top_down_side(paths, scenes, threads, args.interval, tallies[TOP_DOWN])}
            for name, rtmo in rtmos.items():
                sides[name] = rtmo_side(rtmo, scenes, calibrated_thresholds(rtmo, scenes, people), threads)
            load = OtherLoad([os.getpid()])
            run_rounds(sides, tallies, args.frames, args.block, args.warmup)
            rows.append({"people": people, "others": load.fraction(), "tallies": tallies})
    print_table(setting, rows, args)
    return rows


def print_table(setting: str, rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\n[{setting}] {args.width}x{args.height}, {args.frames} frames per side and count, rounds of "
        f"{args.block}, ABBA; detector every {args.interval} frames"
    )
    names = list(rows[0]["tallies"])[1:]
    print(
        f"  {'people':>6} | {'top-down f/s':>12}{'crops/fr':>9}{'det. runs':>10}{'trk+smo ms':>11} |"
        + "".join(f" {name + ' f/s':>16}{'people':>7}{'top-down/RTMO [min, max]':>26} |" for name in names)
        + f"{'others':>7}"
    )
    for row in rows:
        tallies = row["tallies"]
        top = tallies[TOP_DOWN]
        line = (
            f"  {row['people']:>6} | {top.fps:>12.2f}{np.mean(top.people):>9.1f}"
            f"{top.detector_runs:>5}/{len(top.seconds):<4}{statistics.median(top.track_smooth_ms):>11.2f} |"
        )
        for name in names:
            ratios = np.array(top.round_fps) / np.array(tallies[name].round_fps)
            line += (
                f" {tallies[name].fps:>16.2f}{np.mean(tallies[name].people):>7.1f}"
                f"{np.median(ratios):>11.2f}x [{ratios.min():5.2f}, {ratios.max():5.2f}] |"
            )
        print(line + f"{row['others']:>7.0%}")
    for name in names:
        print(f"  {name}: " + crossover(rows, name))


def crossover(rows: list[dict[str, Any]], name: str) -> str:
    """Where the top-down side becomes slower than RTMO: measured bracket and linear estimate."""
    counts = np.array([row["people"] for row in rows], float)
    top_ms = np.array([1e3 / row["tallies"][TOP_DOWN].fps for row in rows])
    rtmo_ms = float(np.mean([1e3 / row["tallies"][name].fps for row in rows]))
    slower = [int(n) for n, ms in zip(counts, top_ms, strict=True) if ms > rtmo_ms]
    measured = f"top-down slower from {slower[0]} people on" if slower else "top-down faster at every count"
    if len(rows) < 2:
        return f"crossover: {measured} (one count: no fit)"
    slope, intercept = np.polyfit(counts, top_ms, 1)
    fit = f"top-down {intercept:.1f} ms + {slope:.2f} ms/person, RTMO-s {rtmo_ms:.1f} ms per frame"
    if slope <= 0:
        return f"crossover: {measured}; {fit}: no crossover"
    return f"crossover: {measured}; {fit}: equal at {(rtmo_ms - intercept) / slope:.1f} people"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, nargs="+", default=[1, 6, 20], help="people per frame")
    parser.add_argument("--frames", type=int, default=20, help="measured frames per side and count")
    parser.add_argument("--block", type=int, default=5, help="consecutive frames per side per round")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured frames per side first")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="0 = ORT defaults, T = T threads")
    parser.add_argument(
        "--rtmo-backends",
        nargs="+",
        default=["onnxruntime", "torch"],
        choices=("onnxruntime", "torch"),
        help="RTMO-s sides: our ONNX export on ONNX Runtime (the node's default) and/or PyTorch",
    )
    parser.add_argument("--interval", type=int, default=5, help="top-down: detector every N frames")
    parser.add_argument(
        "--scenes", type=int, default=1, help="distinct frames per people count, in turn (see above)"
    )
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 and 2 people, 1 frame, 1 scene")
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.frames, args.block, args.warmup, args.scenes = [1, 2], 1, 1, 1, 1
    if min(args.frames, args.block, args.interval, args.scenes, *args.people) < 1 or min(args.threads) < 0:
        parser.error("--people, --frames, --block, --interval and --scenes must be >= 1; --threads >= 0")

    print(environment())
    with tempfile.TemporaryDirectory() as tmp:
        paths = export_models(Path(tmp), "onnxruntime" in args.rtmo_backends)
        for threads in args.threads:
            bench_threads(paths, args, threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
