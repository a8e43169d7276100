"""pose_perception: real-time multi-person RTMPose for robots (ROS-free core library).

Public API: :class:`PoseEstimator` (top-down inference on person boxes). Models live
in :mod:`pose_perception.models`, backends in :mod:`pose_perception.runtime`.
"""

from pose_perception.estimator import PoseEstimator

__version__ = "0.1.0"

__all__ = ["PoseEstimator", "__version__"]
