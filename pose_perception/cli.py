"""``pose-perception`` command line: run, bag, export, models, download, bench.

User mistakes (bad paths, configs, boxes, unavailable models, mismatched checkpoints)
end with one ``pose-perception: error: ...`` line and exit code 2, never a traceback;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import itertools
import json
import logging
import math
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import numpy as np
import yaml

from pose_perception import __version__
from pose_perception.camera import PinholeCamera
from pose_perception.config import DEPTH_MODES, LIFTER_MODES, THREE_D_MODES, Config, load_config
from pose_perception.detection import DETECTOR_TYPES
from pose_perception.estimator import BACKENDS, PoseEstimator, validate_boxes
from pose_perception.lifting import TemporalLifter, lift_in_image, open_lifter_for
from pose_perception.people import Person
from pose_perception.pipeline import PosePipeline
from pose_perception.skeletons import Skeleton, get_skeleton
from pose_perception.sources import Frame, FrameSource, ImageSource, open_source
from pose_perception.three_d import LifterUnavailable
from pose_perception.viz import draw_people
from pose_perception.zoo import REGISTRY, ModelUnavailableError, cached_path, default_cache_dir, resolve

if TYPE_CHECKING:
    from torch import nn

PROG = "pose-perception"
PARITY_TOLERANCE = 1e-4
EXIT_USER_ERROR = 2
log = logging.getLogger(PROG)


class CliError(Exception):
    """A mistake in what the user asked for: reported in one line, exit code 2."""


# yaml.YAMLError: a malformed skeleton YAML; CheckpointMismatchError is a ValueError.
USER_ERRORS = (CliError, OSError, ValueError, ModelUnavailableError, yaml.YAMLError)


class _Parser(argparse.ArgumentParser):
    """Raises instead of exiting so ``main`` reports every user error the same way."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise CliError(message)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pose-perception`` console script and ``python -m pose_perception``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(format=f"{PROG}: %(levelname)s: %(message)s", level=logging.WARNING)
    try:
        if argv[:1] == ["bench"]:  # before argparse, so `bench --help` reaches the benchmark's parser
            return _cmd_bench(argv[1:])
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except SystemExit as exit_:  # --help, --version, or a delegated main calling sys.exit
        return _exit_code(exit_.code)
    except USER_ERRORS as err:
        print(f"{PROG}: error: {_message(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _message(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err) or type(err).__name__


def _exit_code(code: object) -> int:
    if code is None or isinstance(code, int):
        return int(code or 0)
    print(code, file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Real-time RTMPose human pose estimation.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(commands)
    _add_bag(commands)
    _add_export(commands)
    models = commands.add_parser("models", help="list the model registry and what is cached")
    models.add_argument("--cache-dir", default=None, help="model cache (default: the user cache)")
    models.set_defaults(handler=_cmd_models)
    download = commands.add_parser("download", help="download a registry model into the cache")
    download.add_argument("name", help=f"registry name: {', '.join(REGISTRY)}")
    download.add_argument("--cache-dir", default=None, help="model cache (default: the user cache)")
    download.set_defaults(handler=_cmd_download)
    bench = commands.add_parser(
        "bench", add_help=False, help="benchmark backends (see `pose-perception bench --help`)"
    )
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(handler=lambda args: _cmd_bench(args.bench_args))
    return parser


def _add_estimator_options(parser: argparse.ArgumentParser, threshold_help: str) -> None:
    """--config plus the estimator overrides that `_run_config` reads (run and bag)."""
    parser.add_argument("--config", help="YAML config (config/rtmpose.yaml format)")
    parser.add_argument("--model", help="registry name, .onnx or .pth file (config: estimator.model)")
    parser.add_argument("--arch", help="architecture of a .pth checkpoint, e.g. rtmpose-s")
    parser.add_argument("--backend", choices=BACKENDS, help="inference backend")
    parser.add_argument("--device", help="cpu | cuda[:N] | tensorrt[:N] | auto")
    parser.add_argument("--threads", type=_non_negative_int, help="intra-op threads (0: runtime default)")
    parser.add_argument(
        "--flip-test", action=argparse.BooleanOptionalAction, default=None,
        help="also run the mirrored crop and average (about +1 AP, twice the compute)",
    )  # fmt: skip
    parser.add_argument("--skeleton", help="coco17 | h36m17 | schema .yaml (default: from the model)")
    parser.add_argument("--threshold", type=float, help=threshold_help)
    parser.add_argument(
        "--min-score",
        type=float,
        help="people scoring below this are left out (config: output.min_person_score)",
    )
    parser.add_argument(
        "--detector", choices=DETECTOR_TYPES,
        help="person detector (config: detector.type): onnx model, hog (no weights), full_frame",
    )  # fmt: skip
    parser.add_argument(
        "--detector-model", help="detector registry name or .onnx file (config: detector.model)"
    )
    parser.add_argument(
        "--det-interval", type=_positive_int,
        help="run the detector every N frames, pose-derived boxes in between (config: detector.interval)",
    )  # fmt: skip
    parser.add_argument(
        "--smoothing", action=argparse.BooleanOptionalAction, default=None,
        help="One-Euro smoothing of tracked keypoints (config: smoothing.enabled)",
    )  # fmt: skip


def _add_three_d_options(parser: argparse.ArgumentParser, modes: Sequence[str], mode_help: str) -> Any:
    """3D keypoints (run and bag): the ``three_d.*`` settings the node reads, as flags; returns the group."""
    group = parser.add_argument_group("3D keypoints")
    group.add_argument("--three-d", choices=modes, help=f"{mode_help} (config: three_d.mode; default off)")
    group.add_argument(
        "--lifter-model", metavar="FILE",
        help="lifter .onnx (config: three_d.lifter_model; default: the bundled "
        "lifter-causal-synthetic.onnx, trained on synthetic motion only)",
    )  # fmt: skip
    group.add_argument(
        "--body-height", type=_positive_float, metavar="M",
        help="assumed standing height of every person in metres; sets the lifted skeleton's "
        "size and so its distance (config: three_d.body_height_m; default 1.7)",
    )  # fmt: skip
    group.add_argument(
        "--hfov", type=_positive_float, metavar="DEG",
        help="horizontal field of view of the nominal camera used without intrinsics "
        "(config: output.assumed_hfov_deg; default 60)",
    )  # fmt: skip
    return group


def _add_run(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="estimate poses on an image, a folder, a video or a camera",
        description=(
            "Estimate poses and write annotated images (or <stem>_poses.mp4 for a video) and "
            "keypoints.jsonl. Command-line options override the --config file. People are found by "
            "the configured detector (every --det-interval frames), tracked with stable ids and "
            "smoothed; --box/--boxes give the person boxes instead (an external detector)."
        ),
    )
    run.add_argument("source", help="image file, folder of images, video file, or camera index (0, 1, ...)")
    _add_estimator_options(run, threshold_help="keypoint score below which nothing is drawn")
    boxes = run.add_mutually_exclusive_group()
    boxes.add_argument(
        "--box", action="append", metavar="X1,Y1,X2,Y2",
        help="a person box used on every frame (repeat for several people)",
    )  # fmt: skip
    boxes.add_argument(
        "--boxes", metavar="FILE",
        help='JSON {"<image file name or frame index>": [[x1,y1,x2,y2(,score)], ...]}; '
        "frames without an entry go through the detector",
    )  # fmt: skip
    run.add_argument("--output-dir", default="pose_output", help="where outputs go (default: %(default)s)")
    run.add_argument("--no-images", action="store_true", help="write keypoints.jsonl only")
    run.add_argument("--max-frames", type=_positive_int, help="stop after N frames")
    group = _add_three_d_options(
        run,
        ("off", "lifter"),
        "lifter: 3D joints per person (metres, camera optical frame) in keypoints.jsonl from the "
        "monocular lifter, placed with the camera intrinsics (--fx/--fy/--cx/--cy, else --hfov)",
    )
    group.add_argument("--fx", type=_positive_float, help="focal length x in pixels (default: from --hfov)")
    group.add_argument("--fy", type=_positive_float, help="focal length y in pixels (default: --fx)")
    group.add_argument("--cx", type=_finite_float, help="principal point x (default: the image centre)")
    group.add_argument("--cy", type=_finite_float, help="principal point y (default: the image centre)")
    run.set_defaults(handler=_cmd_run)


def _add_bag(commands: Any) -> None:
    bag = commands.add_parser(
        "bag",
        help="estimate poses on a rosbag2 (MCAP or sqlite3) and write a new bag",
        description=(
            "Run the ROS node's pipeline over the images of a recorded rosbag2 and write a new "
            "bag with what the node would publish: /poses, /poses/markers and /poses/skeleton, "
            "each at the log time of its image, with message definitions embedded (rosbags, "
            "ros2 bag, Foxglove). Needs rosbags, not ROS. Command-line options override the "
            "--config file. Malformed images are skipped and counted."
        ),
    )
    bag.add_argument("input", help="rosbag2 folder (or a single .mcap / .db3 file)")
    bag.add_argument("output", help="rosbag2 folder to create (must not exist)")
    bag.add_argument(
        "--image-topic", required=True, help="sensor_msgs/Image or CompressedImage topic to process"
    )
    _add_estimator_options(bag, threshold_help="keypoint score below which markers are not drawn")
    bag.add_argument(
        "--storage", choices=("mcap", "sqlite3"), help="output storage (default: same as the input)"
    )
    bag.add_argument(
        "--copy-images", action="store_true", help="also copy the input images (and their CameraInfo)"
    )
    bag.add_argument(
        "--max-frames", type=_positive_int, help="stop after N image messages (skipped ones count)"
    )
    group = _add_three_d_options(
        bag,
        THREE_D_MODES,
        "3D joints in /poses (Keypoint.position) and the markers, as the node's three_d.mode: "
        "depth: from --depth-topic, registered to the image, with the CameraInfo beside the image "
        "topic, matched by stamp; lifter: the monocular lifter, placed with that CameraInfo "
        "(else the nominal camera of --hfov); fused: depth, and the lifter for the joints depth misses",
    )
    group.add_argument(
        "--depth-topic", help="--three-d depth: sensor_msgs/Image depth topic (config: input.depth_topic)"
    )
    group.add_argument(
        "--depth-camera-info-topic",
        help="--three-d depth: the depth camera's CameraInfo, for a depth image not registered to the "
        "colour camera; it is reprojected with depth.extrinsic_* from --config "
        "(config: input.depth_camera_info_topic)",
    )
    bag.set_defaults(handler=_cmd_bag)


def _add_export(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="export an RTMPose checkpoint to ONNX (with pose metadata)",
        description="Build an architecture, load its checkpoint and export ONNX with the metadata "
        "PoseEstimator needs; then check the ONNX against PyTorch on a random batch.",
    )
    export.add_argument("--arch", required=True, help="rtmpose-t/s/m/l, rtmpose-m/l-384x288")
    weights = export.add_mutually_exclusive_group()
    weights.add_argument("--checkpoint", help="official MMPose .pth or a state_dict file")
    weights.add_argument(
        "--random-init", action="store_true", help="no checkpoint: export seeded random weights (tests only)"
    )
    export.add_argument("--output", required=True, help="the .onnx file to write")
    export.add_argument("--num-keypoints", type=_positive_int, help="default: from --skeleton, else 17")
    export.add_argument("--skeleton", help="coco17 | h36m17 | schema .yaml (default: coco17)")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    export.add_argument("--static-batch", action="store_true", help="fix the batch size to 1")
    export.add_argument("--no-verify", action="store_true", help="skip the ONNX-vs-PyTorch check")
    export.set_defaults(handler=_cmd_export)


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


# ---------------------------------------------------------------------------- run


def _cmd_run(args: argparse.Namespace) -> int:
    plan = BoxPlan.from_args(args.box, args.boxes)
    config = _run_config(args)
    intrinsics = Intrinsics.from_args(args, config)
    if plan.fixed is not None:
        config.detector.type = "full_frame"  # every frame has the given boxes: no detector to load
    source = open_source(args.source)
    output_dir = Path(args.output_dir)
    _refuse_overwriting_inputs(source, output_dir, args.no_images)
    # The CLI lifts itself (Lifting, with its --fx/--fy camera); the pipeline stays 2D.
    two_d = dataclasses.replace(config.three_d, mode="off")
    pipeline = _make_pipeline(dataclasses.replace(config, three_d=two_d))
    lifting = None if intrinsics is None else Lifting(_open_lifter(config, pipeline), config, intrinsics)
    output_dir.mkdir(parents=True, exist_ok=True)
    writer = None if args.no_images else _frame_writer(source, output_dir)
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


def _run_config(args: argparse.Namespace) -> Config:
    """The --config file with command-line values on top, validated."""
    config = load_config(args.config)
    estimator = {
        "model": args.model,
        "arch": args.arch,
        "backend": args.backend,
        "device": args.device,
        "threads": args.threads,
        "flip_test": args.flip_test,
        "skeleton": args.skeleton,
        "keypoint_threshold": args.threshold,
    }
    detector = {"type": args.detector, "model": args.detector_model, "interval": args.det_interval}
    three_d = {"mode": args.three_d, "lifter_model": args.lifter_model, "body_height_m": args.body_height}
    output = {"min_person_score": args.min_score, "assumed_hfov_deg": args.hfov}
    config = dataclasses.replace(
        config,
        estimator=_overridden(config.estimator, estimator),
        detector=_overridden(config.detector, detector),
        smoothing=_overridden(config.smoothing, {"enabled": args.smoothing}),
        input=_overridden(
            config.input,
            {
                "depth_topic": getattr(args, "depth_topic", None),
                "depth_camera_info_topic": getattr(args, "depth_camera_info_topic", None),
            },
        ),
        output=_overridden(config.output, output),
        three_d=_overridden(config.three_d, three_d),
    )
    try:
        config.validate()
    except ValueError as err:
        raise CliError(str(err)) from None
    return config


def _overridden(section: Any, values: dict[str, Any]) -> Any:
    return dataclasses.replace(section, **{k: v for k, v in values.items() if v is not None})


def _open_lifter(config: Config, pipeline: PosePipeline) -> TemporalLifter:
    """The lifter of ``three_d.lifter_model`` for this pose model, or a CliError saying why not."""
    try:
        return open_lifter_for(pipeline.skeleton, config)
    except (OSError, ValueError) as err:
        raise CliError(f"cannot use the 3D lifter: {_message(err)}") from err


def _make_pipeline(config: Config) -> PosePipeline:
    """The pipeline, or a CliError saying which model could not be loaded and why."""
    try:
        estimator = PoseEstimator.from_config(config.estimator)
    except ImportError as err:
        raise CliError(
            f"{config.estimator.model}: {err} (a .pth model or the torch backend needs PyTorch)"
        ) from err
    except RuntimeError as err:  # a device the installed runtime cannot provide
        raise CliError(str(err)) from err
    try:
        return PosePipeline(config, estimator)
    except LifterUnavailable:
        raise  # bag mode names the lifter in its message
    except (ModelUnavailableError, KeyError, OSError, RuntimeError, ValueError) as err:
        hint = "; --detector hog needs no weights, --box/--boxes give the boxes yourself"
        raise CliError(f"cannot load the person detector {config.detector.model!r}: {err}{hint}") from err


def _refuse_overwriting_inputs(source: FrameSource, output_dir: Path, no_images: bool) -> None:
    """Annotated images keep their file names, so writing them beside the inputs would replace them."""
    if no_images:
        return
    target = output_dir.resolve()
    if isinstance(source, ImageSource) and any(p.parent.resolve() == target for p in source.paths):
        raise CliError(f"--output-dir {output_dir} holds the input images; they would be overwritten")
    if source.kind == "video" and (target / f"{source.stem}_poses.mp4") == Path(source.spec).resolve():
        raise CliError(f"{source.spec} would be overwritten by its own annotated video")


@dataclasses.dataclass
class BoxPlan:
    """Person boxes per frame: fixed boxes, a per-frame table, or the full frame."""

    fixed: np.ndarray | None = None  # (N,5) used on every frame
    table: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    used: set[str] = dataclasses.field(default_factory=set)
    source: str = ""

    @classmethod
    def from_args(cls, box_texts: list[str] | None, boxes_file: str | None) -> BoxPlan:
        if box_texts:
            return cls(fixed=np.array([parse_box(t) for t in box_texts], np.float64))
        if boxes_file:
            return cls(table=load_boxes_file(boxes_file), source=boxes_file)
        return cls()

    def for_frame(self, frame: Frame) -> np.ndarray | None:
        """(N,5) boxes x1,y1,x2,y2,score (score NaN when not given); None: use the detector."""
        if self.fixed is not None:
            return self.fixed
        for key in (frame.name, str(frame.index)):
            if key in self.table:
                self.used.add(key)
                return self.table[key]
        return None

    def warn_unused(self) -> None:
        """A key that matched no frame is usually a typo in a file name."""
        unused = sorted(set(self.table) - self.used)
        if unused:
            shown = ", ".join(repr(k) for k in unused[:5]) + (" ..." if len(unused) > 5 else "")
            log.warning("%s: %d entries matched no frame: %s", self.source, len(unused), shown)


def parse_box(text: str) -> list[float]:
    """``"x1,y1,x2,y2"`` → [x1, y1, x2, y2, nan]; CliError naming the text when malformed."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise CliError(f"--box {text!r}: expected four comma-separated numbers x1,y1,x2,y2")
    return _checked_box(values, f"--box {text!r}")


def _checked_box(values: Sequence[Any], where: str) -> list[float]:
    """JSON/text box → [x1, y1, x2, y2, score|nan]; geometry checks are the estimator's."""
    if len(values) not in (4, 5) or not all(_is_number(v) for v in values):
        raise CliError(f"{where}: expected [x1, y1, x2, y2] or [x1, y1, x2, y2, score], got {values!r}")
    try:
        validate_boxes([values])
    except ValueError as err:
        raise CliError(f"{where}: {err}") from None
    return [float(v) for v in values] + ([math.nan] if len(values) == 4 else [])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_boxes_file(path: str) -> dict[str, np.ndarray]:
    """Read ``{frame: [[x1,y1,x2,y2(,score)], ...]}``; an empty list means "nobody in this frame"."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CliError(f"--boxes {path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise CliError(f"--boxes {path}: expected a JSON object mapping frame names to box lists")
    table = {}
    for key, boxes in data.items():
        if not isinstance(boxes, list) or not all(isinstance(b, list) for b in boxes):
            raise CliError(f"--boxes {path}: entry {key!r} must be a list of boxes [[x1,y1,x2,y2], ...]")
        rows = [_checked_box(b, f"--boxes {path}: {key!r}") for b in boxes]
        table[str(key)] = np.array(rows, np.float64).reshape(-1, 5)
    return table


_LIFTER_FLAGS = ("lifter_model", "body_height")
_RUN_LIFTER_FLAGS = (*_LIFTER_FLAGS, "hfov", "fx", "fy", "cx", "cy")  # run: the camera only places 3D


def _refuse_unused_flags(args: argparse.Namespace, mode: str, needs: Mapping[str, tuple[str, ...]]) -> None:
    """A flag of a 3D mode that is not on would be silently ignored: say so instead.
    ``needs``: argument name -> the ``three_d.mode`` values it applies to."""
    for name, wanted in needs.items():
        if getattr(args, name, None) is not None and mode not in wanted:
            flag = f"--{name.replace('_', '-')}"
            raise CliError(
                f"{flag} only applies with --three-d {' or '.join(wanted)} (three_d.mode is {mode})"
            )


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
        _refuse_unused_flags(args, mode, dict.fromkeys(_RUN_LIFTER_FLAGS, ("lifter",)))
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
    """``run --three-d lifter``: the node's lifter step (:func:`lift_in_image`) per frame."""

    lifter: TemporalLifter
    config: Config
    intrinsics: Intrinsics

    def __call__(self, frame: Frame, people: Sequence[Person]) -> PinholeCamera:
        height, width = frame.image.shape[:2]
        cfg = self.config
        camera = self.intrinsics.camera(width, height, cfg.output.assumed_hfov_deg)
        return lift_in_image(
            self.lifter, people, frame.stamp, (width, height), camera,
            cfg.output.assumed_hfov_deg, cfg.three_d.body_height_m,
        )  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """Provenance for the first keypoints.jsonl line."""
        return {
            "mode": "lifter",
            "lifter_model": str(getattr(self.lifter.model, "path", self.config.three_d.lifter_model)),
            "body_height_m": self.config.three_d.body_height_m,
            "frame": "camera optical (x right, y down, z forward), metres",
        }


@dataclasses.dataclass
class RunStats:
    frames: int = 0
    people: int = 0
    seconds: float = 0.0  # time in PosePipeline.process only
    lift_seconds: float = 0.0  # time in the 3D lifter
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
        start = time.perf_counter()
        people = pipeline.process(frame.image, frame.stamp, None if boxes is None else boxes[:, :4])
        processed = time.perf_counter()
        camera = None if lifting is None else lifting(frame, people)
        stats.seconds += processed - start
        stats.lift_seconds += time.perf_counter() - processed
        stats.frames += 1
        stats.people += len(people)
        stats.detector_runs = pipeline.detector_runs
        record = frame_record(frame, people, names, camera)
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


def frame_record(
    frame: Frame,
    people: Sequence[Person],
    keypoint_names: Sequence[str] | None,
    camera: PinholeCamera | None = None,
) -> dict[str, Any]:
    """One keypoints.jsonl line: frame facts and, per person, id, box, score, [x, y, score]s;
    with 3D also the camera that placed it and, per person, 3D joints and their validity."""
    height, width = frame.image.shape[:2]
    record: dict[str, Any] = {
        "frame": frame.index,
        "name": frame.name,
        "stamp": round(frame.stamp, 6),
        "width": width,
        "height": height,
    }
    if keypoint_names is not None:
        record["keypoint_names"] = list(keypoint_names)
    if camera is not None:
        record["camera"] = {k: round(float(getattr(camera, k)), 4) for k in ("fx", "fy", "cx", "cy")}
    record["people"] = [_person(p) for p in people]
    return record


def _person(person: Person) -> dict[str, Any]:
    record: dict[str, Any] = {
        "track_id": person.track_id,
        "bbox": [round(float(v), 2) for v in person.bbox[:4]],
        "score": round(person.score, 4),
        "keypoints": [
            [round(float(x), 2), round(float(y), 2), round(float(s), 4)]
            for (x, y), s in zip(person.keypoints, person.keypoint_scores, strict=True)
        ],
    }
    if person.joints_3d is not None:
        # Like Keypoint.position / has_position on /poses: JSON has no NaN, so a joint
        # without 3D is [0, 0, 0] with valid false.
        points = np.asarray(person.joints_3d.positions, np.float64).reshape(-1, 3)
        valid = person.joints_3d.has_position()
        record["keypoints_3d"] = [
            [round(float(v), 4) for v in xyz] if ok else [0.0, 0.0, 0.0]
            for xyz, ok in zip(points, valid, strict=True)
        ]
        record["keypoints_3d_valid"] = [bool(v) for v in valid]
    return record


class FrameWriter:
    """Where annotated frames go; ``close`` finalises the output."""

    def write(self, frame: Frame, image: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to finalise for per-frame files."""


class ImageWriter(FrameWriter):
    """One file per frame: the input's file name, or ``frame_000123.jpg`` for camera frames."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, frame: Frame, image: np.ndarray) -> None:
        import cv2

        name = frame.name if Path(frame.name).suffix else f"{frame.name}.jpg"
        path = self.directory / name
        if not cv2.imwrite(str(path), image):
            raise OSError(f"cannot write annotated image {path}")


class VideoWriter(FrameWriter):
    """An mp4 (mp4v) at the source's frame rate, opened on the first frame to learn its size."""

    def __init__(self, path: Path, fps: float | None) -> None:
        self.path = path
        self.fps = fps or 30.0
        self._writer: Any = None
        self._size: tuple[int, int] = (0, 0)

    def write(self, frame: Frame, image: np.ndarray) -> None:
        import cv2

        if self._writer is None:
            self._size = (image.shape[1], image.shape[0])
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self._size)
            if not self._writer.isOpened():
                raise OSError(f"cannot open video writer for {self.path}")
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size)
        self._writer.write(image)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


def _frame_writer(source: FrameSource, output_dir: Path) -> FrameWriter:
    if source.kind == "video":
        return VideoWriter(output_dir / f"{source.stem}_poses.mp4", source.fps)
    return ImageWriter(output_dir)


# ---------------------------------------------------------------------------- bag


def _cmd_bag(args: argparse.Namespace) -> int:
    try:
        from pose_perception.ros import bag
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("rosbags"):
            raise
        raise CliError(f"bag mode needs rosbags ({err}); pip install 'pose-perception[bag]'") from err
    config = _run_config(args)
    needs = {
        **dict.fromkeys(_LIFTER_FLAGS, LIFTER_MODES),
        "depth_topic": DEPTH_MODES,
        "depth_camera_info_topic": DEPTH_MODES,
    }
    _refuse_unused_flags(args, config.three_d.mode, needs)
    options = bag.BagOptions(
        image_topic=args.image_topic,
        storage=args.storage,
        copy_images=args.copy_images,
        max_frames=args.max_frames,
    )
    stats = bag.process_bag(
        args.input,
        args.output,
        config,
        options,
        make_pipeline=lambda: _make_pipeline(config),
    )
    if stats.interrupted:
        print(f"{stats.summary()} (interrupted)")
        return 130
    print(stats.summary())
    return 0


# ---------------------------------------------------------------------------- export


def _cmd_export(args: argparse.Namespace) -> int:
    if args.checkpoint is None and not args.random_init:
        raise CliError("export needs --checkpoint FILE (or --random-init for a pipeline test model)")
    if not args.output.endswith(".onnx"):
        raise CliError(f"--output {args.output}: the file name must end in .onnx")
    if args.checkpoint is not None and not Path(args.checkpoint).is_file():
        raise CliError(f"--checkpoint {args.checkpoint}: file not found")
    try:
        from pose_perception.runtime.export import export_rtmpose
    except ImportError as err:
        hint = "pip install 'pose-perception[torch]'"
        raise CliError(f"export needs PyTorch and onnx ({err}); {hint}") from err
    skeleton = get_skeleton(args.skeleton) if args.skeleton else None
    num_keypoints = _export_keypoints(args.num_keypoints, skeleton)
    model, info, path = export_rtmpose(
        args.arch,
        args.output,
        checkpoint=args.checkpoint,
        skeleton=skeleton,
        num_keypoints=num_keypoints,
        opset=args.opset,
        dynamic_batch=not args.static_batch,
    )
    if args.checkpoint is None:
        _warn_random_weights(args.arch)
    width, height = info.input_size
    print(
        f"wrote {path}: {info.arch}, {info.num_keypoints} keypoints ({info.skeleton.name}), "
        f"input {width}x{height}, opset {args.opset}, batch {'1' if args.static_batch else 'dynamic'}"
    )
    return 0 if args.no_verify else _verify_export(model, path, info.input_size)


def _export_keypoints(requested: int | None, skeleton: Skeleton | None) -> int:
    if skeleton is None:
        return requested or 17
    if requested is not None and requested != skeleton.num_keypoints:
        raise CliError(
            f"--num-keypoints {requested} does not match skeleton {skeleton.name!r} "
            f"({skeleton.num_keypoints} keypoints)"
        )
    return skeleton.num_keypoints


def _warn_random_weights(arch: str) -> None:
    bar = "!" * 78
    print(
        f"{bar}\nWARNING: no checkpoint given: exporting {arch} with RANDOM weights (seed 0).\n"
        f"Its keypoints are meaningless; use this model only to test the pipeline.\n{bar}",
        file=sys.stderr,
    )


def _verify_export(model: nn.Module, path: str, input_size: tuple[int, int]) -> int:
    """Compare ONNX Runtime with PyTorch on a random batch of 2; exit code 1 beyond tolerance."""
    from pose_perception.runtime.export import onnx_parity

    width, height = input_size
    batch = np.random.default_rng(0).standard_normal((2, 3, height, width)).astype(np.float32)
    diff = onnx_parity(model, path, batch)
    if diff > PARITY_TOLERANCE:
        print(
            f"{PROG}: error: ONNX output differs from PyTorch by {diff:.3g} (relative), "
            f"more than {PARITY_TOLERANCE:g}; {path} is not trustworthy",
            file=sys.stderr,
        )
        return 1
    print(f"verified: ONNX Runtime vs PyTorch max relative difference {diff:.3g} (<= {PARITY_TOLERANCE:g})")
    return 0


# ---------------------------------------------------------------------------- models, download, bench


def _cmd_models(args: argparse.Namespace) -> int:
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    rows = [("NAME", "TASK", "ARCH", "CACHED", "URL")]
    for entry in REGISTRY.values():
        cached = "yes" if cached_path(entry, cache).is_file() else "no"
        source = entry.url or f"bundled: {cached_path(entry)}"
        rows.append((entry.name, entry.task, entry.arch, cached, source))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(f"cache: {cache}")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    if args.name not in REGISTRY:
        raise CliError(f"unknown model {args.name!r}; registry has: {', '.join(REGISTRY)}")
    path, _ = resolve(args.name, cache_dir=args.cache_dir, progress=True)
    print(path)
    return 0


def _cmd_bench(argv: list[str]) -> int:
    """Hand everything after ``bench`` to the benchmark module's own parser."""
    try:
        benchmarks = importlib.import_module("pose_perception.benchmarks")
    except ModuleNotFoundError as err:
        if err.name != "pose_perception.benchmarks":
            raise
        raise CliError("benchmarks are not available: pose_perception.benchmarks is missing") from err
    return int(benchmarks.main(argv) or 0)
