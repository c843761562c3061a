"""The batched drawing items: the 3D view's part visuals (many parts, one draw call) and the skeleton
overlay of the 2D views (every skeleton of a view in one graphics item). Checked on what they draw."""

import numpy as np
import pytest
from PySide6 import QtCore, QtGui
from vispy import scene

from app.overlays import CaptionItem, GreyImage, PlayheadCursor, SkeletonOverlay, skeleton_segments
from app.panels.scene3d import OffscreenSceneCanvas, close_canvas
from app.scene_visuals import PartMesh, PartSegments
from umetrack.hand.model import SKELETON_BONES

pytestmark = pytest.mark.gui

BACKGROUND = (0.0, 0.0, 0.0, 1.0)
# A closed tetrahedron around the origin, faces wound counter-clockwise seen from outside.
TETRAHEDRON = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]], np.float32) * 0.1
OUTWARD_FACES = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]], np.uint32)


def outward_normals(vertices: np.ndarray) -> np.ndarray:
    return vertices / np.linalg.norm(vertices, axis=1, keepdims=True)


@pytest.fixture
def canvas(qtbot):
    from vispy import app as vispy_app

    vispy_app.use_app("pyside6")
    canvas = OffscreenSceneCanvas(lambda: None, keys=None, bgcolor=BACKGROUND)
    canvas.set_size(120, 120)
    view = canvas.central_widget.add_view()
    view.camera = scene.cameras.TurntableCamera(fov=40.0, distance=1.0, elevation=20.0, azimuth=30.0, center=(0.0, 0.0, 0.0))
    yield canvas, view
    close_canvas(canvas)


def rendered(canvas: OffscreenSceneCanvas) -> np.ndarray:
    """(H, W, 3) int RGB of the canvas's picture."""
    image = canvas.render_image().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).astype(int)


def test_mesh_parts_draw_in_their_colours_and_go_when_removed(canvas):
    canvas, view = canvas
    meshes = PartMesh(parent=view.scene)
    left = TETRAHEDRON + np.float32([-0.15, 0.0, 0.0])
    right = TETRAHEDRON + np.float32([0.15, 0.0, 0.0])
    meshes.set_part(("gt", 0), left, outward_normals(TETRAHEDRON), OUTWARD_FACES, (0.0, 0.0, 1.0, 1.0))
    meshes.set_part(("gt", 1), right, outward_normals(TETRAHEDRON), OUTWARD_FACES, (1.0, 0.0, 0.0, 1.0))
    image = rendered(canvas)
    blue = (image[..., 2] > 60) & (image[..., 0] < 20)
    red = (image[..., 0] > 60) & (image[..., 2] < 20)
    assert blue.sum() > 100 and red.sum() > 100, (blue.sum(), red.sum())
    # Each part where its vertices are: blue on the left half of the picture, red on the right.
    assert np.nonzero(blue)[1].mean() < np.nonzero(red)[1].mean()
    assert meshes.keys() == [("gt", 0), ("gt", 1)] and meshes.rgba(("gt", 1)) == (1.0, 0.0, 0.0, 1.0)

    meshes.remove(("gt", 1))
    image = rendered(canvas)
    assert ((image[..., 0] > 60) & (image[..., 2] < 20)).sum() == 0
    assert ((image[..., 2] > 60) & (image[..., 0] < 20)).sum() > 100
    meshes.clear()
    assert rendered(canvas).max() <= 1  # nothing but the background


def test_back_faces_are_culled(canvas):
    """One triangle, wound one way and then the other: exactly one of the two faces the viewer and is
    drawn (the hand meshes are closed and wound outwards, so only their hidden faces are culled)."""
    canvas, view = canvas
    meshes = PartMesh(parent=view.scene)
    triangle = np.array([[-0.2, -0.2, 0.0], [0.2, -0.2, 0.0], [0.0, 0.2, 0.0]], np.float32)
    normals = np.tile(np.float32([0.0, 0.0, 1.0]), (3, 1))
    drawn = []
    for faces in (np.array([[0, 1, 2]]), np.array([[0, 2, 1]])):
        meshes.set_part(0, triangle, normals, faces, (1.0, 1.0, 1.0, 1.0))
        drawn.append(int((rendered(canvas).sum(-1) > 30).sum()))
    assert min(drawn) == 0 and max(drawn) > 100, drawn


def test_mesh_parts_reject_mismatched_arrays(canvas):
    canvas, view = canvas
    meshes = PartMesh(parent=view.scene)
    with pytest.raises(ValueError, match="normals"):
        meshes.set_part(0, TETRAHEDRON, TETRAHEDRON[:3], OUTWARD_FACES, (1.0, 1.0, 1.0, 1.0))


def test_segment_parts_draw_one_colour_each(canvas):
    canvas, view = canvas
    lines = PartSegments(width=3, parent=view.scene)
    lines.set_part("x", np.array([[-0.3, 0.0, 0.0], [0.3, 0.0, 0.0]]), (0.0, 1.0, 0.0, 1.0))
    lines.set_part("y", np.array([[0.0, -0.3, 0.0], [0.0, 0.3, 0.0]]), (1.0, 0.0, 1.0, 1.0))
    image = rendered(canvas)
    green = (image[..., 1] > 150) & (image[..., 0] < 50)
    magenta = (image[..., 0] > 150) & (image[..., 2] > 150) & (image[..., 1] < 50)
    assert green.sum() > 20 and magenta.sum() > 20
    lines.remove("y")
    image = rendered(canvas)
    assert ((image[..., 0] > 150) & (image[..., 2] > 150) & (image[..., 1] < 50)).sum() == 0
    with pytest.raises(ValueError, match="2K, 3"):
        lines.set_part("odd", np.zeros((3, 3)), (1.0, 1.0, 1.0, 1.0))


def test_part_bounds_follow_the_parts_and_skip_nan(canvas):
    """Bounds are worked out only when vispy asks (a camera's set_range), from the parts as they are."""
    canvas, view = canvas
    lines = PartSegments(parent=view.scene)
    assert lines._compute_bounds(0, None) is None
    lines.set_part("a", np.array([[-0.2, 0.1, 0.0], [0.3, np.nan, 0.5]]), (1.0, 1.0, 1.0, 1.0))
    assert lines._compute_bounds(0, None) == pytest.approx((-0.2, 0.3))
    assert lines._compute_bounds(1, None) == pytest.approx((0.1, 0.1))
    rendered(canvas)
    lines.set_part("b", np.array([[0.0, -1.0, 0.0], [0.0, 2.0, 0.0]]), (1.0, 1.0, 1.0, 1.0))  # changed after a draw
    assert lines._compute_bounds(1, None) == pytest.approx((-1.0, 2.0))
    lines.clear()
    assert lines._compute_bounds(2, None) is None


def test_part_changes_ask_for_one_redraw_per_picture(canvas):
    canvas, view = canvas
    lines = PartSegments(parent=view.scene)
    requests = []
    canvas._on_change = lambda: requests.append(1)
    segment = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    for key in "abc":
        lines.set_part(key, segment, (1.0, 1.0, 1.0, 1.0))
    assert len(requests) == 1
    rendered(canvas)
    requests.clear()
    lines.remove("a")
    lines.set_part("b", segment * 2, (1.0, 1.0, 1.0, 1.0))
    assert len(requests) == 1  # and the picture after it shows every change
    assert lines.keys() == ["b", "c"]


def test_caption_sits_on_its_anchor_at_screen_size_whatever_the_view(qtbot):
    import pyqtgraph as pg

    widget = pg.GraphicsLayoutWidget()
    widget.resize(300, 300)
    box = widget.addViewBox(invertY=False)
    box.setRange(xRange=(0, 10), yRange=(0, 10), padding=0)
    caption = CaptionItem("left\n16.6 mm mean", (255, 0, 0), anchor=(0.5, 1.0))
    caption.setPos(5, 5)
    box.addItem(caption, ignoreBounds=True)
    widget.show()
    qtbot.waitExposed(widget)
    assert caption.toPlainText() == "left\n16.6 mm mean"

    def on_screen() -> QtCore.QRectF:
        # Where it is drawn: an item that ignores transformations is placed by its device transform.
        return caption.deviceTransform(widget.viewportTransform()).mapRect(caption.boundingRect())

    anchor = widget.mapFromScene(box.mapViewToScene(QtCore.QPointF(5, 5)))
    rect = on_screen()
    assert rect.center().x() == pytest.approx(anchor.x(), abs=1.5) and rect.bottom() == pytest.approx(anchor.y(), abs=1.5)
    size = rect.size()
    box.setRange(xRange=(4, 6), yRange=(4, 6), padding=0)  # zoomed in 5x: same size, same anchor
    box.invertY(True)
    rect = on_screen()
    assert rect.size().width() == pytest.approx(size.width(), abs=1) and rect.size().height() == pytest.approx(size.height(), abs=1)
    anchor = widget.mapFromScene(box.mapViewToScene(QtCore.QPointF(5, 5)))
    assert rect.center().x() == pytest.approx(anchor.x(), abs=1.5) and rect.bottom() == pytest.approx(anchor.y(), abs=1.5)
    caption.setText("right")
    assert on_screen().width() < size.width()


def test_skeleton_segments_keep_only_bones_with_both_ends_visible():
    pixels = np.arange(42, dtype=float).reshape(21, 2)
    assert len(skeleton_segments(pixels)) == 2 * len(SKELETON_BONES)
    pixels[8] = np.nan  # a fingertip beyond the image
    segments = skeleton_segments(pixels)
    bones_at_tip = sum(8 in bone for bone in SKELETON_BONES)
    assert len(segments) == 2 * (len(SKELETON_BONES) - bones_at_tip)
    assert np.isfinite(segments).all()


def test_skeleton_overlay_paints_its_layers_and_drops_removed_ones(qtbot):
    overlay = SkeletonOverlay(100, 100)
    pixels = np.full((21, 2), np.nan)
    pixels[7], pixels[0] = (10.0, 50.0), (90.0, 50.0)  # one visible bone (thumb distal -> tip), along y = 50
    red = QtGui.QPen(QtGui.QColor(255, 0, 0), 3)
    overlay.set_skeleton(("gt", 0), pixels, red, dots=QtGui.QColor(0, 0, 255))
    np.testing.assert_allclose(overlay.segments(("gt", 0)), [[10.0, 50.0], [90.0, 50.0]])

    def painted() -> QtGui.QImage:
        image = QtGui.QImage(100, 100, QtGui.QImage.Format.Format_RGB32)
        image.fill(QtGui.QColor(0, 0, 0))
        painter = QtGui.QPainter(image)
        overlay.paint(painter)
        painter.end()
        return image

    image = painted()
    assert QtGui.QColor(image.pixel(50, 50)).red() == 255  # on the bone
    assert QtGui.QColor(image.pixel(10, 50)).blue() == 255  # a landmark dot over its end
    assert QtGui.QColor(image.pixel(50, 20)).red() == 0  # off the bone
    overlay.set_skeleton(("gt", 0), None, red)
    assert overlay.keys() == [] and len(overlay.segments(("gt", 0))) == 0
    assert QtGui.QColor(painted().pixel(50, 50)).red() == 0
    assert overlay.boundingRect().contains(QtCore.QRectF(0, 0, 100, 100))


def test_grey_image_shows_its_pixels_in_item_coordinates(qtbot):
    image = np.zeros((4, 6), np.uint8)
    image[1, 2], image[3, 5] = 200, 90
    item = GreyImage(6, 4)
    item.set_image(image)
    assert item.boundingRect() == QtCore.QRectF(0, 0, 6, 4)
    canvas = QtGui.QImage(60, 40, QtGui.QImage.Format.Format_RGB32)
    painter = QtGui.QPainter(canvas)
    painter.scale(10, 10)  # as a view box shows it, 10 screen pixels per image pixel
    item.paint(painter)
    painter.end()
    assert QtGui.QColor(canvas.pixel(25, 15)).getRgb()[:3] == (200, 200, 200)
    assert QtGui.QColor(canvas.pixel(55, 35)).getRgb()[:3] == (90, 90, 90)
    assert QtGui.QColor(canvas.pixel(5, 5)).getRgb()[:3] == (0, 0, 0)
    with pytest.raises(ValueError, match="uint8"):
        item.set_image(np.zeros((4, 6), np.float32))


def test_playhead_cursor_is_drawn_at_its_frame_whatever_the_range(qtbot):
    """The cursor keeps its own bounds (not InfiniteLine's): they must follow moves and range changes,
    or the view would leave the line out."""
    import pyqtgraph as pg

    plot = pg.PlotWidget()
    plot.setBackground((0, 0, 0))
    plot.resize(400, 200)
    plot.setXRange(0, 100, padding=0)
    plot.setYRange(0, 1, padding=0)
    cursor = PlayheadCursor(plot.getPlotItem().vb, QtGui.QPen(QtGui.QColor(255, 255, 0)))
    plot.addItem(cursor, ignoreBounds=True)
    plot.show()
    qtbot.waitExposed(plot)

    def yellow_columns() -> set[int]:
        plot.repaint()
        image = plot.grab().toImage()
        y = image.height() // 2
        return {x for x in range(image.width()) if QtGui.QColor(image.pixel(x, y)).getRgb()[:3] == (255, 255, 0)}

    def column_of(x: float) -> float:
        return plot.mapFromScene(plot.getPlotItem().vb.mapViewToScene(QtCore.QPointF(x, 0.5))).x()

    cursor.setValue(20)
    columns = yellow_columns()
    assert columns and all(abs(c - column_of(20)) <= 1.5 for c in columns)
    cursor.setValue(70)
    columns = yellow_columns()
    assert columns and all(abs(c - column_of(70)) <= 1.5 for c in columns) and cursor.value() == 70
    plot.setXRange(60, 80, padding=0)  # zoomed in: the same frame, further right
    columns = yellow_columns()
    assert columns and all(abs(c - column_of(70)) <= 1.5 for c in columns)


def test_every_graphics_view_paints_a_plain_background(main_window):
    """No pyqtgraph view of the app copies a cached background pixmap under its repaints, the live
    views (made outside the window's docks) and the calibration plot included."""
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    from app.panels.calibration import CalibrationDialog

    dialog = CalibrationDialog(main_window)
    views = [*main_window.findChildren(pg.GraphicsView), *main_window.live_actions.panel.findChildren(pg.GraphicsView), *dialog.findChildren(pg.GraphicsView)]
    assert len(views) >= 9
    assert all(view.cacheMode() == QtWidgets.QGraphicsView.CacheModeFlag.CacheNone for view in views)
    dialog.deleteLater()
