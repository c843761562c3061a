"""File ▸ Export: screenshots, a video of a frame range of the views (decoded back), the metrics CSV."""

import csv

import av
import numpy as np
import pytest
from PySide6 import QtGui

from app.exports import rgb_array
from umetrack.eval.ground_truth import gt_landmarks
from umetrack.hand.model import LANDMARK_NAMES
from umetrack.metrics import per_joint_error, per_slot_accelerations, per_slot_errors, thumb_index_distance
from umetrack.recording import write_umetrack_raw
from umetrack.track.results import REASONS, TrackedRecording
from umetrack.track.tracker import Reason, TrackerOptions

pytestmark = pytest.mark.gui


@pytest.fixture
def opened(main_window, make_recording, tmp_path):
    recording = make_recording(num_frames=20, num_views=2, width=160, height=120)
    video, _ = write_umetrack_raw(recording, tmp_path / "data" / "recording_00")
    assert main_window.open_recording(video)
    main_window.resize(900, 640)
    return main_window, recording


def _decode(path):
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_screenshots_of_the_window_and_of_the_views(opened, tmp_path, qtbot):
    window, _ = opened
    exports = window.export_actions
    assert exports.save_screenshot(window, tmp_path / "window.png")
    assert exports.save_screenshot(window.views, tmp_path / "views.png")
    ratio = window.devicePixelRatio()
    shot = QtGui.QImage(str(tmp_path / "window.png"))
    assert (shot.width(), shot.height()) == (round(window.width() * ratio), round(window.height() * ratio))
    views = QtGui.QImage(str(tmp_path / "views.png"))
    assert (views.width(), views.height()) == (round(window.views.width() * ratio), round(window.views.height() * ratio))
    assert views.width() < shot.width()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["views.png", "window.png"]


def test_video_of_a_frame_range_has_those_frames_at_that_size(opened, tmp_path, qtbot):
    window, _ = opened
    window.session.seek(15)
    path = tmp_path / "out" / "range.mp4"
    export = window.export_actions.export_video(path, 3, 10, 320, 240)
    assert export is not None and window.export_actions.progress_bar.isVisible()
    with qtbot.waitSignal(export.done, timeout=60000):
        pass
    frames = _decode(path)
    assert len(frames) == 8 and frames[0].shape == (240, 320, 3)
    assert window.session.playhead == 15  # back where the user was
    assert not window.export_actions.progress_bar.isVisible()
    # Frame k of the video is what the views panel shows at frame 3 + k (images and overlays).
    window.session.seek(7)
    qtbot.waitUntil(lambda: window.views.displayed_frame == 7, timeout=5000)
    shown = rgb_array(window.views.grab().toImage(), 320, 240).astype(int)
    difference = [np.abs(frames[k].astype(int) - shown).mean() for k in range(8)]
    assert int(np.argmin(difference)) == 4 and difference[4] < 4.0, difference
    assert [p.name for p in path.parent.iterdir()] == ["range.mp4"]  # no temporary left behind


def test_cancelling_a_video_export_leaves_no_file_and_returns_the_playhead(opened, tmp_path, qtbot):
    window, _ = opened
    window.session.seek(12)
    path = tmp_path / "out" / "cancelled.mp4"
    export = window.export_actions.export_video(path, 0, 19, 160, 120)
    with qtbot.waitSignal(export.progress, timeout=10000):
        pass
    with qtbot.waitSignal(export.failed, timeout=10000) as failed:
        window.export_actions.cancel_button.click()
    assert failed.args == ["cancelled"]
    assert window.session.playhead == 12 and window.export_actions.video is None
    assert not path.parent.exists() or not list(path.parent.iterdir())


def test_moving_the_playhead_cancels_the_export(opened, tmp_path, qtbot):
    window, _ = opened
    export = window.export_actions.export_video(tmp_path / "moved.mp4", 0, 19, 160, 120)
    with qtbot.waitSignal(export.progress, timeout=10000):
        pass
    with qtbot.waitSignal(export.failed, timeout=10000) as failed:
        window.transport.step(1)
    assert "playhead was moved" in failed.args[0]
    assert not (tmp_path / "moved.mp4").exists()


def _noisy_tracking(recording, seed=0) -> TrackedRecording:
    """GT landmarks plus 5 mm noise; frames 10-12 of the left hand lost."""
    truth = gt_landmarks(recording)
    rng = np.random.default_rng(seed)
    landmarks = (truth + rng.normal(0, 0.005, truth.shape)).astype(np.float32)
    landmarks[10:13, 0] = np.nan
    n = recording.num_frames
    reasons = np.where(np.isfinite(landmarks).all((-1, -2)), REASONS.index(Reason.TRACKED), REASONS.index(Reason.NOT_DETECTED)).astype(np.int8)
    return TrackedRecording(landmarks, reasons, np.full((n, 2, 2), -1, np.int8), np.zeros((n, 2, 2, 96, 96), np.uint8),
                            np.full((n, 2, 2, 4, 4), np.nan, np.float32), np.full((n, 2, 2), np.nan, np.float32),
                            np.ones((n, 2), np.float32), TrackerOptions())  # fmt: skip


def test_metrics_csv_holds_the_metrics_of_the_tracking_results(opened, tmp_path, qtbot):
    window, recording = opened
    tracking = _noisy_tracking(recording)
    window.session.set_tracking(tracking)
    path = tmp_path / "metrics.csv"
    worker = window.export_actions.export_metrics_csv(path)
    qtbot.waitUntil(lambda: window.export_actions.csv_worker is None, timeout=30000)
    assert worker is not None and path.exists()
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * recording.num_frames
    assert list(rows[0])[:10] == ["frame", "hand", "reason", "confidence", "gt_present", "mpjpe_mm",
                                  "acceleration_mm_per_frame2", "thumb_index_mm", "pinch_predicted", "pinch_label"]  # fmt: skip

    def column(name):
        values = np.array([float(r[name]) if r[name] else np.nan for r in rows])
        return values.reshape(recording.num_frames, 2)

    # The same numbers computed directly with umetrack.metrics.
    truth = gt_landmarks(recording)
    predicted = tracking.landmarks.astype(np.float64)
    tracked = np.isfinite(predicted).all((-1, -2))
    scored = tracked & np.isfinite(truth).all((-1, -2))
    joints = per_joint_error(np.nan_to_num(truth), np.nan_to_num(predicted), scored)
    np.testing.assert_allclose(column("mpjpe_mm"), per_slot_errors(np.nan_to_num(truth), np.nan_to_num(predicted), scored), rtol=1e-7, equal_nan=True)
    for landmark in (0, 5, 20):
        np.testing.assert_allclose(column(f"error_mm_{LANDMARK_NAMES[landmark]}"), joints[..., landmark], rtol=1e-7, equal_nan=True)
    acceleration = per_slot_accelerations(np.nan_to_num(np.moveaxis(predicted, 1, 0)), tracked.T).T
    np.testing.assert_allclose(column("acceleration_mm_per_frame2"), acceleration, rtol=1e-7, equal_nan=True)
    np.testing.assert_allclose(column("thumb_index_mm"), 1000 * thumb_index_distance(np.nan_to_num(predicted), tracked), rtol=1e-7, equal_nan=True)
    np.testing.assert_array_equal(column("pinch_label").astype(bool), recording.pinch.frames)
    mpjpe = column("mpjpe_mm")
    assert np.isnan(mpjpe[10:13, 0]).all() and rows[2 * 11]["reason"] == Reason.NOT_DETECTED.value
    assert np.nanmean(mpjpe) == pytest.approx(5 * np.sqrt(8 / np.pi), rel=0.15)  # 5 mm isotropic noise
    assert np.isnan(column("mpjpe_mm")[:3, 1]).all()  # right hand absent in frames 0-2: no error
