"""The causal temporal lifter at run time: COCO-17 2D keypoints of tracked people →
H36M-17 → per-track ring buffers → root-relative 3D → placed in the camera frame, one
:class:`~pose_perception.people.Joints3D` per person. See docs/lifter.md.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pose_perception.camera import PinholeCamera
from pose_perception.config import Config
from pose_perception.lifting.joints import (
    NORMALIZATION,
    ROOT,
    body17_indices,
    coco_to_h36m,
    h36m_to_coco,
    normalize_2d,
)
from pose_perception.lifting.model_io import (
    LifterInfo,
    LifterModel,
    OnnxLifterModel,
    TorchLifterModel,
    lifter_model_path,
)
from pose_perception.lifting.placement import place_in_camera
from pose_perception.people import SOURCE_LIFTER, SOURCE_NONE, UNTRACKED, Joints3D, Person
from pose_perception.skeletons import COCO17, H36M17, Skeleton


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
        body: np.ndarray | None = None,
    ) -> tuple[list[Joints3D], list[np.ndarray]]:
        """Lift people and place them (:func:`place_in_camera`): per person a
        :class:`Joints3D` in the person's own keypoint order and its placed H36M-17 skeleton
        (camera frame, metres).

        ``body``: where the 17 COCO joints sit in each person's keypoints
        (:func:`~pose_perception.lifting.joints.body17_indices`; None: the people are COCO-17).
        Only those are lifted; eyes, ears and every joint outside the subset (feet, face,
        hands) get no position and source ``SOURCE_NONE``.
        """
        body = np.arange(COCO17.num_keypoints) if body is None else np.asarray(body, np.int64)
        k = people[0].num_keypoints if people else COCO17.num_keypoints
        if any(p.num_keypoints != k for p in people) or len(body) != COCO17.num_keypoints or body.max() >= k:
            raise ValueError(
                f"the lifter needs COCO-17 people or the COCO-17 subset of theirs, got {k} keypoints"
            )
        if not people:
            self.update([], np.zeros((0, 17, 2)), np.zeros((0, 17)), stamp)
            return [], []
        kp = np.stack([p.keypoints[body] for p in people])
        sc = np.stack([p.keypoint_scores[body] for p in people])
        rel = self.update([p.track_id for p in people], kp, sc, stamp)
        h36m_2d, h36m_sc = coco_to_h36m(kp, sc)
        assert h36m_sc is not None
        joints, placed = [], []
        for i in range(len(people)):
            depth = None if root_depths is None else root_depths[i]
            xyz = place_in_camera(
                rel[i], h36m_2d[i], camera, body_height_m, depth, h36m_sc[i], self.min_score
            )
            joints.append(_coco_joints(xyz, sc[i], body, k))
            placed.append(xyz)
        return joints, placed


def _coco_joints(h36m_xyz: np.ndarray, scores: np.ndarray, body: np.ndarray, k: int) -> Joints3D:
    """A placed H36M-17 skeleton as a person's ``k`` joints: the COCO joints that are H36M
    joints at their ``body`` index (source lifter, confidence = the 2D score), the rest
    NaN and invalid (as depth leaves them: no number for an unknown joint)."""
    coco, coco_valid = h36m_to_coco(h36m_xyz)
    positions = np.full((k, 3), np.nan, np.float32)
    valid = np.zeros(k, bool)
    confidence = np.zeros(k, np.float32)
    positions[body[coco_valid]] = coco[coco_valid]
    valid[body[coco_valid]] = True
    confidence[body] = np.where(coco_valid, np.clip(np.nan_to_num(scores.astype(np.float32)), 0.0, 1.0), 0.0)
    return Joints3D(
        positions=positions,
        valid=valid,
        source=np.where(valid, SOURCE_LIFTER, SOURCE_NONE).astype(np.uint8),
        confidence=confidence,
    )


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


def lifter_body_indices(skeleton: Skeleton, config: Config) -> np.ndarray:
    """The COCO-17 body subset of ``skeleton`` the lifter reads (``three_d.mode`` lifter or
    fused), or a one-line ``ValueError`` naming ``three_d.mode`` and the pose model when the
    schema has none (hand21, face106, ap10k, h36m17). Not a prefix: the front ends put
    their own (``three_d.mode lifter: ...``) before it."""
    body = body17_indices(skeleton)
    if body is None:
        raise ValueError(
            f"the lifter reads COCO-17 keypoints; pose model {config.estimator.model or skeleton.name!r} "
            f"gives {skeleton.name} ({skeleton.num_keypoints} keypoints) without the COCO-17 body joints "
            f"(three_d.mode {config.three_d.mode})"
        )
    return body


def open_lifter_for(skeleton: Skeleton, config: Config) -> TemporalLifter:
    """The lifter of ``config.three_d`` for a pose model whose keypoints follow ``skeleton``.

    The lifter reads the COCO-17 body joints (of COCO-17, whole-body or body+hands people),
    so a schema without them is refused first (:func:`lifter_body_indices`) rather than
    after a lifter file has been read. One check for the node (``three_d.mode
    lifter|fused``), ``run --three-d lifter`` and bag mode.
    """
    lifter_body_indices(skeleton, config)
    return open_lifter(config.three_d.lifter_model, config.three_d.lifter_max_age_s)
