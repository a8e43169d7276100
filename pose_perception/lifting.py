"""Monocular 3D lifting at run time: COCO-17 2D keypoints → H36M-17 → a causal temporal
lifter (per-track ring buffers) → root-relative 3D → metric placement in the camera frame.

ROS-free and torch-free: the lifter runs through ONNX Runtime (an exported file carries
its receptive field, joint names and normalisation as metadata), or through a torch
module / any callable handed in. See docs/lifter.md.

Conventions:

* **Joints.** The lifter works on Human3.6M-17 (:data:`pose_perception.skeletons.H36M17`
  order). COCO-17 detections are converted as MMPose does it (``convert_keypoint_definition``
  in ``mmpose/apis/inference_3d.py`` and the 3D demos): root (pelvis) = mid-hip, thorax
  = mid-shoulder, spine = mid(root, thorax), head = mid-eye, ``neck_base`` = the COCO
  nose, the limbs one-to-one (H36M ``*_foot`` = COCO ``*_ankle``).
* **2D normalisation** (``"box"``): per frame, subtract the centre of the box around the
  keypoints scoring ≥ ``min_score`` and divide by half its longer side, so the person
  spans [-1, 1] on their longer axis whatever the image size, focal length or distance.
* **3D output**: metres, root-relative (root = 0), in the camera optical frame (x right,
  y down, z forward), the axes of the image the keypoints came from.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pose_perception.camera import PinholeCamera
from pose_perception.config import Config
from pose_perception.fileio import atomic_output
from pose_perception.people import SOURCE_LIFTER, SOURCE_NONE, UNTRACKED, Person
from pose_perception.skeletons import COCO17, H36M17, Skeleton

MIN_SCORE = 0.3  # keypoints below this score leave the normalisation box and the placement fit
ROOT = 0  # H36M17 "root" (pelvis)
NORMALIZATION = "box"
LIFTER_ARCH = "causal-temporal-lifter"
METADATA_VERSION = "1"

_C = {n: i for i, n in enumerate(COCO17.keypoint_names)}
_H = {n: i for i, n in enumerate(H36M17.keypoint_names)}

# H36M joint ← COCO joints it is the mean of (MMPose ``convert_keypoint_definition``).
H36M_FROM_COCO_JOINTS: dict[str, tuple[str, ...]] = {
    "root": ("left_hip", "right_hip"),
    "right_hip": ("right_hip",),
    "right_knee": ("right_knee",),
    "right_foot": ("right_ankle",),
    "left_hip": ("left_hip",),
    "left_knee": ("left_knee",),
    "left_foot": ("left_ankle",),
    "spine": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),  # mid(root, thorax)
    "thorax": ("left_shoulder", "right_shoulder"),
    "neck_base": ("nose",),
    "head": ("left_eye", "right_eye"),
    "left_shoulder": ("left_shoulder",),
    "left_elbow": ("left_elbow",),
    "left_wrist": ("left_wrist",),
    "right_shoulder": ("right_shoulder",),
    "right_elbow": ("right_elbow",),
    "right_wrist": ("right_wrist",),
}


def _mapping_matrix() -> np.ndarray:
    m = np.zeros((H36M17.num_keypoints, COCO17.num_keypoints))
    for h_name, sources in H36M_FROM_COCO_JOINTS.items():
        for c_name in sources:
            m[_H[h_name], _C[c_name]] = 1.0 / len(sources)
    return m


H36M_FROM_COCO: np.ndarray = _mapping_matrix()  # (17 H36M, 17 COCO) averaging weights
H36M_FROM_COCO.flags.writeable = False

# COCO joints that are an H36M joint as such (the rest, eyes and ears, have no 3D).
COCO_FROM_H36M: dict[int, int] = {
    _C[sources[0]]: _H[h] for h, sources in H36M_FROM_COCO_JOINTS.items() if len(sources) == 1
}

# Standing height / (mean leg hip→knee→foot + root→thorax + thorax→head) on the synthetic
# body model (Drillis & Contini proportions, pose_perception.synthetic.body); the same for
# every height there. Turns a lifted skeleton's size into a stature.
STATURE_PER_CHAIN = 1.0853


def coco_to_h36m(
    keypoints: np.ndarray, scores: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(..., 17, D) COCO-17 points (any D: pixels, metres) → (..., 17, D) H36M-17.

    Derived joints are means of their sources; their score is the lowest source score
    (a mid-hip is only as sure as the less sure hip).
    """
    kp = np.asarray(keypoints, np.float64)
    if kp.shape[-2] != COCO17.num_keypoints:
        raise ValueError(f"expected 17 COCO keypoints on axis -2, got shape {kp.shape}")
    out = np.einsum("hc,...cd->...hd", H36M_FROM_COCO, kp)
    if scores is None:
        return out, None
    s = np.asarray(scores, np.float64)
    mapped = np.stack(
        [np.min(s[..., [_C[c] for c in H36M_FROM_COCO_JOINTS[h]]], axis=-1) for h in H36M17.keypoint_names],
        axis=-1,
    )
    return out, mapped


def h36m_to_coco(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 17, D) H36M-17 → (..., 17, D) COCO-17 and a (17,) valid mask: the 13 COCO
    joints that are H36M joints (nose = ``neck_base`` per the MMPose mapping); eyes and
    ears are zero and invalid."""
    p = np.asarray(points)
    out = np.zeros((*p.shape[:-2], COCO17.num_keypoints, p.shape[-1]), p.dtype)
    valid = np.zeros(COCO17.num_keypoints, bool)
    for c, h in COCO_FROM_H36M.items():
        out[..., c, :] = p[..., h, :]
        valid[c] = True
    return out, valid


def normalize_2d(
    keypoints: np.ndarray, scores: np.ndarray | None = None, min_score: float = MIN_SCORE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Box normalisation of (..., J, 2) pixels → (normalised, centre (..., 2), scale (...)).

    The box bounds the keypoints scoring ≥ ``min_score`` (all of them when fewer than two
    do); ``normalised = (keypoints − centre) / scale`` with ``scale`` = half the box's
    longer side, so the aspect ratio is kept.
    """
    kp = np.asarray(keypoints, np.float64)
    if scores is None:
        mask = np.ones(kp.shape[:-1], bool)
    else:
        mask = np.asarray(scores) >= min_score
        few = mask.sum(axis=-1, keepdims=True) < 2
        mask = mask | few
    m = mask[..., None]
    lo = np.where(m, kp, np.inf).min(axis=-2)
    hi = np.where(m, kp, -np.inf).max(axis=-2)
    centre = (lo + hi) / 2.0
    scale = np.maximum((hi - lo).max(axis=-1) / 2.0, 1e-6)
    return (kp - centre[..., None, :]) / scale[..., None, None], centre, scale


def skeleton_stature(points: np.ndarray) -> float:
    """The standing height (m) of a (17, 3) H36M-17 skeleton from its bone lengths (any pose)."""
    p = np.asarray(points, np.float64)

    def bone(a: str, b: str) -> float:
        return float(np.linalg.norm(p[_H[a]] - p[_H[b]]))

    leg = 0.5 * sum(bone(f"{s}_hip", f"{s}_knee") + bone(f"{s}_knee", f"{s}_foot") for s in ("left", "right"))
    return STATURE_PER_CHAIN * (leg + bone("root", "thorax") + bone("thorax", "head"))


def place_in_camera(
    root_relative: np.ndarray,
    keypoints_2d: np.ndarray,
    camera: PinholeCamera,
    body_height_m: float | None = 1.7,
    root_depth: float | None = None,
    scores: np.ndarray | None = None,
    min_score: float = MIN_SCORE,
) -> np.ndarray:
    """Put a (J, 3) root-relative skeleton where it projects onto its (J, 2) pixels.

    The skeleton is first scaled so that its stature (:func:`skeleton_stature`) is
    ``body_height_m`` (``None`` keeps the lifter's own scale). Then its translation ``T``
    is solved: with ``x = (u − cx)/fx``, ``y = (v − cy)/fy``, perspective projection of
    ``P + T`` gives two equations per joint that are linear in ``T``,
    ``tx − x·tz = x·Pz − Px`` and ``ty − y·tz = y·Pz − Py``, solved by (score-weighted)
    least squares over the joints scoring ≥ ``min_score``. This minimises the reprojection
    error scaled by each joint's depth, the standard linear solution; exact projections
    give the exact translation. With ``root_depth`` (e.g. from a depth image: the z of
    the root joint, which lies ~0.1 m behind the body surface) ``tz`` is fixed and only
    ``tx, ty`` are fitted. Returns (J, 3) metres in the camera optical frame.
    """
    rel = np.asarray(root_relative, np.float64)
    uv = np.asarray(keypoints_2d, np.float64)
    if rel.ndim != 2 or rel.shape[1] != 3 or uv.shape != (len(rel), 2):
        raise ValueError(f"expected (J, 3) and (J, 2) arrays, got {rel.shape} and {uv.shape}")
    rel = rel - rel[ROOT]
    if body_height_m is not None:
        stature = skeleton_stature(rel) if len(rel) == H36M17.num_keypoints else 0.0
        if stature > 1e-6:
            rel = rel * (body_height_m / stature)
    w = np.ones(len(rel)) if scores is None else np.asarray(scores, np.float64).copy()
    if scores is not None:
        w[w < min_score] = 0.0
        if np.count_nonzero(w) < 2:
            w = np.ones(len(rel))
    x = (uv[:, 0] - camera.cx) / camera.fx
    y = (uv[:, 1] - camera.cy) / camera.fy
    if root_depth is not None:
        tz = float(root_depth)
        tx = float(np.sum(w * (x * (rel[:, 2] + tz) - rel[:, 0])) / np.sum(w))
        ty = float(np.sum(w * (y * (rel[:, 2] + tz) - rel[:, 1])) / np.sum(w))
        t = np.array([tx, ty, tz])
    else:
        ones, zeros = np.ones(len(rel)), np.zeros(len(rel))
        a = np.concatenate([np.stack([ones, zeros, -x], 1), np.stack([zeros, ones, -y], 1)])
        b = np.concatenate([x * rel[:, 2] - rel[:, 0], y * rel[:, 2] - rel[:, 1]])
        sw = np.sqrt(np.concatenate([w, w]))
        t = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)[0]
        if not (np.all(np.isfinite(t)) and t[2] > 0.1):  # degenerate fit: size-based depth
            extent_px = float(np.ptp(uv[w > 0, 1])) if np.any(w > 0) else 0.0
            tz = camera.distance_from_height(extent_px, float(np.ptp(rel[:, 1])) or 1.0)
            return place_in_camera(rel, uv, camera, None, tz, w, 0.0)
    return rel + t


# Model metadata and export ----------------------------------------------------------------


@dataclass(frozen=True)
class LifterInfo:
    """What a lifter model needs besides its weights; stored as ONNX ``metadata_props``."""

    receptive_field: int
    input_joints: tuple[str, ...] = H36M17.keypoint_names
    output_joints: tuple[str, ...] = H36M17.keypoint_names
    normalization: str = NORMALIZATION
    min_score: float = MIN_SCORE
    arch: str = LIFTER_ARCH
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def to_metadata(self) -> dict[str, str]:
        meta = {
            "pose_perception_metadata_version": METADATA_VERSION,
            "arch": self.arch,
            "receptive_field": json.dumps(self.receptive_field),
            "input_joint_names": json.dumps(list(self.input_joints)),
            "output_joint_names": json.dumps(list(self.output_joints)),
            "input_layout": "N,T,J,2: T = receptive_field frames, oldest first",
            "normalization": self.normalization,
            "min_score": json.dumps(self.min_score),
            "output": "N,J,3: metres, root-relative, camera optical frame (x right, y down, z forward)",
            "coco_to_h36m": "MMPose convert_keypoint_definition",
        }
        meta.update(self.extra)
        return meta

    @classmethod
    def from_metadata(cls, meta: dict[str, str], source: str = "model") -> LifterInfo:
        if meta.get("arch") != LIFTER_ARCH or "receptive_field" not in meta:
            raise ValueError(f"{source}: not a lifter export (arch {meta.get('arch')!r})")
        known = set(cls(1).to_metadata())
        return cls(
            receptive_field=int(json.loads(meta["receptive_field"])),
            input_joints=tuple(json.loads(meta["input_joint_names"])),
            output_joints=tuple(json.loads(meta["output_joint_names"])),
            normalization=meta.get("normalization", NORMALIZATION),
            min_score=float(json.loads(meta.get("min_score", str(MIN_SCORE)))),
            arch=meta["arch"],
            extra={k: v for k, v in meta.items() if k not in known},
        )


def export_lifter(
    model: Any, output: str | os.PathLike[str], info: LifterInfo | None = None, opset: int = 17
) -> str:
    """Export a :class:`~pose_perception.models.lifter.CausalTemporalLifter` to ONNX
    (input ``keypoints_2d`` (N, rf, J, 2), output ``keypoints_3d`` (N, J, 3), dynamic N)
    with :class:`LifterInfo` metadata; written atomically. Needs torch and onnx."""
    import torch

    from pose_perception.runtime.export import stamp_metadata

    info = info or LifterInfo(int(model.receptive_field))
    model = model.cpu().eval()
    dummy = torch.zeros(1, info.receptive_field, model.num_joints_in, 2)
    output = os.fspath(output)
    with atomic_output(output, suffix=".onnx") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                model,
                (dummy,),
                tmp,
                dynamo=False,
                input_names=["keypoints_2d"],
                output_names=["keypoints_3d"],
                dynamic_axes={"keypoints_2d": {0: "batch"}, "keypoints_3d": {0: "batch"}},
                opset_version=opset,
                do_constant_folding=True,
            )
        stamp_metadata(tmp, info.to_metadata())
    return output


class OnnxLifterModel:
    """An exported lifter in ONNX Runtime: (N, rf, J, 2) float32 → (N, J, 3)."""

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu", threads: int | None = None):
        from pose_perception.runtime.onnxruntime_backend import open_session

        self.path = os.fspath(path)
        self.session = open_session(path, device, threads)
        self.info = LifterInfo.from_metadata(
            dict(self.session.get_modelmeta().custom_metadata_map), source=self.path
        )
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(windows, dtype=np.float32)
        return np.asarray(self.session.run(None, {self.input_name: batch})[0])


class TorchLifterModel:
    """A lifter ``nn.Module`` in eval mode without gradients: (N, rf, J, 2) → (N, J, 3)."""

    def __init__(self, module: Any, device: str = "cpu") -> None:
        import torch

        self.torch, self.device = torch, device
        self.module = module.to(device).eval()
        self.info = LifterInfo(int(module.receptive_field))

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            x = self.torch.as_tensor(np.asarray(windows, np.float32), device=self.device)
            return self.module(x).cpu().numpy()


LifterModel = Callable[[np.ndarray], np.ndarray]

BUNDLED_LIFTER = "lifter-causal-synthetic.onnx"  # in pose_perception/bundled (zoo.BUNDLED_DIR)


def lifter_model_path(model: str | os.PathLike[str] = "") -> str:
    """The lifter file a setting names: empty = the bundled causal lifter (trained on
    synthetic motion only). FileNotFoundError naming the path when there is no such file."""
    from pose_perception.zoo import BUNDLED_DIR

    path = os.fspath(model) or os.fspath(BUNDLED_DIR / BUNDLED_LIFTER)
    if not os.path.isfile(path):
        what = "the bundled lifter" if not os.fspath(model) else "lifter model"
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def open_lifter(model: str | os.PathLike[str] = "", max_age: float = 1.0, threads: int = 1) -> TemporalLifter:
    """A :class:`TemporalLifter` on an exported ONNX lifter (empty: the bundled one), on CPU.

    One thread by default: the model is small (a batch of people costs about a millisecond)
    and should not compete with the pose model for cores. Every failure is an ``OSError``
    or ``ValueError`` whose message names the file, so a node can refuse to start with it.
    """
    path = lifter_model_path(model)
    try:
        return TemporalLifter(OnnxLifterModel(path, "cpu", threads), max_age=max_age)
    except (OSError, ValueError) as err:
        message = str(err)
        raise ValueError(message if path in message else f"{path}: {message}") from None


def open_lifter_for(skeleton: Skeleton, config: Config) -> TemporalLifter:
    """The lifter of ``config.three_d`` for a pose model whose keypoints follow ``skeleton``.

    The lifter reads COCO-17, so another skeleton is refused first (a ``ValueError`` naming
    it and ``estimator.model``) rather than after a lifter file has been read. One check
    for the node (``three_d.mode lifter|fused``), ``run --three-d lifter`` and bag mode.
    """
    if tuple(skeleton.keypoint_names) != COCO17.keypoint_names:
        raise ValueError(
            f"the lifter reads COCO-17 keypoints; pose model {config.estimator.model or skeleton.name!r} "
            f"gives {skeleton.name} ({skeleton.num_keypoints} keypoints)"
        )
    return open_lifter(config.three_d.lifter_model, config.three_d.lifter_max_age_s)


def lift_in_image(
    lifter: TemporalLifter,
    people: Sequence[Person],
    stamp: float,
    image_size: tuple[int, int],
    camera: PinholeCamera | None,
    hfov_deg: float,
    body_height_m: float | None,
    fuse: bool = False,
) -> PinholeCamera:
    """Lift ``people`` of one image (``image_size`` = width, height) and place them with its camera.

    The camera is ``camera`` (CameraInfo, or intrinsics the user gave) when it is for this
    image size, else the nominal one of ``hfov_deg``: the same rule markers and TF follow,
    so the 3D joints and the markers agree. Returns the camera used.

    ``fuse`` (``three_d.mode: fused``, after depth lifting): the depth results ``people``
    carry in are kept and only completed (:func:`fuse_depth_and_lifter`); a person
    without any (a frame whose depth was rejected) gets the lifter's 3D.
    """
    measured: list[Person | None] = []
    for p in people:
        depth_result = None
        if fuse and p.keypoints_3d is not None and p.keypoints_3d_valid is not None:
            depth_result = dataclasses.replace(p)
            depth_result.take_3d_from(p)
        measured.append(depth_result)
    width, height = image_size
    used = PinholeCamera.for_image(camera, width, height, hfov_deg)
    lifter.lift_people(people, stamp, used, body_height_m)
    if fuse:
        fuse_depth_and_lifter(people, measured)
    return used


@dataclass
class _Track:
    frames: deque[np.ndarray]
    last_stamp: float


class TemporalLifter:
    """Per-track causal lifting: COCO-17 keypoints of tracked people → H36M-17 root-relative 3D.

    Each track keeps a ring buffer of its last ``receptive_field`` normalised H36M-17 2D
    frames; a new track's buffer starts filled with its first frame (the padding the model
    is trained with). Tracks not seen for more than ``max_age`` (stamp units, seconds)
    are dropped, and a track that comes back starts afresh; a stamp earlier than the last
    one (a bag loop) clears every track. Frames a track misses within ``max_age`` are not
    filled in: its buffer just continues. Untracked people (``track_id`` 0) are lifted
    from their single frame, padded, and not buffered.

    ``model``: an exported ONNX path or :class:`OnnxLifterModel`, a torch lifter module, or
    any callable (N, rf, 17, 2) float32 → (N, 17, 3) (then ``receptive_field`` is required).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | LifterModel | Any,
        receptive_field: int | None = None,
        max_age: float = 1.0,
        min_score: float | None = None,
        device: str = "cpu",
    ) -> None:
        info: LifterInfo | None = None
        runner: LifterModel
        if isinstance(model, (str, os.PathLike)):
            model = OnnxLifterModel(model, device)
        if isinstance(model, OnnxLifterModel):
            runner, info = model, model.info
        elif hasattr(model, "forward_sequence"):  # a torch lifter module
            torch_model = TorchLifterModel(model, device)
            runner, info = torch_model, torch_model.info
        elif callable(model):
            runner = model
        else:
            raise TypeError(f"model must be an ONNX path, a lifter module or a callable, got {type(model)}")
        if info is not None:
            if info.normalization != NORMALIZATION:
                raise ValueError(f"unsupported lifter normalisation {info.normalization!r}")
            if receptive_field is not None and receptive_field != info.receptive_field:
                raise ValueError(f"receptive_field {receptive_field} != the model's {info.receptive_field}")
            receptive_field = info.receptive_field
        if receptive_field is None or receptive_field < 1:
            raise ValueError("receptive_field must be given (>= 1) for a plain callable model")
        self.model = runner
        self.info = info or LifterInfo(receptive_field)
        self.receptive_field = receptive_field
        self.max_age = max_age
        self.min_score = self.info.min_score if min_score is None else min_score
        self._tracks: dict[int, _Track] = {}
        self._last_stamp: float | None = None

    @property
    def track_ids(self) -> list[int]:
        return sorted(self._tracks)

    def reset(self) -> None:
        self._tracks.clear()
        self._last_stamp = None

    def update(
        self,
        track_ids: Sequence[int] | np.ndarray,
        keypoints: np.ndarray,
        scores: np.ndarray | None,
        stamp: float,
    ) -> np.ndarray:
        """(N,) ids, (N, 17, 2) COCO pixels, (N, 17) scores at ``stamp`` → (N, 17, 3)
        H36M-17 root-relative metres (camera axes)."""
        kp = np.asarray(keypoints, np.float64).reshape(-1, COCO17.num_keypoints, 2)
        ids = [int(i) for i in track_ids]
        if len(ids) != len(kp):
            raise ValueError(f"{len(ids)} track ids for {len(kp)} people")
        if self._last_stamp is not None and stamp < self._last_stamp:
            self._tracks.clear()
        self._last_stamp = stamp
        for tid in [t for t, tr in self._tracks.items() if stamp - tr.last_stamp > self.max_age]:
            del self._tracks[tid]
        if not ids:
            return np.zeros((0, H36M17.num_keypoints, 3))
        h36m, h_scores = coco_to_h36m(kp, scores)
        norm, _, _ = normalize_2d(h36m, h_scores, self.min_score)
        windows = np.empty((len(ids), self.receptive_field, H36M17.num_keypoints, 2), np.float32)
        for row, tid in enumerate(ids):
            frame = norm[row].astype(np.float32)
            if tid == UNTRACKED:
                windows[row] = frame
                continue
            track = self._tracks.get(tid)
            if track is None:
                track = _Track(deque([frame] * self.receptive_field, maxlen=self.receptive_field), stamp)
                self._tracks[tid] = track
            else:
                track.frames.append(frame)
                track.last_stamp = stamp
            windows[row] = np.stack(track.frames)
        out = np.asarray(self.model(windows), np.float64)
        return out - out[:, ROOT : ROOT + 1]

    def lift_people(
        self,
        people: Sequence[Person],
        stamp: float,
        camera: PinholeCamera,
        body_height_m: float | None = 1.7,
        root_depths: Sequence[float | None] | None = None,
    ) -> list[np.ndarray]:
        """Lift COCO-17 people, place them (:func:`place_in_camera`) and fill their
        ``keypoints_3d`` / ``keypoints_3d_valid`` (COCO order; eyes and ears invalid).
        Returns the placed H36M-17 skeletons (camera frame, metres)."""
        if any(p.num_keypoints != COCO17.num_keypoints for p in people):
            raise ValueError("the lifter needs COCO-17 people")
        if not people:
            self.update([], np.zeros((0, 17, 2)), np.zeros((0, 17)), stamp)
            return []
        kp = np.stack([p.keypoints for p in people])
        sc = np.stack([p.keypoint_scores for p in people])
        rel = self.update([p.track_id for p in people], kp, sc, stamp)
        h36m_2d, h36m_sc = coco_to_h36m(kp, sc)
        assert h36m_sc is not None
        placed = []
        for i, person in enumerate(people):
            depth = None if root_depths is None else root_depths[i]
            xyz = place_in_camera(
                rel[i], h36m_2d[i], camera, body_height_m, depth, h36m_sc[i], self.min_score
            )
            coco, valid = h36m_to_coco(xyz)
            coco[~valid] = np.nan  # as depth lifting leaves them: no number for an unknown joint
            person.keypoints_3d = coco.astype(np.float32)
            person.keypoints_3d_valid = valid.copy()
            person.keypoints_3d_source = np.where(valid, SOURCE_LIFTER, SOURCE_NONE).astype(np.uint8)
            score = np.clip(np.nan_to_num(np.asarray(person.keypoint_scores, np.float32)), 0.0, 1.0)
            person.keypoints_3d_confidence = np.where(valid, score, 0.0).astype(np.float32)
            placed.append(xyz)
        return placed


# Depth + lifter ----------------------------------------------------------------------------

FUSION_SCALE_RANGE = (0.8, 1.25)  # how far depth may rescale the lifter's assumed-height skeleton
FUSION_OUTLIER_M = 0.15  # a measured joint this far from the fitted skeleton is not trusted
FUSION_MAX_DISTANCE_CHANGE = 0.3  # depth may move the lifter's person by this fraction of its distance


@dataclass
class Alignment:
    """The lifted skeleton moved onto the depth-measured joints, and which of those agree."""

    points: np.ndarray  # (J, 3) s·L + t
    inliers: np.ndarray  # (J,) measured joints within FUSION_OUTLIER_M of ``points``
    scale: float


def align_to_measured(
    lifted: np.ndarray,
    lifted_valid: np.ndarray,
    measured: np.ndarray,
    measured_valid: np.ndarray,
    min_joints_for_scale: int = 4,
) -> Alignment | None:
    """Fit ``s·L + t`` of the lifted skeleton ``L`` (J, 3) to the depth-measured joints.

    Depth gives the joints it sees to ~2 cm; the lifter gives every joint, but its
    distance comes from an assumed body height (±10 %) and its pose from one view.
    Least squares over the joints both have (``s`` only from ``min_joints_for_scale``
    joints up, clipped to :data:`FUSION_SCALE_RANGE`), refitted without measured joints
    more than :data:`FUSION_OUTLIER_M` off (a wrist given the depth of the table in front
    of it). None when no joint is shared, or when the fit would move the person by more
    than :data:`FUSION_MAX_DISTANCE_CHANGE` of the lifter's distance: then the measured
    joints most likely lie on someone or something in front (an occluded person whose
    joints all got the occluder's depth agree with each other, not with their size).
    """
    both = np.asarray(lifted_valid, bool) & np.asarray(measured_valid, bool)
    both &= np.isfinite(lifted).all(axis=1) & np.isfinite(measured).all(axis=1)
    if not both.any():
        return None
    lifted64, measured64 = np.asarray(lifted, np.float64), np.asarray(measured, np.float64)
    use = both
    for _ in range(3):
        scale, shift = _scale_and_shift(lifted64[use], measured64[use], min_joints_for_scale)
        points = scale * lifted64 + shift
        inliers = both & (np.linalg.norm(points - measured64, axis=1) <= FUSION_OUTLIER_M)
        if not inliers.any() or (inliers == use).all():
            break
        use = inliers
    lifted_z = float(np.mean(lifted64[both, 2]))
    if (
        lifted_z <= 0
        or abs(float(np.mean(points[both, 2])) - lifted_z) > FUSION_MAX_DISTANCE_CHANGE * lifted_z
    ):
        return None
    return Alignment(points, inliers, scale)


def _scale_and_shift(src: np.ndarray, dst: np.ndarray, min_joints_for_scale: int) -> tuple[float, np.ndarray]:
    src_c, dst_c = src.mean(axis=0), dst.mean(axis=0)
    spread = float(np.sum((src - src_c) ** 2))
    scale = 1.0
    if len(src) >= min_joints_for_scale and spread > 1e-4:
        scale = float(np.sum((src - src_c) * (dst - dst_c)) / spread)
        scale = float(np.clip(scale, *FUSION_SCALE_RANGE))
    return scale, dst_c - scale * src_c


def fuse_depth_and_lifter(people: Sequence[Person], measured: Sequence[Person | None]) -> None:
    """Per person: the depth-measured joints as measured, the others from the aligned lifter.

    ``people`` carry the lifter's placed COCO-17 ``keypoints_3d`` (from
    :meth:`TemporalLifter.lift_people`); ``measured`` holds each person as depth lifting
    left them (None: no depth this frame, the lifter's placement stays). Measured joints
    are never replaced: depth is ~2 cm, the lifter's pose ~5-10 cm off. The joints depth
    missed (occluded, on a depth edge, in a hole) come from the lifted skeleton fitted to
    the measured ones (:func:`align_to_measured`), with source ``SOURCE_LIFTER``. When that
    fit is not trusted the person keeps the depth result alone.
    """
    for person, depth_result in zip(people, measured, strict=True):
        if depth_result is None or person.keypoints_3d is None or person.keypoints_3d_valid is None:
            continue
        depth_xyz, depth_valid = depth_result.keypoints_3d, depth_result.keypoints_3d_valid
        if depth_xyz is None or depth_valid is None:
            continue
        fit = align_to_measured(person.keypoints_3d, person.keypoints_3d_valid, depth_xyz, depth_valid)
        if fit is None:
            person.take_3d_from(depth_result)
            continue
        valid = person.keypoints_3d_valid | depth_valid
        out = np.where(valid[:, None], fit.points, np.nan)
        out[depth_valid] = depth_xyz[depth_valid]
        person.keypoints_3d = out.astype(np.float32)
        person.keypoints_3d_valid = valid
        for name in ("keypoints_3d_source", "keypoints_3d_confidence"):
            lifted, from_depth = getattr(person, name), getattr(depth_result, name)
            if lifted is not None and from_depth is not None:
                setattr(person, name, np.where(depth_valid, from_depth, lifted).astype(lifted.dtype))
