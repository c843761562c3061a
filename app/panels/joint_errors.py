"""Per-joint error: each landmark's error (prediction vs GT, mm) at the playhead on a schematic hand
per side, coloured by error, with the numbers in a table; clicking a joint selects it (the session's
one (hand, joint) selection) and plots that joint's error over the whole recording.

The error series of the whole recording is computed once per recording/tracking change in a
``BackgroundComputation``; a frame change only looks values up.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from app.overlays import CURSOR_PEN, CaptionItem, PlayheadCursor, cached_curve, plain_background, show_cached_grid, view_pixel_size
from app.session import Session
from app.style import HAND_RGB, PANEL_BACKGROUND_RGB
from app.visibility import ShownWatcher, on_screen
from app.workers import BackgroundComputation
from umetrack.eval.ground_truth import gt_landmarks
from umetrack.hand.model import HAND_NAMES, LANDMARK_NAMES, SKELETON_BONES, HandModel
from umetrack.metrics import PCK_MAX_ERROR_MM, per_joint_error
from umetrack.recording import Recording
from umetrack.track.results import TrackedRecording

ERROR_COLOURS = pg.ColorMap(pos=[0.0, 0.4, 1.0], color=[(60, 200, 100), (240, 215, 60), (225, 55, 50)])
"""Green (exact) to red at ``PCK_MAX_ERROR_MM`` (50 mm, the end of the PCK range) and beyond."""
NO_VALUE_BRUSH = pg.mkBrush(110, 110, 115)
SELECTED_PEN = pg.mkPen((255, 255, 255), width=2.5)
DOT_PEN = pg.mkPen((20, 20, 20))
ERROR_LEVELS = 64
"""The colour scale in 64 steps (0.8 mm apart)."""
LEVEL_BRUSHES = tuple(pg.mkBrush(ERROR_COLOURS.map(level / (ERROR_LEVELS - 1), mode="qcolor")) for level in range(ERROR_LEVELS))
"""Made once: a frame's brushes compare with the last frame's by identity, and the dots are restyled
only when a joint moved to another step."""


def error_brushes(errors_mm: np.ndarray) -> list:
    """The brush of each error (mm): its step of the colour scale, ``NO_VALUE_BRUSH`` for NaN."""
    levels = np.rint(np.minimum(np.nan_to_num(errors_mm, nan=0.0) / PCK_MAX_ERROR_MM, 1.0) * (ERROR_LEVELS - 1)).astype(int)
    return [NO_VALUE_BRUSH if missing else LEVEL_BRUSHES[level] for level, missing in zip(levels.tolist(), np.isnan(errors_mm).tolist())]


def joint_error_series(recording: Recording, tracking: TrackedRecording) -> np.ndarray | None:
    """(N, 2, 21) per-landmark error in mm, NaN where the hand is absent in GT or not tracked;
    None without GT. Runs in a worker (FK over the whole recording)."""
    truth = gt_landmarks(recording)
    if truth is None:
        return None
    predicted = tracking.landmarks.astype(np.float64)
    comparable = np.isfinite(truth).all(axis=(-1, -2)) & np.isfinite(predicted).all(axis=(-1, -2))
    return per_joint_error(np.nan_to_num(truth), np.nan_to_num(predicted), comparable)


def diagram_points(model: HandModel, hand: int) -> np.ndarray:
    """(21, 2) landmark positions of the rest pose in mm, seen from the back of the hand: fingers
    up, thumbs pointing inwards (left hand's thumb to the right, right hand's to the left).

    The model's fingers run along local +x and spread along z (thumb at +z), so (±z, x) is the
    back view; the right hand is the mirror image.
    """
    rest = model.landmark_rest_positions.detach().cpu().double().numpy() * 1000.0
    side = 1.0 if hand == 0 else -1.0
    return np.stack([side * rest[:, 2], rest[:, 0]], axis=1)


class JointDots(pg.GraphicsObject):
    """A hand diagram's landmarks: dots of a fixed screen size, each with its own brush and pen,
    painted by one item; clicking a dot emits ``clicked(index)`` and hovering shows ``tip(index)``.

    It replaces a ScatterPlotItem, which rebuilt its symbols' atlas lookups on every colour change
    (~0.3 ms per hand, every frame of playback)."""

    clicked = QtCore.Signal(int)

    def __init__(self, view: pg.ViewBox, tip, size_px: float = 13.0):
        super().__init__()
        self._view = view
        self._tip = tip
        self._radius_px = size_px / 2
        self.positions = np.zeros((0, 2))
        """(N, 2) dot centres, diagram units."""
        self.brushes: list[QtGui.QBrush] = []
        self.pens: list[QtGui.QPen] = []
        self._bounds = QtCore.QRectF()
        self.setAcceptHoverEvents(True)
        view.sigRangeChanged.connect(self._update_bounds)
        view.sigResized.connect(self._update_bounds)

    def set_positions(self, positions: np.ndarray) -> None:
        self.positions = np.asarray(positions, dtype=float)
        self.brushes = [NO_VALUE_BRUSH] * len(self.positions)
        self.pens = [DOT_PEN] * len(self.positions)
        self._update_bounds()

    def set_styles(self, brushes: list, pens: list) -> None:
        if len(brushes) != len(self.positions) or len(pens) != len(self.positions):
            raise ValueError(f"{len(brushes)} brushes and {len(pens)} pens for {len(self.positions)} dots")
        self.brushes, self.pens = list(brushes), list(pens)
        self.update()

    def _update_bounds(self, *_args) -> None:
        self.prepareGeometryChange()
        if len(self.positions):
            margin = (self._radius_px + 2.0) * view_pixel_size(self._view)  # the dot and its outline
            (left, bottom), (right, top) = self.positions.min(axis=0), self.positions.max(axis=0)
            self._bounds = QtCore.QRectF(left - margin, bottom - margin, right - left + 2 * margin, top - bottom + 2 * margin)
        else:
            self._bounds = QtCore.QRectF()
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return self._bounds

    def paint(self, painter: QtGui.QPainter, *_args) -> None:
        transform = painter.transform()
        painter.resetTransform()  # dots in screen pixels, whatever the zoom
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        for (x, y), brush, pen in zip(self.positions.tolist(), self.brushes, self.pens):
            painter.setPen(pen)
            painter.setBrush(brush)
            painter.drawEllipse(transform.map(QtCore.QPointF(x, y)), self._radius_px, self._radius_px)

    def dot_at(self, position: QtCore.QPointF) -> int | None:
        """The dot under ``position`` (item coordinates), nearest first; None between dots."""
        if not len(self.positions):
            return None
        # The box keeps the aspect: a pixel is as tall as it is wide.
        distance = np.hypot(*(self.positions - (position.x(), position.y())).T) / view_pixel_size(self._view)
        nearest = int(np.argmin(distance))
        return nearest if distance[nearest] <= self._radius_px + 1.0 else None

    def mouseClickEvent(self, event) -> None:
        if event.button() == QtCore.Qt.MouseButton.LeftButton and (dot := self.dot_at(event.pos())) is not None:
            event.accept()
            self.clicked.emit(dot)
        else:
            event.ignore()

    def hoverEvent(self, event) -> None:
        dot = None if event.isExit() else self.dot_at(event.pos())
        self.setToolTip(self._tip(dot) if dot is not None else "")


class JointErrorsPanel(QtWidgets.QWidget):
    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("joint_errors")
        self.session = session
        self.errors: np.ndarray | None = None
        """(N, 2, 21) mm of the session's recording and tracking, once computed."""
        self.shown_errors = np.full((2, len(LANDMARK_NAMES)), np.nan)
        """(2, 21) mm at the playhead, as the diagram and the table show them."""
        self.frame_stale = False
        self.shown_watcher = ShownWatcher(self, lambda: self._refresh_frame() if self.frame_stale else None)
        self._table_texts: dict[int, list[str]] = {hand: [""] * len(LANDMARK_NAMES) for hand in (0, 1)}
        """hand -> the table's texts in its column (kept here: reading them back from Qt costs more)."""
        self.computation = BackgroundComputation(self)
        self.computation.computed.connect(self._on_computed)
        self.computation.failed.connect(self._on_failed)

        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)
        self.graphics = plain_background(pg.GraphicsLayoutWidget(), PANEL_BACKGROUND_RGB)
        self.diagrams: dict[int, pg.ViewBox] = {}
        self.bones: dict[int, pg.PlotCurveItem] = {}
        self.dots: dict[int, JointDots] = {}
        self.titles: dict[int, CaptionItem] = {}
        """Per hand: its name and, below it, the mean error or the tracker's reason, above the diagram. A
        text item in the diagram's box: a layout label re-laid the whole panel out on every new text
        (~0.5 ms a frame each)."""
        for hand in (0, 1):
            box = self.graphics.addViewBox(row=0, col=hand, lockAspect=True, enableMouse=False, enableMenu=False)
            self.titles[hand] = CaptionItem(HAND_NAMES[hand], HAND_RGB[hand], anchor=(0.5, 1.0))
            box.addItem(self.titles[hand], ignoreBounds=True)
            self.bones[hand] = pg.PlotCurveItem(pen=pg.mkPen((150, 150, 155), width=2), connect="pairs")
            self.dots[hand] = JointDots(box, tip=lambda joint, h=hand: self._tip(h, joint))
            self.dots[hand].clicked.connect(lambda joint, h=hand: self.session.select_joint(h, joint))
            box.addItem(self.bones[hand])
            box.addItem(self.dots[hand])
            self.diagrams[hand] = box
        self.colour_bar = pg.ColorBarItem(values=(0.0, PCK_MAX_ERROR_MM), colorMap=ERROR_COLOURS, interactive=False,
                                          label="error (mm)", width=12, colorMapMenu=False)  # fmt: skip
        self.graphics.addItem(self.colour_bar, row=0, col=2)

        self.table = QtWidgets.QTableWidget(len(LANDMARK_NAMES), 2)
        self.table.setHorizontalHeaderLabels(list(HAND_NAMES))  # mm, like the colour bar (narrow columns)
        self.table.setVerticalHeaderLabels(list(LANDMARK_NAMES))
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumWidth(265)
        self.table.verticalHeader().setDefaultSectionSize(18)
        for row in range(len(LANDMARK_NAMES)):
            for hand in (0, 1):
                item = QtWidgets.QTableWidgetItem("")
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, hand, item)
        self.table.cellClicked.connect(lambda row, column: self.session.select_joint(column, row))

        self.joint_plot = plain_background(pg.PlotWidget())
        self.joint_plot.setLabel("left", "error (mm)")
        show_cached_grid(self.joint_plot)
        self.joint_curve = cached_curve(self.joint_plot.plot(pen=pg.mkPen((230, 230, 230), width=1.5)))
        self.cursor = PlayheadCursor(self.joint_plot.getPlotItem().vb, CURSOR_PEN)
        # The cursor is no data: left in the auto-range, an empty plot re-framed itself around it (and
        # regenerated its axis) on every frame.
        self.joint_plot.addItem(self.cursor, ignoreBounds=True)
        self.joint_plot.scene().sigMouseClicked.connect(self._on_plot_clicked)

        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.graphics)
        splitter.addWidget(self.table)
        splitter.addWidget(self.joint_plot)
        splitter.setSizes([345, 265, 390])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)

        session.recording_changed.connect(lambda _r: self.recompute())
        session.tracking_changed.connect(lambda _t: self.recompute())
        session.hand_model_changed.connect(lambda _m: self._draw_diagrams())
        session.playhead_changed.connect(lambda _f: self._refresh_frame())
        session.joint_selected.connect(lambda _h, _j: self._refresh())
        self._draw_diagrams()
        self.recompute()

    # -- data ------------------------------------------------------------------------------------

    def recompute(self) -> None:
        self.errors = None
        recording, tracking = self.session.recording, self.session.tracking
        if tracking is None or recording is None:
            self.computation.discard()
            self._set_message("No tracking results: run the tracker (Tracking ▸ Run tracker…) to see per-joint errors.")
        elif recording.gt is None or recording.hand_model is None:
            self.computation.discard()
            self._set_message("This recording has no ground truth: there are no errors to show.")
        else:
            self._set_message("Computing per-joint errors…")
            self.computation.request(lambda: joint_error_series(recording, tracking))
        self._refresh()

    def _on_computed(self, errors: np.ndarray | None) -> None:
        self.errors = errors
        self._set_message("")
        self._refresh()

    def _on_failed(self, message: str) -> None:
        self._set_message(f"Per-joint errors could not be computed: {message}")

    def _set_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # -- drawing ---------------------------------------------------------------------------------

    def _draw_diagrams(self) -> None:
        bones = np.asarray(SKELETON_BONES)
        for hand in (0, 1):
            points = diagram_points(self.session.hand_model, hand)
            segments = points[bones].reshape(-1, 2)
            self.bones[hand].setData(segments[:, 0], segments[:, 1])
            self.dots[hand].set_positions(points)
            (left, bottom), (right, top) = points.min(axis=0), points.max(axis=0)
            self.titles[hand].setPos((left + right) / 2, top + 0.12 * (top - bottom))
            # Headroom above the fingertips for the title.
            self.diagrams[hand].setRange(xRange=(left, right), yRange=(bottom, top + 0.3 * (top - bottom)), padding=0.08)
        self._refresh()

    def _refresh(self) -> None:
        self._refresh_frame()
        self._update_joint_plot()

    def _refresh_frame(self) -> None:
        """The diagram, the table and the cursor: what changes with the playhead (no series work).
        Off screen (closed, or its dock tabbed away) only remembered, done when the panel comes back."""
        self.frame_stale = not on_screen(self)
        if self.frame_stale:
            return
        frame = self.session.playhead
        if self.errors is not None and frame < len(self.errors):
            self.shown_errors = self.errors[frame].copy()
        else:
            self.shown_errors = np.full((2, len(LANDMARK_NAMES)), np.nan)
        tracking = self.session.tracking
        for hand in (0, 1):
            values = self.shown_errors[hand]
            brushes = error_brushes(values)
            selected = hand == self.session.selected_hand and self.session.selected_joint is not None
            pens = [SELECTED_PEN if selected and j == self.session.selected_joint else DOT_PEN for j in range(len(values))]
            dots = self.dots[hand]
            if brushes != dots.brushes or pens != dots.pens:  # shared brush and pen objects: compared by identity
                dots.set_styles(brushes, pens)
            status = ""
            if tracking is not None and frame < tracking.num_frames and np.isnan(values).all():
                status = f"\n{tracking.reason(frame, hand).value}" if self.errors is not None else ""
            elif not np.isnan(values).all():
                status = f"\n{np.nanmean(values):.1f} mm mean"  # two lines: the diagrams sit side by side
            self.titles[hand].setText(HAND_NAMES[hand] + status)
            texts = ["—" if math.isnan(value) else f"{value:.1f}" for value in values.tolist()]
            for row, (text, shown) in enumerate(zip(texts, self._table_texts[hand])):
                if text != shown:  # each setText repaints the table
                    self.table.item(row, hand).setText(text)
            self._table_texts[hand] = texts
        self.cursor.setValue(frame)

    def _update_joint_plot(self) -> None:
        hand, joint = self.session.selected_hand, self.session.selected_joint
        self.joint_plot.setXRange(0, max(1, self.session.num_frames - 1), padding=0.01)
        if hand is None or joint is None:
            self.joint_curve.setData([], [])
            self.joint_plot.setTitle("click a joint to plot its error over time")
            return
        with QtCore.QSignalBlocker(self.table):
            self.table.setCurrentCell(joint, hand)
        self.joint_plot.setTitle(f"{HAND_NAMES[hand]} {LANDMARK_NAMES[joint]}")
        self.joint_curve.setPen(pg.mkPen(HAND_RGB[hand], width=1.5))
        if self.errors is None:
            self.joint_curve.setData([], [])
            return
        series = self.errors[:, hand, joint]
        self.joint_curve.setData(np.arange(len(series)), series, connect="finite")

    def _tip(self, hand: int, joint: int) -> str:
        value = self.shown_errors[hand, joint]
        return f"{HAND_NAMES[hand]} {LANDMARK_NAMES[joint]}: " + ("no value" if np.isnan(value) else f"{value:.1f} mm")

    # -- events ----------------------------------------------------------------------------------

    def _on_plot_clicked(self, event) -> None:
        box = self.joint_plot.getPlotItem().vb
        if box.sceneBoundingRect().contains(event.scenePos()):
            self.session.seek(int(round(box.mapSceneToView(event.scenePos()).x())))

    def shutdown(self) -> None:
        self.computation.shutdown()
