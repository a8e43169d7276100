"""``pose-perception run``: poses on images, a folder, a video or a camera, written as
annotated frames and keypoints.jsonl; ``--three-d lifter`` adds the monocular lifter's 3D."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from pose_perception.camera import PinholeCamera
from pose_perception.cli.boxes import BoxPlan
from pose_perception.cli.common import (
    LIFTER_FLAGS,
    CliError,
    add_estimator_options,
    add_three_d_options,
    error_message,
    finite_float,
    make_pipeline,
    positive_float,
    positive_int,
    refuse_unused_flags,
    run_config,
)
from pose_perception.config import DEPTH_MODES, Config
from pose_perception.outputs import FrameWriter, frame_record, frame_writer_for
from pose_perception.pipeline import PosePipeline
from pose_perception.sources import Frame, FrameSource, ImageSource, open_source
from pose_perception.three_d import LifterUnavailable
from pose_perception.viz import draw_people

_RUN_LIFTER_FLAGS = (*LIFTER_FLAGS, "hfov", "fx", "fy", "cx", "cy")  # run: the camera only places 3D


def add_command(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="estimate poses on an image, a folder, a video or a camera",
        description=(
            "Estimate poses and write annotated images (or <stem>_poses.mp4 for a video) and "
            "keypoints.jsonl. Command-line options override the --config file. People are found by "
            "the configured detector (every --det-interval frames), tracked with stable ids and "
            "smoothed; --box/--boxes give the person boxes instead (an external detector). A one-stage "
            "model (RTMO, e.g. --model rtmo-s) finds the people itself: no detector, no --box/--boxes/"
            "--whole-image. A hand, face or animal model (hand21/face106/ap10k) is not a person model: "
            "give its boxes (--box/--boxes) or use --whole-image for crops of one hand or face."
        ),
    )
    run.add_argument("source", help="image file, folder of images, video file, or camera index (0, 1, ...)")
    add_estimator_options(run, threshold_help="keypoint score below which nothing is drawn")
    boxes = run.add_mutually_exclusive_group()
    boxes.add_argument(
        "--box", action="append", metavar="X1,Y1,X2,Y2",
        help="a person box used on every frame (repeat for several people)",
    )  # fmt: skip
    boxes.add_argument(
        "--boxes", metavar="FILE",
        help='JSON {"<image file name or frame index>": [[x1,y1,x2,y2(,score)], ...]}; '
        "frames without an entry go through the detector (a hand, face or animal model: the whole frame)",
    )  # fmt: skip
    boxes.add_argument(
        "--whole-image", action="store_true",
        help="one box = the whole frame, on every frame, and no detector: for images that are crops "
        "of one hand, face or animal (hand/face/animal models do not run on the person detector)",
    )  # fmt: skip
    run.add_argument("--output-dir", default="pose_output", help="where outputs go (default: %(default)s)")
    run.add_argument("--no-images", action="store_true", help="write keypoints.jsonl only")
    run.add_argument("--max-frames", type=positive_int, help="stop after N frames")
    group = add_three_d_options(
        run,
        ("off", "lifter"),
        "lifter: 3D joints per person (metres, camera optical frame) in keypoints.jsonl from the "
        "monocular lifter, placed with the camera intrinsics (--fx/--fy/--cx/--cy, else --hfov)",
    )
    group.add_argument("--fx", type=positive_float, help="focal length x in pixels (default: from --hfov)")
    group.add_argument("--fy", type=positive_float, help="focal length y in pixels (default: --fx)")
    group.add_argument("--cx", type=finite_float, help="principal point x (default: the image centre)")
    group.add_argument("--cy", type=finite_float, help="principal point y (default: the image centre)")
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    plan = BoxPlan.from_args(args.box, args.boxes, args.whole_image)
    config = run_config(args)
    intrinsics = Intrinsics.from_args(args, config)
    if plan.fixed is not None or plan.whole_image:
        config.detector.type = "full_frame"  # every frame has the given boxes: no detector to load
    source = open_source(args.source, config.input.max_image_pixels)
    output_dir = Path(args.output_dir)
    _refuse_overwriting_inputs(source, output_dir, args.no_images)
    pipeline = _make_pipeline(config, bool(plan.table))
    if pipeline.one_stage and plan.gives_boxes:
        raise CliError(
            f"{config.estimator.model} is a one-stage model (RTMO): it finds the people itself; "
            "leave out --box/--boxes/--whole-image"
        )
    lifting = None if intrinsics is None else Lifting(intrinsics, config, _lifter_path(pipeline, config))
    output_dir.mkdir(parents=True, exist_ok=True)
    writer = None if args.no_images else frame_writer_for(source, output_dir)
    stats = RunStats(lifter=lifting is not None)
    try:
        with source, open(output_dir / "keypoints.jsonl", "w", encoding="utf-8") as jsonl:
            _process(source, pipeline, plan, jsonl, writer, args.max_frames, stats, lifting)
    except KeyboardInterrupt:  # the usual way to stop a camera run: still finalise and summarise
        print(f"{stats.summary(output_dir)} (interrupted)")
        return 130
    finally:
        if writer is not None:
            writer.close()
    if args.max_frames is None or stats.frames < args.max_frames:
        plan.warn_unused()
    print(stats.summary(output_dir))
    return 0


def _make_pipeline(config: Config, boxes_file: bool) -> PosePipeline:
    """The pipeline (which opens the lifter of ``three_d.lifter_model`` for this pose model
    in lifter mode), or a CliError saying why not."""
    try:
        return make_pipeline(config, boxes_file)
    except LifterUnavailable as err:
        raise CliError(f"cannot use the 3D lifter: {error_message(err.__cause__ or err)}") from err


def _lifter_path(pipeline: PosePipeline, config: Config) -> str:
    lifter = pipeline.three_d.lifter
    return str(getattr(lifter.model if lifter is not None else None, "path", config.three_d.lifter_model))


def _refuse_overwriting_inputs(source: FrameSource, output_dir: Path, no_images: bool) -> None:
    """Annotated images keep their file names, so writing them beside the inputs would replace them."""
    if no_images:
        return
    target = output_dir.resolve()
    if isinstance(source, ImageSource) and any(p.parent.resolve() == target for p in source.paths):
        raise CliError(f"--output-dir {output_dir} holds the input images; they would be overwritten")
    if source.kind == "video" and (target / f"{source.stem}_poses.mp4") == Path(source.spec).resolve():
        raise CliError(f"{source.spec} would be overwritten by its own annotated video")


@dataclasses.dataclass(frozen=True)
class Intrinsics:
    """What ``run`` knows of the camera: focal lengths and principal point in pixels, each
    optional (a video file carries no intrinsics); the rest comes from the nominal camera of
    ``output.assumed_hfov_deg`` for each frame's size, the camera the node assumes too."""

    fx: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, config: Config) -> Intrinsics | None:
        """None when 3D is off; CliError for flags that would be silently ignored."""
        mode = config.three_d.mode
        if mode in DEPTH_MODES:
            raise CliError(
                f"three_d.mode {mode} needs depth images; `run` has none (use --three-d lifter or off)"
            )
        refuse_unused_flags(args, mode, dict.fromkeys(_RUN_LIFTER_FLAGS, ("lifter",)))
        if mode == "off":
            return None
        if args.fy is not None and args.fx is None:
            raise CliError("--fy needs --fx (a focal length from --hfov is the same in x and y)")
        if args.fx is not None and args.hfov is not None:
            raise CliError("give the focal length as --fx (and --fy) or as --hfov, not both")
        return cls(args.fx, args.fy, args.cx, args.cy)

    def camera(self, width: int, height: int, hfov_deg: float) -> PinholeCamera:
        """The camera of a ``width`` x ``height`` frame: given values, nominal ones for the rest."""
        nominal = PinholeCamera.nominal(width, height, hfov_deg)
        fx = nominal.fx if self.fx is None else self.fx
        fy = fx if self.fy is None else self.fy
        cx = nominal.cx if self.cx is None else self.cx
        cy = nominal.cy if self.cy is None else self.cy
        return PinholeCamera(fx, fy, cx, cy, width, height)


@dataclasses.dataclass
class Lifting:
    """``run --three-d lifter``: the camera each frame's 3D is placed with (the pipeline
    lifts), and where the lifter came from."""

    intrinsics: Intrinsics
    config: Config
    lifter_model: str  # the lifter file the pipeline opened

    def camera(self, frame: Frame) -> PinholeCamera:
        height, width = frame.image.shape[:2]
        return self.intrinsics.camera(width, height, self.config.output.assumed_hfov_deg)

    def describe(self) -> dict[str, Any]:
        """Provenance for the first keypoints.jsonl line."""
        return {
            "mode": "lifter",
            "lifter_model": self.lifter_model,
            "body_height_m": self.config.three_d.body_height_m,
            "frame": "camera optical (x right, y down, z forward), metres",
        }


@dataclasses.dataclass
class RunStats:
    frames: int = 0
    people: int = 0
    seconds: float = 0.0  # time in PosePipeline.process, its 3D lifter aside
    lift_seconds: float = 0.0  # time in the 3D lifter (the pipeline's lifter_ms)
    lifter: bool = False  # --three-d lifter: the summary gives its time
    detector_runs: int = 0

    def summary(self, output_dir: Path) -> str:
        ms = 1000.0 * self.seconds / self.frames if self.frames else 0.0
        lift_ms = 1000.0 * self.lift_seconds / self.frames if self.frames else 0.0
        lifted = f", {lift_ms:.1f} ms/frame in the 3D lifter" if self.lifter else ""
        return (
            f"{self.frames} frames, {self.people} people, {ms:.1f} ms/frame in the pipeline{lifted} "
            f"(detector ran on {self.detector_runs}); outputs in {output_dir}"
        )


def _process(
    source: FrameSource,
    pipeline: PosePipeline,
    plan: BoxPlan,
    jsonl: IO[str],
    writer: FrameWriter | None,
    max_frames: int | None,
    stats: RunStats,
    lifting: Lifting | None = None,
) -> None:
    """Estimate, lift, record and draw each frame; ``stats`` is updated in place so an interrupt keeps it."""
    names: tuple[str, ...] | None = pipeline.skeleton.keypoint_names
    threshold = pipeline.config.estimator.keypoint_threshold
    for frame in _with_progress(source, max_frames):
        boxes = plan.for_frame(frame)
        camera = None if lifting is None else lifting.camera(frame)
        start = time.perf_counter()
        people = pipeline.process(
            frame.image, frame.stamp, None if boxes is None else boxes[:, :4], camera=camera
        )
        lift_seconds = pipeline.timings.get("lifter_ms", 0.0) / 1e3
        stats.seconds += time.perf_counter() - start - lift_seconds
        stats.lift_seconds += lift_seconds
        stats.frames += 1
        stats.people += len(people)
        stats.detector_runs = pipeline.detector_runs
        record = frame_record(frame, people, names, None if lifting is None else pipeline.camera)
        if names is not None and lifting is not None:
            record["three_d"] = lifting.describe()
        jsonl.write(json.dumps(record) + "\n")
        jsonl.flush()  # usable even if a camera run is interrupted
        names = None  # keypoint names (and the 3D settings) go on the first line only
        if writer is not None:
            writer.write(frame, draw_people(frame.image, people, pipeline.skeleton, threshold))


def _with_progress(source: FrameSource, max_frames: int | None) -> Iterable[Frame]:
    frames: Iterator[Frame] = itertools.islice(source, max_frames)
    total = source.frame_count
    if total is None:
        return frames
    from tqdm import tqdm

    total = min(total, max_frames) if max_frames else total
    return tqdm(frames, total=total, unit="frame", disable=None, leave=False)
