"""The one interface every inference backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Backend(Protocol):
    """Runs the pose network on a normalised N×3×H×W float32 batch."""

    name: str

    def infer(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return SimCC logits (N,K,Wx) and (N,K,Wy) as float32 numpy arrays."""
        ...
