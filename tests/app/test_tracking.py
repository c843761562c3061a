"""Run the tracker from the app: worker thread, progress, cache, cancel, bad model file."""

import numpy as np
import pytest
import torch
from PySide6 import QtWidgets

from umetrack.crop import CROP_SIZE, CropCamera
from umetrack.hand.model import SKELETON_BONES
from umetrack.model.checkpoint import save_checkpoint
from umetrack.recording import write_umetrack_raw
from umetrack.synth.recording import synthetic_recording
from umetrack.track.tracker import TrackerOptions
from umetrack.train.loop import TrainConfig, make_network

pytestmark = pytest.mark.gui


@pytest.fixture
def opened(main_window, hand_model, tmp_path):
    recording = synthetic_recording(hand_model, 8, seed=21, num_views=2)
    video, _ = write_umetrack_raw(recording, tmp_path / "recording_00", crf=18)
    main_window.open_recording(video)
    torch.manual_seed(0)
    weights = tmp_path / "weights.pt"
    save_checkpoint(weights, {"model": make_network("light").state_dict(), "config": TrainConfig(encoder="light").to_json()})
    return main_window, weights


def test_tracker_runs_in_a_worker_and_results_reach_the_session(opened, qtbot):
    window, weights = opened
    window.run_tracker(weights, TrackerOptions(crops="oracle"))
    assert window.progress_bar.isVisible() or window.tracking_worker is None
    qtbot.waitUntil(lambda: window.session.tracking is not None, timeout=60000)
    results = window.session.tracking
    assert results.num_frames == 8
    used = results.views >= 0
    assert used.any()
    assert results.crop_images[used].std() > 5  # the crops the network saw are real images
    assert not window.progress_bar.isVisible()
    # The crops panel shows the crop the network saw, and the prediction in its crop space.
    frame, hand, slot = (int(i[0]) for i in np.nonzero(used))
    window.crops_dock.raise_()  # a tabbed-away panel draws nothing until shown
    window.session.seek(frame)
    shown = window.crops.images[(hand, slot)].image
    np.testing.assert_array_equal(shown, results.crop_images[frame, hand, slot])
    # Every crop of the frame (projected in one batch) shows its own hand's landmarks: the prediction
    # where it is, and the GT inside the crop its oracle placement framed.
    for hand, slot in zip(*np.nonzero(used[frame])):
        hand, slot = int(hand), int(slot)
        crop = CropCamera(torch.as_tensor(results.T_crop_from_world[frame, hand, slot], dtype=torch.float64),
                          torch.as_tensor(results.focal[frame, hand, slot], dtype=torch.float64), hand_index=hand)  # fmt: skip
        if np.isfinite(results.landmarks[frame, hand]).all():
            expected = crop.project(torch.as_tensor(results.landmarks[frame, hand], dtype=torch.float64)[None])[0].numpy()
            np.testing.assert_allclose(window.crops.crop_landmarks[(hand, slot)], expected, atol=1e-9)
        gt_bones = window.crops.overlays[(hand, slot)].segments("gt")
        assert len(gt_bones) == 2 * len(SKELETON_BONES) and ((gt_bones > 0) & (gt_bones < CROP_SIZE)).all()
    # A second run with the same recording, model and options comes from the cache at once.
    window.session.set_tracking(None)
    window.run_tracker(weights, TrackerOptions(crops="oracle"))
    assert window.session.tracking is results


def test_cancel_stops_tracking_and_keeps_the_app_usable(opened, qtbot):
    window, weights = opened
    window.run_tracker(weights, TrackerOptions(crops="tracked"))
    window.cancel_tracking()
    qtbot.waitUntil(lambda: window.tracking_worker is None, timeout=60000)
    window.session.seek(3)
    assert window.session.playhead == 3


def test_bad_model_file_is_reported(opened, qtbot, tmp_path, monkeypatch):
    window, _weights = opened
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not torch")
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    window.run_tracker(bad, TrackerOptions())
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert "bad.pt" in shown[0]
    assert window.session.tracking is None


def test_plots_show_error_over_time_and_a_click_seeks(opened, qtbot):
    window, weights = opened
    window.run_tracker(weights, TrackerOptions(crops="oracle"))
    qtbot.waitUntil(lambda: window.session.tracking is not None, timeout=60000)
    series = window.plots.series
    assert "pinch_gt0" in series and len(series["pinch_gt0"]) == 8
    truth_distance = series["pinch_gt0"]
    assert np.isfinite(truth_distance).any() and (truth_distance[np.isfinite(truth_distance)] > 0).all()
    window.session.seek(2)
    assert window.plots.cursors[0].value() == 2
    plot = window.plots.pinch_plot
    plot.setXRange(0, 7, padding=0)
    plot.setYRange(0, 200, padding=0)
    qtbot.wait(50)
    from PySide6 import QtCore

    scene_point = plot.vb.mapViewToScene(QtCore.QPointF(6, 100))
    view_point = window.plots.layout_widget.mapFromScene(scene_point)
    qtbot.mouseClick(window.plots.layout_widget.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=view_point)
    qtbot.waitUntil(lambda: window.session.playhead == 6, timeout=2000)
