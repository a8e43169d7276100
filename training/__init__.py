"""Training recipes for RTMPose (installed as ``pose_perception.training``).

The trainer, data pipeline and evaluation land with the training issue; the folder
exists now so that packaging and imports are settled from the start.
"""
