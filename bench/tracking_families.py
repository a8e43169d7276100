"""Tracker × sequence family × camera height: IDF1, MOTA, id switches (motmetrics), ms per frame.

    python bench/tracking_families.py --seeds 0-4 --cameras low eye high

Detections are the families' ground truth through ``noisy_detections`` (10 % misses,
5 % box jitter, 3 px keypoint noise by default); each tracker also gets the frame's
image (``render_frames``, not timed) unless ``--no-frames``. motmetrics pairs a track id
with the person its detection was made from (``tracking_eval.score``; ``--pair-by-iou``
for IoU alone, where box noise between overlapping people counts as switches of a tracker
that is right). IDF1 and MOTA are means
over the seeds, id switches their sum; ms per frame is the tracker alone. Re-entries
kept and wrong ids: ``tracking_eval.reentry_outcome``, summed. Needs the ``dev`` extra.

Wrong ids count in every family, not only at re-entry: an id that ever named a second
person (by the detections' ground truth). At a crossing a track may take a neighbour's box
for a frame or two while the neighbour is undetected; motmetrics matches by IoU and, where
the two people's boxes overlap by more than half, keeps the old pairing and counts a miss,
not a switch. Such a stolen box is a real tracker mistake that only this column shows.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np
from boxmot_trackers import BOXMOT_TRACKERS, available  # bench/ is sys.path[0] when run as a script

from pose_perception.synthetic.frames import render_frames
from pose_perception.synthetic.scenarios import CAMERAS, FAMILIES, make_scenario
from pose_perception.synthetic.walkers import noisy_detections
from pose_perception.tracking_eval import (
    FrameTracker,
    TrackingScores,
    pose_tracker,
    reentry_outcome,
    run_tracker,
    score,
)

# Tracker name → factory of a fresh FrameTracker. boxmot's ByteTrack, OC-SORT and BoT-SORT
# (issue 16, item 5; bench/boxmot_trackers.py) only where boxmot is installed (.venv-boxmot).
TRACKERS: dict[str, Callable[[], FrameTracker]] = {
    "PoseTracker": pose_tracker,
    **(BOXMOT_TRACKERS if available() else {}),
}
BOXMOT_NOTE = "no boxmot rows: boxmot is not installed here (scripts/setup_boxmot_env.sh makes .venv-boxmot)"


def run_cell(tracker: str, family: str, camera: str, seeds: list[int], args: argparse.Namespace) -> str:
    """One table row: the tracker on one family from one camera, over ``seeds``."""
    scores: list[TrackingScores] = []
    returns = kept = wrong = 0
    for seed in seeds:
        seq = make_scenario(family, seed=seed, camera=camera, seconds=args.seconds)
        dets = noisy_detections(seq, args.miss_rate, args.box_noise, args.keypoint_noise, seed=seed + 100)
        frames = None if args.no_frames else render_frames(seq, seed=seed)
        ids, ms = run_tracker(TRACKERS[tracker](), dets, frames)
        scores.append(score(seq, dets, ids, ms, by_identity=not args.pair_by_iou))
        outcome = reentry_outcome(seq, dets, ids)
        returns, kept, wrong = returns + outcome.returns, kept + outcome.kept, wrong + outcome.wrong
    idf1 = np.mean([s.idf1 for s in scores])
    mota = np.mean([s.mota for s in scores])
    switches = sum(s.id_switches for s in scores)
    ms = np.mean([s.ms_per_frame for s in scores])
    back = f"{kept}/{returns} ({100.0 * kept / returns:.0f} %)" if returns else "-"
    cells = (tracker, family, camera, f"{idf1:.3f}", f"{mota:.3f}", switches, f"{ms:.3f}", back, wrong)
    return "| " + " | ".join(str(c) for c in cells) + " |"


def seed_list(text: str) -> list[int]:
    """``7`` → [7]; ``0-99`` → 0..99 (both ends included)."""
    first, _, last = text.partition("-")
    try:
        low, high = int(first), int(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds: {text!r} is not N or N-M") from None
    if high < low:
        raise argparse.ArgumentTypeError(f"--seeds: {text!r} ends before it starts")
    return list(range(low, high + 1))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=seed_list, nargs="+", default=[[0, 1, 2, 3, 4]], help="e.g. 0-99 7")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--cameras", nargs="+", default=list(CAMERAS), choices=list(CAMERAS))
    parser.add_argument("--trackers", nargs="+", default=list(TRACKERS), choices=list(TRACKERS))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--miss-rate", type=float, default=0.1)
    parser.add_argument("--box-noise", type=float, default=0.05)
    parser.add_argument("--keypoint-noise", type=float, default=3.0)
    parser.add_argument("--no-frames", action="store_true", help="trackers get no image (None)")
    parser.add_argument(
        "--pair-by-iou", action="store_true", help="motmetrics pairs ids with people by IoU alone (see score)"
    )
    args = parser.parse_args(argv)
    args.seeds = [seed for group in args.seeds for seed in group]
    if not available():
        print(BOXMOT_NOTE)
    print(f"seeds {args.seeds}, {args.seconds:g} s at 30 Hz; IDF1/MOTA: mean over seeds; switches: sum")
    print("pairing: " + ("by IoU alone" if args.pair_by_iou else "by identity (each detection's own person)"))
    print("re-entries kept: people back in view named as before they left; wrong ids: ids given")
    print("to a second person (sum over seeds)")
    columns = ("tracker", "family", "camera", "IDF1", "MOTA", "id switches", "ms/frame", "re-entries kept")
    print("| " + " | ".join(columns) + " | wrong ids |")
    print("|---|---|---|---|---|---|---|---|---|")
    for tracker in args.trackers:
        for family in args.families:
            for camera in args.cameras:
                print(run_cell(tracker, family, camera, args.seeds, args), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
