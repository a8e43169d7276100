"""Export of a trained checkpoint: ONNX (with metadata) parity vs PyTorch, and the
TensorRT step explaining why it cannot run on a machine without TensorRT/GPU."""

from __future__ import annotations

import pytest
import yaml

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from test_training_fixtures import one_thread, tiny_config  # noqa: E402

from pose_perception.training.config import config_to_dict  # noqa: E402
from pose_perception.training.export import PARITY_TOLERANCE, export_checkpoint, main, tensorrt_status  # noqa: E402
from pose_perception.training.model import build_model  # noqa: E402

pytestmark = pytest.mark.usefixtures(one_thread.__name__)


@pytest.fixture()
def trained(tmp_path):
    """A config (96×64 input) and a training-style checkpoint of random weights with an EMA."""
    cfg = tiny_config(tmp_path, tmp_path / "w")
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(config_to_dict(cfg)))
    torch.manual_seed(0)
    model = build_model(cfg)
    ema = {k: v.clone() for k, v in model.state_dict().items()}
    checkpoint = tmp_path / "last.pth"
    torch.save({"model": model.state_dict(), "optimizer": {}, "ema": {"steps": 1, "module": ema}}, checkpoint)
    return config, checkpoint


def test_onnx_export_matches_pytorch(trained, tmp_path):
    import onnx

    config, checkpoint = trained
    path, parity = export_checkpoint(str(config), str(checkpoint), str(tmp_path / "m.onnx"))
    print(f"ONNX Runtime vs PyTorch max relative difference: {parity:.2e}")
    assert parity <= PARITY_TOLERANCE
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert meta["input_size"] == "[64, 96]" and meta["skeleton_name"] == "coco17"


def test_tensorrt_build_says_why_it_cannot_run_here(trained, tmp_path, capsys):
    if tensorrt_status() is None:
        pytest.skip("TensorRT and a GPU are present: the engine would really be built")
    config, checkpoint = trained
    out = tmp_path / "m.onnx"
    argv = ["--config", str(config), "--checkpoint", str(checkpoint), "--out", str(out), "--trt",
            "--precision", "fp16", "--min-batch", "1", "--opt-batch", "4", "--max-batch", "16"]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "TensorRT engine skipped" in err
    assert tensorrt_status() in err  # names what is missing: the package or the GPU
    assert "--minShapes=input:1x3x96x64" in err and "--maxShapes=input:16x3x96x64" in err and "--fp16" in err
    assert out.is_file() and not out.with_suffix(".engine").exists()


def test_fp16_weights_halve_the_file_and_keep_the_outputs(trained, tmp_path, capsys):
    import numpy as np
    import onnx

    from pose_perception import PoseEstimator

    config, checkpoint = trained
    fp32, _ = export_checkpoint(str(config), str(checkpoint), str(tmp_path / "fp32.onnx"))
    out = tmp_path / "fp16.onnx"
    assert (
        main(["--config", str(config), "--checkpoint", str(checkpoint), "--out", str(out), "--fp16-weights"])
        == 0
    )
    text = capsys.readouterr().out
    difference = float(text.rsplit("difference to PyTorch fp32 ", 1)[1].split()[0])
    sizes = out.stat().st_size, (tmp_path / "fp32.onnx").stat().st_size
    print(f"fp16-weights vs PyTorch fp32: {difference:.2e}; bytes fp16 {sizes[0]}, fp32 {sizes[1]}")
    assert 0 < difference < 1e-2
    assert sizes[0] < 0.6 * sizes[1]
    proto = onnx.load(out)
    assert {p.key for p in proto.metadata_props} == {p.key for p in onnx.load(fp32).metadata_props}
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # float32 in and out
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 100, 3), np.uint8)
    box = np.array([[10.0, 5.0, 90.0, 115.0]])
    half, _ = PoseEstimator(out).estimate(image, box)
    full, _ = PoseEstimator(fp32).estimate(image, box)
    assert np.abs(half - full).max() <= 1.0  # px: at most a SimCC bin or two where logits tie


def test_training_models_start_from_the_official_head_init(tmp_path):
    """Near-zero SimCC logits at step 0 (RTMCCHead init_cfg), so training starts from
    near-uniform distributions instead of random peaks."""
    cfg = tiny_config(tmp_path, tmp_path / "w")
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    with torch.no_grad():
        simcc_x, simcc_y = model(torch.randn(2, 3, 96, 64))
    assert simcc_x.abs().max() < 0.05 and simcc_y.abs().max() < 0.05
    from pose_perception.models import RTMPose

    default = RTMPose(model.variant, 17).eval()
    with torch.no_grad():
        assert default(torch.randn(2, 3, 96, 64))[0].abs().max() > 0.2  # what the init changes


def test_exported_files_are_readable_by_others(trained, tmp_path):
    """Atomic writes go through mkstemp (owner-only); the result must get the normal
    umask permissions so that a model installed system-wide can be read by the node."""
    import os

    config, checkpoint = trained
    old = os.umask(0o022)
    try:
        path, _ = export_checkpoint(str(config), str(checkpoint), str(tmp_path / "m.onnx"))
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644
