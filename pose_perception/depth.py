"""RGB-D 3D keypoints: lift 2D keypoints with a depth image (ROS-free core).

Pipeline (:func:`measure_with_depth`): depth image → metres (:func:`depth_in_metres`,
invalid = NaN) → optionally re-projected into the colour camera when the depth is not
registered (:func:`measure_with_unregistered_depth`: :func:`rectify_depth`,
:func:`reproject_depth_to_color` with the extrinsic of :meth:`DepthConfig.depth_to_color`)
→ per joint a robust depth from a window around the keypoint (:func:`joint_depths`) →
back-projected through the colour camera, undistorting first when CameraInfo has
distortion (:func:`backproject`) → pushed from the body surface to the joint centre
(:data:`JOINT_SURFACE_OFFSET_M`) → one :class:`~pose_perception.people.Joints3D` per person.

Why windows and not the keypoint's pixel: sensors leave holes (no return, shadowing,
dark or shiny cloth) and 2D keypoints are a few pixels off; a median over a window that
scales with the person's size survives both. Why rejection rather than best effort: a
keypoint just off the silhouette (a wrist against a far wall) would otherwise land
metres away, and a wrong 3D joint is worse than a missing one.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pose_perception.camera import PinholeCamera
from pose_perception.people import SOURCE_DEPTH, SOURCE_NONE, Joints3D, Person
from pose_perception.settings import check_settings, normalise_list_settings, setting

MM_ENCODINGS = ("16UC1", "mono16")  # uint16 millimetres, 0 = no return (REP 118)
METRE_ENCODINGS = ("32FC1",)  # float32 metres, NaN/inf/<= 0 = no return (REP 118)
MM_SCALE = 0.001  # metres per unit of the millimetre encodings
DEPTH_ENCODINGS = MM_ENCODINGS + METRE_ENCODINGS

TORSO_KEYPOINTS = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")

# Depth sees the body surface; a keypoint is the joint centre behind it. Metres from the
# skin facing the camera to the joint centre: about the limb radius there, i.e. a typical
# adult circumference / 2π (knee ≈ 38 cm, ankle ≈ 23 cm, wrist ≈ 17 cm, elbow ≈ 26 cm, arm at
# the armpit ≈ 35 cm, upper thigh ≈ 60 cm), rounded; face points and ears lie on the surface.
# The same idea as the per-part "push back" along the ray of Shotton et al. 2011 (Kinect
# body-part proposals = surface mode + a fixed depth offset). Without it the synthetic
# benchmark in test/test_depth.py is ~60 mm off; with it ~20 mm (what remains is mostly
# the renderer's thicker limbs and unknown clothing, which no fixed offset can know).
JOINT_SURFACE_OFFSET_M: Mapping[str, float] = {
    "nose": 0.0,
    "left_eye": 0.0,
    "right_eye": 0.0,
    "left_ear": 0.0,
    "right_ear": 0.0,
    "left_shoulder": 0.055,
    "right_shoulder": 0.055,
    "left_elbow": 0.04,
    "right_elbow": 0.04,
    "left_wrist": 0.027,
    "right_wrist": 0.027,
    "left_hip": 0.095,
    "right_hip": 0.095,
    "left_knee": 0.06,
    "right_knee": 0.06,
    "left_ankle": 0.036,
    "right_ankle": 0.036,
}


# Below this norm a quaternion has no direction to normalise: a typo, not a rotation.
MIN_QUATERNION_NORM = 1e-6


class DepthRejected(ValueError):
    """A depth image this module cannot interpret (encoding, dtype, shape)."""


@dataclass
class DepthConfig:
    """How 2D keypoints are lifted with depth (the future ``depth`` parameter section)."""

    min_depth_m: float = setting(
        0.2, "m; nearer depth pixels are ignored (sensor minimum)", min=0.0, max=100.0
    )
    max_depth_m: float = setting(
        10.0, "m; farther depth pixels are ignored (noise grows with z^2)", min=0.01, max=1000.0
    )
    window_fraction: float = setting(
        0.03,
        "half-size of a joint's depth window as a fraction of the person's box height "
        "(a far, small person gets a small window)",
        min=0.0,
        max=1.0,
    )
    min_window_px: int = setting(1, "px; smallest window half-size", min=0, max=100)
    max_window_px: int = setting(15, "px; largest window half-size", min=0, max=100)
    min_valid_fraction: float = setting(
        0.2, "a joint needs at least this fraction of its window's pixels with depth", min=0.0, max=1.0
    )
    max_joint_spread_m: float = setting(
        0.15,
        "m; a joint whose window spans more depth than this (interquartile range) sits on "
        "a depth edge and is rejected",
        min=0.0,
        max=100.0,
    )
    min_keypoint_score: float = setting(
        0.3, "keypoints scoring below this (SimCC score, can exceed 1) are not lifted", min=0.0, max=1.0
    )
    body_depth_tolerance_m: float = setting(
        0.6,
        "m; a joint farther than this from the median depth of the person's joints is "
        "rejected (background or someone in front)",
        min=0.0,
        max=100.0,
    )
    surface_offset_scale: float = setting(
        1.0,
        "push each joint from the body surface the depth sees to the joint centre behind it, "
        "by this x an adult's flesh depth at that joint; 0 = report the surface",
        min=0.0,
        max=3.0,
    )
    extrinsic_translation_m: tuple[float, float, float] = setting(
        (0.0, 0.0, 0.0),
        "m; unregistered depth (input.depth_camera_info_topic set): position [x, y, z] of the "
        "depth optical frame in the colour optical frame (the translation tf2_echo "
        "<colour optical frame> <depth optical frame> prints)",
        min=-10.0,
        max=10.0,
    )
    extrinsic_rotation_xyzw: tuple[float, float, float, float] = setting(
        (0.0, 0.0, 0.0, 1.0),
        "unregistered depth: orientation [x, y, z, w] of the depth optical frame in the colour "
        "optical frame, a quaternion (normalised, so rounded values do; must not be zero); "
        "[0, 0, 0, 1] when both optical frames are parallel",
        min=-1.0,
        max=1.0,
    )

    def __post_init__(self) -> None:
        normalise_list_settings(self)  # YAML/ROS give lists: store tuples of floats

    def validate(self) -> None:
        check_settings(self)
        try:
            quaternion_to_matrix(self.extrinsic_rotation_xyzw)  # the check it is used with
        except ValueError:
            raise ValueError(
                "extrinsic_rotation_xyzw must be a non-zero quaternion [x, y, z, w] (identity: "
                f"[0, 0, 0, 1]), got {list(self.extrinsic_rotation_xyzw)}"
            ) from None
        if not self.min_depth_m < self.max_depth_m:
            raise ValueError(f"min_depth_m ({self.min_depth_m}) must be < max_depth_m ({self.max_depth_m})")
        if self.min_window_px > self.max_window_px:
            raise ValueError(
                f"min_window_px ({self.min_window_px}) must be <= max_window_px ({self.max_window_px})"
            )

    def depth_to_color(self) -> tuple[np.ndarray, np.ndarray]:
        """(R (3,3), t (3,)) with ``p_color = R @ p_depth + t``, from the extrinsic settings
        (what :func:`reproject_depth_to_color` takes)."""
        return (
            quaternion_to_matrix(self.extrinsic_rotation_xyzw),
            np.asarray(self.extrinsic_translation_m, np.float64).reshape(3),
        )


def quaternion_to_matrix(xyzw: Sequence[float]) -> np.ndarray:
    """Rotation matrix (3,3) of a quaternion in ROS order [x, y, z, w], normalised first.

    ROS (geometry_msgs/Quaternion, tf2_echo) writes x, y, z, w; tools round the printed
    values, so the quaternion is normalised rather than required to be unit length.
    """
    q = np.asarray(xyzw, np.float64).reshape(-1)
    if q.shape != (4,) or not np.isfinite(q).all():
        raise ValueError(f"a quaternion needs 4 finite numbers [x, y, z, w], got {q.tolist()}")
    norm = float(np.linalg.norm(q))
    if norm < MIN_QUATERNION_NORM:
        raise ValueError(f"quaternion {q.tolist()} is zero: it has no rotation")
    x, y, z, w = q / norm
    return np.array(
        [
            [1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - z * w), 2.0 * (x * z + y * w)],
            [2.0 * (x * y + z * w), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - x * w)],
            [2.0 * (x * z - y * w), 2.0 * (y * z + x * w), 1.0 - 2.0 * (x * x + y * y)],
        ]
    )


def depth_to_metres(data: np.ndarray, encoding: str) -> np.ndarray:
    """A depth image of a ROS ``encoding`` as float32 metres with NaN where the sensor has
    no measurement (:func:`depth_in_metres`, after checking the array fits the encoding)."""
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    accepted = f"accepted: {', '.join(DEPTH_ENCODINGS)}"
    if encoding in MM_ENCODINGS:
        if data.dtype.kind != "u" or data.dtype.itemsize != 2 or data.ndim != 2:
            raise DepthRejected(
                f"depth encoding {encoding!r} needs a 2-D uint16 array, got {data.dtype} {data.shape}"
            )
        return depth_in_metres(data, MM_SCALE)
    if encoding in METRE_ENCODINGS:
        if data.dtype.kind != "f" or data.ndim != 2:
            raise DepthRejected(
                f"depth encoding {encoding!r} needs a 2-D floating-point array, got {data.dtype} {data.shape}"
            )
        return depth_in_metres(data, 1.0)
    raise DepthRejected(f"unsupported depth encoding {encoding!r}; {accepted}")


def depth_in_metres(data: np.ndarray, scale: float) -> np.ndarray:
    """A 2-D depth array (metres per unit: ``scale``) as float32 metres, NaN where none.

    One convention downstream (NaN) instead of two: integer depth has 0 for no return
    (16UC1 millimetres, ``scale`` 0.001), floating-point depth NaN, inf or <= 0.
    """
    data = np.asarray(data)
    if data.ndim != 2 or data.dtype.kind not in "uif":
        raise DepthRejected(f"depth must be a 2-D numeric array, got {data.dtype} {data.shape}")
    if not (math.isfinite(scale) and scale > 0):
        raise DepthRejected(f"depth scale must be a positive number of metres per unit, got {scale}")
    if data.dtype.kind == "f" and scale == 1.0:
        metres = data.astype(np.float32, copy=True)
    else:
        # Divide by the units per metre: correctly rounded for millimetres (1500 -> 1.5).
        metres = data.astype(np.float32) / np.float32(1.0 / scale)
    with np.errstate(invalid="ignore"):
        metres[~(np.isfinite(metres) & (metres > 0))] = np.nan
    return metres


def window_half_size(box_height_px: float, config: DepthConfig) -> int:
    """Window half-size in px: proportional to the person's image size, clipped."""
    h = float(box_height_px) if math.isfinite(box_height_px) else 0.0
    r = round(config.window_fraction * max(h, 0.0))
    return int(min(max(r, config.min_window_px), config.max_window_px))


def joint_depths(
    depth_m: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    box_height_px: float,
    config: DepthConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust per-joint depth (z, metres) around each keypoint: (depth, valid, confidence).

    ``depth`` (K,) is the median of the window's valid pixels (finite, within
    [min_depth_m, max_depth_m]); NaN where ``valid`` is False. ``confidence`` (K,) in
    [0, 1] is the window's valid-pixel fraction times a falloff with the depth spread
    (1 when flat, 0 at ``max_joint_spread_m``); 0 where invalid. Invalid: off the image,
    score below ``min_keypoint_score``, too few valid pixels, a depth edge (spread), or
    farther than ``body_depth_tolerance_m`` from the median of the person's valid joints.

    Holes need no filling beforehand: the median only sees valid pixels.
    """
    depth_m = np.asarray(depth_m)
    if depth_m.ndim != 2:
        raise DepthRejected(f"depth image must be 2-D, got shape {depth_m.shape}")
    kps = np.asarray(keypoints, np.float64).reshape(-1, 2)
    k = len(kps)
    sc = np.broadcast_to(np.asarray(scores, np.float64), (k,))
    height, width = depth_m.shape
    r = window_half_size(box_height_px, config)
    depth = np.full(k, np.nan)
    valid = np.zeros(k, bool)
    confidence = np.zeros(k)
    with np.errstate(invalid="ignore"):
        px = np.rint(kps)
        inside = (
            np.isfinite(px).all(axis=1)
            & (px[:, 0] >= 0)
            & (px[:, 0] < width)
            & (px[:, 1] >= 0)
            & (px[:, 1] < height)
            & (sc >= config.min_keypoint_score)
        )
    for j in np.flatnonzero(inside):
        x, y = int(px[j, 0]), int(px[j, 1])
        window = depth_m[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1]
        with np.errstate(invalid="ignore"):
            good = window[(window >= config.min_depth_m) & (window <= config.max_depth_m)]
        fraction = len(good) / window.size  # NaN compares False: holes are not "good"
        if len(good) == 0 or fraction < config.min_valid_fraction:
            continue
        q25, median, q75 = np.percentile(good, (25.0, 50.0, 75.0))
        spread = float(q75 - q25)
        if spread > config.max_joint_spread_m:
            continue
        depth[j] = median
        valid[j] = True
        falloff = 1.0 - spread / config.max_joint_spread_m if config.max_joint_spread_m > 0 else 1.0
        confidence[j] = fraction * falloff
    if valid.any():  # body consistency: a joint far from the rest is not on this person
        body = float(np.median(depth[valid]))
        off_body = valid & (np.abs(depth - body) > config.body_depth_tolerance_m)
        valid &= ~off_body
        depth[off_body] = np.nan
        confidence[off_body] = 0.0
    return depth, valid, confidence


def backproject(camera: PinholeCamera, keypoints: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(K,2) pixels at depths z (K,) → (K,3) camera optical frame points, metres.

    With nonzero ``camera.distortion`` (plumb_bob k1, k2, p1, p2, k3, or OpenCV's
    8/12/14-term rational model) the pixels are undistorted first, because the keypoints
    come from the raw (distorted) image. NaN depth gives a NaN point.
    """
    kps = np.asarray(keypoints, np.float64).reshape(-1, 2)
    z = np.broadcast_to(np.asarray(depth, np.float64), (len(kps),))
    if len(kps) == 0 or not camera.has_distortion:
        return camera.backproject(kps, z)
    out = camera.backproject(undistort_pixels(camera, kps), z)
    out[~np.isfinite(kps).all(axis=1)] = np.nan  # a pixel that is not one has no point
    return out


def surface_to_centre(points: np.ndarray, keypoint_names: Sequence[str], scale: float = 1.0) -> np.ndarray:
    """Move surface points (K,3) along their camera rays by ``scale`` x each joint's flesh depth.

    The ray is the right direction whatever way the person faces: the camera sees the
    skin nearest to it, and the joint centre is straight behind that along the ray.
    """
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    offset = scale * np.array([JOINT_SURFACE_OFFSET_M.get(n, 0.0) for n in keypoint_names], np.float64)
    if len(offset) != len(pts):
        raise ValueError(f"{len(keypoint_names)} keypoint names for {len(pts)} points")
    rng = np.linalg.norm(pts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        stretch = np.where(rng > 0, (rng + offset) / rng, 1.0)
    return pts * stretch[:, None]


def person_position(
    points_3d: np.ndarray, valid: np.ndarray, keypoint_names: Sequence[str]
) -> tuple[np.ndarray, bool]:
    """Where the person is: the centre of the valid torso joints (shoulders, hips).

    The torso moves least with gestures; without it, the mean of all valid joints.
    Returns ``(nan*3, False)`` when no joint is valid.
    """
    pts = np.asarray(points_3d, np.float64).reshape(-1, 3)
    ok = np.asarray(valid, bool).reshape(-1) & np.isfinite(pts).all(axis=1)
    torso = np.array([name in TORSO_KEYPOINTS for name in keypoint_names], bool)
    if len(torso) != len(pts):
        raise ValueError(f"{len(keypoint_names)} keypoint names for {len(pts)} points")
    for use in (ok & torso, ok):
        if use.any():
            return pts[use].mean(axis=0), True
    return np.full(3, np.nan), False


def reproject_depth_to_color(
    depth_m: np.ndarray,
    depth_camera: PinholeCamera,
    color_camera: PinholeCamera,
    rotation: np.ndarray,
    translation: np.ndarray,
    regions: np.ndarray | None = None,
) -> np.ndarray:
    """Depth from an unregistered depth camera, as z (metres) in the colour camera's pixels.

    ``rotation``/``translation`` map depth-frame points into the colour frame
    (``p_color = R @ p_depth + t``: the depth optical frame's pose in the colour optical
    frame, as TF's ``lookup_transform(color_frame, depth_frame)`` gives it).

    Every valid depth pixel is back-projected, moved by that extrinsic and splatted into
    the colour image, keeping the nearest surface where several land (z-buffer). When the
    colour camera has the finer pixels, each depth pixel covers an n x n block
    (n = ceil of the focal-length ratio, at most 4) so a plane stays hole-free. Pixels
    nothing lands on are NaN: behind occluding edges (the baseline's parallax) and at the
    borders. Those holes need no filling: :func:`joint_depths` takes a median over the
    valid pixels of a window. Lens distortion is not modelled (depth streams are
    rectified; so is the colour image a registered pipeline works in).

    ``regions`` (N, 4) x1, y1, x2, y2 colour pixels: only those are filled (the rest NaN),
    which skips the splatting work for the background; the people's boxes are all that
    lifting reads.
    """
    depth_m = np.asarray(depth_m, np.float64)
    if depth_m.shape != (depth_camera.height, depth_camera.width):
        raise DepthRejected(
            f"depth image is {depth_m.shape[::-1]} (w, h) but its camera is "
            f"{(depth_camera.width, depth_camera.height)}"
        )
    with np.errstate(invalid="ignore"):
        vs, us = np.nonzero(np.isfinite(depth_m) & (depth_m > 0))
    pts = depth_camera.backproject(np.stack([us, vs], axis=1), depth_m[vs, us])
    rot = np.asarray(rotation, np.float64).reshape(3, 3)
    pts = pts @ rot.T + np.asarray(translation, np.float64).reshape(3)
    pts = pts[pts[:, 2] > 0]
    zc = pts[:, 2]
    u = color_camera.fx * pts[:, 0] / zc + color_camera.cx
    v = color_camera.fy * pts[:, 1] / zc + color_camera.cy
    ratio = max(color_camera.fx / depth_camera.fx, color_camera.fy / depth_camera.fy)
    n = int(min(max(math.ceil(ratio - 1e-6), 1), 4))
    if regions is not None:
        keep = np.zeros(len(u), bool)
        for x1, y1, x2, y2 in np.asarray(regions, np.float64).reshape(-1, 4):
            keep |= (u >= x1 - n) & (u <= x2 + n) & (v >= y1 - n) & (v <= y2 + n)
        u, v, zc = u[keep], v[keep], zc[keep]
    # The n pixel centres inside [u - n/2, u + n/2): ceil(u - n/2) + 0 .. n-1 (n = 1: round).
    u0 = np.ceil(u - n / 2.0).astype(np.int64)
    v0 = np.ceil(v - n / 2.0).astype(np.int64)
    out = np.full(color_camera.height * color_camera.width, np.inf)
    for dy in range(n):
        for dx in range(n):
            cu, cv = u0 + dx, v0 + dy
            inside = (cu >= 0) & (cu < color_camera.width) & (cv >= 0) & (cv < color_camera.height)
            np.minimum.at(out, cv[inside] * color_camera.width + cu[inside], zc[inside])
    out[np.isinf(out)] = np.nan
    return out.reshape(color_camera.height, color_camera.width).astype(np.float32)


def measure_with_depth(
    people: Sequence[Person],
    depth_m: np.ndarray,
    camera: PinholeCamera,
    config: DepthConfig,
    keypoint_names: Sequence[str],
) -> list[Joints3D]:
    """Each person's joints measured in ``depth_m`` (metres, NaN = none) registered to the
    image the keypoints are in, ``camera`` being that image's (its distortion included)."""
    depth_m = np.asarray(depth_m)
    if depth_m.shape != (camera.height, camera.width):
        raise DepthRejected(
            f"depth image is {depth_m.shape[::-1]} (w, h) but the colour camera is "
            f"{(camera.width, camera.height)}; register it (reproject_depth_to_color) first"
        )
    return [_measure_person(person, depth_m, camera, config, keypoint_names) for person in people]


def _measure_person(
    person: Person,
    depth_m: np.ndarray,
    camera: PinholeCamera,
    config: DepthConfig,
    keypoint_names: Sequence[str],
) -> Joints3D:
    bbox = np.asarray(person.bbox, np.float64).reshape(-1)
    box_height = float(bbox[3] - bbox[1]) if len(bbox) >= 4 else 0.0
    z, valid, confidence = joint_depths(depth_m, person.keypoints, person.keypoint_scores, box_height, config)
    points = backproject(camera, person.keypoints, z)
    if config.surface_offset_scale > 0:
        points = surface_to_centre(points, keypoint_names, config.surface_offset_scale)
    valid &= np.isfinite(points).all(axis=1)
    points[~valid] = np.nan
    return Joints3D(
        positions=points.astype(np.float32),
        valid=valid,
        source=np.where(valid, SOURCE_DEPTH, SOURCE_NONE).astype(np.uint8),
        confidence=np.where(valid, confidence, 0.0).astype(np.float32),
    )


@functools.lru_cache(maxsize=4)
def _rectify_maps(camera: PinholeCamera) -> tuple[np.ndarray, np.ndarray]:
    k = camera.matrix
    d = np.asarray(camera.distortion, np.float64)
    size = (camera.width, camera.height)
    map_x, map_y = cv2.initUndistortRectifyMap(k, d, None, k, size, cv2.CV_32FC1)
    return map_x, map_y


def rectify_depth(depth_m: np.ndarray, camera: PinholeCamera) -> np.ndarray:
    """A raw depth image, lens-distorted by ``camera.distortion``, as the ideal pinhole
    ``camera`` would see it.

    Nearest-neighbour: interpolating across a depth edge would invent surfaces between a
    person and the wall. z is unchanged (it is along the optical axis, which rectification
    without rotation keeps); pixels mapping outside the raw image are NaN. The maps are
    computed once per camera (cached): a camera's calibration does not change per frame.
    """
    depth_m = np.asarray(depth_m, np.float32)
    if depth_m.shape != (camera.height, camera.width):
        raise DepthRejected(
            f"depth image is {depth_m.shape[::-1]} (w, h) but its camera is {(camera.width, camera.height)}"
        )
    map_x, map_y = _rectify_maps(camera)
    return cv2.remap(
        depth_m, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan")
    )


def undistort_pixels(camera: PinholeCamera, pixels: np.ndarray) -> np.ndarray:
    """(N,2) pixels of the raw image (distorted by ``camera.distortion``) → where the ideal
    pinhole ``camera`` sees them."""
    pts = np.asarray(pixels, np.float64).reshape(-1, 2)
    out = np.full_like(pts, np.nan)
    finite = np.isfinite(pts).all(axis=1)
    if finite.any():
        k, d = camera.matrix, np.asarray(camera.distortion, np.float64).reshape(-1)
        out[finite] = cv2.undistortPoints(pts[finite].reshape(-1, 1, 2), k, d, P=k).reshape(-1, 2)
    return out


def measure_with_unregistered_depth(
    people: Sequence[Person],
    depth_m: np.ndarray,
    depth_camera: PinholeCamera,
    color_camera: PinholeCamera,
    config: DepthConfig,
    keypoint_names: Sequence[str],
    depth_to_color: tuple[np.ndarray, np.ndarray],
) -> tuple[list[Joints3D], np.ndarray]:
    """:func:`measure_with_depth` for a depth image from another camera (its own
    intrinsics, size and distortion: ``depth_camera``; its pose: ``depth_to_color`` =
    (R, t) with ``p_color = R @ p_depth + t``). Also returns the depth registered to the
    colour camera's ideal pinhole pixels, inside the people's boxes (NaN elsewhere: only
    those are reprojected).

    A distorted depth image is rectified first (:func:`rectify_depth`). The registered
    depth has no lens distortion, so with a distorted colour camera the keypoints (found in
    the raw image) are looked up at their undistorted pixels instead.
    """
    if depth_camera.has_distortion:
        depth_m = rectify_depth(depth_m, depth_camera)
    rotation, translation = depth_to_color
    boxes = np.array([np.asarray(p.bbox, np.float64).reshape(-1)[:4] for p in people]).reshape(-1, 4)
    # Keypoints may lie anywhere in the 1.25x crop around a box, and their windows reach further.
    margin = 0.125 * (boxes[:, 2:] - boxes[:, :2]) + config.max_window_px + 1
    boxes = np.concatenate([boxes[:, :2] - margin, boxes[:, 2:] + margin], axis=1)
    registered = reproject_depth_to_color(depth_m, depth_camera, color_camera, rotation, translation, boxes)
    ideal_camera = dataclasses.replace(color_camera, distortion=())
    if not color_camera.has_distortion:
        return measure_with_depth(people, registered, ideal_camera, config, keypoint_names), registered
    ideal = [dataclasses.replace(p, keypoints=undistort_pixels(color_camera, p.keypoints)) for p in people]
    return measure_with_depth(ideal, registered, ideal_camera, config, keypoint_names), registered
