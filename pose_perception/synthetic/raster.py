"""Ray-cast z-buffer renderer for synthetic scenes (numpy + OpenCV, CPU).

Every body part is an analytic solid (rounded cone or ellipsoid; furniture is a box).
For each part, only the pixels of its projected bounding sphere are ray-cast; the exact
ray/solid intersection gives the per-pixel depth (camera z) and the surface normal, so
occlusion between parts and people is exact and parts are Lambert-shaded. The depth
image is the same z-buffer (the background's floor/wall depth behind the people).

A COCO keypoint is *visible* (v = 2) when the surface seen at its pixel is not more than
the flesh around the joint in front of it, *occluded* (v = 1) when something else is in
front (another person, a box, or the person's own body), and *unlabelled* (v = 0, x = y
= 0, as COCO does) when it projects outside the image or behind the camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from pose_perception.people import Person as DetectedPerson
from pose_perception.synthetic.backgrounds import Geometry, render_background
from pose_perception.synthetic.body import (
    COCO_KEYPOINTS,
    VISIBILITY_TOLERANCE,
    Cone,
    Ellipsoid,
    Part,
    body_parts,
    rot_y,
)
from pose_perception.synthetic.camera import Camera
from pose_perception.synthetic.scene import Box, Person, Scene, person_state

BACKGROUND_ID = -1
BOX_ID = -2
_NEAR = 0.05  # metres: nothing nearer than this to the camera is drawn


@dataclass(frozen=True)
class PersonLabel:
    """Ground truth of one rendered person (row order = ``scene.people``)."""

    keypoints: np.ndarray  # (17, 2) pixels; (0, 0) where visibility is 0
    visibility: np.ndarray  # (17,) int: 0 outside the image, 1 occluded, 2 visible
    keypoints_3d: np.ndarray  # (17, 3) camera optical frame, metres
    joints_3d: np.ndarray  # (len(JOINT_NAMES), 3) COCO + helper joints, camera frame
    bbox: np.ndarray  # (4,) x, y, w, h of the visible silhouette (zeros if none)
    area: int  # visible silhouette pixels
    height_m: float
    kind: str  # pose kind

    @property
    def num_keypoints(self) -> int:
        return int((self.visibility > 0).sum())

    def as_detection(self, occluded_score: float = 0.0) -> DetectedPerson:
        """This person as a perfect pose model would report them (untracked, in their box):
        visible keypoints scored 1, occluded ones ``occluded_score``, the rest 0 (a 3D
        stage never lifts those). What depth and lifter tests feed in as "ground-truth 2D"."""
        x, y, w, h = self.bbox
        scores = np.where(self.visibility == 2, 1.0, np.where(self.visibility == 1, occluded_score, 0.0))
        return DetectedPerson(
            track_id=0,
            bbox=np.array([x, y, x + w, y + h], np.float32),
            score=1.0,
            keypoints=self.keypoints.astype(np.float32),
            keypoint_scores=scores.astype(np.float32),
        )


@dataclass(frozen=True)
class RenderResult:
    image: np.ndarray  # (H, W, 3) uint8 BGR
    depth: np.ndarray  # (H, W) float32 metres along the optical axis; 0 = no surface
    instance: np.ndarray  # (H, W) int16: person index, BACKGROUND_ID or BOX_ID
    people: list[PersonLabel]
    camera: Camera
    t: float

    @property
    def K(self) -> np.ndarray:
        return self.camera.K

    def depth_mm(self) -> np.ndarray:
        return depth_to_mm(self.depth)


def depth_to_mm(depth: np.ndarray) -> np.ndarray:
    """float32 metres → uint16 millimetres, rounded (0 stays 0 = invalid; saturates at 65.535 m)."""
    mm = np.asarray(depth, np.float32) * np.float32(1000.0) + np.float32(0.5)
    return np.clip(mm, 0, 65535, out=mm).astype(np.uint16)


@lru_cache(maxsize=1)
def _noise_tile() -> np.ndarray:
    """A fixed 1024² standard-normal tile: sensor noise is a random window of it (fast)."""
    return np.random.default_rng(12345).standard_normal((1024, 1024), dtype=np.float32)


# Ray / solid intersections. Rays start at the camera centre (origin); ``d`` is (n, 3) unit.


def _roi(camera: Camera, center: np.ndarray, radius: float) -> tuple[int, int, int, int] | None:
    """Pixel window (x0, x1, y0, y1), end-exclusive, holding the sphere's projection."""
    cz = float(center[2])
    if cz + radius <= _NEAR:
        return None
    zmin, zmax = max(cz - radius, _NEAR), cz + radius
    xs = [(center[0] + s * radius) / z for s in (-1, 1) for z in (zmin, zmax)]
    ys = [(center[1] + s * radius) / z for s in (-1, 1) for z in (zmin, zmax)]
    x0 = max(0, math.floor(camera.fx * min(xs) + camera.cx))
    x1 = min(camera.width, math.ceil(camera.fx * max(xs) + camera.cx) + 1)
    y0 = max(0, math.floor(camera.fy * min(ys) + camera.cy))
    y1 = min(camera.height, math.ceil(camera.fy * max(ys) + camera.cy) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, x1, y0, y1


def _union(
    a: tuple[int, int, int, int] | None, b: tuple[int, int, int, int] | None
) -> tuple[int, int, int, int] | None:
    if a is None or b is None:
        return a or b
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def _rays(camera: Camera, roi: tuple[int, int, int, int]) -> np.ndarray:
    """Unit rays (n, 3) through the pixels of ``roi``, row-major."""
    x0, x1, y0, y1 = roi
    u = (np.arange(x0, x1) - camera.cx) / camera.fx
    v = (np.arange(y0, y1) - camera.cy) / camera.fy
    inv = 1.0 / np.sqrt(u[None, :] ** 2 + v[:, None] ** 2 + 1.0)
    d = np.empty((y1 - y0, x1 - x0, 3))
    d[..., 0] = u[None, :] * inv
    d[..., 1] = v[:, None] * inv
    d[..., 2] = inv
    return d.reshape(-1, 3)


def _cone_t(
    d: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit distance (inf = miss) of rays with a rounded cone, and a body-hit mask.

    After I. Quilez's analytic rounded-cone intersection (the body is the cone tangent to
    both end spheres; otherwise the nearer end-sphere cap)."""
    ba, oa, ob = b - a, -a, -b
    rr = ra - rb
    m0, m1, m5, m7 = ba @ ba, ba @ oa, oa @ oa, ob @ ob
    m2, m3, m6 = d @ ba, d @ oa, d @ ob
    d2 = m0 - rr * rr
    k2 = d2 - m2 * m2
    k1 = d2 * m3 - m1 * m2 + m2 * rr * ra
    k0 = d2 * m5 - m1 * m1 + m1 * rr * ra * 2.0 - m0 * ra * ra
    h = k1 * k1 - k0 * k2
    hit = h >= 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        t_body = (-np.sqrt(h) - k1) / k2
        y = m1 - ra * rr + t_body * m2
        body = hit & (y > 0.0) & (y < d2)
        h1 = m3 * m3 - m5 + ra * ra
        h2 = m6 * m6 - m7 + rb * rb
        t1 = np.where(h1 > 0.0, -m3 - np.sqrt(h1), np.inf)
        t2 = np.where(h2 > 0.0, -m6 - np.sqrt(h2), np.inf)
    t = np.where(body, t_body, np.where(hit, np.minimum(t1, t2), np.inf))
    return np.where(t > _NEAR, t, np.inf), body


def _cone_normal(
    d: np.ndarray, t: np.ndarray, body: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float
) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals and the axial coordinate (metres from ``a``) at the hits."""
    pa = d * t[:, None] - a
    ba = b - a
    m0 = float(ba @ ba)
    along = pa @ ba
    rr = ra - rb
    n = (m0 - rr * rr) * pa - ba[None, :] * (along - ra * rr)[:, None]  # body (after iq)
    cap = ~body
    if cap.any():  # on an end sphere: from the centre of the nearer-fitting sphere
        pc = pa[cap]
        pb = pc - ba
        near_a = np.einsum("ij,ij->i", pc, pc) * (rb * rb) < np.einsum("ij,ij->i", pb, pb) * (ra * ra)
        n[cap] = np.where(near_a[:, None], pc, pb)
    n /= np.sqrt(np.maximum(np.einsum("ij,ij->i", n, n), 1e-24))[:, None]
    return n, along / math.sqrt(m0)


def _ellipsoid_t(
    d: np.ndarray, center: np.ndarray, axes: np.ndarray, radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    o = (axes.T @ -center) / radii
    dl = (d @ axes) / radii
    qa = np.einsum("ij,ij->i", dl, dl)
    qb = dl @ o
    qc = o @ o - 1.0
    h = qb * qb - qa * qc
    with np.errstate(invalid="ignore"):
        t = (-qb - np.sqrt(h)) / qa
    t = np.where((h >= 0.0) & (t > _NEAR), t, np.inf)
    return t, dl


def _ellipsoid_normal(
    d: np.ndarray, t: np.ndarray, center: np.ndarray, axes: np.ndarray, radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    local = ((d * t[:, None] - center) @ axes) / radii  # on the unit sphere
    n = (local / radii) @ axes.T
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return n, local[:, 1] * radii[1]


def _box_t(
    d: np.ndarray, center: np.ndarray, axes: np.ndarray, half: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    o = axes.T @ -center
    dl = d @ axes
    dl = np.where(np.abs(dl) < 1e-12, 1e-12, dl)
    t1 = (-half - o) / dl
    t2 = (half - o) / dl
    near = np.minimum(t1, t2)
    tmin = near.max(axis=1)
    tmax = np.maximum(t1, t2).min(axis=1)
    hit = (tmax >= tmin) & (tmin > _NEAR)
    face = near.argmax(axis=1)
    normal_local = np.zeros_like(dl)
    normal_local[np.arange(len(dl)), face] = -np.sign(dl[np.arange(len(dl)), face])
    return np.where(hit, tmin, np.inf), normal_local @ axes.T


# Rendering


class _Canvas:
    """Colour, depth and instance buffers plus the camera's rays."""

    def __init__(
        self, camera: Camera, image: np.ndarray, depth: np.ndarray, light: np.ndarray, ambient: float
    ):
        self.camera = camera
        self.image = image
        self.z = np.where(depth > 0, depth, np.float32(np.inf)).astype(np.float32)
        self.ids = np.full(depth.shape, BACKGROUND_ID, np.int16)
        self.light = light
        self.ambient = ambient

    def _shade(self, n: np.ndarray) -> np.ndarray:
        lam = np.clip(n @ self.light, 0.0, 1.0)
        rim = 0.12 * (1.0 - np.abs(n[:, 2])) ** 2  # soft edge light: rounder look
        return (self.ambient + (1.0 - self.ambient) * lam * 0.95 + rim).astype(np.float32)

    def draw_part(
        self,
        part: Part,
        ident: int,
        colour: np.ndarray,
        pattern: str = "plain",
        alt: np.ndarray | None = None,
        period: float = 0.1,
    ) -> None:
        if isinstance(part, Cone):
            roi = _union(_roi(self.camera, part.a, part.ra), _roi(self.camera, part.b, part.rb))
        else:
            roi = _roi(self.camera, part.center, float(part.radii.max()))
        if roi is None:
            return
        x0, x1, y0, y1 = roi
        d = _rays(self.camera, roi)
        if isinstance(part, Cone):
            if float(np.linalg.norm(part.b - part.a)) <= abs(part.ra - part.rb) + 1e-6:  # a sphere
                big = part.a if part.ra >= part.rb else part.b
                part = Cone(
                    big, big + np.array([0.0, 0.0, 1e-5]), max(part.ra, part.rb), max(part.ra, part.rb), ""
                )
            t, aux = _cone_t(d, part.a, part.b, part.ra, part.rb)
        else:
            t, aux = _ellipsoid_t(d, part.center, part.axes, part.radii)
        z = (t * d[:, 2]).astype(np.float32).reshape(y1 - y0, x1 - x0)
        zbuf = self.z[y0:y1, x0:x1]
        upd = z < zbuf
        if not upd.any():
            return
        flat = upd.ravel()
        ds, ts = d[flat], t[flat]
        if isinstance(part, Cone):
            n, coord = _cone_normal(ds, ts, aux[flat], part.a, part.b, part.ra, part.rb)
        else:
            n, coord = _ellipsoid_normal(ds, ts, part.center, part.axes, part.radii)
        albedo = np.broadcast_to(colour, (len(ts), 3))
        if pattern != "plain" and alt is not None:
            band = np.floor(coord / period).astype(np.int64)
            if pattern == "checks":
                band += np.floor((ds[:, 0] * ts) / period).astype(np.int64)
            albedo = np.where((band % 2 == 0)[:, None], colour, alt)
        zbuf[upd] = z[upd]
        self.image[y0:y1, x0:x1][upd] = albedo * self._shade(n)[:, None]
        self.ids[y0:y1, x0:x1][upd] = ident

    def draw_box(self, box: Box) -> None:
        cam = self.camera
        axes = cam.rotation @ rot_y(box.yaw)
        center = cam.world_to_camera(np.array([box.center[0], box.base + box.size[1] / 2, box.center[1]]))
        half = np.array(box.size) / 2
        corners = center + (np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T * half) @ axes.T
        if (corners[:, 2] > _NEAR).all():  # the corners' projection bounds the box
            uv = cam.project(corners)
            x0, y0 = np.floor(uv.min(axis=0)).astype(int)
            x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + 1
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, cam.width), min(y1, cam.height)
            roi = (int(x0), int(x1), int(y0), int(y1)) if x0 < x1 and y0 < y1 else None
        else:
            roi = _roi(cam, center, float(np.linalg.norm(half)))
        if roi is None:
            return
        x0, x1, y0, y1 = roi
        d = _rays(cam, roi).astype(np.float32)
        t, n = _box_t(d, center.astype(np.float32), axes.astype(np.float32), half.astype(np.float32))
        z = (t * d[:, 2]).astype(np.float32).reshape(y1 - y0, x1 - x0)
        zbuf = self.z[y0:y1, x0:x1]
        upd = z < zbuf
        if not upd.any():
            return
        zbuf[upd] = z[upd]
        self.image[y0:y1, x0:x1][upd] = (
            np.asarray(box.colour, np.float32) * self._shade(n[upd.ravel()])[:, None]
        )
        self.ids[y0:y1, x0:x1][upd] = BOX_ID


def _shadows(image: np.ndarray, geo: Geometry, spots: list[tuple[float, float, float]]) -> None:
    """Soft contact shadows on the floor around (x, z, radius) ground spots, in place."""
    rows = np.flatnonzero(geo.floor[:, 0])
    for sx, sz, r in spots:
        near = rows[np.abs(geo.z[rows, 0] - sz) < 3 * r]
        if len(near) == 0:
            continue
        y0, y1 = int(near.min()), int(near.max()) + 1
        x = geo.x[y0:y1]
        d2 = (x - np.float32(sx)) ** 2 + (geo.z[y0:y1] - np.float32(sz)) ** 2
        dark = 1.0 - 0.45 * np.exp(-d2 / np.float32(2 * r * r))
        image[y0:y1] *= np.where(geo.floor[y0:y1], dark, np.float32(1.0))[..., None]


def render_scene(scene: Scene, t: float = 0.0) -> RenderResult:
    """Render ``scene`` at time ``t`` (seconds; people walk/sway smoothly with ``t``)."""
    cam = scene.camera
    bg = scene.background
    image, geo = render_background(cam, bg.kind, bg.seed, bg.wall_distance)
    light = cam.rotation @ np.asarray(scene.light, np.float64)
    light /= np.linalg.norm(light)
    states = [person_state(p, t) for p in scene.people]
    if bg.kind == "room":
        spots = [
            (float(tr[0]), float(tr[2]), 0.25 * p.shape.height)
            for p, (_, _, tr) in zip(scene.people, states, strict=True)
        ]
        _shadows(image, geo, spots)
    canvas = _Canvas(cam, image, geo.depth, light, scene.ambient)
    for box in scene.boxes:
        canvas.draw_box(box)
    joints_cam = []
    for ident, (person, (body, rot, trans)) in enumerate(zip(scene.people, states, strict=True)):
        r = cam.rotation @ rot
        off = cam.rotation @ (trans - cam.position)
        joints_cam.append(body.joints @ r.T + off)
        app = person.appearance
        mats = app.materials()
        alt = np.asarray(app.shirt_alt, np.float32)
        for part in body_parts(body, app.hair_style, app.bag):
            if isinstance(part, Cone):
                part = Cone(r @ part.a + off, r @ part.b + off, part.ra, part.rb, part.material)
            else:
                part = Ellipsoid(r @ part.center + off, r @ part.axes, part.radii, part.material)
            colour, pattern = mats[part.material]
            canvas.draw_part(part, ident, np.asarray(colour, np.float32), pattern, alt, app.pattern_period)
    labels = [
        _label(canvas, person, joints, ident)
        for ident, (person, joints) in enumerate(zip(scene.people, joints_cam, strict=True))
    ]
    img8 = cv2.convertScaleAbs(canvas.image, alpha=255.0)
    if scene.blur > 0:  # soft focus; also anti-aliases the ray-cast edges
        img8 = cv2.GaussianBlur(img8, (0, 0), scene.blur)
    if scene.noise > 0:
        noise = _noise(cam.height, cam.width, [scene.seed, round(t * 1000.0) & 0x7FFFFFFF])
        n16 = (noise * np.float32(scene.noise)).astype(np.int16)
        img8 = cv2.add(img8, cv2.merge([n16, n16, n16]), dtype=cv2.CV_8U)
    zb = canvas.z
    zb[~np.isfinite(zb)] = 0.0
    return RenderResult(img8, zb, canvas.ids, labels, cam, t)


def _noise(height: int, width: int, seed: list[int]) -> np.ndarray:
    """(H, W) standard-normal noise; a seeded window of a fixed tile when it fits."""
    rng = np.random.default_rng(seed)
    tile = _noise_tile()
    if height > tile.shape[0] or width > tile.shape[1]:
        return rng.standard_normal((height, width), dtype=np.float32)
    y = int(rng.integers(tile.shape[0] - height + 1))
    x = int(rng.integers(tile.shape[1] - width + 1))
    return tile[y : y + height, x : x + width]


def _label(canvas: _Canvas, person: Person, joints: np.ndarray, ident: int) -> PersonLabel:
    cam = canvas.camera
    k = len(COCO_KEYPOINTS)
    kp3 = joints[:k]
    z = kp3[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = cam.project(kp3)
    px = np.rint(uv).astype(np.int64, copy=False) if np.all(np.isfinite(uv)) else np.zeros((k, 2), np.int64)
    inside = (
        (z > _NEAR) & (px[:, 0] >= 0) & (px[:, 0] < cam.width) & (px[:, 1] >= 0) & (px[:, 1] < cam.height)
    )
    vis = np.zeros(k, np.int64)
    tol = VISIBILITY_TOLERANCE * person.shape.height * max(1.0, person.shape.girth)
    for i in np.flatnonzero(inside):
        seen = canvas.z[px[i, 1], px[i, 0]]
        vis[i] = 2 if seen >= z[i] - tol[i] else 1
    keypoints = np.where(inside[:, None], uv, 0.0)
    mask = canvas.ids == ident
    ys, xs = np.nonzero(mask)
    if len(xs):
        bbox = np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], np.float64)
    else:
        bbox = np.zeros(4)
    return PersonLabel(
        keypoints=keypoints,
        visibility=vis,
        keypoints_3d=kp3.copy(),
        joints_3d=joints.copy(),
        bbox=bbox,
        area=len(xs),
        height_m=person.shape.height,
        kind=person.pose.kind,
    )
