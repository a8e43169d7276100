"""bench/boxmot_trackers.py: boxmot's trackers wrapped as ``FrameTracker``s (issue 16, item 5).

The boxmot tests run only in the bench environment (``bash scripts/setup_boxmot_env.sh``,
then ``.venv-boxmot/bin/python -m pytest test/test_boxmot_trackers.py``); in the project's
venv and in CI boxmot is absent and they are skipped. The last test runs everywhere: the
table bench works without boxmot and says why its rows are missing.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from pose_perception.synthetic.frames import render_frames
from pose_perception.synthetic.scenarios import make_scenario
from pose_perception.synthetic.walkers import Sequence, noisy_detections
from pose_perception.tracking import box_iou
from pose_perception.tracking_eval import run_tracker

BENCH = Path(__file__).resolve().parents[1] / "bench"
HAS_BOXMOT = importlib.util.find_spec("boxmot") is not None
needs_boxmot = pytest.mark.skipif(not HAS_BOXMOT, reason="boxmot is only in .venv-boxmot")
WARM_UP = 3  # boxmot's default min_hits: a new track has no id for its first frames


def _adapters() -> ModuleType:
    spec = importlib.util.spec_from_file_location("boxmot_trackers", BENCH / "boxmot_trackers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _before_they_meet(seed: int) -> Sequence:
    """A head-on clip cut before the two boxes first touch: an easy two-person sequence."""
    seq = make_scenario("head_on", seed=seed, seconds=8.0)
    touching = [box_iou(f.boxes[[0]], f.boxes[[1]])[0, 0] > 0 for f in seq.frames]
    return dataclasses.replace(seq, frames=seq.frames[: touching.index(True)])


@pytest.mark.slow
@needs_boxmot
@pytest.mark.parametrize("name", ["boxmot ByteTrack", "boxmot OC-SORT", "boxmot BoT-SORT+colour"])
def test_each_person_keeps_one_id_of_their_own(name: str) -> None:
    seq = _before_they_meet(seed=0)
    assert len(seq.frames) > 30
    # Rows come shuffled per frame: ids only stay with people if they are mapped by det index.
    dets = noisy_detections(seq, miss_rate=0.0, box_noise=0.01, keypoint_noise_px=0.0, seed=1)
    ids, _ = run_tracker(_adapters().BOXMOT_TRACKERS[name](), dets, render_frames(seq))
    seen: dict[int, set[int]] = {}
    for det, frame_ids in zip(dets[WARM_UP:], ids[WARM_UP:], strict=True):
        assert frame_ids.shape == det.gt_ids.shape and np.all(frame_ids > 0)
        for gt, tid in zip(det.gt_ids.tolist(), frame_ids.tolist(), strict=True):
            seen.setdefault(gt, set()).add(tid)
    assert sorted(seen) == [1, 2]
    assert all(len(tids) == 1 for tids in seen.values()), seen
    assert seen[1] != seen[2]


@needs_boxmot
def test_colour_histogram_tells_two_people_apart_and_knows_one_again() -> None:
    seq = _before_they_meet(seed=3)
    frames = render_frames(seq)
    first, later = seq.frames[0], seq.frames[20]
    adapters = _adapters()
    colour = adapters.ColourHistogram()
    a = colour.get_features(first.boxes, frames[0])
    b = colour.get_features(later.boxes, frames[20])
    assert a.shape == (2, adapters.HUE_BINS * adapters.SAT_BINS) and np.allclose(a.sum(axis=1), 1.0)
    same = [np.abs(a[i] - b[i]).sum() for i in range(2)]
    other = [np.abs(a[i] - b[1 - i]).sum() for i in range(2)]
    assert max(same) < min(other)
    outside = colour.get_features(np.array([[-500.0, -500.0, -400.0, -300.0]]), frames[0])
    assert np.allclose(outside, outside[0, 0]) and outside[0, 0] > 0  # flat, never a zero vector


@needs_boxmot
def test_botsort_refuses_to_run_without_the_frame() -> None:
    seq = _before_they_meet(seed=0)
    det = noisy_detections(seq, seed=1)[0]
    with pytest.raises(ValueError, match="needs the frames: run the bench without --no-frames"):
        _adapters().botsort_colour()(det, None)


def test_table_without_boxmot_prints_a_note_instead_of_its_rows() -> None:
    pytest.importorskip("motmetrics")
    args = ["--seeds", "0", "--families", "head_on", "--cameras", "eye", "--seconds", "1"]
    done = subprocess.run(
        [sys.executable, str(BENCH / "tracking_families.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "head_on" in line]
    names = [row.split("|")[1].strip() for row in rows]
    if HAS_BOXMOT:
        assert names == ["PoseTracker", "boxmot ByteTrack", "boxmot OC-SORT", "boxmot BoT-SORT+colour"]
        assert "no boxmot rows" not in done.stdout
    else:
        assert names == ["PoseTracker"]
        assert "no boxmot rows: boxmot is not installed here" in done.stdout
