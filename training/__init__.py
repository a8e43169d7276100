"""Training recipes for RTMPose (installed as ``pose_perception.training``).

``train`` (trainer), ``evaluate`` (COCO OKS AP), ``export`` (ONNX + TensorRT) are
runnable modules; docs/training.md describes the recipe and its sources.
"""
