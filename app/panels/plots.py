"""Time plots (pyqtgraph): per-hand error against ground truth, jitter, and the thumb-index distance
with the pinch thresholds; a cursor follows the playhead and a click seeks there."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from app.overlays import CURSOR_PEN, PlayheadCursor, cached_curve, plain_background, show_cached_grid
from app.session import Session
from app.style import HAND_RGB
from umetrack.eval.ground_truth import gt_landmarks as recording_gt_landmarks
from umetrack.metrics import PINCH_ENTER_DISTANCE_M, PINCH_EXIT_DISTANCE_M, per_slot_accelerations



def gt_landmarks(session: Session) -> np.ndarray | None:
    """(2, N, 21, 3) GT landmarks of the open recording (NaN where a hand is absent), metres."""
    truth = recording_gt_landmarks(session.recording) if session.recording is not None else None
    return None if truth is None else np.moveaxis(truth, 1, 0)


class PlotsPanel(QtWidgets.QWidget):
    """Series are recomputed when the recording or the tracking results change, never per frame."""

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("plots")
        self.session = session
        self.layout_widget = plain_background(pg.GraphicsLayoutWidget())
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.layout_widget)
        self.error_plot = self.layout_widget.addPlot(row=0, col=0)
        self.jitter_plot = self.layout_widget.addPlot(row=1, col=0)
        self.pinch_plot = self.layout_widget.addPlot(row=2, col=0)
        self.plots = (self.error_plot, self.jitter_plot, self.pinch_plot)
        # Axis labels instead of titles: three plots share a short dock.
        for plot, label in zip(self.plots, ("error (mm)", "jitter (mm/f²)", "thumb-index (mm)")):
            plot.setLabel("left", label)
            show_cached_grid(plot)
        for plot in self.plots[1:]:
            plot.setXLink(self.error_plot)
        band = pg.LinearRegionItem((PINCH_ENTER_DISTANCE_M * 1000, PINCH_EXIT_DISTANCE_M * 1000), orientation="horizontal", movable=False,
                                   brush=pg.mkBrush(255, 255, 255, 30), pen=pg.mkPen(None))  # fmt: skip
        self.pinch_plot.addItem(band)
        self.cursors = []
        for plot in self.plots:
            cursor = PlayheadCursor(plot.vb, CURSOR_PEN)
            plot.addItem(cursor, ignoreBounds=True)  # no data: moving it must not re-run the auto-range
            self.cursors.append(cursor)
        self.layout_widget.scene().sigMouseClicked.connect(self._on_click)
        self.curves: dict[str, pg.PlotDataItem] = {}
        for hand, color in HAND_RGB.items():
            self.curves[f"error{hand}"] = cached_curve(self.error_plot.plot(pen=pg.mkPen(color, width=1.5)))
            self.curves[f"jitter{hand}"] = cached_curve(self.jitter_plot.plot(pen=pg.mkPen(color, width=1.5)))
            self.curves[f"pinch_gt{hand}"] = cached_curve(self.pinch_plot.plot(pen=pg.mkPen(color, width=1.5)))
            self.curves[f"pinch_pred{hand}"] = cached_curve(self.pinch_plot.plot(pen=pg.mkPen(color, width=1.5, style=QtCore.Qt.PenStyle.DashLine)))
        self.series: dict[str, np.ndarray] = {}
        session.recording_changed.connect(lambda _r: self.recompute())
        session.tracking_changed.connect(lambda _r: self.recompute())
        session.playhead_changed.connect(self._on_playhead)
        self.recompute()

    def recompute(self) -> None:
        self.series.clear()
        truth = gt_landmarks(self.session)
        tracking = self.session.tracking
        predicted = None if tracking is None else np.moveaxis(tracking.landmarks.astype(np.float64), 1, 0)  # (2, N, 21, 3)
        for hand in (0, 1):
            if truth is not None:
                self.series[f"pinch_gt{hand}"] = 1000 * np.linalg.norm(truth[hand, :, 0] - truth[hand, :, 1], axis=-1)
            if predicted is not None:
                valid = np.isfinite(predicted[hand]).all((-1, -2))
                self.series[f"pinch_pred{hand}"] = 1000 * np.linalg.norm(predicted[hand, :, 0] - predicted[hand, :, 1], axis=-1)
                self.series[f"jitter{hand}"] = per_slot_accelerations(np.nan_to_num(predicted[hand]), valid)
                if truth is not None:
                    self.series[f"error{hand}"] = 1000 * np.linalg.norm(truth[hand] - predicted[hand], axis=-1).mean(-1)
        for key, curve in self.curves.items():
            values = self.series.get(key)
            if values is None:
                curve.setData([], [])
            else:
                curve.setData(np.arange(len(values)), values, connect="finite")
        # The x axes are linked to the error plot, which may be empty: frame them on the recording.
        self.error_plot.setXRange(0, max(1, self.session.num_frames - 1), padding=0.01)
        for plot in self.plots:
            plot.enableAutoRange(axis="y")
        self._on_playhead(self.session.playhead)

    def _on_playhead(self, frame: int) -> None:
        for cursor in self.cursors:
            cursor.setValue(frame)

    def _on_click(self, event) -> None:
        for plot in self.plots:
            if plot.sceneBoundingRect().contains(event.scenePos()):
                x = plot.vb.mapSceneToView(event.scenePos()).x()
                self.session.seek(int(round(x)))
                return
