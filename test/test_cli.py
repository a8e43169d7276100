"""The pose-perception CLI, run in-process on a small random-weight rtmpose-t ONNX model."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from crafted_images import write_huge_png  # noqa: E402

from pose_perception import cli  # noqa: E402
from pose_perception.camera import PinholeCamera  # noqa: E402
from pose_perception.estimator import PoseEstimator  # noqa: E402
from pose_perception.lifting import lifter_model_path  # noqa: E402
from pose_perception.models import build_rtmpose  # noqa: E402
from pose_perception.runtime.export import export_onnx  # noqa: E402
from pose_perception.skeletons import COCO17  # noqa: E402
from pose_perception.zoo import REGISTRY  # noqa: E402

H, W = 120, 160


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = build_rtmpose("rtmpose-t")
    path = tmp_path_factory.mktemp("model") / "m.onnx"
    export_onnx(model, model.model_info(), path)
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may read the user's model cache or reach the network."""
    monkeypatch.setenv("POSE_PERCEPTION_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("POSE_PERCEPTION_OFFLINE", "1")


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _write_image(path: Path, seed: int = 0) -> Path:
    assert cv2.imwrite(str(path), _image(seed))
    return path


def _write_video(path: Path, frames: int = 5, fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (W, H))
    for i in range(frames):
        writer.write(_image(i))
    writer.release()
    return path


def _lines(output_dir: Path) -> list[dict[str, Any]]:
    text = (output_dir / "keypoints.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _run(*args: str | Path) -> int:
    """``run`` commands keep every person (random weights score low) and, unless a test
    picks one, use the full-frame detector (no detector weights exist offline)."""
    argv = [str(a) for a in args]
    if argv[0] == "run":
        argv += [] if "--min-score" in argv else ["--min-score", "0"]
        argv += [] if "--detector" in argv else ["--detector", "full_frame"]
    return cli.main(argv)


def _check_people(line: dict[str, Any], boxes: list[list[float]]) -> None:
    assert [p["bbox"] for p in line["people"]] == boxes
    for person in line["people"]:
        assert isinstance(person["track_id"], int)
        keypoints = np.array(person["keypoints"])
        assert keypoints.shape == (17, 3)
        assert np.isfinite(keypoints).all()
        assert person["score"] == pytest.approx(keypoints[:, 2].mean(), abs=1e-3)


# ---------------------------------------------------------------------------- run


def test_run_single_image_with_box(
    tmp_path: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image_path = _write_image(tmp_path / "person.jpg")
    out = tmp_path / "out"
    assert _run("run", image_path, "--model", onnx_model, "--box", "10,20,150,110", "--output-dir", out) == 0
    (line,) = _lines(out)
    assert (line["frame"], line["name"], line["width"], line["height"]) == (0, "person.jpg", W, H)
    assert line["keypoint_names"] == list(COCO17.keypoint_names)
    _check_people(line, [[10, 20, 150, 110]])
    original = cv2.imread(str(image_path))
    annotated = cv2.imread(str(out / "person.jpg"))
    assert annotated is not None and annotated.shape == original.shape
    assert np.abs(annotated.astype(int) - original.astype(int)).max() > 50
    assert "1 frames, 1 people" in capsys.readouterr().out


def test_run_folder_without_boxes_uses_the_full_frame(tmp_path: Path, onnx_model: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    _write_image(folder / "b.png", 1)
    _write_image(folder / "a.png", 2)
    out = tmp_path / "out"
    assert _run("run", folder, "--model", onnx_model, "--output-dir", out, "--det-interval", "1") == 0
    lines = _lines(out)
    assert [(x["frame"], x["name"]) for x in lines] == [(0, "a.png"), (1, "b.png")]
    assert "keypoint_names" in lines[0] and "keypoint_names" not in lines[1]
    for line in lines:
        _check_people(line, [[0, 0, W, H]])
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "keypoints.jsonl"]


def test_run_video_writes_an_annotated_mp4(tmp_path: Path, onnx_model: Path) -> None:
    video = _write_video(tmp_path / "walk.mp4", frames=5)
    out = tmp_path / "out"
    assert _run("run", video, "--model", onnx_model, "--output-dir", out, "--box", "20,10,140,115") == 0
    lines = _lines(out)
    assert [x["frame"] for x in lines] == [0, 1, 2, 3, 4]
    stamps = [x["stamp"] for x in lines]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    for line in lines:
        _check_people(line, [[20, 10, 140, 115]])
    capture = cv2.VideoCapture(str(out / "walk_poses.mp4"))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0)
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    assert len(frames) == 5 and frames[0].shape == (H, W, 3)
    assert sorted(p.name for p in out.iterdir()) == ["keypoints.jsonl", "walk_poses.mp4"]


def test_run_max_frames_and_no_images(tmp_path: Path, onnx_model: Path) -> None:
    video = _write_video(tmp_path / "clip.mp4", frames=5)
    out = tmp_path / "out"
    assert (
        _run("run", video, "--model", onnx_model, "--output-dir", out, "--max-frames", "2", "--no-images")
        == 0
    )
    assert len(_lines(out)) == 2
    assert [p.name for p in out.iterdir()] == ["keypoints.jsonl"]


def test_run_boxes_file(tmp_path: Path, onnx_model: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for name in ("one.jpg", "two.jpg", "three.jpg"):
        _write_image(folder / name)
    boxes = {
        "one.jpg": [[5, 5, 60, 100], [70, 10, 150, 110, 0.8]],
        "2": [],  # the third frame by index (natural order: one, three, two): nobody
    }
    boxes_file = tmp_path / "boxes.json"
    boxes_file.write_text(json.dumps(boxes))
    out = tmp_path / "out"
    args = ("--boxes", boxes_file, "--output-dir", out, "--det-interval", "1")
    assert _run("run", folder, "--model", onnx_model, *args) == 0
    one, three, two = _lines(out)
    assert (one["name"], three["name"], two["name"]) == ("one.jpg", "three.jpg", "two.jpg")
    assert sorted(p["bbox"] for p in one["people"]) == [[5, 5, 60, 100], [70, 10, 150, 110]]
    # No entry: the (full-frame) detector, plus the people followed from the frame before.
    assert [0, 0, W, H] in [p["bbox"] for p in three["people"]]
    assert two["people"] == []


def test_run_reads_the_config_file_and_flags_override_it(tmp_path: Path, onnx_model: Path) -> None:
    config = tmp_path / "pose.yaml"
    config.write_text(
        "/**:\n  ros__parameters:\n    estimator:\n"
        f"      model: {onnx_model}\n      keypoint_threshold: 0.5\n      flip_test: true\n"
    )
    image = _write_image(tmp_path / "x.png")
    out = tmp_path / "out"
    assert _run("run", image, "--config", config, "--output-dir", out, "--no-images") == 0
    with_flip = _lines(out)[0]["people"][0]["keypoints"]
    assert _run("run", image, "--config", config, "--output-dir", out, "--no-images", "--no-flip-test") == 0
    without_flip = _lines(out)[0]["people"][0]["keypoints"]
    assert with_flip != without_flip


def test_run_refuses_to_overwrite_input_images(tmp_path: Path, onnx_model: Path) -> None:
    image = _write_image(tmp_path / "keep.jpg")
    before = image.read_bytes()
    assert _run("run", image, "--model", onnx_model, "--output-dir", tmp_path) == 2
    assert image.read_bytes() == before


def test_interrupt_keeps_what_was_done(
    tmp_path: Path, onnx_model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_estimate = PoseEstimator.estimate
    calls = []

    def estimate_then_ctrl_c(self: PoseEstimator, image: np.ndarray, boxes: np.ndarray) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_estimate(self, image, boxes)

    monkeypatch.setattr(PoseEstimator, "estimate", estimate_then_ctrl_c)
    video = _write_video(tmp_path / "cam.mp4", frames=5)
    out = tmp_path / "out"
    assert _run("run", video, "--model", onnx_model, "--output-dir", out) == 130
    assert len(_lines(out)) == 2
    assert "2 frames, 2 people" in capsys.readouterr().out
    capture = cv2.VideoCapture(str(out / "cam_poses.mp4"))  # finalised, hence readable
    assert capture.read()[0] and capture.read()[0] and not capture.read()[0]


def test_run_help_names_the_detector_and_external_boxes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--detector {onnx,hog,full_frame}" in text and "--det-interval" in text
    assert "external detector" in text and "--boxes" in text and "--flip-test" in text
    assert "--whole-image" in text and "one-stage model (RTMO" in text


# ---------------------------------------------------------------------------- other model kinds


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Models built here: an RTMO-t .pth that finds a few people in ``_image(0)``, a K=133
    whole-body ONNX and a hand21 ONNX."""
    from family_models import few_people_rtmo, hand_onnx, rtmo_pth, wholebody_onnx

    folder = tmp_path_factory.mktemp("family")
    return {
        "rtmo": rtmo_pth(few_people_rtmo(_image(0)), folder / "rtmo-t.pth"),
        "wholebody": wholebody_onnx(folder / "rtmw-t-test.onnx"),
        "hand": hand_onnx(folder / "hand.onnx"),
    }


@pytest.mark.slow
def test_run_rtmo_needs_no_detector_on_images_and_video(tmp_path: Path, family: dict[str, Path]) -> None:
    from pose_perception import OneStageEstimator

    folder = tmp_path / "frames"
    folder.mkdir()
    _write_image(folder / "a.png", 0)  # lossless: the very image the model was tuned on
    video = _write_video(tmp_path / "clip.mp4", frames=2)
    model = ("--model", family["rtmo"], "--arch", "rtmo-t", "--detector", "onnx")
    no_detector = ("--detector-model", tmp_path / "no-detector.onnx")  # never loaded
    out = tmp_path / "out"
    assert _run("run", folder, *model, *no_detector, "--output-dir", out) == 0
    (line,) = _lines(out)
    assert line["keypoint_names"] == list(COCO17.keypoint_names)
    boxes = OneStageEstimator(family["rtmo"], arch="rtmo-t").estimate(_image(0))[0]
    found = np.array([p["bbox"] for p in line["people"]]).reshape(-1, 4)
    assert 0 < len(found) <= len(boxes)  # with --min-score 0 only pose NMS may drop someone
    assert (np.abs(found[:, None] - boxes[None]).max(axis=2) < 0.01).any(axis=1).all()  # the model's boxes
    assert all(np.array(p["keypoints"]).shape == (17, 3) for p in line["people"])
    assert (out / "a.png").is_file()
    assert _run("run", video, *model, *no_detector, "--output-dir", out / "video") == 0
    assert len(_lines(out / "video")) == 2 and (out / "video" / "clip_poses.mp4").is_file()


def test_run_wholebody_model_gives_133_keypoints(tmp_path: Path, family: dict[str, Path]) -> None:
    image = _write_image(tmp_path / "person.png")
    out = tmp_path / "out"
    args = ("--box", "10,5,150,115", "--output-dir", out)
    assert _run("run", image, "--model", family["wholebody"], *args) == 0
    (line,) = _lines(out)
    assert len(line["keypoint_names"]) == 133 and line["keypoint_names"][91] == "left_hand_root"
    (person,) = line["people"]
    assert np.array(person["keypoints"]).shape == (133, 3)
    annotated = cv2.imread(str(out / "person.png"))
    assert annotated is not None and (annotated != cv2.imread(str(image))).any()


def test_run_hand_model_on_whole_images_or_given_boxes(
    tmp_path: Path, family: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "hands"
    folder.mkdir()
    _write_image(folder / "a.png", 1)
    _write_image(folder / "b.png", 2)
    hand = ("--model", family["hand"])
    out = tmp_path / "out"
    assert _run("run", folder, *hand, "--whole-image", "--detector", "hog", "--output-dir", out) == 0
    for line in _lines(out):
        (person,) = line["people"]
        assert person["bbox"] == [0, 0, W, H] and np.array(person["keypoints"]).shape == (21, 3)
    boxes_file = tmp_path / "boxes.json"
    boxes_file.write_text(json.dumps({"a.png": [[10, 10, 70, 90]]}))  # b.png: the whole frame
    args = ("--boxes", boxes_file, "--detector", "hog", "--det-interval", "1", "--output-dir", out)
    assert _run("run", folder, *hand, *args) == 0
    a, b = _lines(out)
    assert [p["bbox"] for p in a["people"]] == [[10, 10, 70, 90]]
    assert [0, 0, W, H] in [p["bbox"] for p in b["people"]]
    capsys.readouterr()
    assert _run("run", folder, *hand, "--detector", "hog", "--output-dir", out) == 2
    assert "skeleton hand21: a hand model is not a person model" in capsys.readouterr().err


@pytest.mark.slow
def test_run_rtmo_refuses_boxes(
    tmp_path: Path, family: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    image = _write_image(tmp_path / "x.png")
    model = ("--model", family["rtmo"], "--arch", "rtmo-t")
    for boxes in (("--box", "1,1,50,50"), ("--whole-image",)):
        assert _run("run", image, *model, *boxes, "--output-dir", tmp_path / "out") == 2
        assert "one-stage model (RTMO): it finds the people itself" in capsys.readouterr().err


# ---------------------------------------------------------------------------- 3D (lifter)

EYES_AND_EARS = ("left_eye", "right_eye", "left_ear", "right_ear")  # no H36M joint: no 3D
LIFTED = ~np.isin(COCO17.keypoint_names, EYES_AND_EARS)
HIPS = [11, 12]  # the lifter's root is their mid-point


def _k(camera: dict[str, float]) -> np.ndarray:
    return np.array([[camera["fx"], 0, camera["cx"]], [0, camera["fy"], camera["cy"]], [0, 0, 1]])


def _project(xyz: np.ndarray, k: np.ndarray) -> np.ndarray:
    uvw = np.asarray(xyz, np.float64) @ k.T
    return uvw[:, :2] / uvw[:, 2:3]


def _check_3d(person: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(17, 3) keypoints, (17, 3) 3D joints, (17,) valid of a keypoints.jsonl person with 3D:
    the 13 COCO joints the lifter has are valid, finite and in front of the camera; eyes
    and ears are [0, 0, 0] and invalid (as Keypoint.position / has_position on /poses)."""
    keypoints = np.array(person["keypoints"], np.float64)
    xyz = np.array(person["keypoints_3d"], np.float64)
    valid = np.array(person["keypoints_3d_valid"])
    assert xyz.shape == (17, 3) and valid.dtype == bool and np.isfinite(xyz).all()
    assert (valid == LIFTED).all()
    assert (xyz[~valid] == 0).all() and (xyz[valid, 2] > 0.3).all()
    return keypoints, xyz, valid


def _without_3d(line: dict[str, Any]) -> dict[str, Any]:
    """A keypoints.jsonl line with the 3D additions taken out: the 2D fields as before."""
    line = {k: v for k, v in line.items() if k not in ("camera", "three_d")}
    line["people"] = [
        {k: v for k, v in p.items() if k not in ("keypoints_3d", "keypoints_3d_valid")}
        for p in line["people"]
    ]
    return line


def test_run_lifter_on_a_synthetic_clip_places_3d_with_the_given_intrinsics(
    tmp_path: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The synthetic clip (walking people, their boxes) with random pose weights: the 2D
    output is unchanged by --three-d lifter; the lifted skeletons are the same for two sets
    of intrinsics, only moved (the camera places them, it does not shape them), and each,
    projected with its own intrinsics, is centred on the person's 2D keypoints, with the
    other intrinsics far off. (Per-joint projection needs a pose model that finds the
    joints: the next test.)"""
    from pose_perception.synthetic.clip import write_clip

    video, boxes = write_clip(tmp_path / "clip", num_frames=6, seed=5)
    common = ("--boxes", boxes, "--no-images", "--det-interval", "1")
    assert _run("run", video, "--model", onnx_model, *common, "--output-dir", tmp_path / "2d") == 0
    cameras = {
        "a": {"fx": 500.0, "fy": 520.0, "cx": 300.0, "cy": 250.0},
        "b": {"fx": 1000.0, "fy": 1040.0, "cx": 380.0, "cy": 200.0},
    }
    lines = {}
    for name, camera in cameras.items():
        flags = [f"--{key}={value}" for key, value in camera.items()]
        out = tmp_path / name
        args = ("--three-d", "lifter", *flags, "--output-dir", out)
        assert _run("run", video, "--model", onnx_model, *common, *args) == 0
        lines[name] = _lines(out)
    assert "ms/frame in the 3D lifter" in capsys.readouterr().out

    assert [_without_3d(line) for line in lines["a"]] == _lines(tmp_path / "2d")  # 2D fields unchanged
    first = lines["a"][0]["three_d"]
    assert first["mode"] == "lifter" and first["lifter_model"] == lifter_model_path("")
    assert first["body_height_m"] == 1.7 and "three_d" not in lines["a"][1]
    own_px, other_px, shift_spread_m, depth_ratio = [], [], [], []
    for line_a, line_b in zip(lines["a"], lines["b"], strict=True):
        assert line_a["camera"] == cameras["a"] and line_b["camera"] == cameras["b"]
        assert len(line_a["people"]) == len(line_b["people"]) >= 2
        for person_a, person_b in zip(line_a["people"], line_b["people"], strict=True):
            kps, xyz_a, valid = _check_3d(person_a)
            _, xyz_b, _ = _check_3d(person_b)
            shift = (xyz_b - xyz_a)[valid]
            shift_spread_m.append(np.abs(shift - shift.mean(axis=0)).max())
            centre = kps[valid, :2].mean(axis=0)
            for xyz, k in ((xyz_a, _k(cameras["a"])), (xyz_b, _k(cameras["b"]))):
                own_px.append(np.linalg.norm(_project(xyz[valid], k).mean(axis=0) - centre))
            other_px.append(np.linalg.norm(_project(xyz_b[valid], _k(cameras["a"])).mean(axis=0) - centre))
            depth_ratio.append(xyz_b[HIPS, 2].mean() / xyz_a[HIPS, 2].mean())
    print(
        f"\nrun --three-d lifter, random weights: {len(depth_ratio)} people; projected centre to "
        f"2D centre max {max(own_px):.1f} px (other camera's intrinsics: min {min(other_px):.0f} px); "
        f"skeleton change between the cameras beyond a shift {max(shift_spread_m) * 1e3:.2f} mm; "
        f"root depth ratio at twice the focal length {min(depth_ratio):.2f}-{max(depth_ratio):.2f}"
    )
    assert max(shift_spread_m) < 0.002
    assert max(own_px) < 25.0 and min(other_px) > 80.0
    assert min(depth_ratio) > 1.6 and max(depth_ratio) < 2.4  # the same person, twice as far


def _oracle_model(
    path: Path, keypoints: np.ndarray, visibility: np.ndarray, image_shape: tuple[int, ...]
) -> Path:
    """A pose ONNX whose SimCC output is fixed to ``keypoints`` for a full-frame box (score 1
    for visible joints, 0.1 for hidden ones), so the 2D keypoints are the ground truth."""
    from onnx_graphs import oracle_pose_onnx

    path.write_bytes(oracle_pose_onnx(keypoints, visibility, image_shape))
    return path


def test_run_lifter_joints_project_onto_true_keypoints(tmp_path: Path) -> None:
    """A rendered person (known intrinsics, 2D and 3D joints) and a pose model answering its
    true 2D keypoints: every confident lifted joint projects near its keypoint with the
    given intrinsics, at about the true depth; without intrinsics (three_d.mode lifter from a
    --config file) the nominal camera of output.assumed_hfov_deg places them, and they
    project with that camera instead."""
    from pose_perception.synthetic.coco import render_example

    _, rendered = render_example(2, 0, (640, 480), 1)  # the node test's person: 2.9 m away
    label, k = rendered.people[0], rendered.K
    image = tmp_path / "person.png"
    assert cv2.imwrite(str(image), rendered.image)
    model = _oracle_model(tmp_path / "oracle.onnx", label.keypoints, label.visibility, rendered.image.shape)
    intrinsics = [f"--fx={k[0, 0]}", f"--fy={k[1, 1]}", f"--cx={k[0, 2]}", f"--cy={k[1, 2]}"]
    args = ("--model", model, "--no-images", "--three-d", "lifter")
    assert _run("run", image, *args, *intrinsics, "--output-dir", tmp_path / "k") == 0
    config = tmp_path / "lifter.yaml"  # the node's settings: three_d.mode, output.assumed_hfov_deg
    config.write_text("three_d:\n  mode: lifter\noutput:\n  assumed_hfov_deg: 75.0\n", encoding="utf-8")
    assert (
        _run(
            "run",
            image,
            "--model",
            model,
            "--no-images",
            "--config",
            config,
            "--output-dir",
            tmp_path / "nominal",
        )
        == 0
    )

    (line,) = _lines(tmp_path / "k")
    kps, xyz, valid = _check_3d(line["people"][0])
    np.testing.assert_allclose(kps[:, :2], label.keypoints, atol=0.6)  # the oracle: 2D = ground truth
    confident = valid & (kps[:, 2] >= 0.3)
    errors = np.linalg.norm(_project(xyz[confident], _k(line["camera"])) - kps[confident, :2], axis=1)
    true_depth = label.keypoints_3d[HIPS, 2].mean()
    depth_error = xyz[HIPS, 2].mean() / true_depth - 1.0
    print(
        f"\nrun --three-d lifter, true 2D: reprojection of {confident.sum()} joints mean "
        f"{errors.mean():.1f} px, max {errors.max():.1f} (person {np.ptp(kps[:, 1]):.0f} px tall); "
        f"root depth {xyz[HIPS, 2].mean():.2f} m, true {true_depth:.2f} ({depth_error * 100:+.1f} %)"
    )
    assert line["camera"] == pytest.approx(
        {"fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2]}, abs=1e-4
    )
    assert errors.mean() < 10.0 and errors.max() < 25.0
    assert abs(depth_error) < 0.15

    (line,) = _lines(tmp_path / "nominal")
    nominal = PinholeCamera.nominal(640, 480, 75.0)
    assert line["camera"] == pytest.approx(
        {"fx": nominal.fx, "fy": nominal.fy, "cx": nominal.cx, "cy": nominal.cy}
    )
    kps, xyz, valid = _check_3d(line["people"][0])
    confident = valid & (kps[:, 2] >= 0.3)
    assert (
        np.linalg.norm(_project(xyz[confident], _k(line["camera"])) - kps[confident, :2], axis=1).mean()
        < 10.0
    )
    assert np.linalg.norm(_project(xyz[confident], k) - kps[confident, :2], axis=1).mean() > 30.0


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["run", "{tmp}/missing.jpg", "--model", "{model}"], "missing.jpg"),
        (["run", "{image}", "--model", "{model}", "--box", "1,2,3"], "--box '1,2,3'"),
        (["run", "{image}", "--model", "{model}", "--box", "a,b,c,d"], "--box 'a,b,c,d'"),
        (["run", "{image}", "--model", "{model}", "--box", "50,10,20,40"], "x2 must be > x1"),
        (["run", "{image}", "--model", "{tmp}/nope.onnx"], "nope.onnx"),
        (["run", "{image}", "--model", "rtmpose-t"], "not cached"),
        (["run", "{image}", "--model", "no-such-model"], "no-such-model"),
        (["run", "{image}", "--model", "{model}", "--device", "gpu9"], "device"),
        (["run", "{image}", "--model", "{model}", "--threshold", "2"], "keypoint_threshold"),
        (["run", "{image}", "--model", "{model}", "--boxes", "{tmp}/none.json"], "none.json"),
        (["run", "{image}", "--model", "{model}", "--boxes", "{bad_json}"], "not valid JSON"),
        (["run", "{image}", "--model", "{model}", "--boxes", "{latin1}"], "latin1.json: not UTF-8"),
        (["run", "{huge}", "--model", "{model}"], "huge.png: 40000x40000 = 1600000000 pixels, more than"),
        (
            ["run", "{image}", "--model", "{model}", "--box", "1,1,5,5", "--boxes", "{bad_json}"],
            "not allowed",
        ),
        (["run", "{image}", "--config", "{tmp}/no.yaml"], "no.yaml"),
        (["run", "{image}", "--model", "{model}", "--max-frames", "0"], "positive integer"),
        (
            [
                "run",
                "{image}",
                "--model",
                "{model}",
                "--three-d=lifter",
                "--detector=full_frame",
                "--lifter-model",
                "{tmp}/nl.onnx",
            ],
            "lifter model not found: {tmp}/nl.onnx",
        ),
        (
            [
                "run",
                "{image}",
                "--model",
                "{model}",
                "--three-d=lifter",
                "--detector=full_frame",
                "--lifter-model",
                "{model}",
            ],
            "{model}: not a lifter export",
        ),
        (
            [
                "run",
                "{image}",
                "--model",
                "{model}",
                "--skeleton",
                "h36m17",
                "--three-d=lifter",
                "--detector=full_frame",
            ],
            "the lifter reads COCO-17 keypoints; pose model '{model}' gives h36m17",
        ),
        (["run", "{image}", "--model", "{model}", "--three-d", "lifter", "--lifter-model", "l.pth"], ".onnx"),
        (["run", "{image}", "--model", "{model}", "--fx", "500"], "--fx only applies with --three-d lifter"),
        (["run", "{image}", "--model", "{model}", "--lifter-model", "l.onnx"], "--lifter-model only applies"),
        (["run", "{image}", "--model", "{model}", "--three-d", "lifter", "--fy", "500"], "--fy needs --fx"),
        (
            ["run", "{image}", "--model", "{model}", "--three-d", "lifter", "--fx", "9", "--hfov", "60"],
            "not both",
        ),
        (["run", "{image}", "--model", "{model}", "--three-d", "lifter", "--fx", "-1"], "--fx"),
        (["run", "{image}", "--model", "{model}", "--three-d", "lifter", "--cx", "nan"], "finite"),
        (
            ["run", "{image}", "--model", "{model}", "--three-d", "lifter", "--body-height", "9"],
            "body_height_m",
        ),
        (["run", "{image}", "--model", "{model}", "--three-d", "depth"], "invalid choice: 'depth'"),
        (["export", "--arch", "rtmpose-x", "--random-init", "--output", "{tmp}/x.onnx"], "rtmpose-x"),
        (
            ["export", "--arch", "rtmpose-t", "--checkpoint", "{tmp}/w.pth", "--output", "{tmp}/x.onnx"],
            "w.pth",
        ),
        (["export", "--arch", "rtmpose-t", "--output", "{tmp}/x.onnx"], "--checkpoint"),
        (["export", "--arch", "rtmpose-t", "--random-init", "--output", "{tmp}/x.bin"], ".onnx"),
        (["download", "rtmpose-zzz"], "rtmpose-zzz"),
        (["download", "rtmpose-t"], "not cached"),
        (["download", "rtmw-m"], "POSE_PERCEPTION_SHA256_RTMW_M=<64 hex>"),
        (["download", "rtmw-m", "--sha256", "XYZ"], "8 to 64 lowercase hex"),
        (["run", "{image}", "--model", "rtmw-m"], "not downloaded unverified"),
        ([], "required"),
    ],
)
def test_user_errors_exit_2_with_a_message(
    tmp_path: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str], args: list[str], problem: str
) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"caf\xe9.png": [[1, 1, 5, 5]]}'.encode("latin-1"))
    image = _write_image(tmp_path / "img.png")
    huge = write_huge_png(tmp_path / "huge.png")
    fields = {"tmp": tmp_path, "model": onnx_model, "image": image, "bad_json": bad_json}
    fields |= {"latin1": latin1, "huge": huge}
    assert cli.main([a.format(**fields) for a in args]) == 2
    err = capsys.readouterr().err
    assert "pose-perception: error: " in err
    assert problem.format(**fields) in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.onnx").exists()


def test_checkpoint_mismatch_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = tmp_path / "small.pth"
    torch.save(build_rtmpose("rtmpose-t").state_dict(), checkpoint)
    args = [
        "export",
        "--arch",
        "rtmpose-s",
        "--checkpoint",
        str(checkpoint),
        "--output",
        str(tmp_path / "s.onnx"),
    ]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "pose-perception: error:" in err and "does not match" in err and "shape mismatch" in err


# ---------------------------------------------------------------------------- export


def test_export_random_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "random.onnx"
    assert _run("export", "--arch", "rtmpose-t", "--random-init", "--output", output, "--no-verify") == 0
    assert "RANDOM weights" in capsys.readouterr().err
    estimator = PoseEstimator(output)
    assert estimator.info.skeleton.keypoint_names == COCO17.keypoint_names
    assert estimator.info.arch == "rtmpose-t" and estimator.info.input_size == (192, 256)
    keypoints, scores = estimator.estimate(_image(0), np.array([[0, 0, W, H]]))
    assert keypoints.shape == (1, 17, 2) and scores.shape == (1, 17)


def test_export_checkpoint_carries_its_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(123)  # differs from the --random-init seed, so the test sees which weights went in
    model = build_rtmpose("rtmpose-t").eval()
    checkpoint = tmp_path / "weights.pth"
    torch.save(model.state_dict(), checkpoint)
    output = tmp_path / "from_ckpt.onnx"
    assert _run("export", "--arch", "rtmpose-t", "--checkpoint", checkpoint, "--output", output) == 0
    captured = capsys.readouterr()
    assert "verified" in captured.out and "RANDOM" not in captured.err
    batch = np.random.default_rng(1).standard_normal((1, 3, 256, 192)).astype(np.float32)
    ours = PoseEstimator(output).backend.infer(batch)[0]
    with torch.no_grad():
        reference = model(torch.from_numpy(batch))[0].numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)


def test_export_fails_with_exit_1_when_parity_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pose_perception.runtime.export as export_module

    monkeypatch.setattr(export_module, "onnx_parity", lambda *args: 0.5)
    args = ["export", "--arch", "rtmpose-t", "--random-init", "--output", str(tmp_path / "m.onnx")]
    assert cli.main(args) == 1
    assert "differs from PyTorch" in capsys.readouterr().err


# ---------------------------------------------------------------------------- models, bench, module


def test_models_lists_the_registry_and_what_is_cached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "models"
    cache.mkdir()
    (cache / REGISTRY["rtmpose-s"].filename).write_bytes(b"x")
    assert _run("models", "--cache-dir", cache) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(rows) == set(REGISTRY)
    assert rows["rtmpose-s"][1:] == ["pose", "rtmpose-s", "yes", REGISTRY["rtmpose-s"].url]
    assert rows["rtmdet-nano"][1:4] == ["detector", "rtmdet", "no"]
    assert rows["rtmpose-t"][3] == "no"


def test_bench_passes_every_argument_through(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[list[str]] = []

    def fake_main(argv: list[str] | None = None) -> int:
        received.append(list(argv or []))
        return 3

    monkeypatch.setitem(sys.modules, "pose_perception.benchmarks", types.SimpleNamespace(main=fake_main))
    assert cli.main(["bench", "--help"]) == 3
    assert cli.main(["bench", "--repeats", "5", "extra"]) == 3
    assert received == [["--help"], ["--repeats", "5", "extra"]]


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pose_perception", "run", str(tmp_path / "absent.png")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "pose-perception: error: source not found" in result.stderr
    assert "absent.png" in result.stderr and "Traceback" not in result.stderr
