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
