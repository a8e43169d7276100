"""Whole-body example: rtmpose.launch.py with model rtmw-l-onnx (RTMW-l, 133 COCO-WholeBody keypoints:
body, feet, face, hands).

    ros2 launch pose_perception wholebody.launch.py image:=/camera/color/image_raw rviz:=true
    ros2 launch pose_perception wholebody.launch.py model:=rtmw-x   # any whole-body model (docs/models.md)

Every argument of rtmpose.launch.py works here too. /poses carries all 133 keypoints; the
Skeleton message on /poses/skeleton names their groups (left_hand, ...); markers draw hands
and face smaller, one colour per group. Per-joint TF stays body-only unless the parameter
three_d.joint_tf_groups names groups (e.g. left_hand,right_hand) in your config file.
Guide: docs/ros.md.
"""

import os
import runpy

MODEL = "rtmw-l-onnx"  # the official RTMW-l ONNX (no RTMW-m checkpoint is registered)


def generate_launch_description():
    """rtmpose.launch.py (installed beside this file) with this example's default model."""
    base = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtmpose.launch.py"))
    return base["generate_launch_description"](model=MODEL)
