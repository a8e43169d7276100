"""Harder walker sequence families for the tracker (issue 16): one builder per family.

``make_sequence`` mixes crossing kinds at random; these families each isolate one case
that makes trackers swap or lose ids, with ground-truth ids and everything drawn from
the seed:

* ``head_on`` — two people of exactly the same size on exactly the same line walking
  towards each other (``_same_clothes``: dressed alike, so appearance cannot help);
* ``overtaking`` — two people walking the same way on (almost) one line, one faster;
* ``groups`` — two groups of two walking towards each other: they merge into one
  cluster of overlapping boxes, then split;
* ``reentry`` — one person walks out of the image and comes back 3–10 s later while
  another stays in view (``_same_clothes``: the two dressed alike).

The camera height (``CAMERAS``) sets how tall a person is for a given foot line: a low
camera makes far people's boxes reach far into near people's, a high one looks down and
separates them. ``FAMILIES`` is the table (name → builder).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from pose_perception.synthetic.walkers import Sequence, Walker, random_clothing, sequence_of

PERSON_HEIGHT_M = 1.7
REENTRY_GAP_S = (3.0, 10.0)  # how long the re-entering person is out of view


@dataclass(frozen=True)
class CameraHeight:
    """A level-ish camera above a flat floor: pinhole ground-plane geometry per lane."""

    metres: float
    horizon: float  # image-height fraction of the horizon line

    def lane(self, depth: float, image_height: int) -> tuple[float, float]:
        """Foot line and person height (pixels) of lane ``depth`` ∈ (0, 1], 1 = nearest.

        Both scale with 1/distance, so height = (person / camera height) × (foot − horizon).
        """
        foot = (self.horizon + depth * (0.98 - self.horizon)) * image_height
        return foot, PERSON_HEIGHT_M / self.metres * (foot - self.horizon * image_height)


CAMERAS = {
    "low": CameraHeight(1.0, 0.45),  # a small robot: people tower over the horizon
    "eye": CameraHeight(1.9, 0.3),  # about make_sequence's perspective
    "high": CameraHeight(3.0, 0.2),  # a ceiling corner: looks down, fewer overlaps
}


@dataclass(frozen=True)
class Scene:
    """What a family builder needs; ``rng`` is the only source of randomness."""

    rng: np.random.Generator
    seconds: float
    width: int
    height: int
    camera: CameraHeight

    def lane(self, depth: float) -> tuple[float, float]:
        return self.camera.lane(depth, self.height)

    def span(self, person_height: float) -> tuple[float, float]:
        """x range of a walk that keeps the whole figure in the image."""
        margin = 0.3 * person_height + 10.0
        return margin + self.rng.uniform(0, 40), self.width - margin - self.rng.uniform(0, 40)

    def event_time(self) -> float:
        """When the family's event (meeting, passing) happens: well inside the clip."""
        return float(self.rng.uniform(0.3, 0.6) * self.seconds)


def _dressed(walkers: list[Walker], rng: np.random.Generator, alike: bool) -> list[Walker]:
    """Own colours per person, or one outfit for all (appearance must not be trusted blindly)."""
    shared = random_clothing(rng)
    return [replace(w, clothing=shared if alike else random_clothing(rng)) for w in walkers]


def _phase_at(period: float, frac: float, t: float) -> float:
    """The phase that puts a walker at fraction ``frac`` of its back-and-forth at time ``t``."""
    return (frac - t / period) % 1.0


def head_on(scene: Scene, alike: bool = False) -> list[Walker]:
    """Same height, same line, opposite ways: they meet at the centre at the event time."""
    foot, h = scene.lane(scene.rng.uniform(0.6, 0.85))
    x_min, x_max = scene.span(h)
    speed = scene.rng.uniform(0.45, 0.7) * h
    period = 2.0 * (x_max - x_min) / speed
    phase = _phase_at(period, 0.25, scene.event_time())  # frac 0.25: mid-path, going right
    pair = [Walker(i + 1, foot, h, x_min, x_max, speed, phase, mirrored=i == 1) for i in range(2)]
    return _dressed(pair, scene.rng, alike)


def head_on_same_clothes(scene: Scene) -> list[Walker]:
    return head_on(scene, alike=True)


def overtaking(scene: Scene) -> list[Walker]:
    """Same way, lanes a hair apart, one 1.4–1.8× faster: side by side at the event time."""
    depth = scene.rng.uniform(0.6, 0.8)
    lanes = [scene.lane(depth), scene.lane(depth + 0.03)]
    x_min, x_max = scene.span(max(h for _, h in lanes))
    slow = scene.rng.uniform(0.35, 0.5) * lanes[0][1]
    t_event = scene.event_time()
    walkers = []
    for i, ((foot, h), speed) in enumerate(
        zip(lanes, (slow, slow * scene.rng.uniform(1.4, 1.8)), strict=True)
    ):
        period = 2.0 * (x_max - x_min) / speed
        walkers.append(Walker(i + 1, foot, h, x_min, x_max, speed, _phase_at(period, 0.25, t_event), False))
    return _dressed(walkers, scene.rng, alike=False)


def groups(scene: Scene) -> list[Walker]:
    """Two groups of two (side by side, staggered in depth) pass through each other."""
    base = scene.rng.uniform(0.6, 0.75)
    depths = (base, base + 0.06, base + 0.02, base + 0.09)  # group A: 0, 1; group B: 2, 3
    lanes = [scene.lane(d) for d in depths]
    tallest = max(h for _, h in lanes)
    x_min, x_max = scene.span(tallest)
    offset = 0.35 * tallest  # members walk this far apart along the line
    x_min, x_max = x_min + offset, x_max - offset
    speed = scene.rng.uniform(0.45, 0.6) * tallest
    period = 2.0 * (x_max - x_min) / speed
    phase = _phase_at(period, 0.25, scene.event_time())
    walkers = []
    for i, (foot, h) in enumerate(lanes):
        shift = offset * (0.5 if i % 2 else -0.5)
        walkers.append(Walker(i + 1, foot, h, x_min + shift, x_max + shift, speed, phase, mirrored=i >= 2))
    return _dressed(walkers, scene.rng, alike=False)


def reentry(scene: Scene, alike: bool = False) -> list[Walker]:
    """Person 1 walks out to the right, stays out 3–10 s, comes back; person 2 stays in view.

    Out of view = centre beyond the image edge, hidden as a detector would not report it.
    """
    foot, h = scene.lane(scene.rng.uniform(0.6, 0.8))
    x_min, _ = scene.span(h)
    speed = scene.rng.uniform(0.45, 0.7) * h
    gap = scene.rng.uniform(REENTRY_GAP_S[0] + 0.2, REENTRY_GAP_S[1] - 0.2)
    x_max = scene.width + 0.5 * gap * speed  # the turn lies gap / 2 beyond the edge
    period = 2.0 * (x_max - x_min) / speed
    t_out = scene.rng.uniform(1.0, max(1.0, scene.seconds - gap - 2.0))
    edge_frac = 0.5 * (scene.width - x_min) / (x_max - x_min)  # frac where it reaches the edge
    leaver = Walker(1, foot, h, x_min, x_max, speed, _phase_at(period, edge_frac, t_out), False)
    hidden = tuple((t_out + k * period, t_out + k * period + gap) for k in range(-2, 3))
    leaver = replace(leaver, hidden=tuple((a, b) for a, b in hidden if b > 0 and a < scene.seconds))
    foot2, h2 = scene.lane(scene.rng.uniform(0.3, 0.5))
    x2_min, x2_max = scene.span(h2)
    speed2 = scene.rng.uniform(0.45, 0.7) * h2
    stayer = Walker(2, foot2, h2, x2_min, x2_max, speed2, float(scene.rng.uniform(0, 1)), True)
    return _dressed([leaver, stayer], scene.rng, alike)


def reentry_same_clothes(scene: Scene) -> list[Walker]:
    return reentry(scene, alike=True)


FAMILIES: dict[str, Callable[[Scene], list[Walker]]] = {
    "head_on": head_on,
    "head_on_same_clothes": head_on_same_clothes,
    "overtaking": overtaking,
    "groups": groups,
    "reentry": reentry,
    "reentry_same_clothes": reentry_same_clothes,
}


def make_scenario(
    family: str,
    seed: int = 0,
    camera: str = "eye",
    seconds: float = 20.0,
    fps: float = 30.0,
    width: int = 1280,
    height: int = 720,
) -> Sequence:
    """One clip of ``family`` (a ``FAMILIES`` key) seen from ``camera`` (a ``CAMERAS`` key)."""
    if family not in FAMILIES:
        raise ValueError(f"make_scenario: unknown family {family!r} (one of {', '.join(FAMILIES)})")
    if camera not in CAMERAS:
        raise ValueError(f"make_scenario: unknown camera {camera!r} (one of {', '.join(CAMERAS)})")
    if seconds <= 0 or fps <= 0:
        raise ValueError("make_scenario: need seconds > 0 and fps > 0")
    scene = Scene(np.random.default_rng(seed), seconds, width, height, CAMERAS[camera])
    return sequence_of(FAMILIES[family](scene), [], seconds, fps, width, height)
