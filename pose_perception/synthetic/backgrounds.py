"""Procedural backgrounds (no photos): a textured floor-and-wall room, or image-space
textures (value noise, blurred blobs, random shapes, stripes).

The depth behind the people always comes from the same geometry, the ground plane
Y = 0 and a wall facing the camera at world z = ``wall_distance``, whatever is painted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pose_perception.synthetic.camera import Camera


def _colour(rng: np.random.Generator, lo: float = 0.1, hi: float = 0.9) -> np.ndarray:
    return rng.uniform(lo, hi, 3).astype(np.float32)


def value_noise(
    rng: np.random.Generator, width: int, height: int, octaves: int = 4, base: int = 4
) -> np.ndarray:
    """Smooth fractal noise in [0, 1], (height, width) float32."""
    out = np.zeros((height, width), np.float32)
    total = 0.0
    for o in range(octaves):
        cells = base * 2**o
        grid = rng.random((max(2, cells * height // width), cells)).astype(np.float32)
        amp = 0.55**o
        out += amp * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        total += amp
    return np.clip(out / total, 0.0, 1.0)


def _palette(rng: np.random.Generator, t: np.ndarray, n: int = 3) -> np.ndarray:
    """Map t in [0, 1] (H, W) to a random gradient through ``n`` colours, float32 BGR."""
    cols = np.stack([_colour(rng, 0.05, 0.95) for _ in range(n)])
    x = np.linspace(0.0, n - 1.0, 256)
    i = np.minimum(x.astype(np.int64), n - 2)
    f = (x - i)[:, None]
    lut = np.rint((cols[i] * (1 - f) + cols[i + 1] * f) * 255.0).astype(np.uint8).reshape(256, 1, 3)
    t8 = cv2.convertScaleAbs(t, alpha=255.0)
    out = cv2.LUT(cv2.merge([t8, t8, t8]), lut)
    return out.astype(np.float32) * np.float32(1.0 / 255.0)


def _shapes(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """Random filled rectangles, circles, polygons and thick lines (clutter), in place."""
    h, w = img.shape[:2]
    for _ in range(count):
        c = tuple(float(v) for v in _colour(rng, 0.0, 1.0))
        kind = rng.integers(4)
        x, y = int(rng.integers(-w // 8, w)), int(rng.integers(-h // 8, h))
        s = int(rng.integers(8, max(9, w // 3)))
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + s, y + int(rng.integers(8, max(9, h // 3)))), c, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), s // 2, c, -1, cv2.LINE_AA)
        elif kind == 2:
            pts = rng.integers(0, s, (int(rng.integers(3, 7)), 2)) + np.array([x, y])
            cv2.fillPoly(img, [pts.astype(np.int32)], c, cv2.LINE_AA)
        else:
            x2, y2 = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.line(img, (x, y), (x2, y2), c, int(rng.integers(2, 14)), cv2.LINE_AA)


def _stripes(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    a = rng.uniform(0, math.pi)
    k = 2 * math.pi / rng.uniform(8, 80)
    xs = np.arange(width, dtype=np.float32) * np.float32(k * math.cos(a))
    ys = np.arange(height, dtype=np.float32) * np.float32(k * math.sin(a))
    t = 0.5 + 0.5 * np.sin(xs[None, :] + ys[:, None])
    if rng.random() < 0.5:
        t = (t > 0.5).astype(np.float32)
    return _palette(rng, t, 2)


@dataclass(frozen=True)
class Geometry:
    """The floor-and-wall backdrop seen by the camera. The camera has no roll, so the depth
    and the world height/distance of the hit point depend on the image row only."""

    depth: np.ndarray  # (H, W) float32 camera z, 0 = no surface
    x: np.ndarray  # (H, W) float32 world x of the hit point (left)
    y: np.ndarray  # (H, 1) float32 world height
    z: np.ndarray  # (H, 1) float32 world distance
    floor: np.ndarray  # (H, 1) bool: the row shows the floor (else the wall)


def geometry(camera: Camera, wall_distance: float) -> Geometry:
    u = ((np.arange(camera.width) - camera.cx) / camera.fx).astype(np.float32)
    v = (np.arange(camera.height) - camera.cy) / camera.fy
    c, s = math.cos(camera.tilt), math.sin(camera.tilt)
    dy, dz = -c * v - s, -s * v + c  # world y, z of the rays (x_cam, y_cam, 1), per row
    with np.errstate(divide="ignore"):
        t_floor = np.where(dy < -1e-9, -camera.elevation / np.where(dy < -1e-9, dy, -1.0), np.inf)
        t_wall = np.where(dz > 1e-9, wall_distance / np.where(dz > 1e-9, dz, 1.0), np.inf)
    t = np.minimum(t_floor, t_wall)
    hit = np.isfinite(t)
    t = np.where(hit, t, 0.0)  # rays are (x, y, 1): t is the camera depth
    depth = np.repeat(t.astype(np.float32)[:, None], camera.width, axis=1)
    x = -u[None, :] * t.astype(np.float32)[:, None]
    col = (slice(None), None)
    return Geometry(
        depth,
        x,
        (camera.elevation + dy * t).astype(np.float32)[col],
        (dz * t).astype(np.float32)[col],
        ((t_floor < t_wall) & hit)[col],
    )


def render_background(
    camera: Camera, kind: str, seed: int, wall_distance: float
) -> tuple[np.ndarray, Geometry]:
    """(image float32 BGR 0–1, backdrop geometry with the depth image)."""
    rng = np.random.default_rng(seed)
    w, h = camera.width, camera.height
    geo = geometry(camera, wall_distance)
    if kind == "room":
        img = _room(rng, camera, geo, wall_distance)
    elif kind == "noise":
        img = _palette(
            rng, value_noise(rng, w, h, octaves=int(rng.integers(2, 6)), base=int(rng.integers(2, 8)))
        )
    elif kind == "blobs":
        small: np.ndarray = np.empty((h // 4, w // 4, 3), np.float32)
        small[:] = _colour(rng)
        g = np.linspace(0, 1, h // 4, dtype=np.float32)[:, None, None]
        small = small * (1 - g) + _colour(rng) * g
        for _ in range(int(rng.integers(8, 30))):
            c = tuple(float(v) for v in _colour(rng, 0.0, 1.0))
            centre = (int(rng.integers(0, w // 4)), int(rng.integers(0, h // 4)))
            axes = (int(rng.integers(3, w // 8)), int(rng.integers(3, h // 8)))
            cv2.ellipse(small, centre, axes, float(rng.uniform(0, 180)), 0, 360, c, -1)
        small = cv2.GaussianBlur(small, (0, 0), float(rng.uniform(1.0, 6.0)))
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    elif kind == "shapes":
        img = _palette(rng, value_noise(rng, w, h, 3, 3), 2)
        img = np.ascontiguousarray(img, dtype=np.float32)
        _shapes(rng, img, int(rng.integers(15, 60)))
    elif kind == "stripes":
        img = _stripes(rng, w, h)
    else:
        raise ValueError(f"unknown background kind {kind!r}")
    img = np.ascontiguousarray(img, dtype=np.float32)
    if kind != "shapes" and rng.random() < 0.35:
        _shapes(rng, img, int(rng.integers(3, 15)))
    return img, geo


def _room(rng: np.random.Generator, camera: Camera, geo: Geometry, wall_distance: float) -> np.ndarray:
    """Floor (tiles, planks or carpet, in perspective) below a painted wall with a skirting
    board and frames. Floor and wall rows are disjoint (no camera roll): each is textured
    on its own rows only."""
    w, h = camera.width, camera.height
    img = np.empty((h, w, 3), np.float32)
    rows = geo.floor[:, 0]
    f_rows, w_rows = np.flatnonzero(rows), np.flatnonzero(~rows)
    style = rng.integers(3)
    c1, c2 = _colour(rng, 0.15, 0.85), _colour(rng, 0.15, 0.85)
    if len(f_rows):
        r = slice(int(f_rows[0]), int(f_rows[-1]) + 1)
        x, z = geo.x[r], geo.z[r]
        if style == 0:
            size = np.float32(rng.uniform(0.25, 1.0))
            ix, iz = np.floor(x / size), np.floor(z / size)
            odd = ((ix + iz) % 2) > 0
            if rng.random() < 0.5:
                c2 = c1 * np.float32(rng.uniform(0.7, 0.95))
            fx, fz = x / size - ix, z / size - iz
            grout = np.minimum(np.minimum(fx, 1 - fx), np.minimum(fz, 1 - fz)) < 0.03
            img[r] = c2
            img[r][odd] = c1
            img[r][grout] *= np.float32(0.6)
        elif style == 1:
            size = np.float32(rng.uniform(0.1, 0.25))
            plank = np.floor(x / size)
            shade = 0.8 + 0.2 * np.sin(plank * np.float32(12.9898) + plank * plank * np.float32(0.1))
            grain = 0.93 + 0.07 * np.sin(z * np.float32(rng.uniform(20, 60)) + plank * 3.0)
            img[r] = c1 * (shade * grain)[..., None]
        else:
            noise = value_noise(rng, w, h, 3, 16)
            img[r] = c1 * (0.75 + 0.5 * noise[r])[..., None]
    if len(w_rows):
        r = slice(int(w_rows[0]), int(w_rows[-1]) + 1)
        x, y = geo.x[r], geo.y[r]
        img[r] = _colour(rng, 0.2, 0.95) * (0.85 + 0.3 * value_noise(rng, w, h, 3, 3)[r])[..., None]
        if rng.random() < 0.6:
            board = rng.uniform(0.08, 0.9)
            img[r][(y < board)[:, 0]] = _colour(rng, 0.1, 0.9)
        for _ in range(int(rng.integers(0, 4))):
            cx0, cy0 = rng.uniform(-4, 4), rng.uniform(0.8, 2.5)
            hw, hh = rng.uniform(0.2, 1.2), rng.uniform(0.2, 0.8)
            inside = (np.abs(x - np.float32(cx0)) < hw) & (np.abs(y - np.float32(cy0)) < hh)
            img[r][inside] = _colour(rng)
    dist = np.sqrt(np.square(geo.x) + np.square(geo.z - np.float32(0.3 * wall_distance)))
    img *= (1.1 - 0.35 * np.clip(dist / np.float32(2.0 * wall_distance), 0, 1))[..., None]
    return img
