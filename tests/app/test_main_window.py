"""Drive the window as a user does and check what the widgets and the 3D scene show."""

import json

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from umetrack.hand import fk

pytestmark = pytest.mark.gui


def test_slider_poses_the_hand_in_3d(main_window, qtbot):
    panel = main_window.hand_pose
    main_window.hand_pose_dock.raise_()  # tabbed with the 3D view, which now is off screen
    panel.hand_selector.setCurrentIndex(0)
    slider = panel.sliders[6]  # index PIP
    before, _ = main_window.scene3d.posed_geometry(0)
    slider.setValue(slider.maximum())
    angle = float(main_window.session.displayed_pose(0).joint_angles[6])
    assert angle == pytest.approx(float(main_window.session.hand_model.joint_limits[6, 1]), abs=1e-3)
    assert panel.value_labels[6].text().strip().endswith("°")
    after, landmarks = main_window.scene3d.posed_geometry(0)
    moved = np.linalg.norm(after - before, axis=1)
    assert moved.max() > 0.01  # the index finger curled by centimetres
    main_window.scene3d_dock.raise_()  # the 3D view catches up when shown
    # The skeleton visual holds exactly the posed landmarks.
    skeleton = main_window.scene3d.skeletons.part(("gt", 0))[0]
    np.testing.assert_allclose(skeleton[-2:], landmarks[[14, 17]], atol=1e-6)


def test_neutral_button_restores_limits_midpoint(main_window, qtbot):
    panel = main_window.hand_pose
    panel.hand_selector.setCurrentIndex(1)
    panel.sliders[9].setValue(panel.sliders[9].minimum())
    qtbot.mouseClick(panel.reset_button, QtCore.Qt.MouseButton.LeftButton)
    neutral = main_window.session.hand_model.neutral_angles
    np.testing.assert_allclose(main_window.session.displayed_pose(1).joint_angles[:20].numpy(), neutral[:20].numpy(), atol=1e-6)


def test_layer_shortcut_hides_skeleton(main_window, qtbot):
    assert main_window.scene3d.skeletons.has(("gt", 0))
    main_window.layer_actions["skeleton"].trigger()
    assert main_window.session.visible_layers["skeleton"] is False
    assert not main_window.scene3d.skeletons.has(("gt", 0))
    assert not main_window.layer_actions["skeleton"].isChecked()


def test_scene_renders_both_hands(main_window, qtbot):
    qtbot.wait(50)
    image = main_window.scene3d.canvas.render()[..., :3].astype(int)
    background = np.array([28, 31, 36])
    blue_ish = (image[..., 2] > image[..., 0] + 40).sum()
    orange_ish = (image[..., 0] > image[..., 2] + 40).sum()
    assert blue_ish > 500 and orange_ish > 500, (blue_ish, orange_ish)
    assert (np.abs(image - background).sum(-1) > 30).mean() > 0.02


def test_opening_a_corrupt_model_warns_and_keeps_session(main_window, qtbot, tmp_path, monkeypatch):
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps({"hand_model": {"joint_rotation_axes": [[1, 0, 0]]}}))
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    before = main_window.session.hand_model
    assert main_window.open_hand_model(bad) is False
    assert shown and "broken.json" in shown[0] and "joint_rotation_axes" in shown[0]
    assert main_window.session.hand_model is before


def test_layout_is_saved_and_restored(qtbot, settings):
    from app.main_window import MainWindow
    from app.session import Session

    window = MainWindow(Session(), settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.hand_pose_dock.setFloating(True)
    window.close()
    again = MainWindow(Session(), settings=settings)
    qtbot.addWidget(again)
    assert again.hand_pose_dock.isFloating()
