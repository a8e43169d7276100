"""Deterministic synthetic multi-person walking sequences for tracker tests.

No trained model or video is needed: people are COCO-17 stick figures with a gait
cycle, walking back and forth on horizontal lanes at different depths (perspective:
nearer lanes are lower in the image and taller). Lanes are laid out in pairs so that
paths cross on purpose, because crossings and occlusions are where trackers swap ids:

* kind 0 — two people on the *same* lane walking towards each other (same scale);
* kind 1 — a near and a far person crossing; the far one is fully hidden behind the
  near one for ``occlusion_seconds`` around the crossing;
* kind 2 — two people on different lanes crossing; one of them walks behind a static
  pillar (the occluder) for ``occlusion_seconds``.

``noisy_detections`` turns the ground truth into what a detector plus pose model would
give (misses, box jitter, keypoint noise), keeping GT ids apart for evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pose_perception.tracking import box_iou

NUM_KEYPOINTS = 17
Clothing = tuple[tuple[int, int, int], tuple[int, int, int]]  # (shirt, trousers) BGR
_HORIZON = 0.3  # image-height fraction where a person's height would shrink to zero


@dataclass(frozen=True)
class Walker:
    """One person's path: a triangle wave along ``[x_min, x_max]`` on lane ``foot_y``."""

    gt_id: int
    foot_y: float  # pixels: ankle line (depth)
    height: float  # pixels: ankles to top of head
    x_min: float
    x_max: float
    speed: float  # pixels per second
    phase: float  # fraction of the back-and-forth period at t = 0
    mirrored: bool  # walks the opposite way to its partner
    hidden: tuple[tuple[float, float], ...] = ()  # [start, end) seconds fully occluded
    clothing: Clothing | None = None  # rendered colours; None: drawn from the id

    @property
    def period(self) -> float:
        return 2.0 * (self.x_max - self.x_min) / self.speed

    def x_at(self, t: float) -> tuple[float, float]:
        """Centre x and walking direction (+1 right, -1 left) at time ``t``."""
        frac = (t / self.period + self.phase) % 1.0
        tri = 1.0 - abs(2.0 * frac - 1.0)  # 0 → 1 → 0
        direction = 1.0 if frac < 0.5 else -1.0
        if self.mirrored:
            tri, direction = 1.0 - tri, -direction
        return self.x_min + (self.x_max - self.x_min) * tri, direction

    def is_hidden(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.hidden)


@dataclass(frozen=True)
class Frame:
    """Ground truth of one frame; rows are people (hidden ones included, ``visible`` False)."""

    stamp: float
    gt_ids: np.ndarray  # (M,) int
    boxes: np.ndarray  # (M, 4) x1, y1, x2, y2
    keypoints: np.ndarray  # (M, 17, 2)
    visible: np.ndarray  # (M,) bool
    heights: np.ndarray  # (M,) person height in pixels (for rendering)


@dataclass(frozen=True)
class Sequence:
    """A synthetic clip: frames plus the walkers and occluders that made them."""

    frames: list[Frame]
    walkers: tuple[Walker, ...]
    pillars: tuple[tuple[float, float, float, float], ...]  # occluder boxes, for rendering
    width: int
    height: int
    fps: float


@dataclass(frozen=True)
class Detections:
    """What a detector + pose model reports for one frame; ``gt_ids`` is for evaluation only."""

    stamp: float
    boxes: np.ndarray  # (N, 4)
    scores: np.ndarray  # (N,)
    keypoints: np.ndarray  # (N, 17, 2)
    keypoint_scores: np.ndarray  # (N, 17)
    gt_ids: np.ndarray  # (N,)


def stick_figure(cx: float, foot_y: float, height: float, gait: float, direction: float) -> np.ndarray:
    """COCO-17 keypoints (17, 2) of a walking figure; ``gait`` is the stride phase in radians.

    Body units are fractions of the height, y up from the ankles; legs and arms swing in
    the walking direction (a side-on gait drawn on a frontal skeleton, enough for tests).
    """
    swing = 0.45 * np.sin(gait)  # thigh angle (rad) of the left leg
    bob = 0.01 * abs(np.cos(gait))
    pts = {
        "nose": (0.0, 0.93),
        "left_eye": (0.025, 0.95),
        "right_eye": (-0.025, 0.95),
        "left_ear": (0.055, 0.94),
        "right_ear": (-0.055, 0.94),
        "left_shoulder": (0.12, 0.82),
        "right_shoulder": (-0.12, 0.82),
        "left_hip": (0.08, 0.53),
        "right_hip": (-0.08, 0.53),
    }
    for side, sign in (("left", 1.0), ("right", -1.0)):
        hip = np.array(pts[f"{side}_hip"])
        thigh = sign * swing
        shin = thigh - 0.5 * max(0.0, -np.cos(gait) * sign)  # knee bends on the back swing
        knee = hip + 0.26 * np.array([np.sin(thigh) * direction, -np.cos(thigh)])
        pts[f"{side}_knee"] = tuple(knee)
        pts[f"{side}_ankle"] = tuple(knee + 0.25 * np.array([np.sin(shin) * direction, -np.cos(shin)]))
        shoulder = np.array(pts[f"{side}_shoulder"])
        arm = -0.7 * sign * swing  # arms swing opposite to the legs
        elbow = shoulder + 0.17 * np.array([np.sin(arm) * direction, -np.cos(arm)])
        fore = arm + 0.3
        pts[f"{side}_elbow"] = tuple(elbow)
        pts[f"{side}_wrist"] = tuple(elbow + 0.15 * np.array([np.sin(fore) * direction, -np.cos(fore)]))
    order = (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    )  # fmt: skip
    body = np.array([pts[name] for name in order])
    return np.stack([cx + body[:, 0] * height, foot_y - (body[:, 1] + bob) * height], axis=1)


def figure_box(keypoints: np.ndarray, height: float) -> np.ndarray:
    """A detector-style full-body box: keypoint extent plus the head top and a margin."""
    pad = 0.05 * height
    x1, x2 = keypoints[:, 0].min() - pad, keypoints[:, 0].max() + pad
    y2 = keypoints[:, 1].max() + 0.02 * height
    y1 = y2 - 1.04 * height
    return np.array([x1, y1, x2, y2])


def _lane(frac: float, height: int) -> tuple[float, float]:
    """Foot line and person height (pixels) of a lane at image-height fraction ``frac``."""
    return frac * height, 0.9 * (frac - _HORIZON) * height


def _pair(
    kind: int,
    first_id: int,
    rng: np.random.Generator,
    seconds: float,
    occlusion: float,
    width: int,
    height: int,
) -> tuple[list[Walker], list[tuple[float, float, float, float]]]:
    """Two walkers whose paths cross, per the module docstring's ``kind``; plus any pillar."""
    base = {0: (0.78, 0.78), 1: (0.97, 0.62), 2: (0.88, 0.70)}[kind]
    lanes = [f + rng.uniform(-0.02, 0.02) for f in base]
    sizes = [_lane(f, height) for f in lanes]
    margin = 0.3 * max(h for _, h in sizes) + 10.0
    x_min, x_max = margin + rng.uniform(0, 40), width - margin - rng.uniform(0, 40)
    span = x_max - x_min
    speed = rng.uniform(0.45, 0.7) * float(np.mean([h for _, h in sizes]))
    if occlusion > 0:  # an occlusion must not contain a turn, or no tracker could follow it
        speed = min(speed, 0.8 * span / occlusion)
    period = 2.0 * span / speed
    t_event = rng.uniform(min(2.0, seconds / 3), max(min(2.0, seconds / 3), seconds - occlusion - 1.5))
    pillars: list[tuple[float, float, float, float]] = []
    hidden: tuple[tuple[float, float], ...] = ()
    if kind == 1:  # crossing at the path centre (frac 0.25), far one hidden around it
        phase = 0.25 - t_event / period
        hidden = ((t_event - occlusion / 2, t_event + occlusion / 2),) if occlusion > 0 else ()
    elif kind == 2:  # pillar just after the left turn (frac 0.05)
        phase = 0.05 - t_event / period
        if occlusion > 0:
            hidden = ((t_event, t_event + occlusion),)
            foot, h = sizes[1]
            x0 = x_max - 0.1 * span  # the hidden walker is mirrored: it walks left here
            pillars.append((x0 - speed * occlusion, foot - 1.2 * h, x0, foot + 5.0))
    else:
        phase = rng.uniform(0, 1)
    walkers = [
        Walker(first_id + i, foot, h * rng.uniform(0.92, 1.08), x_min, x_max, speed, phase, i == 1)
        for i, (foot, h) in enumerate(sizes)
    ]
    if hidden:
        walkers[1] = replace(walkers[1], hidden=hidden)
    return walkers, pillars


def _frame(walkers: tuple[Walker, ...], t: float, start_stamp: float) -> Frame:
    """Ground truth of all walkers at time ``t`` (stamped ``start_stamp + t``)."""
    kps, boxes, visible = [], [], []
    for w in walkers:
        cx, direction = w.x_at(t)
        travelled = w.speed * t + w.phase * w.period * w.speed
        gait = 2.0 * np.pi * travelled / (0.8 * w.height)  # one stride ≈ 0.8 × height
        k = stick_figure(cx, w.foot_y, w.height, gait, direction)
        kps.append(k)
        boxes.append(figure_box(k, w.height))
        visible.append(not w.is_hidden(t))
    return Frame(
        stamp=start_stamp + t,
        gt_ids=np.array([w.gt_id for w in walkers], np.int64),
        boxes=np.array(boxes, np.float64).reshape(-1, 4),
        keypoints=np.array(kps, np.float64).reshape(-1, NUM_KEYPOINTS, 2),
        visible=np.array(visible, bool),
        heights=np.array([w.height for w in walkers], np.float64),
    )


def make_sequence(
    num_people: int = 6,
    seconds: float = 20.0,
    fps: float = 30.0,
    seed: int = 0,
    width: int = 1280,
    height: int = 720,
    occlusion_seconds: float = 2.0,
    start_stamp: float = 0.0,
) -> Sequence:
    """Walkers in crossing pairs (kinds 0, 1, 2 in turn; an odd last one walks alone).

    GT ids are 1..num_people. Everything is drawn from ``seed``, so sequences repeat exactly.
    """
    if num_people < 1 or seconds <= 0 or fps <= 0 or occlusion_seconds < 0:
        raise ValueError("need num_people >= 1, seconds > 0, fps > 0 and occlusion_seconds >= 0")
    rng = np.random.default_rng(seed)
    walkers: list[Walker] = []
    pillars: list[tuple[float, float, float, float]] = []
    for p in range((num_people + 1) // 2):
        pair, pillar = _pair(p % 3, 2 * p + 1, rng, seconds, occlusion_seconds, width, height)
        walkers.extend(pair)
        pillars.extend(pillar)
    return sequence_of(walkers[:num_people], pillars, seconds, fps, width, height, start_stamp)


def sequence_of(
    walkers: list[Walker],
    pillars: list[tuple[float, float, float, float]],
    seconds: float,
    fps: float,
    width: int,
    height: int,
    start_stamp: float = 0.0,
) -> Sequence:
    """The clip that ``walkers`` make over ``seconds`` (shared by every scenario builder)."""
    times = np.arange(round(seconds * fps)) / fps
    frames = [_frame(tuple(walkers), float(t), start_stamp) for t in times]
    return Sequence(frames, tuple(walkers), tuple(pillars), width, height, fps)


def noisy_detections(
    sequence: Sequence,
    miss_rate: float = 0.1,
    box_noise: float = 0.05,
    keypoint_noise_px: float = 3.0,
    seed: int = 0,
) -> list[Detections]:
    """Per-frame detections: random misses, box jitter ∝ box size, noisy keypoints.

    Hidden people are never detected. Rows are shuffled, as a detector's order means nothing.
    """
    rng = np.random.default_rng(seed)
    out = []
    for f in sequence.frames:
        keep = f.visible & (rng.random(len(f.gt_ids)) >= miss_rate)
        idx = rng.permutation(np.flatnonzero(keep))
        boxes = f.boxes[idx].copy()
        size = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, axis=1)
        boxes += rng.normal(0.0, box_noise, boxes.shape) * size
        kps = f.keypoints[idx] + rng.normal(0.0, keypoint_noise_px, f.keypoints[idx].shape)
        out.append(
            Detections(
                stamp=f.stamp,
                boxes=boxes,
                scores=rng.uniform(0.5, 0.99, len(idx)),
                keypoints=kps,
                keypoint_scores=rng.uniform(0.6, 1.0, (len(idx), NUM_KEYPOINTS)),
                gt_ids=f.gt_ids[idx],
            )
        )
    return out


def crossing_mask(sequence: Sequence, min_iou: float = 0.05, window_seconds: float = 0.5) -> list[np.ndarray]:
    """Per frame, per GT row: True while the person's box overlaps another's (± a window).

    The window covers the frames just before and after an overlap, where a tracker's
    state is still disturbed by the crossing.
    """
    raw = []
    for f in sequence.frames:
        iou = box_iou(f.boxes, f.boxes)
        np.fill_diagonal(iou, 0.0)
        raw.append((iou >= min_iou).any(axis=1) if len(f.gt_ids) else np.zeros(0, bool))
    near = np.array(raw)
    pad = round(window_seconds * sequence.fps)
    out = near.copy()
    for shift in range(1, pad + 1):
        out[shift:] |= near[:-shift]
        out[:-shift] |= near[shift:]
    return list(out)


def render(sequence: Sequence, index: int) -> np.ndarray:
    """BGR image of one frame: lanes' figures with coloured clothes, far first, pillars on top.

    Hidden people are drawn behind the pillars or the people that occlude them.
    """
    img = np.full((sequence.height, sequence.width, 3), 60, np.uint8)
    img[int(_HORIZON * sequence.height) :] = (90, 110, 90)
    draw_people(img, sequence, index)
    return img


def draw_people(img: np.ndarray, sequence: Sequence, index: int) -> None:
    """Paint frame ``index``'s figures and the pillars onto ``img``, farther first."""
    import cv2  # local: the generator itself needs no OpenCV

    f = sequence.frames[index]
    items = [(float(f.boxes[r, 3]), 0, r) for r in range(len(f.gt_ids))]
    items += [(p[3], 1, i) for i, p in enumerate(sequence.pillars)]
    clothing = {w.gt_id: w.clothing for w in sequence.walkers}
    for _, is_pillar, i in sorted(items):  # painter's order: farther (higher bottom edge) first
        if is_pillar:
            x1, y1, x2, y2 = (int(v) for v in sequence.pillars[i])
            cv2.rectangle(img, (x1, y1), (x2, y2), (120, 120, 130), -1)
        else:
            gt_id = int(f.gt_ids[i])
            colours = clothing.get(gt_id) or id_clothing(gt_id)
            _draw_figure(img, f.keypoints[i], float(f.heights[i]), colours)


def id_clothing(gt_id: int) -> Clothing:
    """Default per-person colours, seeded by the id (so different people differ)."""
    return random_clothing(np.random.default_rng(gt_id))


def random_clothing(rng: np.random.Generator) -> Clothing:
    """A shirt colour, then a (darker on average) trouser colour, BGR."""
    shirt, trousers = (rng.integers(low, high, 3).tolist() for low, high in ((40, 255), (20, 160)))
    return (shirt[0], shirt[1], shirt[2]), (trousers[0], trousers[1], trousers[2])


def _draw_figure(img: np.ndarray, keypoints: np.ndarray, height: float, clothing: Clothing) -> None:
    """Stick figure in the given shirt and trouser colours."""
    import cv2

    kp = [(int(x), int(y)) for x, y in keypoints]
    shirt, trousers = clothing
    thick = max(2, int(0.06 * height))
    for a, b in ((11, 13), (13, 15), (12, 14), (14, 16)):
        cv2.line(img, kp[a], kp[b], trousers, thick)
    cv2.fillConvexPoly(img, np.array([kp[i] for i in (5, 6, 12, 11)], np.int32), shirt)
    for a, b in ((5, 7), (7, 9), (6, 8), (8, 10), (5, 6), (11, 12), (5, 11), (6, 12)):
        cv2.line(img, kp[a], kp[b], shirt, thick)
    cv2.circle(img, kp[0], max(3, int(0.065 * height)), (150, 180, 220), -1)
