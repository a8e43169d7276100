"""Robots running ONNX Runtime install no torch: the ORT path must never import it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pose_perception import PoseEstimator
from pose_perception.models import build_rtmpose
from pose_perception.runtime.export import export_onnx

SCRIPT = """
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import numpy as np
from pose_perception import PoseEstimator
from pose_perception.cli import main
est = PoseEstimator(sys.argv[1], flip_test=True)
kp, sc = est.estimate(np.zeros((120, 160, 3), np.uint8), np.array([[10, 10, 90, 110]]))
assert kp.shape == (1, 17, 2) and sc.shape == (1, 17), (kp.shape, sc.shape)
print("ok")
"""


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = build_rtmpose("rtmpose-t")
    return Path(export_onnx(model, model.model_info(), tmp_path_factory.mktemp("m") / "t.onnx"))


CACHED_CHECKPOINT = """
import sys
sys.modules["torch"] = None
from pose_perception import PoseEstimator
est = PoseEstimator(sys.argv[1], arch="rtmpose-t", cache_dir=sys.argv[2])
print(est.backend.path)
"""


def test_a_cached_checkpoint_export_runs_without_torch(tmp_path: Path) -> None:
    """A checkpoint's ModelInfo comes from its architecture alone, so the cached export
    is found (and run) without importing torch."""
    torch.manual_seed(0)
    checkpoint = tmp_path / "weights.pth"
    torch.save(build_rtmpose("rtmpose-t").state_dict(), checkpoint)
    exported = PoseEstimator(str(checkpoint), arch="rtmpose-t", cache_dir=tmp_path).backend.path
    result = subprocess.run(
        [sys.executable, "-c", CACHED_CHECKPOINT, str(checkpoint), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == exported


def test_onnxruntime_path_runs_without_torch(onnx_file: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(onnx_file)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


REGISTRY_START = """
import dataclasses, sys
sys.modules["torch"] = None
from pose_perception import PoseEstimator, zoo
entry = zoo.REGISTRY["rtmpose-t"]
zoo.REGISTRY["rtmpose-t"] = dataclasses.replace(entry, sha256=sys.argv[2])
try:
    est = PoseEstimator("rtmpose-t", cache_dir=sys.argv[1])
except ImportError as err:
    print("ImportError:", err)
else:
    print(est.backend.path)
"""


def _start_default_model_without_torch(cache: Path, sha256: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", REGISTRY_START, str(cache), sha256],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_default_registry_model_starts_without_torch_once_converted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rtmpose-t is a .pth registry entry: resolve → cached .pth → cached export. Before the
    first conversion a torch-free start says what is missing and where the ONNX goes; the
    conversion says it happens once; after it a torch-free start runs the cached ONNX."""
    from pose_perception import zoo

    entry = zoo.REGISTRY["rtmpose-t"]
    torch.manual_seed(0)
    torch.save(build_rtmpose("rtmpose-t").state_dict(), tmp_path / entry.filename)
    sha256 = zoo.sha256_of(tmp_path / entry.filename)

    refused = _start_default_model_without_torch(tmp_path, sha256)
    assert refused.startswith("ImportError:") and "converting it to ONNX once needs PyTorch" in refused
    assert entry.filename in refused and "/onnx/" in refused

    monkeypatch.setitem(zoo.REGISTRY, "rtmpose-t", dataclasses.replace(entry, sha256=sha256))
    with caplog.at_level("WARNING"):
        exported = PoseEstimator("rtmpose-t", cache_dir=tmp_path).backend.path
    assert f"converting {entry.filename} (rtmpose-t) to ONNX once" in caplog.text
    assert str(exported) in caplog.text
    assert _start_default_model_without_torch(tmp_path, sha256) == str(exported)
