"""Playback in the real main window: frames/s displayed and seek latency (issue 7: >= 30 fps, <= 100 ms).

Opens the bundled sample (4 views, 640x480, 300 frames) in ``MainWindow`` with every dock visible
(tabbed docks are split apart) and tracking results present: the shipped tracker network at
resources/weights/umetrack.pt if it exists (tracked once, in the app's worker), otherwise GT
landmarks plus 5 mm noise with real crop cameras (the panels draw the same things either way).

* playback, real time: the transport plays at the recording's rate (30 fps); frames displayed per
  second and the share of the recording's frames that reached the views panel.
* playback, unlimited: each frame displayed asks for the next one (Session.seek -> FrameLoader
  decode -> every panel); frames displayed per second. Decoding overlaps the drawing of the last frame.
* seek latency: seek to a random frame, time until its images are on the views panel and the
  window has processed its repaints; median and p95.

"Displayed" means the decoded images reached the views panel's image items (``frame_shown``).
Timings on a shared machine vary with its load (printed); compare runs made back to back.

Run: xvfb-run -a -s "-screen 0 1920x1080x24" python benchmarks/bench_playback.py [--seeks 60] [--profile unlimited|seek] [--layout all|default]
(the window is 1920x1080; xvfb-run's default 1280x1024 screen would leave part of it off screen)
Prints numbers; nothing is asserted (speed is measured here, not in tests).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6 import QtCore, QtWidgets  # noqa: E402

from app.visibility import on_screen  # noqa: E402
from umetrack.crop import CROP_SIZE, crop_points, make_crop_camera  # noqa: E402
from umetrack.errors import CropError  # noqa: E402
from umetrack.eval.ground_truth import gt_landmarks  # noqa: E402
from umetrack.recording import Recording, read_umetrack_raw  # noqa: E402
from umetrack.resources import TRACKER_WEIGHTS  # noqa: E402
from umetrack.track.results import REASONS, TrackedRecording  # noqa: E402
from umetrack.track.tracker import MAX_VIEWS, Reason, TrackerOptions, select_views  # noqa: E402

WEIGHTS = TRACKER_WEIGHTS
TARGET_FPS, TARGET_SEEK_MS = 30.0, 100.0


def simulated_tracking(recording: Recording, noise_m: float = 0.005, seed: int = 0) -> TrackedRecording:
    """GT landmarks plus Gaussian noise, with the crop cameras the tracker would build (GT-placed)
    in the views that see the hand, and noise crop images."""
    rng = np.random.default_rng(seed)
    truth = gt_landmarks(recording)
    n = recording.num_frames
    landmarks = (truth + rng.normal(0.0, noise_m, truth.shape)).astype(np.float32)
    reasons = np.full((n, 2), REASONS.index(Reason.NOT_DETECTED), np.int8)
    views = np.full((n, 2, MAX_VIEWS), -1, np.int8)
    T_crop = np.full((n, 2, MAX_VIEWS, 4, 4), np.nan, np.float32)
    focal = np.full((n, 2, MAX_VIEWS), np.nan, np.float32)
    crops = rng.integers(0, 255, (n, 2, MAX_VIEWS, CROP_SIZE, CROP_SIZE), dtype=np.uint8)
    model = recording.hand_model.to(torch.float64)
    angles = recording.camera_angles_deg
    for frame in range(n):
        cameras = recording.cameras(frame)
        for hand, pose in recording.gt_poses(frame).items():
            if cameras is None or pose.confidence < 0.5:
                landmarks[frame, hand] = np.nan
                continue
            reasons[frame, hand] = REASONS.index(Reason.TRACKED)
            with torch.no_grad():
                region = crop_points(model, pose.joint_angles, pose.T_world_from_wrist, hand)
            chosen = select_views(torch.as_tensor(truth[frame, hand]), cameras, [True] * len(cameras))
            for slot, view in enumerate(chosen):
                try:
                    crop = make_crop_camera(cameras[view].T_world_from_camera, region, hand, angles[view])
                except CropError:
                    continue
                views[frame, hand, slot] = view
                T_crop[frame, hand, slot] = crop.T_crop_from_world.numpy()
                focal[frame, hand, slot] = float(crop.focal)
    landmarks[~np.isin(reasons, [REASONS.index(Reason.TRACKED)])] = np.nan
    confidence = np.where(reasons == REASONS.index(Reason.TRACKED), 0.9, 0.0).astype(np.float32)
    return TrackedRecording(landmarks, reasons, views, crops, T_crop, focal, confidence, TrackerOptions(crops="oracle"))


def show_every_dock(window: QtWidgets.QMainWindow) -> list[str]:
    """Lay every dock out side by side (right-hand docks in a column, the others in a row at the
    bottom), none tabbed or hidden, so every panel is on screen and draws; returns their titles."""
    docks = window.findChildren(QtWidgets.QDockWidget)
    right_area = QtCore.Qt.DockWidgetArea.RightDockWidgetArea
    right = [dock for dock in docks if window.dockWidgetArea(dock) == right_area]
    bottom = [dock for dock in docks if dock not in right]
    for dock in docks:
        window.removeDockWidget(dock)
    for group, area, orientation in ((right, right_area, QtCore.Qt.Orientation.Vertical),
                                     (bottom, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, QtCore.Qt.Orientation.Horizontal)):  # fmt: skip
        for dock in group:
            window.addDockWidget(area, dock, orientation)
            dock.setFloating(False)
            dock.show()
    QtWidgets.QApplication.processEvents()
    window.resizeDocks(right, [480] * len(right), QtCore.Qt.Orientation.Horizontal)
    window.resizeDocks(right, [window.height() // max(1, len(right))] * len(right), QtCore.Qt.Orientation.Vertical)
    window.resizeDocks(bottom, [300] * len(bottom), QtCore.Qt.Orientation.Vertical)
    window.resizeDocks(bottom, [window.width() // max(1, len(bottom))] * len(bottom), QtCore.Qt.Orientation.Horizontal)
    QtWidgets.QApplication.processEvents()
    screen = window.rect()
    return [dock.windowTitle() for dock in docks if dock.widget().isVisible() and screen.intersects(QtCore.QRect(dock.mapTo(window, QtCore.QPoint()), dock.size()))]


class DisplayCounter(QtCore.QObject):
    """Records (time, frame) of every frame whose images reached the views panel."""

    def __init__(self, window):
        super().__init__(window)
        self.shown: list[tuple[float, int]] = []
        window.views.frame_shown.connect(lambda frame: self.shown.append((time.perf_counter(), frame)))


def wait(app: QtWidgets.QApplication, condition, timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            return False
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)
    return True


def realtime_playback(app, window, counter: DisplayCounter) -> tuple[float, float]:
    """Frames displayed per second while the transport plays the whole recording at 1x."""
    window.session.seek(0)
    wait(app, lambda: window.views.displayed_frame == 0, 10)
    counter.shown.clear()
    start = time.perf_counter()
    window.transport.play(1)
    wait(app, lambda: not window.transport.playing, 120)
    wait(app, lambda: window.views.displayed_frame == window.session.num_frames - 1, 5)
    elapsed = time.perf_counter() - start
    distinct = len({frame for _, frame in counter.shown})
    return distinct / elapsed, distinct / window.session.num_frames


def unlimited_playback(app, window, counter: DisplayCounter, frames: int) -> tuple[float, float]:
    """Frames displayed per second when each displayed frame requests the next one, and the CPU
    time this process spent per displayed frame (all its threads: GUI, decoder, Qt)."""
    session = window.session
    session.seek(0)
    wait(app, lambda: window.views.displayed_frame == 0, 10)
    last = min(frames, session.num_frames - 1)

    def next_frame(frame: int) -> None:
        if frame == session.playhead and frame < last:
            session.seek(frame + 1)

    window.views.frame_shown.connect(next_frame)
    counter.shown.clear()
    start, cpu_start = time.perf_counter(), time.process_time()
    session.seek(1)
    wait(app, lambda: window.views.displayed_frame == last, 300)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    window.views.frame_shown.disconnect(next_frame)
    return len(counter.shown) / elapsed, 1e3 * cpu / max(1, len(counter.shown))


def seek_latencies(app, window, seeks: int, seed: int = 0) -> np.ndarray:
    """Milliseconds from Session.seek(random frame) to its images shown and repaints processed."""
    session = window.session
    rng = np.random.default_rng(seed)
    latencies = []
    for _ in range(seeks):
        frame = int(rng.integers(0, session.num_frames))
        while frame == session.playhead:
            frame = int(rng.integers(0, session.num_frames))
        start = time.perf_counter()
        session.seek(frame)
        wait(app, lambda: window.views.displayed_frame == frame, 10)
        app.processEvents()  # the repaints the new frame caused (views, 3D, crops, plots)
        latencies.append(1e3 * (time.perf_counter() - start))
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
    return np.asarray(latencies)


def decode_only(path: Path, frames: int, seeks: int) -> tuple[float, np.ndarray]:
    """The decoder alone (no GUI, cache off), in this process under the same load: sequential
    frames/s and random-seek milliseconds; the floor under the numbers above."""
    recording = read_umetrack_raw(path, cache_frames=0)
    start = time.perf_counter()
    for frame in range(frames):
        recording.images(frame)
    fps = frames / (time.perf_counter() - start)
    rng = np.random.default_rng(1)
    latencies = []
    for frame in rng.integers(0, recording.num_frames, seeks):
        start = time.perf_counter()
        recording.images(int(frame))
        latencies.append(1e3 * (time.perf_counter() - start))
    recording.close()
    return fps, np.asarray(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeks", type=int, default=60)
    parser.add_argument("--frames", type=int, default=299, help="frames of unlimited playback")
    parser.add_argument("--profile", choices=("unlimited", "seek"), help="print a cProfile of that phase")
    parser.add_argument("--profile-file", help="also save that profile here (for pstats / snakeviz)")
    parser.add_argument("--layout", choices=("all", "default"), default="all",
                        help="all: every dock side by side, none tabbed (the issue's 'all panels visible'); "
                             "default: the window's own layout (tabbed docks hidden, a larger 3D view)")  # fmt: skip
    args = parser.parse_args()

    from vispy import app as vispy_app

    vispy_app.use_app("pyside6")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from app.main_window import MainWindow
    from app.session import SAMPLE_RECORDING, Session

    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    window = MainWindow(Session(), settings)
    window.resize(1920, 1080)
    window.show()
    assert window.open_recording(SAMPLE_RECORDING), "the bundled sample must open"
    recording = window.session.recording
    t0 = time.perf_counter()
    if WEIGHTS.exists():
        window.run_tracker(WEIGHTS, TrackerOptions(crops="oracle"))
        wait(app, lambda: window.session.tracking is not None, 1800)
        source = f"trained weights {WEIGHTS.relative_to(REPO)}"
    else:
        window.session.set_tracking(simulated_tracking(recording))
        source = "no trained weights: GT + 5 mm noise, real crop cameras"
    if args.layout == "all":
        panels = show_every_dock(window)
    else:
        app.processEvents()
        panels = [dock.windowTitle() for dock in window.findChildren(QtWidgets.QDockWidget) if on_screen(dock.widget())]
    app.processEvents()
    tracked = int((window.session.tracking.reasons == REASONS.index(Reason.TRACKED)).sum())
    print(f"recording: {recording.name}, {recording.num_frames} frames x {recording.num_views} views of "
          f"{recording.camera_models[0].width}x{recording.camera_models[0].height}; window 1920x1080 (Xvfb)")  # fmt: skip
    print(f"tracking results: {source}; {tracked} tracked hand-frames ({time.perf_counter() - t0:.1f} s to prepare)")
    print(f"panels on screen ({args.layout} layout): {', '.join(panels)}; 3D view {window.scene3d.display.width()}x{window.scene3d.display.height()}")
    print(f"machine: {os.cpu_count()} CPU cores, load average {' / '.join(f'{v:.2f}' for v in os.getloadavg())} (1/5/15 min)")

    counter = DisplayCounter(window)
    fps, share = realtime_playback(app, window, counter)
    print(f"playback, real time (1x = {window.transport.fps:.0f} fps): {fps:.1f} frames/s displayed, "
          f"{100 * share:.0f}% of frames shown ({fps / TARGET_FPS:.2f}x the {TARGET_FPS:.0f} fps target)")  # fmt: skip

    profiler = cProfile.Profile() if args.profile else None
    if args.profile == "unlimited":
        profiler.enable()
    fps, cpu_ms = unlimited_playback(app, window, counter, args.frames)
    if args.profile == "unlimited":
        profiler.disable()
    print(f"playback, unlimited: {fps:.1f} frames/s displayed ({fps / TARGET_FPS:.2f}x the {TARGET_FPS:.0f} fps target); "
          f"{cpu_ms:.0f} ms of this process's CPU per frame, i.e. ~{1e3 / cpu_ms:.0f} frames/s if it had a core to itself")  # fmt: skip

    if args.profile == "seek":
        profiler.enable()
    latencies = seek_latencies(app, window, args.seeks)
    if args.profile == "seek":
        profiler.disable()
    median, p95 = np.median(latencies), np.percentile(latencies, 95)
    print(f"seek to a random frame ({args.seeks} seeks): median {median:.0f} ms, p95 {p95:.0f} ms, max {latencies.max():.0f} ms "
          f"(target <= {TARGET_SEEK_MS:.0f} ms: median {TARGET_SEEK_MS / median:.2f}x, p95 {TARGET_SEEK_MS / p95:.2f}x)")  # fmt: skip
    decode_fps, decode_ms = decode_only(SAMPLE_RECORDING, 150, args.seeks)
    print(f"decoder alone (no GUI, cache off): sequential {decode_fps:.1f} frames/s, random seek median {np.median(decode_ms):.0f} ms, "
          f"p95 {np.percentile(decode_ms, 95):.0f} ms")  # fmt: skip
    print(f"machine after the run: load average {' / '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        if args.profile_file:
            profiler.dump_stats(args.profile_file)
    window.close()


if __name__ == "__main__":
    main()
