"""Drawing helpers shared by panels: camera and crop images, hand skeletons over them (the player's
views, the crops and the live views), and time-series curves drawn from a cache."""

from __future__ import annotations

from collections.abc import Hashable

import cv2
import numpy as np
import pyqtgraph as pg
import torch
from PySide6 import QtCore, QtGui, QtWidgets

from app.style import HAND_RGB
from umetrack.hand.model import SKELETON_BONES

_BONES = np.asarray(SKELETON_BONES)


def pixels_in_view(camera, points: torch.Tensor) -> np.ndarray:
    """(P, 2) pixels of (P, 3) world points, NaN where a point is not visible in the image (behind
    the camera, beyond the lens, or outside the frame)."""
    with torch.no_grad():
        # ``camera.visible`` in one projection instead of two (the projection is what costs).
        eye = camera.world_to_eye(points)
        pixels, valid = camera.model.project(eye)
        visible = valid & camera.model.in_image(pixels) & (eye[..., 2] > 0)
    pixels = pixels.numpy().copy()
    pixels[~visible.numpy()] = np.nan
    return pixels


def skeleton_segments(pixels: np.ndarray) -> np.ndarray:
    """(2K, 2) endpoints of the bones of (21, 2) landmark pixels whose two ends are both visible."""
    segments = pixels[_BONES].reshape(-1, 2)
    keep = np.isfinite(segments).all(1).reshape(-1, 2).all(1).repeat(2)
    return segments[keep]


GT_SKELETON_PENS = {hand: pg.mkPen(rgb, width=2) for hand, rgb in HAND_RGB.items()}
"""Ground-truth skeletons in the hand's colour; their landmark dots take ``GT_LANDMARK_COLOURS``."""
GT_LANDMARK_COLOURS = {hand: QtGui.QColor(*rgb) for hand, rgb in HAND_RGB.items()}
PREDICTED, GROUND_TRUTH = 0, 1
"""First entry of a ``SkeletonOverlay`` layer key (kind, hand): predictions are painted first, ground
truth over them."""
PREDICTION_SKELETON_PEN = pg.mkPen((255, 255, 255), width=2, style=QtCore.Qt.PenStyle.DashLine)
LANDMARK_DOT_PX = 5


class GreyImage(pg.GraphicsObject):
    """A uint8 grey image (camera view, network crop) shown pixel for pixel in item coordinates
    (0..width, 0..height), nearest-neighbour when scaled.

    Drawn from an RGB32 copy: Qt scales RGB32 onto the window's RGB32 backing store 3-4x faster than
    the Grayscale8 QImage pyqtgraph's ImageItem makes of a uint8 array (640x480 to 700x525: 0.31
    against 0.94 ms; to 350x262: 0.08 against 0.35 ms), and the copy costs ~0.1 ms per 640x480 image."""

    def __init__(self, width: int, height: int):
        super().__init__()
        self.image = np.zeros((height, width), np.uint8)
        """The (H, W) uint8 grey image on display."""
        self._rgb32 = np.zeros((height, width, 4), np.uint8)
        self._qimage = self._wrap(self._rgb32)

    @staticmethod
    def _wrap(rgb32: np.ndarray) -> QtGui.QImage:
        height, width = rgb32.shape[:2]
        return QtGui.QImage(rgb32.data, width, height, rgb32.strides[0], QtGui.QImage.Format.Format_RGB32)

    def set_image(self, image: np.ndarray) -> None:
        """Show an (H, W) uint8 image; a new size changes the item's extent."""
        if image.ndim != 2 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W) uint8 image, got {image.dtype} {image.shape}")
        if image.shape != self.image.shape:
            self.prepareGeometryChange()
        self.image = image
        # The QImage wraps this buffer (no copy); a fresh one each frame, so a picture Qt may still
        # hold from the last paint is never overwritten under it.
        self._rgb32 = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2BGRA)  # B = G = R = grey, A = 255: 0xffRRGGBB words
        self._qimage = self._wrap(self._rgb32)
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return QtCore.QRectF(0.0, 0.0, self.image.shape[1], self.image.shape[0])

    def paint(self, painter: QtGui.QPainter, *_args) -> None:
        painter.drawImage(self.boundingRect(), self._qimage)


class SkeletonOverlay(pg.GraphicsObject):
    """Every skeleton drawn over one camera image, as one graphics item: layers of bones (and
    optionally landmark dots) keyed by any sortable key and painted in key order.

    One item per view instead of a curve and a scatter item per hand and kind: pyqtgraph's
    per-item work (bounds, paths, styles) cost more than the drawing itself, ~40 items a frame
    over four views. Pens are cosmetic: lines and dots keep their pixel size at any zoom."""

    def __init__(self, width: int, height: int):
        super().__init__()
        margin = 8.0  # pens reach past the image edge by a few pixels
        self._bounds = QtCore.QRectF(-margin, -margin, width + 2 * margin, height + 2 * margin)
        self._layers: dict[Hashable, tuple[np.ndarray, QtGui.QPainterPath, QtGui.QPen, QtGui.QPolygonF | None, QtGui.QPen | None]] = {}

    def set_skeleton(self, key: Hashable, pixels: np.ndarray | None, pen: QtGui.QPen, dots: QtGui.QColor | None = None) -> None:
        """The bones of (21, 2) landmark pixels (NaN: not visible) with ``pen``, and a dot in colour
        ``dots`` on each visible landmark; None removes the layer."""
        if pixels is None:
            if self._layers.pop(key, None) is not None:
                self.update()
            return
        segments = skeleton_segments(pixels)
        path = pg.arrayToQPath(segments[:, 0], segments[:, 1], connect="pairs", finiteCheck=False) if len(segments) else QtGui.QPainterPath()
        points = dot_pen = None
        if dots is not None:
            visible = pixels[np.isfinite(pixels).all(1)]
            points = pg.functions.create_qpolygonf(len(visible))
            if len(visible):  # an empty polygon's buffer is read-only
                pg.functions.ndarray_from_qpolygonf(points)[:] = visible
            dot_pen = QtGui.QPen(dots, LANDMARK_DOT_PX, QtCore.Qt.PenStyle.SolidLine, QtCore.Qt.PenCapStyle.RoundCap)
            dot_pen.setCosmetic(True)
        self._layers[key] = (segments, path, pen, points, dot_pen)
        self.update()

    def clear_skeletons(self) -> None:
        if self._layers:
            self._layers.clear()
            self.update()

    def segments(self, key: Hashable) -> np.ndarray:
        """(2K, 2) bone endpoints drawn in a layer; (0, 2) when it has none."""
        layer = self._layers.get(key)
        return layer[0] if layer is not None else np.zeros((0, 2))

    def keys(self) -> list[Hashable]:
        return sorted(self._layers)

    def boundingRect(self) -> QtCore.QRectF:
        return self._bounds

    def paint(self, painter: QtGui.QPainter, *_args) -> None:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        for key in sorted(self._layers):
            _segments, path, pen, points, dot_pen = self._layers[key]
            painter.setPen(pen)
            painter.drawPath(path)
            if points is not None and points.size():
                painter.setPen(dot_pen)
                painter.drawPoints(points)


class CaptionItem(QtWidgets.QGraphicsSimpleTextItem):
    """Plain text at a point of a view, drawn at screen size and upright whatever the view's zoom or
    y direction, placed by ``anchor`` ((0, 0): its top-left corner at the point; (0.5, 1): centred
    above it). For captions that change every frame: pyqtgraph's TextItem lays out a rich-text
    document for each new text (~0.2 ms) and maps its position again at every paint. Add it with
    ``view.addItem(caption, ignoreBounds=True)``; ``toPlainText``/``setText`` as on TextItem."""

    def __init__(self, text: str = "", rgb: tuple[int, int, int] = (230, 230, 230), anchor: tuple[float, float] = (0.0, 0.0)):
        super().__init__()
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setBrush(QtGui.QColor(*rgb))
        self._anchor = anchor
        self.setText(text)

    def toPlainText(self) -> str:
        return self.text()

    def set_rgb(self, rgb: tuple[int, int, int]) -> None:
        if self.brush().color().getRgb()[:3] != tuple(rgb):
            self.setBrush(QtGui.QColor(*rgb))

    def setText(self, text: str) -> None:
        if text == self.text():
            return
        super().setText(text)
        rect = self.boundingRect()  # its own transform still applies: it moves the text onto its anchor
        self.setTransform(QtGui.QTransform.fromTranslate(-self._anchor[0] * rect.width(), -self._anchor[1] * rect.height()))


def view_pixel_size(view: pg.ViewBox) -> float:
    """The view's data units per screen pixel along x (1.0 while it has no size yet): for items whose
    bounds reach a few pixels around what they draw."""
    return float(view.viewPixelSize()[0]) if view.width() > 0 else 1.0


CURSOR_PEN = pg.mkPen((230, 230, 90), width=1)
"""The playhead's line on every time plot."""


class PlayheadCursor(pg.GraphicsObject):
    """A vertical line at the playhead across a plot, added with ``plot.addItem(cursor, ignoreBounds=True)``.

    pyqtgraph's InfiniteLine maps its bounds through the view's transforms again after every move
    (~0.1 ms each, and every plot of the app moves its cursor on every frame of playback). These bounds
    are the view's y range and a few pixels around x, worked out again only when the range or the
    view's size changes."""

    def __init__(self, view: pg.ViewBox, pen: QtGui.QPen):
        super().__init__()
        self._view = view
        self._pen = QtGui.QPen(pen)
        self._pen.setCosmetic(True)
        self._x = 0.0
        self._bounds = QtCore.QRectF()
        view.sigRangeChanged.connect(self._update_bounds)
        view.sigResized.connect(self._update_bounds)
        self._update_bounds()

    def value(self) -> float:
        return self._x

    def setValue(self, x: float) -> None:
        if x != self._x:
            self.prepareGeometryChange()
            self._bounds.moveLeft(self._bounds.left() + float(x) - self._x)
            self._x = float(x)
            self.update()

    def _update_bounds(self, *_args) -> None:
        (_x0, _x1), (y0, y1) = self._view.viewRange()
        half = 2.0 * view_pixel_size(self._view)  # the 1-pixel pen with its antialiased neighbours
        self.prepareGeometryChange()
        self._bounds = QtCore.QRectF(self._x - half, y0, 2.0 * half, y1 - y0)
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return self._bounds

    def paint(self, painter: QtGui.QPainter, *_args) -> None:
        painter.setPen(self._pen)
        painter.drawLine(QtCore.QPointF(self._x, self._bounds.top()), QtCore.QPointF(self._x, self._bounds.bottom()))


def plain_background(view: pg.GraphicsView, rgb: tuple[int, int, int] | None = None) -> pg.GraphicsView:
    """``view`` (any pyqtgraph widget) painting a plain background, in ``rgb`` if given, without
    pyqtgraph's background cache: filling a plain colour is cheaper than copying the cached pixmap
    under every repaint (~1 ms a frame for the camera views, 0.4-0.6 ms for each plot panel)."""
    if rgb is not None:
        view.setBackground(rgb)
    view.setCacheMode(QtWidgets.QGraphicsView.CacheModeFlag.CacheNone)
    return view


def cached_curve(item: pg.PlotDataItem) -> pg.PlotDataItem:
    """``item`` with its curve drawn from a pixmap cache that only a data change or a zoom redraws.
    A time-series plot repaints under the moving playhead cursor on every frame of playback, and
    redrawing a whole recording's curve each time cost ~2.5 ms a frame over the app's plots."""
    item.curve.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return item


def show_cached_grid(plot: pg.PlotItem | pg.PlotWidget, x: bool = True, y: bool = True, alpha: float = 0.2) -> None:
    """``plot.showGrid`` with its axes drawn from a pixmap cache that only a range change or a resize
    redraws. pyqtgraph draws grid lines with the axes, so an axis item covers the whole plot and
    every repaint under the moving playhead cursor replayed all of its ticks, labels and lines:
    ~10 ms a frame for the three plots of a 1300-pixel-wide Plots panel, ~0.5 ms with the cache."""
    plot.showGrid(x=x, y=y, alpha=alpha)
    for name in ("left", "bottom"):
        plot.getAxis(name).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
