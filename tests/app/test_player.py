"""Open a recording and drive the player with the keyboard and the transport, as a user does."""

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from app.overlays import GROUND_TRUTH
from umetrack.recording import write_umetrack_raw

pytestmark = pytest.mark.gui


@pytest.fixture
def raw_recording(make_recording, tmp_path):
    recording = make_recording(num_frames=20, num_views=2, width=160, height=120)
    video, _labels = write_umetrack_raw(recording, tmp_path / "recording_00")
    return recording, video


def _wait_for_frame(qtbot, window, frame):
    qtbot.waitUntil(lambda: window.views.displayed_frame == frame, timeout=5000)


def test_open_recording_shows_every_view_and_decoded_pixels(main_window, qtbot, raw_recording):
    recording, video = raw_recording
    assert main_window.open_recording(video)
    assert len(main_window.views.image_items) == 2
    assert main_window.transport.scrub.maximum() == 19
    assert "recording_00" in main_window.windowTitle()
    _wait_for_frame(qtbot, main_window, 0)
    shown = main_window.views.image_items[1].image
    assert np.abs(shown.astype(int) - recording.image(0, 1).astype(int)).mean() < 2.0  # codec tolerance


def test_keys_step_and_jump_and_the_views_follow(main_window, qtbot, raw_recording):
    _recording, video = raw_recording
    main_window.open_recording(video)
    qtbot.keyClick(main_window, QtCore.Qt.Key.Key_Right)
    qtbot.keyClick(main_window, QtCore.Qt.Key.Key_Right)
    assert main_window.session.playhead == 2
    qtbot.keyClick(main_window, QtCore.Qt.Key.Key_Right, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert main_window.session.playhead == 12
    qtbot.keyClick(main_window, QtCore.Qt.Key.Key_Left)
    assert main_window.session.playhead == 11
    assert main_window.transport.frame_box.value() == 11 and main_window.transport.scrub.value() == 11
    _wait_for_frame(qtbot, main_window, 11)
    qtbot.keyClick(main_window, QtCore.Qt.Key.Key_End)
    assert main_window.session.playhead == 19
    qtbot.keyClick(main_window, QtCore.Qt.Key.Key_Home)
    assert main_window.session.playhead == 0


def test_scrub_bar_and_frame_entry_seek(main_window, qtbot, raw_recording):
    _recording, video = raw_recording
    main_window.open_recording(video)
    main_window.transport.scrub.setValue(7)
    assert main_window.session.playhead == 7
    main_window.transport.frame_box.setValue(15)
    assert main_window.session.playhead == 15
    _wait_for_frame(qtbot, main_window, 15)


def test_play_advances_in_real_time_and_stops_at_the_end(main_window, qtbot, raw_recording):
    _recording, video = raw_recording
    main_window.open_recording(video)
    qtbot.keyClick(main_window, QtCore.Qt.Key.Key_Space)
    assert main_window.transport.playing
    qtbot.waitUntil(lambda: not main_window.transport.playing, timeout=5000)  # 20 frames at 30 fps
    assert main_window.session.playhead == 19


def test_gt_overlay_lands_on_projected_landmarks(main_window, qtbot, raw_recording):
    recording, video = raw_recording
    main_window.open_recording(video)
    main_window.session.seek(10)
    pose = recording.gt.pose(10, 0)
    from umetrack.hand import fk

    camera = recording.cameras(10)[0]
    points = fk.landmarks(recording.hand_model.to(pose.joint_angles.dtype), pose.joint_angles, pose.T_world_from_wrist, 0)
    expected, _ = camera.project_world(points)
    drawn = main_window.views.overlay_pixels[(0, 0)]
    keep = camera.visible(points).numpy()
    assert np.isnan(drawn[~keep]).all()  # nothing drawn off the image or behind the lens
    np.testing.assert_allclose(drawn[keep], expected.numpy()[keep], atol=1e-3)
    main_window.layer_actions["skeleton"].trigger()
    assert len(main_window.views.overlay_items[0].segments((GROUND_TRUTH, 0))) == 0


def test_untracked_frame_hides_overlays_and_absent_hand_hides_mesh(main_window, qtbot, raw_recording):
    _recording, video = raw_recording
    main_window.open_recording(video)
    main_window.session.seek(5)  # headset untracked in this frame
    assert not main_window.views.overlay_pixels
    main_window.session.seek(1)  # right hand absent in frames 0-2
    assert not main_window.scene3d.meshes.has(("gt", 1))
    assert main_window.scene3d.meshes.has(("gt", 0))


def test_corrupt_recording_warns_and_keeps_the_open_one(main_window, qtbot, raw_recording, tmp_path, monkeypatch):
    _recording, video = raw_recording
    main_window.open_recording(video)
    main_window.session.seek(4)
    broken = tmp_path / "broken" / "recording_01.mp4"
    broken.parent.mkdir()
    broken.write_bytes(video.read_bytes()[:5000])
    (broken.parent / "recording_01.json").write_text(video.with_suffix(".json").read_text())
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    assert main_window.open_recording(broken) is False
    assert shown and "recording_01" in shown[0]
    assert main_window.session.recording_path == video and main_window.session.playhead == 4


def test_a_view_with_no_image_says_so_and_gets_no_skeleton(main_window, qtbot, make_recording):
    from dataclasses import replace

    recording = make_recording(num_frames=20, num_views=2, width=160, height=120)
    missing = np.zeros((20, 2), bool)
    missing[8:12, 1] = True  # camera 1 unplugged for four frames
    main_window.session.set_recording(replace(recording, missing_views=missing))
    main_window.session.seek(10)
    views = main_window.views
    assert (0, 0) in views.overlay_pixels and not any(view == 1 for view, _hand in views.overlay_pixels)
    assert "no image" in views.title_items[1].toPlainText() and "no image" not in views.title_items[0].toPlainText()
    main_window.session.seek(13)
    assert (1, 0) in views.overlay_pixels and "no image" not in views.title_items[1].toPlainText()
