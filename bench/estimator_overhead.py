"""PoseEstimator (pre-process + inference + decode) vs bare onnxruntime, per crop.

    python bench/estimator_overhead.py --arch rtmpose-t --batch-sizes 1 8
    python bench/estimator_overhead.py --onnx path/to/model.onnx

Same as ``pose-perception bench``. Target: overhead <= 3 %.
"""

import sys

from pose_perception.benchmarks import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
