"""Screenshot of the inspection panels: per-joint error, failure finder, and the 3D view with GT and
predicted meshes and crop-camera frusta.

By default the shipped model (``umetrack.pt``) tracks the sample (tracked crops, as Tracking > Run tracker does).
With ``--staged`` (or without weights) the "tracker output" is staged from the sample's GT poses: joint
angles with ~0.04 rad of smooth noise and wrists off by a few mm, the left index and middle fingers bent
1 rad too far on frames 148-152, the right wrist shaking on frames 60-61, the hands swapped on frames
100-110 and the right hand lost on frames 200-215.
Crop cameras and crops are made the tracker's way (``select_views``, ``crop_points``, ``make_crop_camera``,
``warp_image``). The picture shows the panels, not the tracker's accuracy.
Run under ``xvfb-run -a python scripts/inspection_screenshot.py [OUT.png] [--staged]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PySide6 import QtCore
from screenshot_support import REPO, copy_sample, process_events, screenshot_window

from umetrack.crop import crop_points, make_crop_camera, warp_image  # noqa: E402
from umetrack.eval.failures import FailureKind  # noqa: E402
from umetrack.hand import fk  # noqa: E402
from umetrack.recording import Recording  # noqa: E402
from umetrack.resources import TRACKER_WEIGHTS  # noqa: E402
from umetrack.track.results import REASONS, TrackedRecording  # noqa: E402
from umetrack.track.tracker import MAX_VIEWS, Reason, TrackerOptions, select_views  # noqa: E402

SHIPPED_MODEL = TRACKER_WEIGHTS


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], scale: float, width: int = 9) -> np.ndarray:
    """Noise along axis 0 with a ``width``-frame moving average (a tracker's errors are correlated in time)."""
    raw = rng.normal(0.0, scale * np.sqrt(width), shape)
    kernel = np.ones(width) / width
    return np.apply_along_axis(lambda series: np.convolve(series, kernel, mode="same"), 0, raw)


def staged_tracking(recording: Recording) -> TrackedRecording:
    rng = np.random.default_rng(3)
    gt, model = recording.gt, recording.hand_model.to(torch.float64)
    n = recording.num_frames
    angles = gt.joint_angles + _smooth_noise(rng, gt.joint_angles.shape, 0.04)
    angles[148:153, 0, 5:8] += 1.0  # index and middle fingers bent too far: an MPJPE spike on the left hand
    angles[148:153, 0, 9:12] += 1.0
    wrists = gt.T_world_from_wrist.copy()
    wrists[:, :, :3, 3] += _smooth_noise(rng, (n, 2, 3), 0.004)
    wrists[60, 1, :3, 3] += 0.006  # the right wrist shaking by 6 mm: a jitter spike, small in error
    wrists[61, 1, :3, 3] -= 0.006
    landmarks = np.full((n, 2, 21, 3), np.nan)
    with torch.no_grad():
        for hand in (0, 1):
            landmarks[:, hand] = fk.landmarks(model, torch.as_tensor(angles[:, hand]), torch.as_tensor(wrists[:, hand]), hand).numpy()
    landmarks[100:111] = landmarks[100:111, ::-1].copy()  # left/right swap (poses dropped: a swapped pose has the wrong handedness)
    angles[100:111] = np.nan
    wrists[100:111] = np.nan
    reasons = np.full((n, 2), REASONS.index(Reason.TRACKED), np.int8)
    landmarks[200:216, 1] = angles[200:216, 1] = wrists[200:216, 1] = np.nan
    reasons[200:216, 1] = REASONS.index(Reason.LOST_TRACK)

    views = np.full((n, 2, MAX_VIEWS), -1, np.int8)
    crops = np.zeros((n, 2, MAX_VIEWS, 96, 96), np.uint8)
    T_crop = np.full((n, 2, MAX_VIEWS, 4, 4), np.nan, np.float32)
    focal = np.full((n, 2, MAX_VIEWS), np.nan, np.float32)
    for frame in range(n):
        cameras, images = recording.cameras(frame), recording.images(frame)
        for hand in (0, 1):
            if not np.isfinite(wrists[frame, hand]).all():
                continue
            pose_angles, pose_wrist = torch.as_tensor(angles[frame, hand]), torch.as_tensor(wrists[frame, hand])
            chosen = select_views(torch.as_tensor(landmarks[frame, hand]), cameras, [True] * len(cameras))[:MAX_VIEWS]
            region = crop_points(model, pose_angles, pose_wrist, hand)
            for slot, view in enumerate(chosen):
                crop = make_crop_camera(cameras[view].T_world_from_camera, region, hand, recording.camera_angles_deg[view])
                views[frame, hand, slot] = view
                T_crop[frame, hand, slot] = crop.T_crop_from_world.numpy()
                focal[frame, hand, slot] = float(crop.focal)
                crops[frame, hand, slot] = warp_image(images[view], crop, cameras[view])
    tracked = np.isfinite(landmarks).all((-1, -2))
    return TrackedRecording(landmarks.astype(np.float32), reasons, views, crops, T_crop, focal, tracked.astype(np.float32),
                            TrackerOptions(), angles.astype(np.float32), wrists.astype(np.float32))  # fmt: skip


def main(out: Path, model: Path | None) -> None:
    with screenshot_window() as (window, folder):
        window.open_recording(copy_sample(folder))
        session = window.session
        if model is not None:  # the real tracker, run the way a user runs it (Tracking > Run tracker)
            window.run_tracker(model, TrackerOptions(crops="tracked"))
            process_events(1800, until=lambda: session.tracking is not None)
        else:
            session.set_tracking(staged_tracking(session.recording))
        window.joint_errors_dock.raise_()
        window.resizeDocks([window.joint_errors_dock], [400], QtCore.Qt.Orientation.Vertical)
        window.resizeDocks([window.failures_dock], [560], QtCore.Qt.Orientation.Horizontal)
        window.show()
        process_events(60, until=lambda: bool(window.failures.failures) and window.joint_errors.errors is not None)
        spikes = [i for i, f in enumerate(window.failures.failures) if f.kind is FailureKind.ERROR_SPIKE]
        if spikes or window.failures.failures:
            row = spikes[0] if spikes else 0
            window.failures.table.selectRow(row)
            window.failures.jump_to(row)
        # Orbit in on the hands, as a user would (the default view frames the whole headset).
        hands = np.nanmean(session.tracking.landmarks[session.playhead], axis=(0, 1))
        if np.isfinite(hands).all():
            window.scene3d.view.camera.center = tuple(float(v) for v in hands)
            window.scene3d.view.camera.distance = 0.55
        process_events(3.0)
        window.grab().save(str(out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Screenshot of the inspection panels on the bundled sample")
    parser.add_argument("out", nargs="?", type=Path, default=REPO / "docs" / "screenshots" / "inspection.png")
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="weights to track with (default: the shipped light model)")
    parser.add_argument("--staged", action="store_true", help="staged predictions from GT (shows every failure kind) instead of the tracker")
    args = parser.parse_args()
    main(args.out, None if args.staged or not args.model.is_file() else args.model)
