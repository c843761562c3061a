"""Tracker latency per frame on this machine, batch 1, with a per-stage breakdown.

The workload the issue names: 2 hands, 2 views each, detector not run (oracle crop placement from
the bundled sample's ground truth, which costs the same as placing crops from the previous
prediction). Frames are decoded before timing. For each encoder ("released" layout and the CPU
"light" variant) and precision (fp32 eager; fp32-folded: ``TrackerOptions(fold_batchnorm=True)``,
BatchNorm folded into the convolutions + channels_last; bf16 autocast + channels_last; bf16-folded: both) it prints the median
and p95 of total ms/frame and the median of each stage:

* crop: skinning the crop pose, view selection, crop cameras, and warp (resampling 4 crops);
* network: encoder + FTL + fusion + temporal module + regressor (one batch of 2 hands);
* fk: skinning the predicted landmarks.

Weights (``--weights``, or else the shipped ``resources/weights/umetrack.pt`` for the released
encoder and ``umetrack_light.pt`` for the light one, random initialisation where absent, which costs
the same; the accuracy of the fast path is reported by ``umetrack eval --precision bf16``). Timings on a shared machine vary with its load: compare rows of one run.

Run: python benchmarks/bench_tracker.py [--frames 120] [--threads N] [--encoders light] [--precisions fp32] [--device cuda]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from umetrack.hand.io import load_hand_model
from umetrack.recording import open_recording
from umetrack.resources import LIGHT_TRACKER_WEIGHTS, TRACKER_WEIGHTS
from umetrack.track.tracker import Tracker, TrackerOptions
from umetrack.train.loop import load_trained_network, make_network

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample" / "recording_00.mp4"
SHIPPED = {"released": TRACKER_WEIGHTS, "light": LIGHT_TRACKER_WEIGHTS}
TARGET_MS = 10.0


def frames_with_two_hands_in_two_views(recording, count: int) -> list[int]:
    """Frames where both hands are present (the 2 hands x 2 views workload, as far as the sample allows)."""
    present = recording.gt.present.all(axis=1)
    return np.flatnonzero(present)[:count].tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--encoders", nargs="+", default=["released", "light"], choices=["released", "light"])
    parser.add_argument("--device", default="cpu", help="where the network runs (cpu, cuda); crops and FK stay on the CPU")
    parser.add_argument("--weights", help="weights.pt to time (default: the shipped light model for the light encoder, random weights otherwise)")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "fp32-folded", "bf16"], choices=["fp32", "fp32-folded", "bf16", "bf16-folded"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    recording = open_recording(SAMPLE)
    hand_model = recording.hand_model or load_hand_model(ROOT / "resources" / "hand_model.json")
    frames = frames_with_two_hands_in_two_views(recording, args.frames)
    inputs = [(recording.images(f), recording.cameras(f), recording.gt_poses(f)) for f in frames]
    gpu = f", GPU: {torch.cuda.get_device_name(args.device)}" if args.device.startswith("cuda") else ""
    print(f"{len(frames)} frames of {SAMPLE.name} with both hands, {args.threads} torch threads, CPU: {_cpu_name()}{gpu}, network on {args.device}")

    rows = []
    for encoder in args.encoders:
        for precision in args.precisions:
            if args.weights:
                net, config = load_trained_network(args.weights)
                if config is not None and config.encoder != encoder:
                    continue
            elif SHIPPED[encoder].exists():
                net, _ = load_trained_network(SHIPPED[encoder])
            else:
                torch.manual_seed(0)
                net = make_network(encoder).eval()
            options = TrackerOptions(crops="oracle", precision=precision.split("-")[0], fold_batchnorm=precision.endswith("-folded"), device=args.device)
            tracker = Tracker(net, hand_model, options, camera_angles_deg=recording.camera_angles_deg)
            views_used, timings = [], []
            for repeat in range(2):  # the first pass warms up allocators and oneDNN kernels
                tracker.reset()
                for images, cameras, gt in inputs:
                    result = tracker.step(images, cameras, gt)
                    if repeat:
                        timings.append(result.timings_ms)
                        views_used.append(sum(len(h.views) for h in result.hands.values()))
            total = np.array([t["total_ms"] for t in timings])
            stage = {k: float(np.median([t.get(k, 0.0) for t in timings])) for k in ("crop_ms", "warp_ms", "network_ms", "fk_ms")}
            rows.append((encoder, precision, float(np.median(total)), float(np.percentile(total, 95)), stage, float(np.mean(views_used))))

    print(f"{'encoder':9s} {'precision':11s} {'median':>7s} {'p95':>7s} {'crop':>6s} {'(warp)':>7s} {'network':>8s} {'fk':>6s}  crops/frame  vs target {TARGET_MS:.0f} ms")
    for encoder, precision, median, p95, stage, crops in rows:
        print(f"{encoder:9s} {precision:11s} {median:7.2f} {p95:7.2f} {stage['crop_ms']:6.2f} {stage['warp_ms']:7.2f} "
              f"{stage['network_ms']:8.2f} {stage['fk_ms']:6.2f}  {crops:11.2f}  {median / TARGET_MS:5.2f}x")  # fmt: skip
    base_encoder, base_precision, baseline = rows[0][:3]
    for encoder, precision, median, *_ in rows[1:]:
        print(f"speed-up of {encoder}/{precision} over {base_encoder}/{base_precision}: {baseline / median:.2f}x")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
