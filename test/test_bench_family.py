"""The issue-15 benches keep working: quick runs of bench/rtmo_vs_topdown.py and
bench/wholebody_latency.py print their tables (the timings themselves are not checked), and
the RTMDet-nano stand-in is a detector ``OnnxDetector`` reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FLOAT = r"\d+\.\d+"


def run_bench(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    return done.stdout


@pytest.mark.slow
def test_detector_stand_in_is_read_as_a_yolox_raw_detector(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from rtmo_vs_topdown import DETECTOR_SIZE, export_detector
    finally:
        sys.path.remove(str(REPO / "bench"))
    from pose_perception.detection import OnnxDetector

    params = export_detector(tmp_path / "detector.onnx")
    detector = OnnxDetector(tmp_path / "detector.onnx", "rtmdet")
    assert detector.format == "yolox_raw" and detector.input_size == (DETECTOR_SIZE, DETECTOR_SIZE)
    assert 0.5e6 < params < 5e6  # RTMDet-nano's scale (0.99 M), not a toy graph
    boxes, scores = detector.detect(np.full((480, 640, 3), 90, np.uint8))
    assert boxes.shape == (len(scores), 4) and np.all((scores >= 0.5) & (scores <= 1.0))


@pytest.mark.slow
def test_rtmo_vs_topdown_quick_prints_both_sides_per_people_count() -> None:
    pytest.importorskip("torch")
    out = run_bench("rtmo_vs_topdown.py", "--quick", "--rtmo-backends", "torch")
    rows = re.findall(
        rf"^\s+(\d+) \|\s+({FLOAT})\s+({FLOAT})\s+(\d+)/(\d+)\s+{FLOAT} \|"
        rf"\s+({FLOAT})\s+{FLOAT}\s+({FLOAT})x",
        out,
        re.MULTILINE,
    )
    assert [int(row[0]) for row in rows] == [1, 2], out
    for people, top_fps, crops, _, frames, rtmo_fps, ratio in rows:
        # the stand-in hands the pose stage the frame's true boxes, and the pipeline keeps them all
        assert float(crops) == float(people) and int(frames) == 1
        assert float(top_fps) > 0 and float(rtmo_fps) > 0 and float(ratio) > 0
    assert re.search(r"^  RTMO-s torch: crossover: ", out, re.MULTILINE), out


@pytest.mark.slow
def test_wholebody_latency_quick_prints_per_person_times_and_ratio() -> None:
    pytest.importorskip("torch")
    out = run_bench("wholebody_latency.py", "--quick")
    assert re.search(r"^RTMW-m: rtmw-m, 192x256, 133 keypoints, 32\.26 M parameters$", out, re.MULTILINE)
    rows = re.findall(
        rf"^\s+(\d+) \|\s+({FLOAT})\s+({FLOAT}) \|\s+({FLOAT})\s+({FLOAT}) \|\s+({FLOAT})x", out, re.MULTILINE
    )
    assert [int(row[0]) for row in rows] == [1, 8], out
    for batch, body_call, body_person, whole_call, whole_person, _ in rows:
        assert float(body_person) == pytest.approx(float(body_call) / int(batch), abs=0.01)
        assert float(whole_person) == pytest.approx(float(whole_call) / int(batch), abs=0.01)
