"""Inference backends behind one small interface: ``infer(batch) -> (simcc_x, simcc_y)``,
listed in one table (:mod:`pose_perception.runtime.table`)."""

from pose_perception.runtime.base import Backend
from pose_perception.runtime.table import BACKEND_NAMES, BACKENDS, check_device, open_backend

__all__ = ["BACKENDS", "BACKEND_NAMES", "Backend", "check_device", "open_backend"]
