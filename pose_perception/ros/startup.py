"""What stops rtmpose_node from starting, said in one line naming the part that failed."""

from __future__ import annotations

from pose_perception.config import Config
from pose_perception.person_source import NotAPersonModel, open_pose_model
from pose_perception.pipeline import PosePipeline
from pose_perception.three_d import LifterUnavailable

LOAD_ERRORS = (OSError, ValueError, RuntimeError, ImportError)  # a model file that cannot be used


class StartupError(RuntimeError):
    """The node cannot start (bad parameter, unusable model); the message says why."""


def load_pipeline(config: Config) -> PosePipeline:
    """The node's pipeline; StartupError naming the pose model, the detector or the lifter.

    The estimator is loaded on its own first, so a detector file that cannot be loaded is
    named as the detector (it was reported as the pose model).
    """
    try:
        estimator = open_pose_model(config.estimator)
    except LOAD_ERRORS as err:
        raise StartupError(f"cannot load model {config.estimator.model!r}: {err}") from None
    try:
        return PosePipeline(config, estimator=estimator)
    except NotAPersonModel as err:
        raise StartupError(f"model {config.estimator.model!r}: {err}") from None
    except LifterUnavailable as err:
        raise StartupError(
            f"three_d.mode {config.three_d.mode}: cannot use three_d.lifter_model: {err}"
        ) from None
    except LOAD_ERRORS as err:  # the estimator is loaded: the detector failed
        detector = config.detector.model if config.detector.type == "onnx" else config.detector.type
        raise StartupError(f"cannot load detector {detector!r}: {err}") from None
