"""What the commands share: the one-line user error, the option types, and the estimator
and 3D options of ``run`` and ``bag`` with the validated config and pipeline they give."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import yaml

from pose_perception.config import Config, load_config
from pose_perception.detection import DETECTOR_TYPES
from pose_perception.person_source import NOT_A_PERSON, NotAPersonModel, model_skeleton, open_pose_model
from pose_perception.pipeline import PosePipeline
from pose_perception.runtime import BACKEND_NAMES
from pose_perception.three_d import LifterUnavailable
from pose_perception.zoo import ModelUnavailableError

PROG = "pose-perception"
EXIT_USER_ERROR = 2
log = logging.getLogger(PROG)


class CliError(Exception):
    """A mistake in what the user asked for: reported in one line, exit code 2."""


# yaml.YAMLError: a malformed skeleton YAML; CheckpointMismatchError is a ValueError.
USER_ERRORS = (CliError, OSError, ValueError, ModelUnavailableError, yaml.YAMLError)


class Parser(argparse.ArgumentParser):
    """Raises instead of exiting so ``main`` reports every user error the same way."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise CliError(message)


def error_message(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err) or type(err).__name__


def add_estimator_options(parser: argparse.ArgumentParser, threshold_help: str) -> None:
    """--config plus the estimator overrides that `run_config` reads (run and bag)."""
    parser.add_argument("--config", help="YAML config (config/rtmpose.yaml format)")
    parser.add_argument("--model", help="registry name, .onnx or .pth file (config: estimator.model)")
    parser.add_argument("--arch", help="architecture of a .pth checkpoint, e.g. rtmpose-s")
    parser.add_argument("--backend", choices=BACKEND_NAMES, help="inference backend")
    parser.add_argument("--device", help="cpu | cuda[:N] | tensorrt[:N] | auto")
    parser.add_argument("--threads", type=non_negative_int, help="intra-op threads (0: runtime default)")
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
        "--det-interval", type=positive_int,
        help="run the detector every N frames, pose-derived boxes in between (config: detector.interval)",
    )  # fmt: skip
    parser.add_argument(
        "--smoothing", action=argparse.BooleanOptionalAction, default=None,
        help="One-Euro smoothing of tracked keypoints (config: smoothing.enabled)",
    )  # fmt: skip


def add_three_d_options(parser: argparse.ArgumentParser, modes: Sequence[str], mode_help: str) -> Any:
    """3D keypoints (run and bag): the ``three_d.*`` settings the node reads, as flags; returns the group."""
    group = parser.add_argument_group("3D keypoints")
    group.add_argument("--three-d", choices=modes, help=f"{mode_help} (config: three_d.mode; default off)")
    group.add_argument(
        "--lifter-model", metavar="FILE",
        help="lifter .onnx (config: three_d.lifter_model; default: the bundled "
        "lifter-causal-synthetic.onnx, trained on synthetic motion only)",
    )  # fmt: skip
    group.add_argument(
        "--body-height", type=positive_float, metavar="M",
        help="assumed standing height of every person in metres; sets the lifted skeleton's "
        "size and so its distance (config: three_d.body_height_m; default 1.7)",
    )  # fmt: skip
    group.add_argument(
        "--hfov", type=positive_float, metavar="DEG",
        help="horizontal field of view of the nominal camera used without intrinsics "
        "(config: output.assumed_hfov_deg; default 60)",
    )  # fmt: skip
    return group


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0, "an integer >= 0")


def _int_at_least(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def run_config(args: argparse.Namespace) -> Config:
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


def make_pipeline(config: Config, boxes_file: bool = False) -> PosePipeline:
    """The pipeline, or a CliError saying which model could not be loaded and why.

    ``boxes_file`` (``run --boxes``): with a hand, face or animal model, frames without an
    entry use the whole image instead of the person detector (which finds people, not hands).
    """
    try:
        estimator = open_pose_model(config.estimator)
    except ImportError as err:
        raise CliError(
            f"{config.estimator.model}: {err} (a .pth model or the torch backend needs PyTorch)"
        ) from err
    except RuntimeError as err:  # a device the installed runtime cannot provide
        raise CliError(str(err)) from err
    if boxes_file and model_skeleton(estimator, config.estimator).name in NOT_A_PERSON:
        log.info("frames without a --boxes entry use the whole image (not a person model)")
        config = dataclasses.replace(config, detector=dataclasses.replace(config.detector, type="full_frame"))
    try:
        return PosePipeline(config, estimator)
    except NotAPersonModel as err:
        raise CliError(f"{config.estimator.model}: {err}") from err
    except LifterUnavailable:
        raise  # the 3D lifter, not the detector: the commands say so in their own words
    except (ModelUnavailableError, KeyError, OSError, RuntimeError, ValueError) as err:
        hint = "; --detector hog needs no weights, --box/--boxes give the boxes yourself"
        raise CliError(f"cannot load the person detector {config.detector.model!r}: {err}{hint}") from err


LIFTER_FLAGS = ("lifter_model", "body_height")  # the lifter flags of run and bag (args names)


def refuse_unused_flags(args: argparse.Namespace, mode: str, needs: Mapping[str, tuple[str, ...]]) -> None:
    """A flag of a 3D mode that is not on would be silently ignored: say so instead.
    ``needs``: argument name -> the ``three_d.mode`` values it applies to."""
    for name, wanted in needs.items():
        if getattr(args, name, None) is not None and mode not in wanted:
            flag = f"--{name.replace('_', '-')}"
            raise CliError(
                f"{flag} only applies with --three-d {' or '.join(wanted)} (three_d.mode is {mode})"
            )
