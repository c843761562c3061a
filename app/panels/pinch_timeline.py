"""Pinch timeline: per hand, lanes of ground-truth, predicted and user-annotated pinch intervals over
the thumb-index tip distance with the pinch thresholds drawn as a band; a cursor at the playhead;
annotation editing with the mouse and keys; precision/recall of the predictions with the mismatches.

Editing (the annotated lane, the bottom one of each hand):
* click anywhere: select that hand and seek; drag outside the annotated lane: scrub;
* drag on empty annotated-lane space: create an interval (it absorbs intervals it touches);
* drag an interval's body: move it; drag its edges: resize it (both stop one frame before a neighbour);
* right-click an interval: split at the playhead / merge with next / delete;
* with the timeline focused (click it): P flips the selected hand's pinch state at the playhead
  (see ``PinchAnnotations.toggle_at``), Delete removes the interval under the playhead.
Every edit is one QUndoCommand around the Qt-free model's reversible change (Edit ▸ Undo/Redo), and
the session autosaves it atomically next to the recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from app.overlays import CURSOR_PEN, PlayheadCursor, cached_curve, plain_background, show_cached_grid
from app.session import Session
from app.style import HAND_RGB
from umetrack.annotation.pinch_files import SUPPORTED_SUFFIXES, read_annotations, recording_fps, write_annotations
from umetrack.annotation.pinch_intervals import HANDS, IntervalChange, PinchAnnotations
from umetrack.annotation.pinch_review import PinchReview, predicted_pinch_events, review_pinches
from umetrack.errors import FormatError
from umetrack.eval.ground_truth import gt_landmarks
from umetrack.hand.model import HAND_NAMES
from umetrack.metrics import PINCH_ENTER_DISTANCE_M, PINCH_EXIT_DISTANCE_M, PinchEvent, thumb_index_distance

LANE_Y_MM = {"gt": (-12.0, -4.0), "predicted": (-24.0, -16.0), "annotated": (-38.0, -28.0)}
"""Each lane's vertical extent in the plot's distance units (mm), below the distance curve."""
LANE_LABELS = {"gt": "GT", "predicted": "pred", "annotated": "you"}
Y_RANGE_MM = (-40.0, 60.0)
GT_RGB, PREDICTED_RGB = (90, 200, 120), (225, 225, 225)
EDGE_GRAB_PX = 4.0


@dataclass
class _Drag:
    """An edit in progress on one hand's annotated lane (or a scrub elsewhere)."""

    hand: int
    mode: Literal["create", "move", "resize_start", "resize_end", "scrub"]
    press_frame: int
    interval: PinchEvent | None = None
    change: IntervalChange | None = None


class AnnotationCommand(QtGui.QUndoCommand):
    """One undo step: apply the model's change on redo, its inverse on undo (both autosave)."""

    def __init__(self, session: Session, change: IntervalChange):
        super().__init__(change.description)
        self.session = session
        self.change = change

    def redo(self) -> None:
        self.session.apply_annotation_change(self.change)

    def undo(self) -> None:
        self.session.apply_annotation_change(self.change.inverted())


class LaneViewBox(pg.ViewBox):
    """A hand's plot area: mouse clicks and drags go to the panel's editing logic, not to panning."""

    def __init__(self, panel: PinchTimelinePanel, hand: int):
        super().__init__(enableMenu=False)
        self.panel = panel
        self.hand = hand
        self.setMouseEnabled(x=True, y=False)  # the wheel zooms in time; the lanes stay put

    def mouseClickEvent(self, ev) -> None:
        ev.accept()
        point = self.mapSceneToView(ev.scenePos())
        self.panel.lane_clicked(self.hand, point.x(), point.y(), ev.button(), ev.screenPos())

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            press = self.mapSceneToView(ev.buttonDownScenePos())
            self.panel.drag_started(self.hand, press.x(), press.y(), self.viewPixelSize()[0])
        self.panel.drag_moved(self.mapSceneToView(ev.scenePos()).x())
        if ev.isFinish():
            self.panel.drag_finished()


class PinchTimelinePanel(QtWidgets.QWidget):
    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("pinch_timeline")
        self.session = session
        self.undo_stack = QtGui.QUndoStack(self)
        self.drag: _Drag | None = None
        self.review: PinchReview | None = None
        self.reference_name = ""
        self.predicted_events: dict[int, tuple[PinchEvent, ...]] = {}

        self.hand_label = QtWidgets.QLabel()
        self.status_label = QtWidgets.QLabel()
        self.status_label.setObjectName("annotation_status")
        import_button = QtWidgets.QPushButton("Import…")
        import_button.clicked.connect(self.import_dialog)
        export_button = QtWidgets.QPushButton("Export…")
        export_button.clicked.connect(self.export_dialog)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.hand_label)
        top.addStretch(1)
        top.addWidget(self.status_label)
        top.addWidget(import_button)
        top.addWidget(export_button)

        # Repair and rejection reports of labels files stay on screen until dismissed.
        self.banner = QtWidgets.QLabel()
        self.banner.setObjectName("annotation_banner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setStyleSheet("QLabel { background: #5a4a12; color: #fff3c4; padding: 4px; }")
        dismiss = QtWidgets.QToolButton()
        dismiss.setText("✕")
        dismiss.clicked.connect(lambda: self.banner_frame.hide())
        self.banner_frame = QtWidgets.QFrame()
        banner_layout = QtWidgets.QHBoxLayout(self.banner_frame)
        banner_layout.setContentsMargins(0, 0, 0, 0)
        banner_layout.addWidget(self.banner, 1)
        banner_layout.addWidget(dismiss, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        self.banner_frame.hide()

        self.graphics = plain_background(pg.GraphicsLayoutWidget())
        self.graphics.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.graphics.installEventFilter(self)
        self.plots: dict[int, pg.PlotItem] = {}
        self.lane_bars: dict[tuple[int, str], pg.BarGraphItem] = {}
        self.distance_curves: dict[tuple[int, str], pg.PlotDataItem] = {}
        self.cursors: list[PlayheadCursor] = []
        for hand in HANDS:
            plot = self.graphics.addPlot(row=hand, col=0, viewBox=LaneViewBox(self, hand))
            plot.setLabel("left", f"{HAND_NAMES[hand]} (mm)")
            show_cached_grid(plot, y=False)
            plot.setYRange(*Y_RANGE_MM, padding=0)
            ticks = [(value, f"{value:g}") for value in (0, 10, 20, 40, 60)]
            ticks += [((lo + hi) / 2, LANE_LABELS[lane]) for lane, (lo, hi) in LANE_Y_MM.items()]
            plot.getAxis("left").setTicks([ticks, []])
            band = pg.LinearRegionItem((PINCH_ENTER_DISTANCE_M * 1000, PINCH_EXIT_DISTANCE_M * 1000), orientation="horizontal",
                                       movable=False, brush=pg.mkBrush(255, 255, 255, 30), pen=pg.mkPen(None))  # fmt: skip
            plot.addItem(band)
            self.distance_curves[(hand, "gt")] = cached_curve(plot.plot(pen=pg.mkPen(GT_RGB, width=1.5)))
            self.distance_curves[(hand, "predicted")] = cached_curve(plot.plot(pen=pg.mkPen(PREDICTED_RGB, width=1.5, style=QtCore.Qt.PenStyle.DashLine)))
            colors = {"gt": GT_RGB, "predicted": PREDICTED_RGB, "annotated": HAND_RGB[hand]}
            for lane, (lo, hi) in LANE_Y_MM.items():
                bars = pg.BarGraphItem(x0=np.zeros(0), x1=np.zeros(0), y0=lo, y1=hi, brush=pg.mkBrush(*colors[lane], 200), pen=pg.mkPen(None))
                plot.addItem(bars)
                self.lane_bars[(hand, lane)] = bars
            cursor = PlayheadCursor(plot.getViewBox(), CURSOR_PEN)
            plot.addItem(cursor, ignoreBounds=True)  # no data: moving it must not re-run the auto-range
            self.cursors.append(cursor)
            self.plots[hand] = plot
        self.plots[1].setXLink(self.plots[0])

        self.summary_label = QtWidgets.QLabel()
        self.summary_label.setObjectName("pinch_review_summary")
        self.summary_label.setWordWrap(True)
        self.mismatch_list = QtWidgets.QTreeWidget()
        self.mismatch_list.setObjectName("pinch_mismatches")
        self.mismatch_list.setHeaderLabels(["hand", "mismatch", "frames"])
        self.mismatch_list.setRootIsDecorated(False)
        self.mismatch_list.itemDoubleClicked.connect(self._on_mismatch_double_clicked)
        review = QtWidgets.QWidget()
        review.setMinimumWidth(260)
        review_layout = QtWidgets.QVBoxLayout(review)
        review_layout.setContentsMargins(0, 0, 0, 0)
        review_layout.addWidget(self.summary_label)
        review_layout.addWidget(self.mismatch_list, 1)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.graphics)
        splitter.addWidget(review)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.banner_frame)
        layout.addWidget(splitter, 1)

        session.recording_changed.connect(lambda _r: self._on_recording_changed())
        session.tracking_changed.connect(lambda _r: self._on_tracking_changed())
        session.annotations_changed.connect(self._on_annotations_changed)
        session.playhead_changed.connect(self._on_playhead)
        session.selection_changed.connect(lambda _h: self._show_selected_hand())
        self._on_recording_changed()
        self._on_annotations_changed(None)

    # -- model -> view ---------------------------------------------------------------------------

    @property
    def annotations(self) -> PinchAnnotations | None:
        return self.session.pinch_annotations

    def _on_recording_changed(self) -> None:
        recording = self.session.recording
        truth = gt_landmarks(recording) if recording is not None else None
        for hand in HANDS:
            distance = None if truth is None else 1000 * thumb_index_distance(truth[:, hand], np.isfinite(truth[:, hand]).all((-1, -2)))
            self._set_curve(self.distance_curves[(hand, "gt")], distance)
            gt_events = recording.pinch.events(hand) if recording is not None and recording.pinch is not None else ()
            self._set_bars(hand, "gt", gt_events)
        self.plots[0].setXRange(-0.5, max(1, self.session.num_frames) - 0.5, padding=0.01)
        self._on_tracking_changed()
        self._on_playhead(self.session.playhead)
        self._show_selected_hand()

    def _on_tracking_changed(self) -> None:
        tracking = self.session.tracking
        self.predicted_events = predicted_pinch_events(tracking.landmarks) if tracking is not None else {}
        for hand in HANDS:
            distance = None
            if tracking is not None:
                points = tracking.landmarks[:, hand].astype(np.float64)
                distance = 1000 * thumb_index_distance(points, np.isfinite(points).all((-1, -2)))
            self._set_curve(self.distance_curves[(hand, "predicted")], distance)
            self._set_bars(hand, "predicted", self.predicted_events.get(hand, ()))
        self._update_review()

    def _on_annotations_changed(self, change: IntervalChange | None) -> None:
        if change is None:  # another recording's annotations: the old undo history no longer applies
            self.undo_stack.clear()
            autosave = self.session.annotation_autosave
            self.show_report(autosave.report if autosave is not None else "")
        self._draw_annotations()
        self._update_review()
        self._show_autosave_status()

    def _draw_annotations(self, preview: PinchAnnotations | None = None) -> None:
        shown = preview or self.annotations
        for hand in HANDS:
            self._set_bars(hand, "annotated", shown.intervals(hand) if shown is not None else ())

    def _set_bars(self, hand: int, lane: str, events) -> None:
        # Frame i spans x in [i - 0.5, i + 0.5], so [start, end) spans [start - 0.5, end - 0.5].
        starts = np.array([e.start for e in events], dtype=float) - 0.5
        ends = np.array([e.end for e in events], dtype=float) - 0.5
        self.lane_bars[(hand, lane)].setOpts(x0=starts, x1=ends)

    @staticmethod
    def _set_curve(curve: pg.PlotDataItem, values: np.ndarray | None) -> None:
        if values is None:
            curve.setData([], [])
        else:
            curve.setData(np.arange(len(values)), values, connect="finite")

    def _on_playhead(self, frame: int) -> None:
        for cursor in self.cursors:
            cursor.setValue(frame)

    def _show_selected_hand(self) -> None:
        hand = self.session.selected_hand
        if hand is None:
            self.hand_label.setText("Click a hand's lane to annotate it (P toggles pinch, Delete removes, drag to edit)")
        else:
            self.hand_label.setText(f"Annotating the <b>{HAND_NAMES[hand]}</b> hand: P toggles pinch at the playhead, Delete removes, drag to edit")
        for plot_hand, plot in self.plots.items():
            plot.getAxis("left").setPen(pg.mkPen(HAND_RGB[plot_hand] if plot_hand == hand else (150, 150, 150)))

    def _show_autosave_status(self) -> None:
        autosave = self.session.annotation_autosave
        if self.annotations is None:
            text = ""
        elif autosave is None:
            text = "not autosaved (recording not from a file)"
        elif autosave.last_error:
            text = f"<span style='color:#ff8080'>autosave failed: {autosave.last_error}</span>"
        elif autosave.saves:
            text = f"autosaved to {autosave.path.name}"
        else:
            text = f"autosaves to {autosave.path.name}"
        self.status_label.setText(text)

    def show_report(self, text: str) -> None:
        """Show (or, for "", hide) a labels-file repair or rejection report above the lanes."""
        self.banner.setText(text)
        self.banner_frame.setVisible(bool(text))

    # -- review ----------------------------------------------------------------------------------

    def _update_review(self) -> None:
        self.mismatch_list.clear()
        self.review = None
        recording, annotations = self.session.recording, self.annotations
        if recording is None or self.session.tracking is None:
            self.summary_label.setText("Run the tracker (Tracking ▸ Run tracker…) to score predicted pinches.")
            return
        # Annotations are the reference as soon as there is one; until then, the recording's labels.
        if annotations is not None and not annotations.is_empty:
            reference, self.reference_name = annotations.as_dict(), "annotations"
        elif recording.pinch is not None:
            reference, self.reference_name = {hand: recording.pinch.events(hand) for hand in HANDS}, "ground truth"
        else:
            self.summary_label.setText("No annotations and no ground-truth pinch labels to score against.")
            return
        self.review = review_pinches(self.predicted_events, reference)
        per_hand = " · ".join(f"{HAND_NAMES[h]} P {s.precision:.2f} R {s.recall:.2f}" for h, s in self.review.per_hand.items())
        self.summary_label.setText(
            f"Predicted vs {self.reference_name}: precision <b>{self.review.precision:.3f}</b>, "
            f"recall <b>{self.review.recall:.3f}</b> ({per_hand})"
        )
        for mismatch in self.review.mismatches:
            kind = "missed" if mismatch.kind == "missed" else "false pinch"
            event = mismatch.event
            item = QtWidgets.QTreeWidgetItem([HAND_NAMES[mismatch.hand], kind, f"{event.start}–{event.end - 1}"])
            item.setData(0, QtCore.Qt.ItemDataRole.UserRole, (mismatch.hand, event.start))
            self.mismatch_list.addTopLevelItem(item)

    def _on_mismatch_double_clicked(self, item: QtWidgets.QTreeWidgetItem, _column: int) -> None:
        hand, frame = item.data(0, QtCore.Qt.ItemDataRole.UserRole)
        self.session.select_hand(hand)
        self.session.seek(frame)

    # -- editing ---------------------------------------------------------------------------------

    def push(self, change: IntervalChange) -> bool:
        """Apply ``change`` as one undo step; False (and nothing changed) when it is a no-op."""
        if change.is_empty:
            return False
        self.undo_stack.push(AnnotationCommand(self.session, change))
        return True

    def _try(self, build) -> bool:
        """Build a change from the model and push it; a change that does not fit is explained."""
        if self.annotations is None:
            return False
        try:
            change = build(self.annotations)
        except ValueError as exc:
            self.status_label.setText(str(exc))
            return False
        return self.push(change)

    def toggle_at_playhead(self) -> bool:
        hand = self.session.selected_hand
        if hand is None:
            self.status_label.setText("Select a hand first: click its lane")
            return False
        return self._try(lambda a: a.toggle_at(hand, self.session.playhead))

    def delete_at_playhead(self) -> bool:
        hand = self.session.selected_hand
        interval = None if hand is None or self.annotations is None else self.annotations.interval_at(hand, self.session.playhead)
        if interval is None:
            return False
        return self._try(lambda a: a.delete(hand, interval))

    def interval_menu(self, hand: int, interval: PinchEvent) -> QtWidgets.QMenu:
        """The right-click menu of an annotated interval."""
        menu = QtWidgets.QMenu(self)
        playhead = self.session.playhead
        split = menu.addAction(f"Split at playhead (frame {playhead})", lambda: self._try(lambda a: a.split(hand, interval, playhead)))
        split.setEnabled(interval.start < playhead < interval.end - 1)
        merge = menu.addAction("Merge with next", lambda: self._try(lambda a: a.merge_with_next(hand, interval)))
        merge.setEnabled(self.annotations.next_interval(hand, interval) is not None)
        menu.addAction("Delete", lambda: self._try(lambda a: a.delete(hand, interval)))
        return menu

    def _frame(self, x: float) -> int:
        return int(np.clip(round(x), 0, max(0, self.session.num_frames - 1)))

    @staticmethod
    def _in_annotated_lane(y: float) -> bool:
        lo, hi = LANE_Y_MM["annotated"]
        return lo <= y <= hi

    def lane_clicked(self, hand: int, x: float, y: float, button, screen_pos) -> None:
        if self.session.recording is None:
            return
        self.graphics.setFocus()
        self.session.select_hand(hand)
        if button == QtCore.Qt.MouseButton.RightButton:
            interval = self.annotations.interval_at(hand, self._frame(x)) if self._in_annotated_lane(y) else None
            if interval is not None:
                self.context_menu = self.interval_menu(hand, interval)
                self.context_menu.popup(QtCore.QPoint(int(screen_pos.x()), int(screen_pos.y())))
            return
        self.session.seek(self._frame(x))

    def drag_started(self, hand: int, x: float, y: float, frames_per_pixel: float) -> None:
        if self.session.recording is None or self.annotations is None:
            return
        self.graphics.setFocus()
        self.session.select_hand(hand)
        frame = self._frame(x)
        self.drag = _Drag(hand, "scrub", frame)
        if not self._in_annotated_lane(y):
            return
        for interval in self.annotations.intervals(hand):
            # Edges sit between frames; the grab zone never covers more than a quarter of a short interval.
            grab = min(EDGE_GRAB_PX * frames_per_pixel, 0.25 * interval.num_frames)
            if abs(x - (interval.start - 0.5)) <= grab:
                self.drag = _Drag(hand, "resize_start", frame, interval)
                return
            if abs(x - (interval.end - 0.5)) <= grab:
                self.drag = _Drag(hand, "resize_end", frame, interval)
                return
            if interval.start - 0.5 < x < interval.end - 0.5:
                self.drag = _Drag(hand, "move", frame, interval)
                return
        self.drag = _Drag(hand, "create", frame)

    def drag_moved(self, x: float) -> None:
        drag = self.drag
        if drag is None:
            return
        frame = self._frame(x)
        if drag.mode == "scrub":
            self.session.seek(frame)
            return
        annotations, interval = self.annotations, drag.interval
        if drag.mode == "create":
            drag.change = annotations.create(drag.hand, min(frame, drag.press_frame), max(frame, drag.press_frame) + 1)
        else:
            lo, hi = annotations.free_range(drag.hand, interval)
            if drag.mode == "move":
                start = int(np.clip(interval.start + frame - drag.press_frame, lo, hi - interval.num_frames))
                drag.change = annotations.move(drag.hand, interval, start)
            elif drag.mode == "resize_start":
                drag.change = annotations.resize(drag.hand, interval, int(np.clip(frame, lo, interval.end - 1)), interval.end)
            else:
                drag.change = annotations.resize(drag.hand, interval, interval.start, int(np.clip(frame + 1, interval.start + 1, hi)))
        preview = annotations.copy()
        preview.apply(drag.change)
        self._draw_annotations(preview)

    def drag_finished(self) -> None:
        drag, self.drag = self.drag, None
        if drag is not None and drag.change is not None:
            self.push(drag.change)
        self._draw_annotations()

    # -- keys ------------------------------------------------------------------------------------

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        # P and Delete belong to the timeline while it has focus (P otherwise shows/hides predictions):
        # claiming the shortcut override makes Qt deliver them here as key presses.
        if event.type() in (QtCore.QEvent.Type.ShortcutOverride, QtCore.QEvent.Type.KeyPress):
            key = event.key()
            if key in (QtCore.Qt.Key.Key_P, QtCore.Qt.Key.Key_Delete) and event.modifiers() == QtCore.Qt.KeyboardModifier.NoModifier:
                if event.type() == QtCore.QEvent.Type.ShortcutOverride:
                    event.accept()
                elif key == QtCore.Qt.Key.Key_P:
                    self.toggle_at_playhead()
                else:
                    self.delete_at_playhead()
                return True
        return super().eventFilter(watched, event)

    # -- files -----------------------------------------------------------------------------------

    def _file_filter(self) -> str:
        return "Pinch annotations (*.json *.csv *.eaf);;JSON (*.json);;CSV (*.csv);;ELAN (*.eaf)"

    def import_annotations(self, path: str | Path) -> bool:
        """Replace the annotations with a file's (one undo step); a bad file is reported, repairs shown."""
        recording = self.session.recording
        if recording is None or self.annotations is None:
            return False
        try:
            loaded = read_annotations(path, recording.num_frames, recording_fps(recording))
        except FormatError as exc:
            QtWidgets.QMessageBox.warning(self, "Cannot import pinch annotations", str(exc))
            return False
        self.push(self.annotations.replace_all(loaded.annotations, f"import {Path(path).name}"))
        self.show_report(loaded.report)
        return True

    def export_annotations(self, path: str | Path) -> None:
        recording = self.session.recording
        if recording is None or self.annotations is None:
            return
        write_annotations(path, self.annotations, recording_fps(recording), recording.name, self.session.recording_path)
        self.status_label.setText(f"exported {Path(path).name}")

    def import_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Import pinch annotations", self._dialog_folder(), self._file_filter())
        if path:
            self.import_annotations(path)

    def export_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export pinch annotations", self._dialog_folder(), self._file_filter())
        if not path:
            return
        if Path(path).suffix.lower() not in SUPPORTED_SUFFIXES:
            path += ".json"
        try:
            self.export_annotations(path)
        except (OSError, ValueError) as exc:
            QtWidgets.QMessageBox.warning(self, "Cannot export pinch annotations", str(exc))

    def _dialog_folder(self) -> str:
        return str(self.session.recording_path.parent) if self.session.recording_path else ""
