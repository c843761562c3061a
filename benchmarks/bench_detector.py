"""Hand detector accuracy and speed on held-out synthetic frames (seeds the training never used,
backgrounds it never saw: ``umetrack.synth.seeds.DETECTOR_HELD_OUT_SEED_START`` onwards).

Run: python benchmarks/bench_detector.py [--weights PATH] [--sequences 6] [--frames 10]
Prints, over (frame, hand) slots:

* detection rate: slots whose hand is present in >= 1 view (``detect.data`` definition) and found;
* false positives: slots whose hand is in no view (not even ambiguously) but reported;
* per view and side: presence recall / false positives, and the mean 2D peak error (px, in the
  640x480 views) where both agree the hand is there;
* 3D centre error (mm; the found pose's landmark mean vs GT's) for hands placed from >= 2 views
  (triangulated) and from 1 view (predicted depth);
* detector ms per frame (4 views: downscale, network, decoding, unprojection, poses), median.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from umetrack.detect.bootstrap import DEFAULT_WEIGHTS, HandDetector
from umetrack.detect.data import render_labelled_frames
from umetrack.hand import fk
from umetrack.hand.io import load_hand_model
from umetrack.synth.seeds import DETECTOR_HELD_OUT_SEED_START

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--sequences", type=int, default=6)
    parser.add_argument("--frames", type=int, default=10, help="frames per held-out sequence")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hand_model = load_hand_model(REPO / "resources" / "hand_model.json").to(torch.float64)
    detector = HandDetector(args.weights, hand_model)

    started = time.perf_counter()
    frames = [f for s in range(args.sequences) for f in render_labelled_frames(hand_model, DETECTOR_HELD_OUT_SEED_START + s, args.frames)]
    print(f"rendered {len(frames)} held-out frames ({4 * len(frames)} views) in {time.perf_counter() - started:.0f} s")

    present_slots = found_slots = absent_slots = false_slots = 0
    view_present = view_found = view_absent = view_false = 0
    peak_errors, errors_multi, errors_single, times = [], [], [], []
    for frame in frames:
        images, cameras = list(frame.images), list(frame.cameras)
        t0 = time.perf_counter()
        poses = detector(images, cameras)
        times.append(time.perf_counter() - t0)
        detections = detector.detect_views(images, cameras)
        locations = detector.locate(detections)
        for hand in (0, 1):
            present = frame.present[:, hand]
            if present.any():
                present_slots += 1
                if hand in poses:
                    found_slots += 1
                    points = fk.landmarks(hand_model, poses[hand].joint_angles, poses[hand].T_world_from_wrist, hand)
                    error_mm = 1000.0 * float(np.linalg.norm(points.mean(0).numpy() - frame.centres_world[hand]))
                    (errors_multi if len(locations[hand].views) >= 2 else errors_single).append(error_mm)
            elif (frame.visible_pixels[:, hand] == 0).all() or (frame.presence_weight[:, hand] > 0).all():
                absent_slots += 1
                false_slots += hand in poses
            for view in range(len(cameras)):
                hit = [d for d in detections if d.view == view and d.hand_index == hand]
                if frame.present[view, hand]:
                    view_present += 1
                    if hit:
                        view_found += 1
                        peak_errors.append(float(np.linalg.norm(hit[0].pixel - frame.centres_px[view, hand])))
                elif frame.presence_weight[view, hand] > 0:
                    view_absent += 1
                    view_false += bool(hit)

    def mean(values):
        return f"{np.mean(values):.1f}" if values else "n/a"

    def median(values):
        return f"{np.median(values):.1f}" if values else "n/a"

    print(f"weights: {args.weights}")
    print(f"detection rate: {found_slots}/{present_slots} = {100 * found_slots / max(1, present_slots):.1f} % of hands present in >= 1 view")
    print(f"false positives: {false_slots}/{absent_slots} hands in no view reported")
    print(f"per view: presence recall {view_found}/{view_present} = {100 * view_found / max(1, view_present):.1f} %, "
          f"false positives {view_false}/{view_absent} = {100 * view_false / max(1, view_absent):.1f} %")  # fmt: skip
    print(f"2D peak error: mean {mean(peak_errors)} px, median {median(peak_errors)} px (640x480 views, {len(peak_errors)} view-hands)")
    print(f"3D centre error, >= 2 views (triangulated): mean {mean(errors_multi)} mm, median {median(errors_multi)} mm ({len(errors_multi)} hands)")
    print(f"3D centre error, 1 view (predicted depth):  mean {mean(errors_single)} mm, median {median(errors_single)} mm ({len(errors_single)} hands)")
    print(f"detector: {1e3 * np.median(times):.1f} ms per frame (4 views, median; {torch.get_num_threads()} torch thread(s))")


if __name__ == "__main__":
    main()
