"""Synthetic people generator: determinism, geometry (K·X/Z, depth), visibility flags,
joint limits, COCO json (pycocotools), smooth clips and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pose_perception.synthetic import (
    JOINT_LIMITS,
    POSE_KINDS,
    Background,
    BodyShape,
    Camera,
    Pose,
    Scene,
    forward_kinematics,
    iter_clip,
    render_scene,
    sample_appearance,
    sample_pose,
    sample_scene,
    write_coco_dataset,
)
from pose_perception.synthetic.body import JOINT_NAMES, VISIBILITY_TOLERANCE, limb_angle
from pose_perception.synthetic.coco import main as coco_main
from pose_perception.synthetic.scene import Person

SIZE = (320, 240)


def _camera(f: float = 300.0, tilt: float = 0.05) -> Camera:
    return Camera(SIZE[0], SIZE[1], f, f, (SIZE[0] - 1) / 2, (SIZE[1] - 1) / 2, elevation=1.2, tilt=tilt)


def _person(x: float, z: float, yaw: float = math.pi, seed: int = 0, arms_forward: bool = False) -> Person:
    """A person standing upright with arms slightly out (or held forward), facing the camera
    by default."""
    angles = {"left_shoulder_abd": 0.3, "right_shoulder_abd": 0.3}
    if arms_forward:
        angles = {"left_shoulder_flex": 1.5, "right_shoulder_flex": 1.5}
    return Person(BodyShape(1.75), Pose(angles), sample_appearance(np.random.default_rng(seed)), (x, z), yaw)


def _scene(*people: Person, camera: Camera | None = None) -> Scene:
    return Scene(camera or _camera(), tuple(people), background=Background("noise", 1, 12.0), noise=0.0)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    return write_coco_dataset(out, 6, seed=7, image_size=SIZE, people=(1, 3))


def test_same_seed_gives_byte_identical_dataset(dataset: Path, tmp_path: Path) -> None:
    again = write_coco_dataset(tmp_path / "again", 6, seed=7, image_size=SIZE, people=(1, 3), workers=2)
    assert again.read_bytes() == dataset.read_bytes()
    for sub in ("images", "depth"):
        names = sorted(p.name for p in (dataset.parent / sub).iterdir())
        assert names == sorted(p.name for p in (again.parent / sub).iterdir()) and len(names) == 6
        for name in names:
            assert (dataset.parent / sub / name).read_bytes() == (again.parent / sub / name).read_bytes()
    other = write_coco_dataset(tmp_path / "other", 2, seed=8, image_size=SIZE)
    assert other.read_bytes() != dataset.read_bytes()


def test_keypoints_are_projections_of_3d_and_depth_matches(dataset: Path) -> None:
    import cv2

    data = json.loads(dataset.read_text())
    images = {im["id"]: im for im in data["images"]}
    checked = 0
    for ann in data["annotations"]:
        im = images[ann["image_id"]]
        cam = im["camera"]
        kp = np.array(ann["keypoints"], float).reshape(17, 3)
        xyz = np.array(ann["keypoints_3d"])
        v = kp[:, 2]
        assert set(np.unique(v)) <= {0, 1, 2}
        assert ann["num_keypoints"] == int((v > 0).sum())
        assert np.all(kp[v == 0, :2] == 0)
        lab = v > 0
        proj = np.stack(
            [cam["fx"] * xyz[:, 0] / xyz[:, 2] + cam["cx"], cam["fy"] * xyz[:, 1] / xyz[:, 2] + cam["cy"]], 1
        )
        np.testing.assert_allclose(kp[lab, :2], proj[lab], atol=0.02)
        depth = cv2.imread(str(dataset.parent / im["depth_file"]), cv2.IMREAD_UNCHANGED)
        assert depth.dtype == np.uint16 and depth.shape == (im["height"], im["width"])
        tol = VISIBILITY_TOLERANCE * ann["height_m"] * 1.4 + 0.01
        for j in np.flatnonzero(v == 2):
            u, w = (round(c) for c in kp[j, :2])
            # the surface at the pixel (or within 1 px: a face point can sit on the silhouette)
            seen = depth[max(w - 1, 0) : w + 2, max(u - 1, 0) : u + 2] * im["depth_scale"]
            ok = (seen >= xyz[j, 2] - tol[j]) & (seen <= xyz[j, 2] + 0.02)
            assert ok.any(), (j, seen, xyz[j, 2])
            checked += 1
    assert checked > 20


def test_person_behind_another_is_flagged_occluded() -> None:
    front, back = _person(0.0, 3.0), _person(0.05, 5.0, seed=1)
    result = render_scene(_scene(front, back))
    f, b = result.people
    body = [5, 6, 11, 12]  # shoulders and hips
    assert np.all(f.visibility == 2)
    assert np.all(b.visibility[body] == 1)
    assert b.area < 0.25 * f.area
    # Moved aside, the back person is fully visible again.
    clear = render_scene(_scene(front, _person(1.5, 5.0, seed=1))).people[1]
    assert np.all(clear.visibility == 2)


def test_self_occlusion_and_back_view() -> None:
    side = render_scene(_scene(_person(0.0, 3.0, math.pi / 2, arms_forward=True))).people[0]  # faces left
    # Facing the image's left, the person's left side is towards the camera.
    assert side.visibility[5] == 2 and side.visibility[6] == 1  # left / right shoulder
    assert side.visibility[11] == 2 and side.visibility[12] == 1  # left / right hip
    back = render_scene(_scene(_person(0.0, 3.0, yaw=0.0))).people[0]  # seen from behind
    assert np.all(back.visibility[[0, 1, 2]] == 1)  # nose and eyes hidden by the head
    assert np.all(back.visibility[5:] == 2)
    front = render_scene(_scene(_person(0.0, 3.0))).people[0]
    # Facing the camera, the person's left is on the image's right.
    assert front.keypoints[5, 0] > front.keypoints[6, 0] and back.keypoints[5, 0] < back.keypoints[6, 0]


def test_joints_outside_the_image_are_unlabelled() -> None:
    near = _person(0.0, 1.3)  # too close: legs run off the bottom of the image
    result = render_scene(_scene(near))
    lab = result.people[0]
    assert np.any(lab.visibility == 0) and np.any(lab.visibility > 0)
    assert np.all(lab.keypoints[lab.visibility == 0] == 0)
    xyz = lab.keypoints_3d[lab.visibility == 0]
    uv = result.camera.project(xyz)
    outside = (uv[:, 0] < -0.5) | (uv[:, 0] > SIZE[0] - 0.5) | (uv[:, 1] < -0.5) | (uv[:, 1] > SIZE[1] - 0.5)
    assert np.all(outside)


def test_sampled_poses_respect_joint_limits() -> None:
    rng = np.random.default_rng(0)
    for i in range(300):
        pose = sample_pose(rng, POSE_KINDS[i % len(POSE_KINDS)])
        for name, value in pose.angles.items():
            lo, hi = JOINT_LIMITS[name]
            assert lo <= value <= hi, (pose.kind, name, value)
        body = forward_kinematics(BodyShape(1.7), pose)
        for side in ("left", "right"):
            elbow = limb_angle(body, f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist")
            knee = limb_angle(body, f"{side}_hip", f"{side}_knee", f"{side}_ankle")
            assert elbow == pytest.approx(pose[f"{side}_elbow"], abs=1e-6)
            assert knee == pytest.approx(pose[f"{side}_knee"], abs=1e-6)
            assert elbow <= JOINT_LIMITS[f"{side}_elbow"][1] + 1e-9
        assert body.joints[:, 1].min() >= -1e-9  # nothing below the ground
    clipped = Pose({"left_knee": 5.0, "right_elbow": -1.0}).clipped()
    assert clipped["left_knee"] == JOINT_LIMITS["left_knee"][1] and clipped["right_elbow"] == 0.0


def test_body_proportions() -> None:
    """Standing heights follow the Drillis & Contini fractions of the body height."""
    body = forward_kinematics(BodyShape(1.8), Pose())
    h = 1.8

    def y(name: str) -> float:
        return float(body.joints[JOINT_NAMES.index(name), 1])

    assert y("head_top") == pytest.approx(h, rel=0.02)
    assert y("left_eye") == pytest.approx(0.936 * h, rel=0.02)
    assert y("left_shoulder") == pytest.approx(0.818 * h, rel=0.03)
    assert y("left_hip") == pytest.approx(0.53 * h, rel=0.01)
    assert y("left_knee") == pytest.approx(0.285 * h, rel=0.01)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2
def test_coco_json_loads_with_pycocotools(dataset: Path) -> None:
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO(str(dataset))
    assert gt.getCatIds() == [1] and len(gt.getImgIds()) == 6
    anns = gt.loadAnns(gt.getAnnIds())
    assert anns
    for a in anns:
        x, y, w, h = a["bbox"]
        img = gt.imgs[a["image_id"]]
        assert x >= 0 and y >= 0 and x + w <= img["width"] and y + h <= img["height"]
        assert 0 < a["area"] <= w * h
        mask = gt.annToMask(a)  # the silhouette polygons lie in the box, area close to the mask's
        ys, xs = np.nonzero(mask)
        assert xs.min() >= x - 1 and xs.max() <= x + w and ys.min() >= y - 1 and ys.max() <= y + h
        assert abs(mask.sum() - a["area"]) <= 0.25 * a["area"] + 30
    # The ground truth scored against itself is perfect.
    dets = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0} for a in anns
    ]
    ev = COCOeval(gt, gt.loadRes(dets), "keypoints")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_random_scenes_have_people_of_useful_size() -> None:
    heights, people = [], 0
    for i in range(12):
        scene = sample_scene([3, i], (640, 480), (1, 3))
        result = render_scene(scene)
        people += len(result.people)
        for lab in result.people:
            assert lab.keypoints_3d[:, 2].min() > 0.3
        heights.append(result.people[0].bbox[3])
    assert people >= 12
    assert np.median(heights) > 100


def test_clip_moves_smoothly() -> None:
    frames = list(iter_clip(seed=2, num_frames=4, fps=30.0, image_size=SIZE, people=2))
    assert len(frames) == 4
    k0, k1 = frames[0].people[0].keypoints_3d, frames[1].people[0].keypoints_3d
    step = np.linalg.norm(k1 - k0, axis=1)
    assert step.max() < 0.15 and step.max() > 0  # metres in 1/30 s
    assert not np.array_equal(frames[0].image, frames[1].image)
    again = next(iter_clip(seed=2, num_frames=1, fps=30.0, image_size=SIZE, people=2))
    assert np.array_equal(again.image, frames[0].image)


def test_cli_writes_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert coco_main([str(tmp_path), "--images", "2", "--seed", "1", "--size", "160x120", "--no-depth"]) == 0
    data = json.loads((tmp_path / "annotations.json").read_text())
    assert len(data["images"]) == 2 and not (tmp_path / "depth").exists()
    assert data["categories"][0]["keypoints"][0] == "nose"
    assert (tmp_path / "images" / data["images"][0]["file_name"]).is_file()


def test_clip_writer_gives_a_video_and_boxes_the_cli_reads(tmp_path):
    """The demo input: an mp4 and per-frame boxes in the `run --boxes` format."""
    import cv2

    from pose_perception.cli.boxes import load_boxes_file
    from pose_perception.synthetic.clip import write_clip

    video, boxes_path = write_clip(tmp_path, num_frames=4, seed=7)
    capture = cv2.VideoCapture(str(video))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 4
    boxes = load_boxes_file(str(boxes_path))
    assert sorted(boxes) == ["0", "1", "2", "3"]
    for frame_boxes in boxes.values():
        assert len(frame_boxes) >= 1
        assert (frame_boxes[:, 2] > frame_boxes[:, 0]).all() and (frame_boxes[:, 3] > frame_boxes[:, 1]).all()
