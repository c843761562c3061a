"""Hand-scale calibration in the app (Tracking ▸ Calibrate hand scale…): the run in a worker, the live
numbers and plot, accept → profile → session hand model → tracking, the generic vs calibrated
comparison, cancel and bad input.

No trained weights are needed: ``steady_light_network`` is a random light network exported with
``export_weights`` whose output layers put a plausible hand in every crop (an untrained network loses
every track, so there would be no samples at all). The one check that needs a trained model (the
sample calibrates to within 3 % of its true scale) is skipped until the shipped weights exist.
"""

import shutil

import numpy as np
import pytest
import torch
from PySide6 import QtGui, QtWidgets

from app.panels.calibration import DEFAULT_WEIGHTS, indicator
from app.session import DEFAULT_HAND_MODEL, SAMPLE_RECORDING
from umetrack.eval.runner import track_keypoints
from umetrack.hand.io import load_hand_model
from umetrack.metrics import mpjpe, per_joint_error
from umetrack.model.checkpoint import save_checkpoint
from umetrack.track.calibration import ScaleCalibration, scale_relative_to
from umetrack.train.loop import TrainConfig, export_weights, load_trained_network, make_network

pytestmark = pytest.mark.gui

START, FRAMES = 45, 12
"""The sample's left hand is in 2+ views on frames 45-56, the right hand on 45-51 only: 19 samples,
fewer than the paper's 30, so this range does not complete a calibration."""


@pytest.fixture
def weights(tmp_path, steady_light_network):
    path = tmp_path / "weights" / "steady_light.pt"
    path.parent.mkdir()
    export_weights(steady_light_network, TrainConfig(encoder="light"), path)
    return path


@pytest.fixture
def sample_copy(tmp_path):
    """The bundled sample in tmp_path: accepting a profile writes next to the recording by default."""
    folder = tmp_path / "sample"
    folder.mkdir()
    for source in SAMPLE_RECORDING.parent.glob(SAMPLE_RECORDING.stem + ".*"):
        shutil.copy(source, folder / source.name)
    return folder / SAMPLE_RECORDING.name


@pytest.fixture
def dialog(main_window, sample_copy, weights):
    assert main_window.open_recording(sample_copy)
    main_window.session.seek(START)
    dialog = main_window.open_calibration()
    dialog.model_edit.setText(str(weights))
    dialog.frames_spin.setValue(FRAMES)
    return dialog


def _finish(qtbot, dialog, timeout=180_000):
    qtbot.waitUntil(lambda: not dialog.busy, timeout=timeout)


def test_menu_action_opens_one_dialog_with_the_defaults(main_window):
    action = main_window.calibrate_action
    assert action.shortcut() == QtGui.QKeySequence("Ctrl+Shift+C")
    action.trigger()
    dialog = main_window.calibration_dialog
    assert dialog.isVisible()
    assert dialog.model_edit.text() == str(DEFAULT_WEIGHTS) and dialog.generic_edit.text() == str(DEFAULT_HAND_MODEL)
    assert dialog.samples_spin.value() == 30
    main_window.open_calibration()
    assert main_window.calibration_dialog is dialog
    assert not dialog.start()  # no recording open: nothing starts, the reason is shown
    assert "Open a recording first" in dialog.message_label.text()


def test_calibration_runs_in_a_worker_and_shows_samples_estimate_and_gt(dialog, qtbot, weights, two_view_hand_frames):
    window, session = dialog.window_, dialog.session
    generic = load_hand_model(DEFAULT_HAND_MODEL)
    assert dialog.start()
    assert dialog.busy and not dialog.start_button.isEnabled()  # the GUI thread only started the worker
    _finish(qtbot, dialog)

    expected = two_view_hand_frames(session.recording, generic, range(START, START + FRAMES))
    samples = list(dialog.calibration.samples)
    assert len(samples) == len(expected) == 19
    assert dialog.samples_label.text() == "19 / 30"
    # The plot is ScaleCalibration's running mean and mean ± spread, one point per sample.
    reference = ScaleCalibration(required=30, samples=list(samples)).history()
    x, mean = dialog.mean_curve.getData()
    np.testing.assert_array_equal(x, np.arange(1, 20))
    np.testing.assert_allclose(mean, [s.mean for s in reference], rtol=0, atol=1e-12)
    np.testing.assert_allclose(mean, np.cumsum(samples) / np.arange(1, 20), atol=1e-12)
    x_band, upper = dialog.upper_curve.getData()
    _, lower = dialog.lower_curve.getData()
    np.testing.assert_array_equal(x_band, np.arange(2, 20))
    np.testing.assert_allclose(upper, [s.mean + s.spread for s in reference[1:]], atol=1e-12)
    np.testing.assert_allclose(lower, [s.mean - s.spread for s in reference[1:]], atol=1e-12)
    np.testing.assert_array_equal(dialog.sample_dots.getData()[1], samples)
    # Views per hand of the last frame (56): the left hand in 3 cameras, the right one out of view.
    assert dialog.last_step.frame == START + FRAMES - 1
    assert dialog.views_label.text() == "left 3, right 0 (too few views)  (frame 56)"
    # GT scale and the error of the estimate.
    truth = scale_relative_to(session.recording.hand_model, generic)
    estimate = reference[-1].mean
    assert dialog.gt_line.isVisible() and dialog.gt_line.value() == pytest.approx(truth)
    assert dialog.gt_label.text() == f"{truth:.4f}  ·  error {100 * (estimate / truth - 1):+.2f} %"
    # Not enough multi-view frames in the range: said so, with the count.
    assert indicator(dialog.calibration.status)[0] == "Collecting: 19 / 30 samples" == dialog.indicator_label.text()
    assert "only 19 of 30 samples were collected in frames 45-56" in dialog.message_label.text()
    assert dialog.accept_button.isEnabled() and dialog.compare_button.isEnabled()
    assert window.session.playhead == START  # the calibration never moved the playhead


def test_accept_saves_the_profile_loads_it_and_tracks_with_it(dialog, qtbot, monkeypatch):
    session, window = dialog.session, dialog.window_
    dialog.samples_spin.setValue(10)
    dialog.start()
    _finish(qtbot, dialog)
    status = dialog.calibration.status
    assert status.converged and status.settled()
    assert dialog.indicator_label.text() == "Converged"
    assert dialog.last_step.frame == 49  # both hands in two views from frame 45: 2 samples a frame
    assert "complete" in dialog.message_label.text()

    changes = []
    session.hand_model_changed.connect(changes.append)
    recording_model = session.hand_model
    # The default place is next to the recording.
    chosen = dialog.default_profile_path()
    assert chosen == session.recording_path.parent / "recording_00.hand_profile.json"
    asked = []
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda parent, title, start, filter_: asked.append(start) or (start, ""))
    dialog.accept_button.click()
    assert asked == [str(chosen)] and chosen.is_file()
    profile = load_hand_model(chosen)
    generic = load_hand_model(DEFAULT_HAND_MODEL)
    assert scale_relative_to(profile, generic) == pytest.approx(status.mean, abs=1e-6)
    assert session.hand_model is not recording_model and session.hand_model_path == chosen and len(changes) == 1
    torch.testing.assert_close(session.hand_model.landmark_rest_positions, profile.landmark_rest_positions)
    assert not list(chosen.parent.glob(".*.tmp"))  # written atomically: no temporary left behind

    # Track with profile: the main window's tracker, known skeleton, with the calibrated model.
    assert dialog.track_button.isEnabled()
    dialog.track_button.click()
    worker = window.tracking_worker
    assert worker is not None and worker.hand_model is session.hand_model and worker.options.skeleton == "known"
    window.cancel_tracking()
    qtbot.waitUntil(lambda: window.tracking_worker is None, timeout=60_000)


def test_comparison_table_holds_both_skeletons_errors(dialog, qtbot, weights):
    session = dialog.session
    dialog.start()
    _finish(qtbot, dialog)
    assert dialog.compare()
    assert dialog.busy
    _finish(qtbot, dialog)
    comparison = dialog.comparison
    frames = range(START, START + FRAMES)
    assert comparison.frames == frames

    # The same numbers computed directly: both tracker runs and umetrack.metrics.
    net, _config = load_trained_network(weights)
    generic = load_hand_model(DEFAULT_HAND_MODEL)
    calibrated = dialog.calibration.calibrated_model(generic)
    generic_points, truth, valid, generic_tracked = track_keypoints(net, session.recording, generic, "oracle", frames=frames)
    calibrated_points, _, _, calibrated_tracked = track_keypoints(net, session.recording, calibrated, "oracle", frames=frames)
    scored = valid & generic_tracked & calibrated_tracked
    assert comparison.scored_slots == int(scored.sum()) == 19
    expected = {
        "generic": [mpjpe(truth, generic_points, scored), *np.nanmean(per_joint_error(truth, generic_points, scored), axis=(0, 1))],
        "calibrated": [mpjpe(truth, calibrated_points, scored), *np.nanmean(per_joint_error(truth, calibrated_points, scored), axis=(0, 1))],
    }
    table = dialog.table
    assert [table.horizontalHeaderItem(c).text() for c in range(3)] == ["Generic (mm)", "Calibrated (mm)", "Difference (mm)"]
    assert table.rowCount() == 22 and table.verticalHeaderItem(0).text() == "MPJPE"
    for row in range(22):
        generic_mm, calibrated_mm = expected["generic"][row], expected["calibrated"][row]
        assert table.item(row, 0).text() == f"{generic_mm:.1f}"
        assert table.item(row, 1).text() == f"{calibrated_mm:.1f}"
        assert float(table.item(row, 2).text()) == pytest.approx(calibrated_mm - generic_mm, abs=0.051)
    assert f"generic {expected['generic'][0]:.1f} mm, calibrated {expected['calibrated'][0]:.1f} mm" in dialog.message_label.text()


def test_stop_cancels_and_the_app_stays_usable(dialog, qtbot):
    dialog.frames_spin.setValue(dialog.frames_spin.maximum())
    dialog.start()
    qtbot.waitUntil(lambda: dialog.last_step is not None, timeout=60_000)
    dialog.stop_button.click()
    _finish(qtbot, dialog)
    assert dialog.message_label.text().startswith("Stopped")
    assert dialog.run is None and not dialog.accept_button.isEnabled()
    assert dialog.last_step.frame < dialog.session.num_frames - 1
    dialog.session.seek(100)
    assert dialog.session.playhead == 100 and "from frame 100" in dialog.frames_spin.suffix()


def test_too_few_multi_view_frames_say_how_many_samples_were_collected(dialog, qtbot):
    dialog.session.seek(200)  # the left hand is seen by one camera only on frames 200-205
    dialog.frames_spin.setValue(6)
    dialog.hands_combo.setCurrentIndex(1)  # left hand
    dialog.start()
    _finish(qtbot, dialog)
    assert "only 0 of 30 samples were collected in frames 200-205" in dialog.message_label.text()
    assert dialog.indicator_label.text() == "Waiting for a hand seen in two views"
    assert not dialog.accept_button.isEnabled() and not dialog.compare_button.isEnabled()


def test_weights_of_another_architecture_are_reported(dialog, qtbot, tmp_path):
    wrong = tmp_path / "wrong.pt"
    torch.manual_seed(0)
    # Light-encoder weights that claim to be the released encoder.
    save_checkpoint(wrong, {"model": make_network("light").state_dict(), "config": TrainConfig(encoder="released").to_json()})
    dialog.model_edit.setText(str(wrong))
    dialog.start()
    _finish(qtbot, dialog, timeout=60_000)
    text = dialog.message_label.text()
    assert "wrong.pt" in text and "do not fit this network architecture" in text
    assert dialog.run is None and not dialog.accept_button.isEnabled() and dialog.start_button.isEnabled()

    missing = tmp_path / "missing.pt"
    dialog.model_edit.setText(str(missing))
    dialog.start()
    _finish(qtbot, dialog, timeout=60_000)
    assert "missing.pt" in dialog.message_label.text()


def test_the_simulated_headset_is_a_live_source_with_a_known_scale(dialog, qtbot):
    labels = [dialog.source_combo.itemText(i) for i in range(dialog.source_combo.count())]
    assert labels[0].startswith("Recording: recording_00") and labels[1].startswith("Live: simulated headset")
    dialog.source_combo.setCurrentIndex(1)
    dialog.samples_spin.setValue(6)
    assert dialog.start()
    _finish(qtbot, dialog)
    assert dialog.run is not None and dialog.run.source.recording is None
    status = dialog.calibration.status
    assert status.converged and dialog.indicator_label.text() == "Converged"
    truth = scale_relative_to(dialog.run.source.subject, load_hand_model(DEFAULT_HAND_MODEL))
    assert dialog.run_true_scale == pytest.approx(truth) and dialog.gt_label.text().startswith(f"{truth:.4f}  ·  error")
    assert not dialog.compare_button.isEnabled()  # no recording to re-track
    assert dialog.accept_button.isEnabled()


@pytest.mark.xfail(strict=True, reason="known regression since session 11: the fourth model calibrates the sample to +3.8 % "
                   "(the third model: -1.0 %); on the held-out set it is better (3 of 4 hands within 3 % against 1 of 4). "
                   "See resources/weights/README.md. Strict: a model that meets 3 % again makes this fail, so remove the mark then.")
def test_sample_calibrates_within_three_percent_with_the_shipped_model(main_window, qtbot):
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip(f"needs the trained model {DEFAULT_WEIGHTS}: an untrained network predicts no meaningful scale")
    assert main_window.open_recording(SAMPLE_RECORDING)
    dialog = main_window.open_calibration()
    dialog.model_edit.setText(str(DEFAULT_WEIGHTS))
    dialog.start()
    _finish(qtbot, dialog, timeout=600_000)
    status = dialog.calibration.status
    truth = scale_relative_to(main_window.session.recording.hand_model, load_hand_model(DEFAULT_HAND_MODEL))
    assert status.converged, dialog.message_label.text()
    assert abs(status.mean / truth - 1) < 0.03
