"""One-stage example: rtmpose.launch.py with model rtmo-s (RTMO: people and their 17 COCO
keypoints from the whole image in one pass, no person detector; the detector argument and
section do not apply).

    ros2 launch pose_perception rtmo.launch.py image:=/camera/color/image_raw rviz:=true
    ros2 launch pose_perception rtmo.launch.py model:=rtmo-m   # rtmo-t/s/m/l

Every argument of rtmpose.launch.py works here too; tracking, smoothing, 3D and the
outputs are the same as with the top-down models. Guide: docs/ros.md.
"""

import os
import runpy

MODEL = "rtmo-s"


def generate_launch_description():
    """rtmpose.launch.py (installed beside this file) with this example's default model."""
    base = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtmpose.launch.py"))
    return base["generate_launch_description"](model=MODEL)
