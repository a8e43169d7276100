"""The causal temporal lifter: model causality and shapes, COCO→H36M mapping, box
normalisation, metric placement, per-track ring buffers, ONNX export, and (slow) a short
training run in which the causal model beats the single-frame baseline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pose_perception.camera import PinholeCamera
from pose_perception.lifting import (
    H36M_FROM_COCO,
    TemporalLifter,
    coco_to_h36m,
    h36m_to_coco,
    normalize_2d,
    place_in_camera,
    skeleton_stature,
)
from pose_perception.people import SOURCE_LIFTER, SOURCE_NONE, Person
from pose_perception.skeletons import COCO17, H36M17
from pose_perception.synthetic.body import BodyShape, Pose, forward_kinematics, rot_y, sample_pose

torch = pytest.importorskip("torch")

from pose_perception.models.lifter import CausalTemporalLifter, kernel_width  # noqa: E402

C = {n: i for i, n in enumerate(COCO17.keypoint_names)}
H = {n: i for i, n in enumerate(H36M17.keypoint_names)}
CAMERA = PinholeCamera(600.0, 610.0, 321.0, 238.0, 640, 480)


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(rf: int = 27, channels: int = 32, seed: int = 0) -> CausalTemporalLifter:
    torch.manual_seed(seed)
    model = CausalTemporalLifter(receptive_field=rf, channels=channels).eval()
    for m in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model


# Model ---------------------------------------------------------------------------------------


def test_receptive_field_and_kernels() -> None:
    assert kernel_width(27, 2) == 3 and kernel_width(1, 2) == 1 and kernel_width(81, 3) == 3
    model = CausalTemporalLifter()
    assert model.receptive_field == 27 and model.kernel == 3
    assert model.dilations == (1, 3, 9)
    single = CausalTemporalLifter(receptive_field=1)
    assert single.receptive_field == 1 and single.kernel == 1
    assert len(single.blocks) == len(model.blocks) and single.channels == model.channels
    with pytest.raises(ValueError, match="receptive_field 10"):
        CausalTemporalLifter(receptive_field=10)


def test_shapes_padding_and_cropping() -> None:
    model = _model()
    x = torch.randn(2, 40, 17, 2)
    with torch.no_grad():
        assert model(x[:, :27]).shape == (2, 17, 3)
        assert torch.equal(model(x), model(x[:, -27:]))  # only the last 27 frames count
        padded = torch.cat([x[:, :1].expand(-1, 22, -1, -1), x[:, :5]], dim=1)
        torch.testing.assert_close(model(x[:, :5]), model(padded))  # short input: first frame repeated
        assert model.forward_sequence(x).shape == (2, 40, 17, 3)
        assert model.forward_sequence(x, pad=False).shape == (2, 14, 17, 3)
    with pytest.raises(ValueError, match="expected"):
        model(torch.zeros(1, 27, 16, 2))


def test_causal_and_exact_receptive_field() -> None:
    """Output t never depends on frames after t, nor on frames before t − 26."""
    model = _model()
    x = torch.randn(1, 60, 17, 2)
    t = 40
    future = x.clone()
    future[:, t + 1 :] = torch.randn(1, 60 - t - 1, 17, 2) * 5
    with torch.no_grad():
        a, b = model.forward_sequence(x), model.forward_sequence(future)
        assert torch.equal(a[:, : t + 1], b[:, : t + 1])
        assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])
        for frame, changes in ((t - 27, False), (t - 26, True)):
            past = x.clone()
            past[:, frame] += 3.0
            assert torch.allclose(model.forward_sequence(past)[:, t], a[:, t]) is not changes
        # the one-window forward is the dense output at that frame
        for k in (0, 10, t):
            torch.testing.assert_close(model(x[:, : k + 1]), a[:, k], rtol=1e-5, atol=1e-6)


# Mapping, normalisation, placement -------------------------------------------------------------


def test_coco_to_h36m_mapping() -> None:
    rng = np.random.default_rng(0)
    coco = rng.uniform(0, 100, (17, 2))
    scores = rng.uniform(0, 1, 17)
    h36m, h_scores = coco_to_h36m(coco, scores)
    assert h_scores is not None
    mid = lambda a, b: (coco[C[a]] + coco[C[b]]) / 2  # noqa: E731
    np.testing.assert_allclose(h36m[H["root"]], mid("left_hip", "right_hip"))
    np.testing.assert_allclose(h36m[H["thorax"]], mid("left_shoulder", "right_shoulder"))
    np.testing.assert_allclose(h36m[H["spine"]], (h36m[H["root"]] + h36m[H["thorax"]]) / 2)
    np.testing.assert_allclose(h36m[H["head"]], mid("left_eye", "right_eye"))
    np.testing.assert_allclose(h36m[H["neck_base"]], coco[C["nose"]])
    for side in ("left", "right"):
        np.testing.assert_allclose(h36m[H[f"{side}_foot"]], coco[C[f"{side}_ankle"]])
        for joint in ("hip", "knee", "shoulder", "elbow", "wrist"):
            np.testing.assert_allclose(h36m[H[f"{side}_{joint}"]], coco[C[f"{side}_{joint}"]])
    assert h_scores[H["root"]] == min(scores[C["left_hip"]], scores[C["right_hip"]])
    assert h_scores[H["neck_base"]] == scores[C["nose"]]
    np.testing.assert_allclose(H36M_FROM_COCO.sum(axis=1), 1.0)
    # batched, 3D, and back to COCO for the 13 joints that exist in both
    batch = rng.normal(size=(4, 3, 17, 3))
    back, valid = h36m_to_coco(coco_to_h36m(batch)[0])
    assert (
        valid.sum() == 13 and not valid[[C["left_eye"], C["right_eye"], C["left_ear"], C["right_ear"]]].any()
    )
    np.testing.assert_allclose(back[..., valid, :], batch[..., valid, :])


def test_normalize_2d_box() -> None:
    kp = np.array([[100.0, 50.0], [140.0, 250.0], [120.0, 150.0], [900.0, 900.0]])
    scores = np.array([0.9, 0.9, 0.9, 0.1])  # the last one is an unsure outlier
    norm, centre, scale = normalize_2d(kp, scores)
    np.testing.assert_allclose(centre, [120.0, 150.0])
    assert scale == pytest.approx(100.0)
    np.testing.assert_allclose(norm[:3], [[-0.2, -1.0], [0.2, 1.0], [0.0, 0.0]])
    # invariant to image translation and scale (the point of box normalisation)
    np.testing.assert_allclose(normalize_2d(kp * 3 + 7, scores)[0], norm)
    # all unsure: every keypoint counts
    assert normalize_2d(kp, np.zeros(4))[2] == pytest.approx(425.0)


def _project(points: np.ndarray) -> np.ndarray:
    return np.stack(
        [
            CAMERA.fx * points[:, 0] / points[:, 2] + CAMERA.cx,
            CAMERA.fy * points[:, 1] / points[:, 2] + CAMERA.cy,
        ],
        axis=1,
    )


def _posed(seed: int = 0, height: float = 1.8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random pose 4 m ahead: (17, 3) H36M-17 camera-frame joints, their exact pixels,
    and the (17, 3) COCO-17 joints they derive from."""
    rng = np.random.default_rng(seed)
    body = forward_kinematics(BodyShape(height), sample_pose(rng, "arms"))
    world = body.keypoints @ rot_y(rng.uniform(0, 6.28)).T
    coco = world * np.array([-1.0, -1.0, 1.0]) + np.array([0.3, 0.8, 4.0])  # y up → y down
    h36m = coco_to_h36m(coco)[0]
    return h36m, _project(h36m), coco


def test_stature_of_the_body_model() -> None:
    for height in (1.55, 1.8):
        body = forward_kinematics(BodyShape(height), Pose({}))
        assert skeleton_stature(coco_to_h36m(body.keypoints)[0]) == pytest.approx(height, abs=1e-3)


def test_place_in_camera_recovers_translation() -> None:
    truth, uv, _ = _posed()
    rel = truth - truth[0]
    placed = place_in_camera(rel, uv, CAMERA, body_height_m=None)
    assert np.abs(placed - truth).max() < 1e-3
    with_depth = place_in_camera(rel, uv, CAMERA, body_height_m=None, root_depth=float(truth[0, 2]))
    assert np.abs(with_depth - truth).max() < 1e-3
    # a skeleton lifted at the wrong scale, rescaled to the known stature
    stature = skeleton_stature(rel)
    rescaled = place_in_camera(0.9 * rel, uv, CAMERA, body_height_m=stature)
    assert np.abs(rescaled - truth).max() < 1e-3
    # unsure keypoints leave the fit
    scores = np.ones(17)
    bad = uv.copy()
    bad[[3, 13]] += 80.0
    scores[[3, 13]] = 0.05
    assert np.abs(place_in_camera(rel, bad, CAMERA, None, scores=scores) - truth).max() < 1e-3


# Runtime ring buffers ----------------------------------------------------------------------------


class Recorder:
    """A stand-in model: remembers the windows it was given, returns fixed skeletons."""

    def __init__(self, output: np.ndarray | None = None) -> None:
        self.windows: list[np.ndarray] = []
        self.output = output

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        self.windows.append(windows.copy())
        if self.output is not None:
            return np.repeat(self.output[None], len(windows), axis=0)
        return np.ones((len(windows), 17, 3))


def _frame(kp: np.ndarray) -> np.ndarray:
    return normalize_2d(coco_to_h36m(kp)[0])[0].astype(np.float32)


def test_ring_buffer_per_track() -> None:
    rng = np.random.default_rng(1)
    kps = rng.uniform(0, 400, (6, 17, 2))
    rec = Recorder()
    lifter = TemporalLifter(rec, receptive_field=4, max_age=0.25)
    out = lifter.update([5], kps[0:1], None, stamp=0.0)
    assert out.shape == (1, 17, 3) and np.all(out[:, 0] == 0)  # root-relative by construction
    np.testing.assert_allclose(rec.windows[-1][0], np.stack([_frame(kps[0])] * 4))  # start: padded
    lifter.update([5, 7], kps[1:3], None, stamp=0.1)
    w5, w7 = rec.windows[-1]
    np.testing.assert_allclose(w5, np.stack([_frame(kps[0])] * 3 + [_frame(kps[1])]))
    np.testing.assert_allclose(w7, np.stack([_frame(kps[2])] * 4))  # independent, own padding
    for i, stamp in enumerate((0.2, 0.3, 0.4)):  # the buffer keeps the last 4 frames
        lifter.update([5], kps[3 + i : 4 + i], None, stamp=stamp)
    np.testing.assert_allclose(rec.windows[-1][0], np.stack([_frame(k) for k in kps[[1, 3, 4, 5]]]))
    assert lifter.track_ids == [5]  # 7 unseen for 0.3 s > max_age: dropped
    lifter.update([7], kps[0:1], None, stamp=0.45)
    np.testing.assert_allclose(rec.windows[-1][0], np.stack([_frame(kps[0])] * 4))  # 7 starts afresh
    lifter.update([0], kps[1:2], None, stamp=0.5)  # untracked: one frame, not buffered
    np.testing.assert_allclose(rec.windows[-1][0], np.stack([_frame(kps[1])] * 4))
    assert lifter.track_ids == [5, 7]
    lifter.update([], np.zeros((0, 17, 2)), None, stamp=0.1)  # time went back (bag loop)
    assert lifter.track_ids == []


def test_lift_people_fills_camera_frame_3d() -> None:
    truth, _, coco = _posed(seed=3)
    uv = _project(coco)  # exact COCO pixels; the derived H36M joints are then 2D means
    person = Person(3, np.array([0, 0, 1, 1.0]), 0.9, uv.astype(np.float32), np.ones(17, np.float32))
    lifter = TemporalLifter(Recorder(truth - truth[0]), receptive_field=27)
    (joints,), (placed,) = lifter.lift_people([person], 0.0, CAMERA, body_height_m=None)
    assert np.abs(placed - truth).max() < 0.01  # 2D mid-points are not exact projections of 3D ones
    person.joints_3d = joints
    assert (joints.source == np.where(joints.valid, SOURCE_LIFTER, SOURCE_NONE)).all()
    assert person.joints_3d is not None
    valid = person.joints_3d.valid
    assert valid.sum() == 13
    assert np.abs(person.joints_3d.positions[valid] - coco[valid]).max() < 0.01
    assert np.isnan(
        person.joints_3d.positions[~valid]
    ).all()  # eyes and ears: NaN, like depth's invalid joints


# ONNX -------------------------------------------------------------------------------------------


def test_onnx_export_parity_and_metadata(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from pose_perception.lifting import LifterInfo, OnnxLifterModel, export_lifter

    model = _model(rf=27, channels=64)
    path = export_lifter(model, tmp_path / "lifter.onnx", LifterInfo(27, extra={"note": "test"}))
    onnx_model = OnnxLifterModel(path)
    assert onnx_model.info.receptive_field == 27
    assert onnx_model.info.input_joints == H36M17.keypoint_names
    assert onnx_model.info.extra == {"note": "test"}
    windows = np.random.default_rng(0).normal(size=(3, 27, 17, 2)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(windows)).numpy()
    ours = onnx_model(windows)
    assert np.abs(ours - ref).max() / np.abs(ref).max() <= 1e-4
    # the runtime gives the same answers from the file and from the module
    kps = np.random.default_rng(1).uniform(0, 300, (2, 17, 2))
    a = TemporalLifter(path).update([1, 2], kps, None, 0.0)
    b = TemporalLifter(model).update([1, 2], kps, None, 0.0)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_open_lifter_bundled_and_bad_files(tmp_path: Path) -> None:
    """What the node's ``three_d.lifter_model`` opens: empty = the bundled causal lifter; a
    missing, unreadable or non-lifter file is an error naming it."""
    onnx = pytest.importorskip("onnx")
    from pose_perception.lifting import BUNDLED_LIFTER, OnnxLifterModel, lifter_model_path, open_lifter

    lifter = open_lifter(max_age=0.5)
    assert isinstance(lifter.model, OnnxLifterModel) and Path(lifter.model.path).name == BUNDLED_LIFTER
    assert lifter.model.path == lifter_model_path("") and lifter.receptive_field == 27
    assert lifter.max_age == 0.5 and lifter.info.extra.get("train_data") == "synthetic"
    truth, uv, _ = _posed(seed=3, height=1.7)
    person = Person(4, np.array([0, 0, 1, 1.0]), 0.9, uv.astype(np.float32), np.ones(17, np.float32))
    (joints,), (placed,) = lifter.lift_people([person], 0.0, CAMERA)  # the first frame is answered at once
    assert joints.valid.sum() == 13
    assert abs(placed[0, 2] - truth[0, 2]) < 0.25 * truth[0, 2]  # root depth (truth: 4 m)
    assert lifter.track_ids == [4]

    missing = tmp_path / "no_such_lifter.onnx"
    with pytest.raises(FileNotFoundError, match=f"lifter model not found: {missing}"):
        open_lifter(missing)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a protobuf")
    with pytest.raises(ValueError, match=f"{garbage}: cannot load ONNX model"):
        open_lifter(garbage)
    identity = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("Identity", ["x"], ["y"])],
            "identity",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
        ),
        opset_imports=[onnx.helper.make_opsetid("", 17)],
    )
    identity.ir_version = 8
    not_a_lifter = tmp_path / "pose.onnx"
    not_a_lifter.write_bytes(identity.SerializeToString())
    with pytest.raises(ValueError, match=f"{not_a_lifter}: not a lifter export"):
        open_lifter(not_a_lifter)


def test_open_lifter_for_checks_the_pose_skeleton_first(tmp_path: Path) -> None:
    """The node, ``run --three-d lifter`` and bag mode open the lifter this way: a pose model
    without COCO-17 keypoints is refused (naming it) before any lifter file is read."""
    pytest.importorskip("onnx")
    from pose_perception.config import Config, EstimatorConfig, ThreeDConfig
    from pose_perception.lifting import open_lifter_for

    def config(lifter_model: str = "", pose_model: str = "rtmpose-t") -> Config:
        return Config(
            estimator=EstimatorConfig(model=pose_model),
            three_d=ThreeDConfig(mode="lifter", lifter_model=lifter_model, lifter_max_age_s=0.25),
        )

    lifter = open_lifter_for(COCO17, config())
    assert lifter.receptive_field == 27 and lifter.max_age == 0.25
    missing = str(tmp_path / "none.onnx")
    with pytest.raises(ValueError, match=r"reads COCO-17 keypoints; pose model 'my\.onnx' gives h36m17"):
        open_lifter_for(H36M17, config(missing, "my.onnx"))  # the skeleton, not the missing file
    with pytest.raises(FileNotFoundError, match=f"lifter model not found: {missing}"):
        open_lifter_for(COCO17, config(missing))


def test_body17_indices_finds_the_coco_body_by_name() -> None:
    from pose_perception.lifting import body17_indices
    from pose_perception.skeletons import get_skeleton

    np.testing.assert_array_equal(body17_indices(COCO17), np.arange(17))
    np.testing.assert_array_equal(body17_indices(get_skeleton("coco_wholebody")), np.arange(17))
    for name in ("h36m17", "hand21", "face106", "ap10k"):
        assert body17_indices(get_skeleton(name)) is None


# Training ---------------------------------------------------------------------------------------


def test_synthetic_sequences_are_deterministic() -> None:
    from pose_perception.training.lifter import LifterConfig, make_dataset

    cfg = LifterConfig(frames=12)
    a, b = make_dataset(cfg, 3, seed=5), make_dataset(cfg, 3, seed=5)
    assert a["inputs"].shape == (3, 12, 17, 2) and a["targets"].shape == (3, 12, 17, 3)
    np.testing.assert_array_equal(a["inputs"], b["inputs"])
    np.testing.assert_array_equal(a["targets"][:, :, 0], 0.0)  # root-relative
    assert np.abs(a["inputs"]).max() < 3.0  # box-normalised (outliers may leave [-1, 1])
    assert not np.array_equal(make_dataset(cfg, 3, seed=6)["targets"], a["targets"])


def test_training_is_deterministic() -> None:
    from pose_perception.training.lifter import LifterConfig, make_dataset, train_model

    cfg = replace(LifterConfig(), frames=30, channels=16, batch_size=8, eval_points=1)
    train, val = make_dataset(cfg, 6, seed=1), make_dataset(cfg, 2, seed=2)
    runs = [train_model(cfg, 27, train, val, 4, "t", progress=False) for _ in range(2)]
    for a, b in zip(runs[0][0].state_dict().values(), runs[1][0].state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert runs[0][1] == runs[1][1]


@pytest.mark.slow
def test_causal_model_beats_single_frame(tmp_path: Path) -> None:
    from pose_perception.training.lifter import LifterConfig, run, table

    cfg = replace(
        LifterConfig(),
        out=str(tmp_path),
        train_sequences=300,
        val_sequences=80,
        frames=48,
        channels=48,
        iters=1000,
        eval_points=1,
    )
    t0 = time.perf_counter()
    results = run(cfg, progress=False, export=False)
    print(f"\n{table(results)}\n({time.perf_counter() - t0:.0f} s)")
    causal, single = results["models"]
    assert causal["receptive_field"] == 27 and single["receptive_field"] == 1
    assert causal["mpjpe_mm"] < single["mpjpe_mm"]
    assert (tmp_path / "val_log.csv").is_file() and (tmp_path / "train_log.csv").is_file()


def test_no_progress_shows_no_bars(tmp_path, capsys):
    """``--no-progress`` (logs, CI) silences every bar, the data generation's too."""
    from pose_perception.training.lifter import main

    config = tmp_path / "tiny.yaml"
    config.write_text("train_sequences: 4\nval_sequences: 2\nframes: 30\nchannels: 8\neval_points: 1\n")
    assert main(["--config", str(config), "--out", str(tmp_path / "w"), "--iters", "2", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "it/s" not in err and "\r" not in err and "data" in err  # the summary line stays
