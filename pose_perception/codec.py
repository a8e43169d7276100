"""SimCC coordinate classification codec with the official MMPose semantics.

Each keypoint coordinate is a 1-D classification over ``split_ratio`` bins per input
pixel. Decode: plain argmax / split_ratio (the first bin wins only an exact tie, as in
MMPose); score = the smaller of the x and y maxima; a keypoint whose score is ≤ 0 gets
location −1 (before scaling by the split ratio, as the official decoder does).
Encode: Gaussian targets for training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class SimCCCodec:
    def __init__(
        self,
        input_size: tuple[int, int],
        sigma: tuple[float, float] = (4.9, 5.66),
        split_ratio: float = 2.0,
    ) -> None:
        """``input_size`` is (width, height); ``sigma`` is in SimCC bins (x, y)."""
        self.input_size = input_size
        self.sigma = np.asarray(sigma, dtype=np.float32)
        self.split_ratio = split_ratio
        self.num_bins = (
            int(np.around(input_size[0] * split_ratio)),
            int(np.around(input_size[1] * split_ratio)),
        )

    def decode(self, simcc_x: np.ndarray, simcc_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,K,Wx), (N,K,Wy) logits → keypoints (N,K,2) in input pixels, scores (N,K)."""
        return decode_simcc(simcc_x, simcc_y, self.split_ratio)

    def encode(
        self, keypoints: np.ndarray, visible: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Keypoints (N,K,2) in input pixels → Gaussian targets x (N,K,Wx), y (N,K,Wy), weights (N,K).

        Invisible keypoints and keypoints whose 3-sigma window lies outside the
        target range get weight 0 and an all-zero target.
        """
        n, k, _ = keypoints.shape
        weights = np.ones((n, k), np.float32) if visible is None else np.asarray(visible, np.float32).copy()
        mu = np.around(keypoints * self.split_ratio).astype(np.int64)  # (N,K,2)
        radius = self.sigma * 3
        lo, hi = mu - radius, mu + radius + 1
        bins = np.array(self.num_bins)
        outside = (lo >= bins).any(-1) | (hi < 0).any(-1)
        keep = (weights >= 0.5) & ~outside
        weights[(weights >= 0.5) & outside] = 0
        keep = keep[..., None]
        xs = np.arange(self.num_bins[0], dtype=np.float32)
        ys = np.arange(self.num_bins[1], dtype=np.float32)
        target_x = np.exp(-((xs - mu[..., :1]) ** 2) / (2 * self.sigma[0] ** 2)) * keep
        target_y = np.exp(-((ys - mu[..., 1:]) ** 2) / (2 * self.sigma[1] ** 2)) * keep
        return target_x.astype(np.float32), target_y.astype(np.float32), weights


def decode_simcc(
    simcc_x: np.ndarray,
    simcc_y: np.ndarray,
    split_ratio: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Official SimCC maximum decoding (see module docstring).

    No tolerance for near-ties: MMPose takes the plain argmax, and any slack picks other
    bins than it does (the mirrored near-ties of random-weight models under the flip test
    are excused by the conformance test, not here).
    """
    keypoints = np.stack((simcc_x.argmax(axis=-1), simcc_y.argmax(axis=-1)), axis=-1).astype(np.float32)
    scores = np.minimum(simcc_x.max(axis=-1), simcc_y.max(axis=-1)).astype(np.float32)
    keypoints[scores <= 0] = -1
    keypoints /= split_ratio
    return keypoints, scores


def flip_simcc(
    simcc_x: np.ndarray, simcc_y: np.ndarray, flip_indices: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Map logits of a horizontally flipped input back: swap left/right, reverse x bins."""
    idx = np.asarray(flip_indices)
    return simcc_x[:, idx, ::-1], simcc_y[:, idx]
