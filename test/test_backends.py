"""Execution-provider selection, the ONNX Runtime / PyTorch backends and PoseEstimator inputs."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from pose_perception import PoseEstimator
from pose_perception.config import EstimatorConfig
from pose_perception.estimator import validate_boxes, validate_image
from pose_perception.model_info import checkpoint_info
from pose_perception.models import build_rtmpose
from pose_perception.runtime import BACKEND_NAMES, open_backend
from pose_perception.runtime.export import export_onnx
from pose_perception.runtime.onnxruntime_backend import OnnxRuntimeBackend, select_providers
from pose_perception.runtime.torch_backend import TorchBackend
from pose_perception.skeletons import COCO17, Skeleton

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TRT = "TensorrtExecutionProvider"
ALL = [TRT, CUDA, CPU]

# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_rtmpose("rtmpose-t").eval()


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("backends")


@pytest.fixture(scope="module")
def dynamic_onnx(model, work_dir) -> Path:
    return Path(export_onnx(model, model.model_info(), work_dir / "dynamic.onnx"))


@pytest.fixture(scope="module")
def fixed_onnx(model, work_dir) -> Path:
    path = work_dir / "fixed.onnx"
    return Path(export_onnx(model, model.model_info(), path, dynamic_batch=False))


@pytest.fixture(scope="module")
def stripped_onnx(dynamic_onnx, work_dir) -> Path:
    """Like an official MMDeploy export: same graph, no metadata_props."""
    proto = onnx.load(str(dynamic_onnx))
    del proto.metadata_props[:]
    path = work_dir / "official_style.onnx"
    onnx.save(proto, str(path))
    return path


@pytest.fixture(scope="module")
def checkpoint(model, work_dir) -> Path:
    path = work_dir / "weights.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def torch_estimator(model) -> PoseEstimator:
    estimator = PoseEstimator(copy.deepcopy(model), backend="torch")
    estimator.estimate(np.zeros((64, 64, 3), np.uint8), BOXES[:, :4] / 4)  # warm up the CPU kernels
    return estimator


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(240, 320, 3), dtype=np.uint8)


BOXES = np.array([[20.0, 10.0, 180.0, 230.0], [150.0, 40.0, 300.0, 200.0]], np.float32)


def _batch(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 256, 192)).astype(np.float32)


# ---------------------------------------------------------------------------- providers


def test_cpu_selects_only_cpu():
    assert select_providers("cpu", ALL) == [CPU]


def test_auto_prefers_tensorrt_then_cuda_then_cpu(monkeypatch, tmp_path):
    monkeypatch.setenv("POSE_PERCEPTION_HOME", str(tmp_path))
    providers = select_providers("auto", ALL)
    assert [p if isinstance(p, str) else p[0] for p in providers] == [TRT, CUDA, CPU]
    assert providers[-1] == CPU
    (_, trt_opts), (_, cuda_opts) = providers[:2]
    assert trt_opts["trt_engine_cache_enable"] is True
    assert trt_opts["trt_engine_cache_path"] == os.path.join(str(tmp_path), "trt")
    assert "device_id" not in trt_opts and cuda_opts == {}


def test_auto_uses_what_is_available():
    assert [p[0] for p in select_providers("auto", [CUDA, CPU])[:-1]] == [CUDA]
    assert select_providers("auto", [CPU]) == [CPU]


def test_cuda_index_sets_device_id():
    assert select_providers("cuda:1", ALL) == [(CUDA, {"device_id": 1}), CPU]
    providers = select_providers("tensorrt:2", ALL)
    assert [p[0] for p in providers[:-1]] == [TRT, CUDA]
    assert providers[0][1]["device_id"] == 2 and providers[1][1] == {"device_id": 2}


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "tensorrt"])
def test_gpu_device_without_gpu_provider(device):
    with pytest.raises(RuntimeError, match="onnxruntime-gpu"):
        select_providers(device, [CPU])


def test_tensorrt_needs_tensorrt_provider():
    with pytest.raises(RuntimeError, match=TRT):
        select_providers("tensorrt", [CUDA, CPU])


@pytest.mark.parametrize("device", ["gpu", "mps", "", "opencl:0"])
def test_unknown_device(device):
    with pytest.raises(ValueError, match="unknown device"):
        select_providers(device, ALL)


@pytest.mark.skipif(CUDA in ort.get_available_providers(), reason="onnxruntime-gpu is installed")
def test_onnxruntime_backend_cuda_without_gpu_build(dynamic_onnx):
    with pytest.raises(RuntimeError, match="onnxruntime-gpu"):
        OnnxRuntimeBackend(dynamic_onnx, device="cuda")


# ---------------------------------------------------------------------------- backends


def test_onnx_matches_torch(model, dynamic_onnx):
    batch = _batch(2)
    ours = OnnxRuntimeBackend(dynamic_onnx).infer(batch)
    ref = TorchBackend(copy.deepcopy(model), "cpu").infer(batch)
    for a, b in zip(ours, ref, strict=True):
        assert a.shape == b.shape and a.dtype == np.float32
        assert np.abs(a - b).max() <= 1e-4 * np.abs(b).max()


def test_fixed_batch_onnx_loops_over_larger_batch(dynamic_onnx, fixed_onnx):
    fixed = OnnxRuntimeBackend(fixed_onnx)
    assert fixed.fixed_batch == 1
    dynamic = OnnxRuntimeBackend(dynamic_onnx)
    assert dynamic.fixed_batch is None
    batch = _batch(3)
    fx, fy = fixed.infer(batch)
    dx, dy = dynamic.infer(batch)
    assert fx.shape == (3, 17, 384) and fy.shape == (3, 17, 512)
    np.testing.assert_allclose(fx, dx, rtol=1e-4, atol=1e-5 * np.abs(dx).max())
    np.testing.assert_allclose(fy, dy, rtol=1e-4, atol=1e-5 * np.abs(dy).max())
    # per-sample results do not depend on the batch (sample 2 alone == sample 2 in the batch)
    single = fixed.infer(batch[2:3])
    np.testing.assert_allclose(single[0][0], fx[2], rtol=1e-5, atol=1e-6)


def test_bogus_onnx_file_is_value_error_naming_path(tmp_path):
    path = tmp_path / "bogus.onnx"
    path.write_bytes(b"this is not an onnx model")
    with pytest.raises(ValueError) as err:
        OnnxRuntimeBackend(path)
    assert str(path) in str(err.value)
    with pytest.raises(FileNotFoundError):
        OnnxRuntimeBackend(tmp_path / "absent.onnx")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_torch_backend_cuda_without_gpu(model):
    with pytest.raises(RuntimeError, match="CUDA"):
        TorchBackend(copy.deepcopy(model), "cuda")
    with pytest.raises(RuntimeError, match="CUDA"):
        PoseEstimator(copy.deepcopy(model), backend="torch", device="cuda:0")


def test_torch_backend_rejects_other_devices(model):
    with pytest.raises(ValueError, match="unsupported torch device"):
        TorchBackend(copy.deepcopy(model), "meta")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_torch_backend_cuda_matches_cpu(model, monkeypatch):
    # compare full fp32 on both sides (TF32 convolutions would differ by ~1e-3 by design)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    batch = _batch(2)
    gpu = TorchBackend(copy.deepcopy(model), "cuda")
    assert next(gpu.model.parameters()).is_cuda
    ours = gpu.infer(batch)
    ref = TorchBackend(copy.deepcopy(model), "cpu").infer(batch)
    for a, b in zip(ours, ref, strict=True):
        assert a.shape == b.shape
        assert np.abs(a - b).max() <= 1e-3 * np.abs(b).max()


# ---------------------------------------------------------------------------- the backend table


@pytest.mark.parametrize(
    ("backend", "device", "valid"),
    [
        ("onnxruntime", "tensorrt:1", True),
        ("torch", "cuda:1", True),
        ("torch", "auto", True),
        ("torch", "tensorrt", False),
        ("torch", "cuda:x", False),
        ("onnxruntime", "mps", False),
    ],
)
def test_config_checks_the_device_against_its_backend(backend, device, valid):
    config = EstimatorConfig(backend=backend, device=device)
    if valid:
        config.validate()
    else:
        with pytest.raises(ValueError, match="device"):
            config.validate()


def test_config_rejects_a_backend_not_in_the_table():
    with pytest.raises(ValueError, match="backend"):
        EstimatorConfig(backend="tensorflow").validate()


def test_open_backend_names_who_runs_a_file(dynamic_onnx, tmp_path):
    with pytest.raises(ValueError, match="runs on backend='onnxruntime', not on backend 'torch'"):
        open_backend(dynamic_onnx, "torch")
    with pytest.raises(ValueError, match=r"no backend runs \.engine files \(only \.onnx/\.pth/\.pt\)"):
        open_backend(tmp_path / "model.engine", "onnxruntime")
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'; use one of onnxruntime, torch"):
        open_backend(dynamic_onnx, "tensorflow")


def test_open_backend_checkpoint_needs_its_model_info(checkpoint):
    for backend in BACKEND_NAMES:
        with pytest.raises(ValueError, match="needs its ModelInfo") as err:
            open_backend(checkpoint, backend)
        assert str(checkpoint) in str(err.value)


def test_open_backend_checkpoint_on_torch_runs_its_weights(model, checkpoint):
    info = checkpoint_info("rtmpose-t", None)
    opened, opened_info = open_backend(checkpoint, "torch", info=info)
    assert opened_info == info == model.model_info()
    batch = _batch(1)
    for got, want in zip(opened.infer(batch), TorchBackend(copy.deepcopy(model)).infer(batch), strict=True):
        np.testing.assert_array_equal(got, want)


def test_module_info_has_the_module_keypoint_count():
    five = Skeleton.from_dict({"name": "five", "keypoints": ["a", "b", "c", "d", "e"]})
    module = build_rtmpose("rtmpose-t", 5)
    info = module.model_info(five)
    assert (info.num_keypoints, info.input_size, info.arch) == (5, (192, 256), "rtmpose-t")
    with pytest.raises(ValueError, match="5 keypoints: pass its skeleton"):
        module.model_info()
    with pytest.raises(ValueError, match="rtmpose-t: skeleton 'coco17' has 17 keypoints, model has 5"):
        module.model_info(COCO17)
    assert checkpoint_info("rtmpose-t", five) == info


# ---------------------------------------------------------------------------- estimator inputs


@pytest.mark.parametrize("bad", [None, [[0, 0, 0]], "image.png", torch.zeros(8, 8, 3, dtype=torch.uint8)])
def test_image_must_be_numpy(torch_estimator, bad):
    with pytest.raises(TypeError, match="numpy"):
        torch_estimator.estimate(bad, BOXES)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((64, 64, 3), np.float32),
        np.zeros((64, 64, 3), np.uint16),
        np.zeros((64, 64, 4), np.uint8),
        np.zeros((64, 64, 1), np.uint8),
        np.zeros((0, 64, 3), np.uint8),
        np.zeros((2, 64, 64, 3), np.uint8),
    ],
    ids=["float32", "uint16", "4-channels", "1-channel", "empty", "4-d"],
)
def test_bad_images_are_value_errors(torch_estimator, bad):
    with pytest.raises(ValueError, match="image"):
        torch_estimator.estimate(bad, BOXES)


def test_grey_image_equals_replicated_bgr(torch_estimator, image):
    grey = image[..., 1].copy()
    assert validate_image(grey).shape == (240, 320, 3)
    kp, scores = torch_estimator.estimate(grey, BOXES)
    ref_kp, ref_scores = torch_estimator.estimate(np.repeat(grey[..., None], 3, axis=2), BOXES)
    assert kp.shape == (2, 17, 2) and scores.shape == (2, 17)
    np.testing.assert_array_equal(kp, ref_kp)
    np.testing.assert_array_equal(scores, ref_scores)


@pytest.mark.parametrize("empty", [np.zeros((0, 4)), np.zeros((0, 5)), []], ids=["0x4", "0x5", "list"])
def test_empty_boxes(torch_estimator, image, empty):
    kp, scores = torch_estimator.estimate(image, empty)
    assert isinstance(kp, np.ndarray) and isinstance(scores, np.ndarray)
    assert kp.shape == (0, 17, 2) and scores.shape == (0, 17)


def test_empty_boxes_still_validate_the_image(torch_estimator):
    with pytest.raises(ValueError):
        torch_estimator.estimate(np.zeros((8, 8, 3), np.float64), np.zeros((0, 4)))


@pytest.mark.parametrize(
    ("boxes", "match"),
    [
        ([[0, 0, np.nan, 10]], "NaN"),
        ([[0, 0, np.inf, 10]], "NaN or infinite"),
        ([[10, 10, 10, 50]], "zero or negative size"),
        ([[10, 60, 50, 50]], "zero or negative size"),
        ([[0, 0, 10, 10], [5, 5, 5, 20]], "box 1"),
        ([[0, 0, 10]], r"\(N,4\)"),
        ([[0, 0, 10, 10, 0.9, 1]], r"\(N,4\)"),
        (np.zeros((2, 2, 4)), r"\(N,4\)"),
    ],
)
def test_bad_boxes(torch_estimator, image, boxes, match):
    with pytest.raises(ValueError, match=match):
        torch_estimator.estimate(image, np.asarray(boxes, dtype=np.float32))


def test_boxes_with_scores_and_single_box(torch_estimator, image):
    with_scores = np.hstack([BOXES, np.array([[0.9], [0.4]], np.float32)])
    np.testing.assert_array_equal(validate_boxes(with_scores), BOXES)
    kp5, s5 = torch_estimator.estimate(image, with_scores)
    kp4, s4 = torch_estimator.estimate(image, BOXES)
    np.testing.assert_array_equal(kp5, kp4)
    np.testing.assert_array_equal(s5, s4)
    kp1, s1 = torch_estimator.estimate(image, BOXES[1])  # a single (4,) box
    assert s1.shape == (1, 17)
    assert kp1.shape == (1, 17, 2)
    np.testing.assert_allclose(kp1[0], kp4[1], atol=1e-3)


def test_onnx_with_torch_backend_rejected(dynamic_onnx):
    with pytest.raises(ValueError, match="onnxruntime"):
        PoseEstimator(str(dynamic_onnx), backend="torch")


def test_checkpoint_without_arch_rejected(checkpoint):
    with pytest.raises(ValueError, match="arch") as err:
        PoseEstimator(str(checkpoint), backend="torch")
    assert str(checkpoint) in str(err.value)


def test_unknown_backend_and_model(checkpoint):
    with pytest.raises(ValueError, match="unknown backend"):
        PoseEstimator(str(checkpoint), backend="tensorflow", arch="rtmpose-t")
    with pytest.raises(ValueError, match="registry name"):
        PoseEstimator("no-such-model", backend="torch")


def test_module_on_onnxruntime_rejected(model):
    with pytest.raises(ValueError, match="backend='torch'"):
        PoseEstimator(copy.deepcopy(model), backend="onnxruntime")


def test_official_style_onnx_without_metadata(dynamic_onnx, stripped_onnx, image):
    assert onnx.load(str(stripped_onnx)).metadata_props == []
    official = PoseEstimator(str(stripped_onnx))
    ours = PoseEstimator(str(dynamic_onnx))
    assert official.info.arch == "official-onnx" and ours.info.arch == "rtmpose-t"
    assert official.skeleton.keypoint_names == COCO17.keypoint_names
    assert official.skeleton.flip_indices == COCO17.flip_indices
    assert official.info.input_size == (192, 256)
    assert official.info.simcc_split_ratio == 2.0
    kp_a, s_a = official.estimate(image, BOXES)
    kp_b, s_b = ours.estimate(image, BOXES)
    assert kp_a.shape == (2, 17, 2)
    np.testing.assert_allclose(kp_a, kp_b, atol=1e-4)
    np.testing.assert_allclose(s_a, s_b, atol=1e-5)


def test_onnx_estimator_matches_torch_estimator(dynamic_onnx, torch_estimator, image):
    kp_o, s_o = PoseEstimator(str(dynamic_onnx)).estimate(image, BOXES)
    kp_t, s_t = torch_estimator.estimate(image, BOXES)
    np.testing.assert_allclose(s_o, s_t, atol=1e-3 * max(1.0, float(np.abs(s_t).max())))
    # SimCC argmax can flip between near-equal bins; almost all keypoints agree exactly
    assert np.mean(np.abs(kp_o - kp_t) < 1e-3) > 0.9


def test_checkpoint_on_onnxruntime_exports_once_and_reuses(checkpoint, tmp_path, image):
    first = PoseEstimator(str(checkpoint), arch="rtmpose-t", cache_dir=tmp_path)
    exported = sorted((tmp_path / "onnx").glob("*.onnx"))
    assert len(exported) == 1
    assert exported[0].name.startswith("weights-rtmpose-t-")
    assert first.backend.path == str(exported[0])
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == [exported[0].name]  # no temp left
    mtime = exported[0].stat().st_mtime_ns

    second = PoseEstimator(str(checkpoint), arch="rtmpose-t", cache_dir=tmp_path)
    assert sorted((tmp_path / "onnx").glob("*.onnx")) == exported
    assert exported[0].stat().st_mtime_ns == mtime
    assert second.backend.path == first.backend.path
    kp1, s1 = first.estimate(image, BOXES)
    kp2, s2 = second.estimate(image, BOXES)
    np.testing.assert_array_equal(kp1, kp2)
    np.testing.assert_array_equal(s1, s2)
