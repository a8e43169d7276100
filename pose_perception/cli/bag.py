"""``pose-perception bag``: the ROS node's pipeline over a recorded rosbag2, written to a new bag
(the work is :mod:`pose_perception.ros.bag`'s; this module turns the flags into its options)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pose_perception.cli.common import (
    LIFTER_FLAGS,
    PROG,
    CliError,
    add_estimator_options,
    add_three_d_options,
    make_pipeline,
    positive_int,
    refuse_unused_flags,
    run_config,
)
from pose_perception.config import DEPTH_MODES, LIFTER_MODES, THREE_D_MODES

EXIT_UNREADABLE_INPUT = 1  # the input bag broke off (corrupt); the output up to there is kept


def add_command(commands: Any) -> None:
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
    add_estimator_options(bag, threshold_help="keypoint score below which markers are not drawn")
    bag.add_argument(
        "--storage", choices=("mcap", "sqlite3"), help="output storage (default: same as the input)"
    )
    bag.add_argument(
        "--copy-images", action="store_true", help="also copy the input images (and their CameraInfo)"
    )
    bag.add_argument(
        "--max-frames", type=positive_int, help="stop after N image messages (skipped ones count)"
    )
    group = add_three_d_options(
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
    bag.set_defaults(handler=bag_command)


def bag_command(args: argparse.Namespace) -> int:
    try:
        from pose_perception.ros import bag
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("rosbags"):
            raise
        raise CliError(f"bag mode needs rosbags ({err}); pip install 'pose-perception[bag]'") from err
    config = run_config(args)
    needs = {
        **dict.fromkeys(LIFTER_FLAGS, LIFTER_MODES),
        "depth_topic": DEPTH_MODES,
        "depth_camera_info_topic": DEPTH_MODES,
    }
    refuse_unused_flags(args, config.three_d.mode, needs)
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
        make_pipeline=lambda: make_pipeline(config),
    )
    if stats.read_error:
        print(
            f"{PROG}: error: {stats.read_error}; kept what was converted before it: {stats.summary()}",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE_INPUT
    if stats.interrupted:
        print(f"{stats.summary()} (interrupted)")
        return 130
    print(stats.summary())
    return 0
