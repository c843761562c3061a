"""The 3D view's picture: rendered off the window (no QOpenGLWidget in the main window, whose GL
composition made every repaint of the window cost ~90 ms under software GL), shown at the panel's
size, and no work while the panel is tabbed away, with a catch-up when it is shown again."""

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtOpenGLWidgets import QOpenGLWidget

from app.session import SAMPLE_RECORDING
from app.visibility import on_screen

pytestmark = pytest.mark.gui


def widget_pixels(widget: QtWidgets.QWidget) -> np.ndarray:
    """(H, W, 3) RGB of what the widget paints."""
    image = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).astype(int)


def test_the_panel_shows_the_rendered_scene(main_window, qtbot):
    panel = main_window.scene3d
    qtbot.waitUntil(lambda: panel.display.renders > 0)
    assert not main_window.findChildren(QOpenGLWidget)  # the canvas's GL widget stays out of the window
    assert panel.canvas.native.size() == panel.display.size()  # rendered at the panel's own size
    image = widget_pixels(panel.display)
    assert image.shape[:2] == (panel.display.height(), panel.display.width())
    blue_ish = (image[..., 2] > image[..., 0] + 40).sum()
    orange_ish = (image[..., 0] > image[..., 2] + 40).sum()
    assert blue_ish > 500 and orange_ish > 500, (blue_ish, orange_ish)


def test_a_resized_panel_renders_at_its_new_size(main_window, qtbot):
    panel = main_window.scene3d
    qtbot.waitUntil(lambda: panel.display.renders > 0)
    before = panel.display.size()
    main_window.resizeDocks([main_window.scene3d_dock], [panel.width() + 150], QtCore.Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: panel.display.size() != before)
    qtbot.waitUntil(lambda: panel.canvas.native.size() == panel.display.size())
    assert panel.canvas.render_image().size() == panel.display.size()


def test_a_hidden_panel_does_no_work_and_catches_up_when_shown(main_window, qtbot):
    window = main_window
    assert window.open_recording(SAMPLE_RECORDING)
    panel = window.scene3d
    window.session.seek(10)
    qtbot.waitUntil(lambda: panel.display.renders > 0 and not panel.display.stale)
    window.hand_pose_dock.raise_()  # tabbed with the 3D view, which is now hidden
    qtbot.waitUntil(lambda: not on_screen(panel))  # Qt moves a tabbed-away dock off the window
    renders, skeleton = panel.display.renders, panel.skeletons.part(("gt", 0))[0].copy()
    for frame in (40, 41, 42, 150):
        window.session.seek(frame)
        qtbot.wait(10)
    assert panel.display.renders == renders  # nothing drawn while hidden
    np.testing.assert_array_equal(panel.skeletons.part(("gt", 0))[0], skeleton)  # nor any geometry computed
    window.scene3d_dock.raise_()
    qtbot.waitUntil(lambda: panel.display.renders > renders)
    landmarks = window.session.displayed_landmarks(0)
    np.testing.assert_allclose(panel.skeletons.part(("gt", 0))[0], landmarks[panel._bones].reshape(-1, 3), atol=1e-6)
    cameras = window.session.recording.cameras(150)
    np.testing.assert_allclose(panel.lines.part("headset")[0][0], cameras[0].T_world_from_camera[:3, 3].numpy(), atol=1e-6)


def test_meshes_skinned_by_chunk_match_fk_of_the_frame(main_window):
    """In playback GT meshes are skinned MESH_CHUNK frames at a time; each frame's vertices and
    normals must be those of FK of that frame alone."""
    import torch

    from app.panels.scene3d import unit_normals
    from app.panels.scene3d import MESH_CHUNK
    from umetrack.hand import fk

    window = main_window
    assert window.open_recording(SAMPLE_RECORDING)
    panel, session = window.scene3d, window.session
    model = panel.display_model  # the session's model with a simplified mesh
    assert model.landmark_rest_positions is session.hand_model.landmark_rest_positions
    assert model.num_vertices < session.hand_model.num_vertices
    for frame in (*range(3, 3 + 2 * MESH_CHUNK + 2), 150, 149, 148):
        session.seek(frame)
        for hand in (0, 1):
            pose = session.displayed_pose(hand)
            if pose is None:
                continue
            with torch.no_grad():
                expected = fk.mesh_vertices(model, pose.joint_angles.to(model.dtype), pose.T_world_from_wrist.to(model.dtype), hand).numpy()
            vertices, _landmarks, normals = panel._posed(hand)
            np.testing.assert_allclose(vertices, expected, atol=1e-6)
            np.testing.assert_allclose(normals, unit_normals(expected[None], panel.faces[hand])[0], atol=1e-4)


def test_mouse_on_the_picture_moves_the_3d_camera(main_window, qtbot):
    """Orbit and zoom reach the off-window canvas: the picture widget hands its mouse events over."""
    panel = main_window.scene3d
    qtbot.waitUntil(lambda: panel.display.renders > 0)
    camera = panel.view.camera
    distance, azimuth = camera.distance, camera.azimuth
    centre = panel.display.rect().center()
    wheel = QtGui.QWheelEvent(QtCore.QPointF(centre), QtCore.QPointF(panel.display.mapToGlobal(centre)), QtCore.QPoint(),
                              QtCore.QPoint(0, 240), QtCore.Qt.MouseButton.NoButton, QtCore.Qt.KeyboardModifier.NoModifier,
                              QtCore.Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
    QtWidgets.QApplication.sendEvent(panel.display, wheel)
    assert camera.distance < distance  # zoomed in
    renders = panel.display.renders
    qtbot.mousePress(panel.display, QtCore.Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(panel.display, centre + QtCore.QPoint(60, 0))
    qtbot.mouseRelease(panel.display, QtCore.Qt.MouseButton.LeftButton, pos=centre + QtCore.QPoint(60, 0))
    assert camera.azimuth != azimuth  # orbited
    qtbot.waitUntil(lambda: panel.display.renders > renders)  # and the picture was rendered again
