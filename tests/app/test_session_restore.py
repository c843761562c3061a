"""Save a session from the window and restore it, as a user does (File ▸ Save session, Open session)."""

import json

import numpy as np

import pytest
import torch
from PySide6 import QtCore, QtGui, QtWidgets

from app.main import open_at_start
from umetrack.hand.io import load_hand_model, save_hand_model
from umetrack.model.checkpoint import save_checkpoint
from umetrack.recording import write_umetrack_raw
from umetrack.synth.recording import synthetic_recording
from umetrack.track.tracker import TrackerOptions
from umetrack.train.loop import TrainConfig, make_network

pytestmark = pytest.mark.gui


@pytest.fixture
def project(hand_model, tmp_path):
    """A project folder: data/ with two recordings, runs/ with weights, sessions/ for the files."""
    videos = []
    for index, seed in enumerate((21, 22)):
        recording = synthetic_recording(hand_model, 8, seed=seed, num_views=2)
        video, _ = write_umetrack_raw(recording, tmp_path / "data" / f"recording_{index:02d}", crf=18)
        videos.append(video)
    torch.manual_seed(0)
    weights = tmp_path / "runs" / "weights.pt"
    weights.parent.mkdir()
    save_checkpoint(weights, {"model": make_network("light").state_dict(), "config": TrainConfig(encoder="light").to_json()})
    return videos, weights, tmp_path / "sessions" / "look.session.json"


def _tracked_window(window, qtbot, video, weights):
    window.open_recording(video)
    window.run_tracker(weights, TrackerOptions(crops="oracle"))
    qtbot.waitUntil(lambda: window.session.tracking is not None, timeout=60000)
    return window.session.tracking


def _make_window(qtbot, settings):
    from app.main_window import MainWindow
    from app.session import Session

    window = MainWindow(Session(), settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_save_then_restore_brings_back_recording_playhead_layers_layout_and_tracking(main_window, qtbot, project):
    (video, other), weights, session_file = project
    window = main_window
    results = _tracked_window(window, qtbot, video, weights)
    window.session.seek(6)
    window.session.select_hand(1)
    window.layer_actions["skeleton"].trigger()
    window.plots_dock.hide()
    assert window.session_actions.save_to(session_file)
    document = json.loads(session_file.read_text())
    assert document["recording"] == "../data/recording_00.mp4" and document["tracker"]["model"] == "../runs/weights.pt"
    assert document["playhead"] == 6 and document["layers"]["skeleton"] is False

    # Wander off: another recording, layers back on, the plots dock shown again.
    window.open_recording(other)
    window.layer_actions["skeleton"].trigger()
    window.plots_dock.show()
    assert window.session.tracking is None

    assert window.session_actions.open(session_file)
    assert window.session.recording_path == video.resolve()
    assert window.session.playhead == 6 and window.transport.frame_box.value() == 6
    assert window.session.selected_hand == 1
    assert window.session.visible_layers["skeleton"] is False and not window.layer_actions["skeleton"].isChecked()
    assert not window.views.overlay_pixels  # the GT skeleton layer is hidden in the views
    assert window.plots_dock.isHidden()
    assert window.session.tracking is results  # from the window's tracking cache, at once
    qtbot.waitUntil(lambda: window.views.displayed_frame == 6, timeout=5000)


def test_restore_in_a_fresh_window_reruns_the_tracker_in_the_worker(qtbot, settings, project, tmp_path):
    (video, _other), weights, session_file = project
    first = _make_window(qtbot, settings)
    results = _tracked_window(first, qtbot, video, weights)
    first.session.seek(3)
    first.session_actions.save_to(session_file)

    fresh_settings = QtCore.QSettings(str(tmp_path / "fresh.ini"), QtCore.QSettings.Format.IniFormat)
    second = _make_window(qtbot, fresh_settings)
    open_at_start(second, None, str(session_file))  # what `umetrack-studio --session FILE` does
    assert second.session.playhead == 3
    assert second.tracking_worker is not None and second.progress_bar.isVisible()  # not blocking the GUI
    qtbot.waitUntil(lambda: second.session.tracking is not None, timeout=60000)
    assert second.session.tracking.num_frames == results.num_frames
    assert (second.session.tracking.reasons == results.reasons).all()
    assert second.session.playhead == 3
    assert str(session_file.resolve()) in second.session_actions.recent()


@pytest.mark.parametrize(
    "spoil, words",
    [
        (lambda text: text[: len(text) // 2], "JSON"),
        (lambda text: text.replace('"version": 1', '"version": 7'), "unsupported version 7"),
        (lambda text: text.replace("recording_00.mp4", "gone.mp4"), "gone"),
    ],
    ids=["truncated", "unknown-version", "missing-recording"],
)
def test_a_bad_session_file_warns_and_keeps_the_current_session(main_window, qtbot, project, monkeypatch, spoil, words):
    (video, other), weights, session_file = project
    window = main_window
    window.open_recording(video)
    window.session.seek(5)
    window.session_actions.save_to(session_file)
    session_file.write_text(spoil(session_file.read_text()))
    window.open_recording(other)
    window.session.seek(2)
    window.layer_actions["mesh"].trigger()
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))
    assert window.session_actions.open(session_file) is False
    assert shown and shown[0][0] == "Cannot open session" and words in shown[0][1]
    assert window.session.recording_path == other and window.session.playhead == 2
    assert window.session.visible_layers["mesh"] is False


def test_ctrl_s_saves_to_the_session_file_and_save_as_asks_once(main_window, qtbot, project, monkeypatch):
    (video, _other), _weights, session_file = project
    window = main_window
    window.open_recording(video)
    asked = []

    def fake_dialog(parent, title, start, filters):
        asked.append(start)
        return str(session_file), filters

    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", fake_dialog)
    assert window.session_actions.save_action.shortcut() == QtGui.QKeySequence("Ctrl+S")
    window.session.seek(4)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_S, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert len(asked) == 1 and asked[0].endswith("recording_00.session.json")  # default: sessions/<recording>
    assert json.loads(session_file.read_text())["playhead"] == 4
    window.session.seek(7)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_S, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert len(asked) == 1  # saved in place, no second dialog
    assert json.loads(session_file.read_text())["playhead"] == 7
    window.session_actions._fill_recent_menu()
    assert [a.text() for a in window.session_actions.recent_menu.actions()][0] == str(session_file.resolve())


def test_a_session_whose_tracker_model_is_gone_restores_the_rest(main_window, qtbot, project):
    (video, other), _weights, session_file = project
    window = main_window
    window.open_recording(video)
    window.session.seek(5)
    window.session_actions.save_to(session_file)
    document = json.loads(session_file.read_text())
    document["tracker"] = {"model": "../runs/deleted.pt", "skeleton": "known", "crops": "oracle"}
    session_file.write_text(json.dumps(document))
    window.open_recording(other)
    assert window.session_actions.open(session_file)
    assert window.session.recording_path == video.resolve() and window.session.playhead == 5
    assert window.session.tracking is None and window.tracking_worker is None
    assert "deleted.pt" in window.statusBar().currentMessage() and "not restored" in window.statusBar().currentMessage()


def _rest_landmarks(model):
    return model.landmark_rest_positions.double()


def test_a_calibrated_profile_in_a_session_survives_restoring_in_a_fresh_window(qtbot, settings, project, hand_model, tmp_path):
    (video, _other), _weights, session_file = project
    profile_path = tmp_path / "profiles" / "me.hand_profile.json"
    profile_path.parent.mkdir()
    save_hand_model(profile_path, hand_model.scaled(1.12))
    profile = load_hand_model(profile_path)  # as written (mm round trip), what any window reads back
    first = _make_window(qtbot, settings)
    first.open_recording(video)
    recording_model = first.session.recording.hand_model
    assert not torch.allclose(_rest_landmarks(recording_model), _rest_landmarks(profile))
    assert first.open_hand_model(profile_path)
    assert first.session_actions.save_to(session_file)
    document = json.loads(session_file.read_text())
    assert document["hand_model_source"] == "file" and document["hand_model"] == "../profiles/me.hand_profile.json"

    second = _make_window(qtbot, QtCore.QSettings(str(tmp_path / "fresh.ini"), QtCore.QSettings.Format.IniFormat))
    open_at_start(second, None, str(session_file))
    assert second.session.recording_path == video.resolve()
    assert second.session.hand_model_path == profile_path.resolve()
    assert torch.allclose(_rest_landmarks(second.session.hand_model), _rest_landmarks(profile))


def test_a_session_showing_the_recordings_own_model_restores_that_model(qtbot, settings, project, hand_model, tmp_path):
    (video, _other), _weights, session_file = project
    first = _make_window(qtbot, settings)
    first.open_recording(video)
    recording_model = first.session.recording.hand_model
    assert first.session_actions.save_to(session_file)
    assert json.loads(session_file.read_text())["hand_model_source"] == "recording"

    # A window showing someone's profile: restoring the session brings back the recording's own model.
    profile_path = tmp_path / "someone.hand_profile.json"
    save_hand_model(profile_path, hand_model.scaled(0.9))
    second = _make_window(qtbot, QtCore.QSettings(str(tmp_path / "fresh.ini"), QtCore.QSettings.Format.IniFormat))
    assert second.open_hand_model(profile_path)
    open_at_start(second, None, str(session_file))
    assert second.session.recording_path == video.resolve()
    assert torch.allclose(_rest_landmarks(second.session.hand_model), _rest_landmarks(recording_model))


def test_tracking_follows_the_profile_on_display_and_a_restored_session_reruns_with_it(qtbot, settings, project, hand_model, tmp_path):
    (video, _other), weights, session_file = project
    profile_path = tmp_path / "me.hand_profile.json"
    save_hand_model(profile_path, hand_model.scaled(1.12))
    first = _make_window(qtbot, settings)
    with_recording_model = _tracked_window(first, qtbot, video, weights)
    assert first.open_hand_model(profile_path)
    profile = first.session.hand_model
    first.run_tracker(weights, TrackerOptions(crops="oracle"))
    assert first.tracking_worker is not None and first.tracking_worker.hand_model is profile  # not the cached run
    qtbot.waitUntil(lambda: first.session.tracking is not None and first.session.tracking is not with_recording_model, timeout=60000)
    with_profile = first.session.tracking
    # Oracle crops are placed with the tracker's hand model: the larger profile hand gets wider crops.
    used = np.isfinite(with_profile.focal) & np.isfinite(with_recording_model.focal)
    assert used.any()
    assert np.median(with_recording_model.focal[used] / with_profile.focal[used]) > 1.03
    assert first.session_actions.save_to(session_file)
    assert json.loads(session_file.read_text())["tracker"] is not None  # the profile run can be re-run

    second = _make_window(qtbot, QtCore.QSettings(str(tmp_path / "fresh.ini"), QtCore.QSettings.Format.IniFormat))
    open_at_start(second, None, str(session_file))
    assert second.tracking_worker is not None
    assert torch.allclose(_rest_landmarks(second.tracking_worker.hand_model), _rest_landmarks(profile))
    qtbot.waitUntil(lambda: second.session.tracking is not None, timeout=60000)
    assert (second.session.tracking.reasons == with_profile.reasons).all()
