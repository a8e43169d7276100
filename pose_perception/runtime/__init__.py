"""Inference backends behind one small interface: ``infer(batch) -> (simcc_x, simcc_y)``."""

from pose_perception.runtime.base import Backend

__all__ = ["Backend"]
