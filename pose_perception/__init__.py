"""pose_perception: real-time multi-person RTMPose for robots (ROS-free core library).

Public API: :class:`PosePipeline` (frame + stamp, optionally a :class:`DepthFrame` and
the camera, in; tracked people out: detector, batched RTMPose, tracker, smoother, 3D),
:class:`PoseEstimator` (top-down inference on person boxes),
:class:`OneStageEstimator` (RTMO: people from the whole image, no detector), :func:`model_kind`
(which of the two a model needs), :class:`Person` and its :class:`Joints3D`.
Models live in :mod:`pose_perception.models`, backends in :mod:`pose_perception.runtime`,
the tracker in :mod:`pose_perception.tracking`.

The ROS message classes (``pose_perception.msg``) are generated into the install
prefix, which may differ from where this package lives (pip install + wheel-built
messages); ``extend_path`` lets them resolve either way.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

from pose_perception.estimator import PoseEstimator
from pose_perception.model_kinds import model_kind
from pose_perception.onestage import OneStageEstimator
from pose_perception.people import Joints3D, Person
from pose_perception.pipeline import PosePipeline
from pose_perception.three_d import DepthFrame

__version__ = "0.1.0"

__all__ = [
    "DepthFrame",
    "Joints3D",
    "OneStageEstimator",
    "Person",
    "PoseEstimator",
    "PosePipeline",
    "__version__",
    "model_kind",
]
