"""Main window: docks, menus, shortcuts, layout persistence. Panels only talk to the Session."""

from __future__ import annotations

from pathlib import Path

import torch
from PySide6 import QtCore, QtGui, QtWidgets

from app.dialogs import run_ok_cancel
from app.exports import ExportActions
from app.live_actions import LiveActions
from app.panels.calibration import CalibrationDialog
from app.panels.crops import CropsPanel
from app.panels.failures import FailuresPanel
from app.panels.hand_pose import HandPosePanel
from app.panels.joint_errors import JointErrorsPanel
from app.panels.pinch_timeline import PinchTimelinePanel
from app.panels.plots import PlotsPanel
from app.panels.scene3d import Scene3DPanel
from app.panels.transport import TransportPanel
from app.panels.views_grid import ViewsGridPanel
from app.session import Session
from app.session_actions import SessionActions
from app.workers import TrackingWorker
from umetrack.errors import UmeTrackError
from umetrack.resources import TRACKER_WEIGHTS
from umetrack.track.results import REASONS
from umetrack.track.tracker import Reason, TrackerOptions

ORGANIZATION, APPLICATION = "UmeTrack", "UmeTrack Studio"


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, session: Session, settings: QtCore.QSettings | None = None):
        super().__init__()
        # Panels run tiny tensor ops on this thread (one hand's FK, a few projections). Intra-op threads
        # only add fork/join overhead there, and on a busy 2-core machine that made one FK call 30x
        # slower (15 ms instead of 0.5 ms). The setting is per thread; the tracking worker sets its own.
        torch.set_num_threads(1)
        self.session = session
        self.settings = settings or QtCore.QSettings(ORGANIZATION, APPLICATION)
        self.setWindowTitle(APPLICATION)
        self.resize(1280, 800)

        self.views = ViewsGridPanel(session)
        self.setCentralWidget(self.views)
        right = QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        self.scene3d = Scene3DPanel(session)
        self.scene3d_dock = self._dock("3D", "scene3d_dock", self.scene3d, right)
        self.hand_pose = HandPosePanel(session)
        self.hand_pose_dock = self._dock("Hand pose", "hand_pose_dock", self.hand_pose, right)
        self.crops = CropsPanel(session)
        self.crops_dock = self._dock("Crops", "crops_dock", self.crops, right)
        self.tabifyDockWidget(self.scene3d_dock, self.hand_pose_dock)
        self.tabifyDockWidget(self.scene3d_dock, self.crops_dock)
        self.scene3d_dock.raise_()
        # The camera views are the main thing to look at: give them most of the width by default.
        self.resizeDocks([self.scene3d_dock], [460], QtCore.Qt.Orientation.Horizontal)
        self.plots = PlotsPanel(session)
        self.plots_dock = self._dock("Plots", "plots_dock", self.plots, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self.transport = TransportPanel(session)
        self.transport_dock = self._dock("Transport", "transport_dock", self.transport, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.plots_dock, self.transport_dock, QtCore.Qt.Orientation.Vertical)
        self.transport.install_shortcuts(self)
        self.transport.follow_display(self.views.frame_shown)
        self.resizeDocks([self.plots_dock], [300], QtCore.Qt.Orientation.Vertical)
        # Failures beside the plots (the list and the curves are read together), per-joint error as a plots tab.
        self.failures = FailuresPanel(session)
        self.failures_dock = self._dock("Failures", "failures_dock", self.failures, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.plots_dock, self.failures_dock, QtCore.Qt.Orientation.Horizontal)
        self.resizeDocks([self.failures_dock], [420], QtCore.Qt.Orientation.Horizontal)
        self.joint_errors = JointErrorsPanel(session)
        self.joint_errors_dock = self._dock("Per-joint error", "joint_errors_dock", self.joint_errors, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.plots_dock, self.joint_errors_dock)
        self.plots_dock.raise_()
        self.pinch_timeline = PinchTimelinePanel(session)
        self.pinch_timeline_dock = self._dock("Pinch timeline", "pinch_timeline_dock", self.pinch_timeline, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.plots_dock, self.pinch_timeline_dock)
        self.plots_dock.raise_()

        self.tracking_worker: TrackingWorker | None = None
        self.calibration_dialog: CalibrationDialog | None = None
        self.tracking_cache: dict[tuple, object] = {}
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setMaximumWidth(240)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_tracking)
        for widget in (self.progress_bar, self.cancel_button):
            widget.hide()
            self.statusBar().addPermanentWidget(widget)

        self._build_menus()
        session.recording_changed.connect(self._on_recording_changed)
        self._on_recording_changed(session.recording)
        self._restore_layout()

    def _dock(self, title: str, name: str, widget: QtWidgets.QWidget, area) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_recording_action = file_menu.addAction("&Open recording…", self.open_recording_dialog)
        self.open_recording_action.setShortcut(QtGui.QKeySequence.StandardKey.Open)
        self.open_model_action = file_menu.addAction("Open &hand model…", self.open_hand_model_dialog)
        file_menu.addSeparator()
        self.session_actions = SessionActions(self, file_menu)
        file_menu.addSeparator()
        self.live_actions = LiveActions(self, file_menu)
        file_menu.addSeparator()
        self.export_actions = ExportActions(self, file_menu.addMenu("&Export"))
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit", self.close)
        quit_action.setShortcut(QtGui.QKeySequence.StandardKey.Quit)

        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self.pinch_timeline.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QtGui.QKeySequence("Ctrl+Z")])
        self.redo_action = self.pinch_timeline.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QtGui.QKeySequence("Ctrl+Shift+Z"), QtGui.QKeySequence("Ctrl+Y")])
        edit_menu.addActions([self.undo_action, self.redo_action])

        tracking_menu = self.menuBar().addMenu("&Tracking")
        self.run_tracker_action = tracking_menu.addAction("&Run tracker…", self.run_tracker_dialog)
        self.run_tracker_action.setShortcut(QtGui.QKeySequence("Ctrl+T"))
        tracking_menu.addAction("&Clear results", lambda: self.session.set_tracking(None))
        tracking_menu.addSeparator()
        self.calibrate_action = tracking_menu.addAction("Calibrate hand &scale…", self.open_calibration)
        self.calibrate_action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+C"))

        view_menu = self.menuBar().addMenu("&View")
        self.layer_actions: dict[str, QtGui.QAction] = {}
        for key, name in zip("MSPGC", self.session.LAYERS):
            action = view_menu.addAction(f"Show {name}")
            action.setCheckable(True)
            action.setChecked(self.session.visible_layers[name])
            action.setShortcut(QtGui.QKeySequence(key))
            action.toggled.connect(lambda visible, n=name: self.session.set_layer_visible(n, visible))
            self.layer_actions[name] = action
        self.session.layer_toggled.connect(self._on_layer_toggled)
        view_menu.addSeparator()
        reset = view_menu.addAction("&Reset 3D view", self.scene3d.reset_view)
        reset.setShortcut(QtGui.QKeySequence("R"))
        for dock in (self.scene3d_dock, self.crops_dock, self.hand_pose_dock, self.plots_dock, self.transport_dock):
            view_menu.addAction(dock.toggleViewAction())
        for dock in (self.joint_errors_dock, self.failures_dock):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addAction(self.pinch_timeline_dock.toggleViewAction())

    def _on_layer_toggled(self, name: str, visible: bool) -> None:
        action = self.layer_actions[name]
        with QtCore.QSignalBlocker(action):
            action.setChecked(visible)

    def open_recording_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self,
            "Open recording",
            str(self.session.recording_path.parent) if self.session.recording_path else "",
            "Recordings (*.mp4 *.json *.tar metadata.json);;All files (*)",
        )
        if path:
            # A HOT3D recording is a folder: picking its metadata.json opens the folder.
            chosen = Path(path)
            self.open_recording(chosen.parent if chosen.name == "metadata.json" else chosen)

    def open_recording(self, path: str | Path) -> bool:
        """Open a recording in any supported format; on failure show why and keep the current one."""
        return self._try_open("recording", self.session.open_recording, path)

    def _try_open(self, what: str, load, path: str | Path) -> bool:
        """Run ``load(path)``; a bad file gets a warning naming why, and the session stays as it was."""
        try:
            load(path)
        except UmeTrackError as exc:
            QtWidgets.QMessageBox.warning(self, f"Cannot open {what}", str(exc))
            self.statusBar().showMessage(f"Not opened: {Path(path).name}")
            return False
        return True

    # -- tracking ------------------------------------------------------------------------------

    def run_tracker_dialog(self) -> None:
        if self.session.recording is None:
            QtWidgets.QMessageBox.information(self, "Run tracker", "Open a recording first.")
            return
        dialog = QtWidgets.QDialog(self)
        dialog.setWindowTitle("Run tracker")
        form = QtWidgets.QFormLayout(dialog)
        model_edit = QtWidgets.QLineEdit(self.settings.value("tracking/model", str(TRACKER_WEIGHTS)))
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(lambda: model_edit.setText(
            QtWidgets.QFileDialog.getOpenFileName(dialog, "Model weights", model_edit.text(), "Weights (*.pt *.torch)")[0] or model_edit.text()))  # fmt: skip
        row = QtWidgets.QHBoxLayout()
        row.addWidget(model_edit, 1)
        row.addWidget(browse)
        form.addRow("Model", row)
        skeleton = QtWidgets.QComboBox()
        skeleton.addItems(["known", "unknown"])
        crops = QtWidgets.QComboBox()
        crops.addItems(["oracle", "tracked"])
        form.addRow("Skeleton", skeleton)
        form.addRow("Crops", crops)
        if run_ok_cancel(dialog, form):
            self.settings.setValue("tracking/model", model_edit.text())
            self.run_tracker(model_edit.text(), TrackerOptions(skeleton=skeleton.currentText(), crops=crops.currentText()))

    def run_tracker(self, model_path: str | Path, options: TrackerOptions) -> None:
        """Track the open recording in a worker; results (cached per recording, network, options and
        hand model) go to the session. The GUI stays live; progress and Cancel sit in the status bar.

        The hand model is the one on display (``Session.hand_model``): the recording's own, or the
        file the user loaded (a calibrated profile), which a restored session brings back too."""
        if self.session.recording is None or self.tracking_worker is not None:
            return
        key = (str(self.session.recording_path), str(model_path), options, self.session.hand_model_identity)
        if key in self.tracking_cache:
            self.session.set_tracking(self.tracking_cache[key])
            self.statusBar().showMessage("Tracking results loaded from the cache")
            return
        if options.skeleton == "unknown":
            QtWidgets.QMessageBox.information(self, "Run tracker", "The unknown-skeleton path runs in `umetrack eval --skeleton unknown`; the app tracks with the recording's hand model.")
        worker = TrackingWorker(self.session.recording, str(model_path), self.session.hand_model, TrackerOptions(skeleton="known", crops=options.crops), self)
        worker.progress.connect(self._on_tracking_progress)
        worker.finished_job.connect(lambda results: self._on_tracking_finished(key, results))
        worker.failed.connect(self._on_tracking_failed)
        self.tracking_worker = worker
        self.progress_bar.setValue(0)
        self.progress_bar.show()
        self.cancel_button.show()
        self.statusBar().showMessage("Tracking…")
        worker.start()

    def open_calibration(self) -> CalibrationDialog:
        """Show the hand-scale calibration dialog (one per window, kept between uses)."""
        if self.calibration_dialog is None:
            self.calibration_dialog = CalibrationDialog(self)
        self.calibration_dialog.show()
        self.calibration_dialog.raise_()
        self.calibration_dialog.activateWindow()
        return self.calibration_dialog

    def cancel_tracking(self) -> None:
        if self.tracking_worker is not None:
            self.tracking_worker.cancel()

    def _on_tracking_progress(self, done: int, total: int) -> None:
        self.progress_bar.setMaximum(total)
        self.progress_bar.setValue(done)

    def _finish_tracking_ui(self) -> None:
        if self.tracking_worker is not None:
            self.tracking_worker.wait()
        self.tracking_worker = None
        self.progress_bar.hide()
        self.cancel_button.hide()

    def _on_tracking_finished(self, key: tuple, results) -> None:
        self._finish_tracking_ui()
        self.tracking_cache[key] = results
        if str(self.session.recording_path) != key[0] or self.session.hand_model_identity != key[3]:
            return  # the user opened another recording or hand model meanwhile
        self.session.set_tracking(results)
        tracked = int((results.reasons == REASONS.index(Reason.TRACKED)).sum())
        self.statusBar().showMessage(f"Tracked {tracked} hand-frames of {results.num_frames} frames")

    def _on_tracking_failed(self, message: str) -> None:
        self._finish_tracking_ui()
        if message == "cancelled":
            self.statusBar().showMessage("Tracking cancelled")
        else:
            QtWidgets.QMessageBox.warning(self, "Tracking failed", message)

    def _on_recording_changed(self, recording) -> None:
        if recording is None:
            self.setWindowTitle(APPLICATION)
            self.statusBar().showMessage(f"No recording open. Hand model: {self.session.hand_model_path}")
            return
        self.setWindowTitle(f"{recording.name} — {APPLICATION}")
        gt = "with ground truth" if recording.gt is not None else "no ground truth"
        self.statusBar().showMessage(
            f"{self.session.recording_path}: {recording.num_frames} frames, {recording.num_views} views, {gt}"
        )

    def open_hand_model_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open hand model", "", "Hand model JSON (*.json)")
        if path:
            self.open_hand_model(path)

    def open_hand_model(self, path: str | Path) -> bool:
        """Load a hand model; on a bad file show why and keep the current one."""
        if not self._try_open("hand model", self.session.load_hand_model, path):
            return False
        self.statusBar().showMessage(f"Hand model: {path}")
        return True

    def _restore_layout(self) -> None:
        geometry = self.settings.value("main_window/geometry")
        state = self.settings.value("main_window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.transport.pause()
        if self.tracking_worker is not None:
            self.tracking_worker.cancel()
            self.tracking_worker.wait()
        self.export_actions.shutdown()
        self.live_actions.shutdown()
        self.views.shutdown()
        self.joint_errors.shutdown()
        self.failures.shutdown()
        if self.calibration_dialog is not None:
            self.calibration_dialog.shutdown()
        self.settings.setValue("main_window/geometry", self.saveGeometry())
        self.settings.setValue("main_window/state", self.saveState())
        super().closeEvent(event)
