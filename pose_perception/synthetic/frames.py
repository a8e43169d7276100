"""The images of a walker sequence, rendered on demand, for trackers that look at the frame.

A 20-s clip at 30 Hz is 600 frames of 2.7 MB at 1280×720: kept all at once that is
1.6 GB, so ``render_frames`` gives a lazy, indexable sequence that paints one frame
when asked. The background (a wall and a floor with a smooth texture, so a colour
sampled off a person is not one flat grey) is made once per clip, from ``seed``; each
frame is a copy of it with the people painted on in depth order (``walkers.draw_people``).
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from typing import overload

import numpy as np

from pose_perception.synthetic.backgrounds import value_noise
from pose_perception.synthetic.walkers import Sequence, draw_people

WALL = np.array([70.0, 72.0, 78.0])  # BGR, muted: people's clothes stand out as in a corridor
FLOOR = np.array([88.0, 104.0, 92.0])
TEXTURE = 40.0  # ± grey levels of the texture


def textured_background(width: int, height: int, horizon: float = 0.3, seed: int = 0) -> np.ndarray:
    """(height, width, 3) uint8 wall above ``horizon`` (image-height fraction), floor below."""
    rng = np.random.default_rng(seed)
    shade = (value_noise(rng, width, height) - 0.5) * TEXTURE
    base = np.where((np.arange(height) < horizon * height)[:, None, None], WALL, FLOOR)
    return np.clip(base + shade[..., None], 0, 255).astype(np.uint8)


class RenderedFrames(SequenceABC[np.ndarray]):
    """Frame ``i`` of ``sequence`` as a BGR uint8 image, painted when indexed."""

    def __init__(self, sequence: Sequence, seed: int = 0, horizon: float = 0.3) -> None:
        self.sequence = sequence
        self.background = textured_background(sequence.width, sequence.height, horizon, seed)

    def __len__(self) -> int:
        return len(self.sequence.frames)

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice) -> list[np.ndarray]: ...

    def __getitem__(self, index: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"RenderedFrames: frame {index} of {len(self)}")
        img = self.background.copy()
        draw_people(img, self.sequence, index % len(self))
        return img


def render_frames(sequence: Sequence, seed: int = 0) -> RenderedFrames:
    """The clip's frames, aligned with ``sequence.frames`` (and its ``noisy_detections``)."""
    return RenderedFrames(sequence, seed)
