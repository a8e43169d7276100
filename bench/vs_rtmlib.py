"""Frames/s of PoseEstimator vs rtmlib's RTMPose: same ONNX file, same frames, same boxes.

    bash scripts/setup_bench.sh                 # rtmlib into .venv (--no-deps: see that file)
    python bench/vs_rtmlib.py                   # random-weight rtmpose-t, 1280x720, 6 people
    python bench/vs_rtmlib.py --arch rtmpose-t rtmpose-s --frames 400 --threads 0 1 2
    python bench/vs_rtmlib.py --onnx model.onnx --width 640 --height 480 --frames 50

Both sides load the very same .onnx file (CPU EP; ``--device cuda``: CUDA EP on both,
not tried yet) and get the same pre-rendered BGR frames (``pose_perception.synthetic``
walkers, all visible, little overlap) with the same ``--people`` boxes per frame, as a
detector would hand them over. rtmlib runs as its README shows,
``RTMPose(onnx_model=...)(image, bboxes=boxes)``: one crop per ``InferenceSession.run``;
ours is ``PoseEstimator.estimate``: all crops of a frame in one run. A second "ours" row
is ``PosePipeline.process(image, stamp, boxes=...)`` (pose, pose NMS, tracker, smoother)
when the pipeline takes external boxes.

Each side runs in its own process, as in an application (an idle ONNX Runtime thread
pool in the same process would steal cores from the other side). Per thread setting the
sides take turns in rounds of ``--block`` consecutive frames, ABBA order, so that the
drift of this shared VM hits all alike: frames/s are totals, the ratio is the median
of per-round ratios (min and max shown). ``--threads 0``: each library's ONNX Runtime
defaults; ``T > 0``: T intra-op threads on both (rtmlib has no option for it, so its
session is re-made with the same providers and T threads) and ``cv2.setNumThreads(T)``.
Then a per-stage split (pre-process / inference / decode) measured the same way, and
an agreement check of the two implementations on the same crops.
Target: ours/rtmlib >= 2x frames/s.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import inspect
import io
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pose_perception.codec import decode_simcc
from pose_perception.estimator import PoseEstimator
from pose_perception.topdown import keypoints_to_image
from pose_perception.tracking import box_iou

try:
    from pose_perception.synthetic import make_sequence, render
except ImportError:  # the generator as a module of the synthetic package
    from pose_perception.synthetic.walkers import make_sequence, render

Scene = tuple[np.ndarray, np.ndarray]  # BGR image, (N,4) float32 boxes
Side = Callable[[np.ndarray, np.ndarray], object]
STAGES = ("pre", "infer", "decode", "run")
TARGET = 2.0


def require_rtmlib() -> Any:
    try:
        import rtmlib
    except ImportError:
        sys.exit("rtmlib is not installed: run `bash scripts/setup_bench.sh` (pip install --no-deps rtmlib)")
    return rtmlib


def environment() -> str:
    import onnxruntime as ort

    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"python {platform.python_version()}, {platform.system()} {platform.machine()}, CPU {cpu}, "
        f"os.cpu_count() {os.cpu_count()}, usable {len(os.sched_getaffinity(0))}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
        f"onnxruntime {ort.__version__} ({', '.join(ort.get_available_providers())}), "
        f"cv2 {cv2.__version__} (getNumThreads {cv2.getNumThreads()}), numpy {np.__version__}, "
        f"rtmlib {version('rtmlib')}, pose-perception {version('pose-perception')}"
    )


def busy_cpu_seconds() -> float:
    """CPU seconds all processes of this machine have used since boot (/proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """Share of the machine's CPUs that processes other than ``pids`` used since start."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.started, self.busy, self.mine = time.perf_counter(), busy_cpu_seconds(), self._mine()

    def _mine(self) -> float:
        return sum(process_cpu_seconds(pid) for pid in self.pids)

    def fraction(self) -> float:
        others = busy_cpu_seconds() - self.busy - (self._mine() - self.mine)
        return max(0.0, others / ((time.perf_counter() - self.started) * (os.cpu_count() or 1)))


def make_scenes(
    width: int, height: int, people: int, count: int = 20, seed: int = 0, max_iou: float = 0.3
) -> list[Scene]:
    """``count`` rendered frames in which all ``people`` walkers are visible and boxes
    overlap little (pairwise IoU <= ``max_iou`` where such frames exist). Deterministic:
    every process builds the same frames."""
    seq = make_sequence(people, seconds=20.0, fps=30.0, seed=seed, width=width, height=height)
    candidates = []
    for index, frame in enumerate(seq.frames):
        if len(frame.boxes) != people or not frame.visible.all():
            continue
        iou = box_iou(frame.boxes, frame.boxes)
        np.fill_diagonal(iou, 0.0)
        candidates.append((float(iou.max()) if people > 1 else 0.0, index))
    if not candidates:
        raise SystemExit(f"no frame of the synthetic sequence shows all {people} people")
    good = [i for overlap, i in candidates if overlap <= max_iou] or [i for _, i in sorted(candidates)]
    picked = [good[j] for j in np.linspace(0, len(good) - 1, min(count, len(good))).round().astype(int)]
    scenes = []
    for index in picked:
        boxes = seq.frames[index].boxes.astype(np.float32).copy()
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width - 1)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height - 1)
        scenes.append((render(seq, index), boxes))
    return scenes


def rtmlib_model(model: str, input_size: tuple[int, int], threads: int, device: str = "cpu") -> Any:
    """rtmlib's RTMPose with its defaults; with ``threads``, its session re-made with
    that many intra-op threads (rtmlib itself has no thread option)."""
    rtmlib = require_rtmlib()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "load <file> with ... backend"
        pose = rtmlib.RTMPose(
            onnx_model=model, model_input_size=input_size, backend="onnxruntime", device=device
        )
    if threads:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        pose.session = ort.InferenceSession(model, options, providers=pose.session.get_providers())
    return pose


def pipeline_accepts_boxes() -> bool:
    from pose_perception.pipeline import PosePipeline

    return "boxes" in inspect.signature(PosePipeline.process).parameters


def pipeline_side(model: str, threads: int, device: str) -> Side:
    """``PosePipeline.process`` with external boxes (pose, pose NMS, tracker, smoother).
    Its detector is never called when boxes are given."""
    from pose_perception.config import Config
    from pose_perception.detection import FullFrameDetector
    from pose_perception.pipeline import PosePipeline

    config = Config()
    config = dataclasses.replace(
        config,
        estimator=dataclasses.replace(config.estimator, model=model, threads=threads, device=device),
        # random weights score low: keep all people flowing into the tracker and smoother
        output=dataclasses.replace(config.output, min_person_score=0.0),
    )
    estimator = PoseEstimator(model, backend="onnxruntime", device=device, threads=threads or None)
    pipeline = PosePipeline(config, estimator=estimator, detector=FullFrameDetector())
    frame = [0]

    def process(image: np.ndarray, boxes: np.ndarray) -> object:
        frame[0] += 1
        return pipeline.process(image, frame[0] / 30.0, boxes=boxes)

    return process


# -- the worker process of one side ------------------------------------------------------


class Worker:
    """One side (``ours``, ``rtmlib`` or ``ours pipeline``) in a process of its own,
    running frames on request; times are taken inside it (no IPC in them)."""

    def __init__(
        self,
        side: str,
        model: str,
        input_size: tuple[int, int],
        threads: int,
        device: str,
        scene_args: tuple[int, int, int],
    ) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self.side, self.conn = side, parent
        self.process = context.Process(
            target=_serve, args=(child, side, model, input_size, threads, device, scene_args), daemon=True
        )
        self.process.start()
        self.description = ""

    def wait_ready(self) -> None:
        """Blocks until the side is built (workers start in parallel, then wait)."""
        self.description = self._call("ready")

    def _call(self, *request: Any) -> Any:
        if request[0] != "ready":
            self.conn.send(request)
        reply = self.conn.recv()
        if isinstance(reply, BaseException):
            raise RuntimeError(f"{self.side} worker failed") from reply
        return reply

    def run(self, start: int, count: int) -> list[float]:
        """Seconds per frame of ``count`` consecutive frames from scene ``start`` on."""
        return self._call("run", start, count)

    def stages(self, start: int, count: int) -> list[dict[str, float]]:
        return self._call("stages", start, count)

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self.conn.send(("stop",))
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()


def _serve(
    conn: Any,
    side: str,
    model: str,
    input_size: tuple[int, int],
    threads: int,
    device: str,
    scene_args: tuple[int, int, int],
) -> None:
    try:
        if threads:
            cv2.setNumThreads(threads)
        scenes = make_scenes(*scene_args)
        ours = theirs = session = None
        if side == "ours":
            ours = PoseEstimator(model, backend="onnxruntime", device=device, threads=threads or None)
            call: Side = ours.estimate
            session = ours.backend.session  # type: ignore[attr-defined]
        elif side == "rtmlib":
            theirs = rtmlib_model(model, input_size, threads, device)
            call = lambda image, boxes: theirs(image, bboxes=boxes)  # noqa: E731
            session = theirs.session
        else:
            call = pipeline_side(model, threads, device)
        configured = session.get_session_options().intra_op_num_threads if session else threads
        conn.send(f"{configured or 'default'} intra-op threads, cv2 {cv2.getNumThreads()}")
    except BaseException:  # reported to the parent, which raises
        conn.send(RuntimeError(traceback.format_exc()))
        return
    while True:
        request = conn.recv()
        try:
            if request[0] == "run":
                _, start, count = request
                times = []
                for i in range(start, start + count):
                    image, boxes = scenes[i % len(scenes)]
                    began = time.perf_counter()
                    call(image, boxes)
                    times.append(time.perf_counter() - began)
                conn.send(times)
            elif request[0] == "stages":
                _, start, count = request
                frames = [scenes[i % len(scenes)] for i in range(start, start + count)]
                conn.send(_stages_rtmlib(theirs, frames) if theirs else _stages_ours(ours, frames))  # type: ignore[arg-type]
            else:
                return
        except BaseException:
            conn.send(RuntimeError(traceback.format_exc()))


def _stages_ours(ours: PoseEstimator, frames: list[Scene]) -> list[dict[str, float]]:
    """Seconds per frame in estimate()'s stages; ``run``: a bare session.run on the same
    batch, timed on its own."""
    width, height = ours.info.input_size
    buffer = np.empty((len(frames[0][1]), 3, height, width), np.float32)
    session = ours.backend.session  # type: ignore[attr-defined]
    rows = []
    for image, boxes in frames:
        t0 = time.perf_counter()
        batch, centers, scales = ours.preprocess(image, boxes, out=buffer[: len(boxes)])
        t1 = time.perf_counter()
        simcc_x, simcc_y = ours.backend.infer(batch)
        t2 = time.perf_counter()
        keypoints, _ = decode_simcc(simcc_x, simcc_y, ours.info.simcc_split_ratio)
        keypoints_to_image(keypoints, centers, scales, ours.info.input_size)
        t3 = time.perf_counter()
        session.run(None, {session.get_inputs()[0].name: batch})
        t4 = time.perf_counter()
        rows.append({"pre": t1 - t0, "infer": t2 - t1, "decode": t3 - t2, "run": t4 - t3})
    return rows


def _stages_rtmlib(theirs: Any, frames: list[Scene]) -> list[dict[str, float]]:
    """The same split of rtmlib's RTMPose.__call__ (its per-box loop, summed per frame);
    ``run``: a bare session.run on the very tensor its inference() packs."""
    names = [o.name for o in theirs.session.get_outputs()]
    input_name = theirs.session.get_inputs()[0].name
    rows = []
    for image, boxes in frames:
        row = dict.fromkeys(STAGES, 0.0)
        for bbox in boxes:
            t0 = time.perf_counter()
            crop, center, scale = theirs.preprocess(image, bbox)
            t1 = time.perf_counter()
            outputs = theirs.inference(crop)
            t2 = time.perf_counter()
            theirs.postprocess(outputs, center, scale)
            t3 = time.perf_counter()
            packed = np.ascontiguousarray(crop.transpose(2, 0, 1), np.float32)[None]
            t4 = time.perf_counter()
            theirs.session.run(names, {input_name: packed})
            t5 = time.perf_counter()
            for key, value in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t5 - t4), strict=True):
                row[key] += value
        rows.append(row)
    return rows


# -- the parent: rounds, split, agreement -------------------------------------------------


def run_rounds(
    workers: dict[str, Worker], frames: int, block: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-frame seconds and per-round frames/s of each side: rounds of ``block``
    consecutive frames per side, the order reversed every other round (ABBA)."""
    names = list(workers)
    for name in names:
        workers[name].run(0, warmup)
    times: dict[str, list[float]] = {n: [] for n in names}
    round_fps: dict[str, list[float]] = {n: [] for n in names}
    for r in range(max(1, -(-frames // block))):
        for name in names if r % 2 == 0 else names[::-1]:
            spent = workers[name].run(r * block, block)
            times[name].extend(spent)
            round_fps[name].append(block / sum(spent))
    return times, round_fps


def stage_split(workers: dict[str, Worker], frames: int, block: int = 2) -> dict[str, dict[str, float]]:
    """Median ms per frame of each stage, ours and rtmlib in ABBA rounds of ``block`` frames."""
    rows: dict[str, list[dict[str, float]]] = {"ours": [], "rtmlib": []}
    for name in rows:
        workers[name].stages(0, 2)  # warm-up
    for r in range(max(1, -(-frames // block))):
        for name in ("ours", "rtmlib") if r % 2 == 0 else ("rtmlib", "ours"):
            rows[name] += workers[name].stages(r * block, block)
    return {
        name: {key: statistics.median(row[key] for row in side) * 1e3 for key in STAGES}
        for name, side in rows.items()
    }


def agreement(model: str, scenes: list[Scene]) -> dict[str, float]:
    """Same crops, logits and keypoints? rtmlib normalises the array it is given with the
    RGB mean/std (no BGR→RGB swap), so it gets the BGR frame (as its README does) and
    the RGB frame (what our BGR API feeds the network); boxes as our float32 array and
    as Python floats (rtmlib's centre/scale arithmetic follows the boxes' dtype)."""
    ours = PoseEstimator(model, backend="onnxruntime", device="cpu")
    theirs = rtmlib_model(model, ours.info.input_size, 0)
    out = dict.fromkeys(("tensor_rgb", "tensor_rgb64", "tensor_bgr", "logits", "spread"), 0.0)
    out |= dict.fromkeys(("kp_bgr", "kp_rgb", "kp_rgb64", "score", "differing", "values"), 0.0)

    def worst(key: str, value: Any) -> None:
        out[key] = max(out[key], float(value))

    for image, boxes in scenes:
        rgb = np.ascontiguousarray(image[..., ::-1])
        batch, _, _ = ours.preprocess(image, boxes)
        simcc_x, simcc_y = ours.infer(batch)
        for i, bbox in enumerate(boxes):
            crops = {
                "tensor_rgb": theirs.preprocess(rgb, bbox)[0],
                "tensor_rgb64": theirs.preprocess(rgb, bbox.tolist())[0],
                "tensor_bgr": theirs.preprocess(image, bbox)[0],
            }
            for key, crop in crops.items():
                worst(key, np.abs(crop.transpose(2, 0, 1) - batch[i]).max())
            out["differing"] += np.count_nonzero(
                np.abs(crops["tensor_rgb64"].transpose(2, 0, 1) - batch[i]) > 1e-4
            )
            out["values"] += batch[i].size
            their_x, their_y = theirs.inference(crops["tensor_rgb64"])
            diff = max(np.abs(their_x[0] - simcc_x[i]).max(), np.abs(their_y[0] - simcc_y[i]).max())
            worst("logits", diff / np.abs(simcc_x[i]).max())
        worst("spread", max(np.abs(simcc_x - simcc_x[:1]).max(), np.abs(simcc_y - simcc_y[:1]).max()))
        keypoints, scores = ours.estimate(image, boxes)
        kp_bgr, their_scores = theirs(image, bboxes=boxes)
        worst("kp_bgr", np.abs(keypoints - kp_bgr).max())
        worst("kp_rgb", np.abs(keypoints - theirs(rgb, bboxes=boxes)[0]).max())
        worst("kp_rgb64", np.abs(keypoints - theirs(rgb, bboxes=boxes.tolist())[0]).max())
        worst("score", np.abs(scores - their_scores).max())
    out["spread"] /= float(np.abs(simcc_x).max())
    return out


def print_agreement(check: dict[str, float], frames: int) -> None:
    print(f"  agreement on {frames} frames (same .onnx, same boxes, default threads):")
    print(
        f"    input tensor max|diff|: {check['tensor_rgb64']:.1e} (rtmlib given the RGB frame, boxes as "
        f"floats; {check['differing'] / check['values']:.1e} of the values differ by > 1e-4), "
        f"{check['tensor_rgb']:.1e} (float32 boxes), {check['tensor_bgr']:.2f} (BGR frame); "
        "1 grey level = 0.017"
    )
    print(f"    logits max|diff| / max|logit|, same crop: {check['logits']:.1e}")
    print(
        f"    keypoints max|diff| px: {check['kp_bgr']:.4f} (rtmlib fed BGR, float32 boxes), "
        f"{check['kp_rgb']:.4f} (RGB), {check['kp_rgb64']:.4f} (RGB, float boxes)"
    )
    print(
        f"    scores max|diff|: {check['score']:.3f} (rtmlib: mean of the x and y maxima; "
        "ours: the smaller one, as MMPose)"
    )
    if check["spread"] < 1e-3:
        print(
            f"    note: this model's logits hardly depend on the crop (relative spread "
            f"{check['spread']:.0e} across the boxes): the keypoint check covers box -> crop -> "
            "image geometry and decoding; the tensor check covers the pixels"
        )


def bench_model(model: str, label: str, args: argparse.Namespace) -> list[tuple[str, float]]:
    """Prints the rows of one model; returns (setting, median ratio) per thread setting."""
    print(f"\n=== {label}: {args.width}x{args.height} frames, {args.people} boxes each ===")
    if args.check:
        check = agreement(model, make_scenes(args.width, args.height, args.people)[: args.check])
        print_agreement(check, args.check)
    with_pipeline = args.pipeline and pipeline_accepts_boxes()
    if args.pipeline and not with_pipeline:
        print("  (no pipeline row: PosePipeline.process takes no `boxes` in this checkout)")
    summary = []
    scene_args = (args.width, args.height, args.people)
    input_size = PoseEstimator(model).info.input_size  # (w, h) from the file, for rtmlib
    for threads in args.threads:
        setting = "ORT defaults" if threads == 0 else f"{threads} thread(s) on both"
        sides = ["ours", "rtmlib"] + (["ours pipeline"] if with_pipeline else [])
        workers = {side: Worker(side, model, input_size, threads, args.device, scene_args) for side in sides}
        pids = [os.getpid()] + [w.process.pid for w in workers.values() if w.process.pid]
        try:
            for side in sides:
                try:
                    workers[side].wait_ready()
                except RuntimeError as err:
                    if side != "ours pipeline":
                        raise
                    print(f"  (no pipeline row: it failed to start: {err.__cause__})")
                    workers.pop(side).close()
            load = OtherLoad(pids)
            times, round_fps = run_rounds(workers, args.frames, args.block, args.warmup)
            others = load.fraction()
            load = OtherLoad(pids)
            split = stage_split(workers, args.profile_frames) if args.profile_frames else None
            split_others = load.fraction()
        finally:
            for worker in workers.values():
                worker.close()
        print(
            f"\n[{setting}] {len(times['ours'])} frames per side, rounds of {args.block}, ABBA; "
            f"other processes used {others:.0%} of the CPUs meanwhile"
        )
        for side, worker in workers.items():
            print(f"  {side}: {worker.description}")
        print(
            f"  {'side':<14}{'frames/s':>9}{'p50 ms':>9}{'p95 ms':>9}  ours/this: median of rounds [min, max]"
        )
        fps = {name: len(t) / sum(t) for name, t in times.items()}
        for name, values in times.items():
            ms = np.array(values) * 1e3
            ratios = np.array(round_fps["ours"]) / np.array(round_fps[name])
            ratio = (
                f"{np.median(ratios):.2f}x [{ratios.min():.2f}, {ratios.max():.2f}]" if name != "ours" else ""
            )
            p50, p95 = np.percentile(ms, [50, 95])
            print(f"  {name:<14}{fps[name]:>9.1f}{p50:>9.1f}{p95:>9.1f}  {ratio}")
        ratios = np.array(round_fps["ours"]) / np.array(round_fps["rtmlib"])
        median = float(np.median(ratios))
        print(
            f"  ours/rtmlib frames/s: {median:.2f}x, median of {len(ratios)} rounds (min {ratios.min():.2f}, "
            f"max {ratios.max():.2f}; from totals {fps['ours'] / fps['rtmlib']:.2f}); "
            f"target >= {TARGET:.0f}x: {'MET' if median >= TARGET else 'MISSED'}"
        )
        if with_pipeline:
            per = np.array(round_fps["ours pipeline"]) / np.array(round_fps["rtmlib"])
            print(
                f"  ours pipeline/rtmlib frames/s: {np.median(per):.2f}x [{per.min():.2f}, {per.max():.2f}]"
            )
        if split:
            print_split(split, args.profile_frames, args.people, split_others)
        summary.append((f"{label}, {setting}", median))
    return summary


def print_split(split: dict[str, dict[str, float]], frames: int, people: int, others: float) -> None:
    print(
        f"  stages, median ms per frame over {frames} frames (ABBA rounds of 2; other processes "
        f"used {others:.0%} of the CPUs meanwhile):"
    )
    print(f"    {'side':<8}{'pre':>8}{'infer':>8}{'decode':>8}{'sum':>8}   bare session.run, same tensors")
    for name, st in split.items():
        total = st["pre"] + st["infer"] + st["decode"]
        how = f"1 x batch {people}" if name == "ours" else f"{people} x batch 1"
        print(
            f"    {name:<8}{st['pre']:>8.2f}{st['infer']:>8.2f}{st['decode']:>8.2f}{total:>8.2f}"
            f"   {st['run']:.2f} ({how})"
        )
    o, t = split["ours"], split["rtmlib"]
    print(
        f"    rtmlib/ours: pre {t['pre'] / o['pre']:.1f}x, infer {t['infer'] / o['infer']:.2f}x, "
        f"decode {t['decode'] / o['decode']:.1f}x, bare run {t['run'] / o['run']:.2f}x; "
        f"inference is {o['infer'] / (o['pre'] + o['infer'] + o['decode']):.0%} of ours"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--onnx", nargs="+", help="pose model(s) (default: random-weight export of --arch)")
    parser.add_argument("--arch", nargs="+", default=["rtmpose-t"], help="exported when --onnx is not given")
    parser.add_argument("--frames", type=int, default=120, help="measured frames per side and setting")
    parser.add_argument("--block", type=int, default=10, help="consecutive frames per side per round")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured frames per side first")
    parser.add_argument("--people", type=int, default=6, help="person boxes per frame")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[0, 1], help="settings: 0 = ORT defaults, T = T on both"
    )
    parser.add_argument(
        "--device", default="cpu", choices=("cpu", "cuda"), help="both sides (cuda: needs onnxruntime-gpu)"
    )
    parser.add_argument("--profile-frames", type=int, default=20, help="frames of the stage split (0: skip)")
    parser.add_argument("--check", type=int, default=5, help="frames of the agreement check (0: skip)")
    parser.add_argument("--no-pipeline", dest="pipeline", action="store_false", help="skip the pipeline row")
    args = parser.parse_args(argv)
    if min(args.frames, args.block, args.people) < 1 or min(args.threads) < 0 or args.warmup < 0:
        parser.error("--frames, --block and --people must be >= 1; --threads and --warmup >= 0")

    require_rtmlib()
    print(environment())
    scenes = make_scenes(args.width, args.height, args.people)
    sizes = np.concatenate([b[:, 2:] - b[:, :2] for _, b in scenes])
    print(
        f"{len(scenes)} distinct frames, {args.people} boxes each, "
        f"box w x h median {np.median(sizes[:, 0]):.0f} x {np.median(sizes[:, 1]):.0f} px"
    )
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.onnx:
            models = [(path, Path(path).name) for path in args.onnx]
        else:
            from pose_perception.runtime.export import export_rtmpose

            models = []
            for arch in args.arch:
                path = str(Path(tmp) / f"{arch}.onnx")
                export_rtmpose(arch, path, seed=0)
                models.append((path, f"{arch} (random weights)"))
        for path, label in models:
            summary += bench_model(path, label, args)
    print("\nsummary, ours/rtmlib frames/s (median of rounds):")
    for setting, ratio in summary:
        print(f"  {setting:<50} {ratio:5.2f}x  {'MET' if ratio >= TARGET else 'MISSED'} (target >= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
