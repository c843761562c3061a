"""Live mode in the main window: File ▸ Live source…, the Live toolbar (Record, Simulate unplug, Stop),
the capture and tracking workers, and the switch between the player's views and the live views.

Stopping live mode returns to the player; a recording made during the session is opened there
once its files are written (File ▸ Open last live recording opens it again later).
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from app.dialogs import run_ok_cancel
from app.live_session import LivePrediction, LiveStats, RollingMean
from app.live_workers import CaptureWorker, LiveTrackingWorker
from app.panels.live_views import LiveViewsPanel
from umetrack.live import OpenCVCameras, SimulatedHeadset
from umetrack.resources import LIGHT_TRACKER_WEIGHTS

# Live mode tracks in real time on a CPU: the light network is ~3.5x faster than the default one.
DEFAULT_MODEL = LIGHT_TRACKER_WEIGHTS
STATS_INTERVAL_MS = 250
UNPLUG_SECONDS = 3.0


@dataclass(frozen=True)
class LiveConfig:
    """What to stream and where to record.

    Attributes:
        source: "simulated" (the synthetic headset) or "opencv" (cameras of ``rig_path``).
        seed, num_views: the simulated headset's world and camera count.
        rig_path: rig file of the OpenCV cameras (``umetrack.live.sources``).
        model_path: tracker weights; live mode runs without predictions when the file is missing.
        record_folder: where Record writes (None: ask when recording starts).
        open_recording_after: open the session's recording in the player when live mode stops.
    """

    source: str = "simulated"
    seed: int = 0
    num_views: int = 4
    rig_path: Path | None = None
    model_path: Path = DEFAULT_MODEL
    record_folder: Path | None = None
    open_recording_after: bool = True


class LiveActions(QtCore.QObject):
    def __init__(self, window, menu: QtWidgets.QMenu):
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.live = window.session.live
        self.panel = LiveViewsPanel(window.session)
        self.panel.hide()
        self.config: LiveConfig | None = None
        self.capture: CaptureWorker | None = None
        self.tracking: LiveTrackingWorker | None = None
        self.last_recording: Path | None = None
        self._retired: list[QtCore.QThread] = []
        self._open_when_written = False
        self._latency_ms = RollingMean()

        self.live_action = menu.addAction("&Live source…", self.live_dialog)
        self.open_last_action = menu.addAction("Open last live &recording", self.open_last_recording)
        self.open_last_action.setEnabled(False)

        self.toolbar = QtWidgets.QToolBar("Live", window)
        self.toolbar.setObjectName("live_toolbar")
        self.record_action = self.toolbar.addAction("● Record")
        self.record_action.setCheckable(True)
        self.record_action.toggled.connect(self.set_recording)
        self.unplug_button = QtWidgets.QToolButton()
        self.unplug_button.setText("Simulate unplug")
        self.unplug_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.unplug_button.setMenu(QtWidgets.QMenu(self.unplug_button))
        self.unplug_action = self.toolbar.addWidget(self.unplug_button)
        self.stop_action = self.toolbar.addAction("■ Stop live", self.stop_live)
        window.addToolBar(self.toolbar)
        self.toolbar.hide()

        self.stats_timer = QtCore.QTimer(self)
        self.stats_timer.setInterval(STATS_INTERVAL_MS)
        self.stats_timer.timeout.connect(self._update_stats)

    @property
    def active(self) -> bool:
        return self.capture is not None

    # -- starting -------------------------------------------------------------------------------

    def live_dialog(self) -> None:
        settings = self.window.settings
        dialog = QtWidgets.QDialog(self.window)
        dialog.setWindowTitle("Live source")
        form = QtWidgets.QFormLayout(dialog)
        kind = QtWidgets.QComboBox()
        kind.addItem("Simulated headset (synthetic world, real time)", "simulated")
        kind.addItem("OpenCV cameras (rig file)", "opencv")
        kind.setCurrentIndex(max(0, kind.findData(settings.value("live/source", "simulated"))))
        seed = QtWidgets.QSpinBox()
        seed.setRange(0, 1_000_000)
        seed.setValue(int(settings.value("live/seed", 0)))
        views = QtWidgets.QSpinBox()
        views.setRange(1, 4)
        views.setValue(int(settings.value("live/views", 4)))
        rig = self._path_row(dialog, settings.value("live/rig", ""), "Rig file", "Rig JSON (*.json)")
        model = self._path_row(dialog, settings.value("live/model", str(DEFAULT_MODEL)), "Model weights", "Weights (*.pt *.torch)")
        folder = self._path_row(dialog, settings.value("live/record_folder", str(Path.home())), "Recordings folder", None)
        form.addRow("Source", kind)
        form.addRow("Seed (simulated)", seed)
        form.addRow("Views (simulated)", views)
        form.addRow("Rig file (OpenCV)", rig[0])
        form.addRow("Model", model[0])
        form.addRow("Record to", folder[0])
        if not run_ok_cancel(dialog, form):
            return
        for key, value in (("source", kind.currentData()), ("seed", seed.value()), ("views", views.value()),
                           ("rig", rig[1].text()), ("model", model[1].text()), ("record_folder", folder[1].text())):  # fmt: skip
            settings.setValue(f"live/{key}", value)
        if kind.currentData() == "opencv" and not rig[1].text():
            QtWidgets.QMessageBox.information(self.window, "Live source", "Choose the rig file of the cameras.")
            return
        self.start_live(LiveConfig(
            source=kind.currentData(), seed=seed.value(), num_views=views.value(),
            rig_path=Path(rig[1].text()) if rig[1].text() else None, model_path=Path(model[1].text()),
            record_folder=Path(folder[1].text()) if folder[1].text() else None,
        ))  # fmt: skip

    @staticmethod
    def _path_row(dialog, value: str, title: str, file_filter: str | None) -> tuple[QtWidgets.QWidget, QtWidgets.QLineEdit]:
        row = QtWidgets.QWidget()
        layout = QtWidgets.QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        edit = QtWidgets.QLineEdit(value)
        browse = QtWidgets.QPushButton("Browse…")

        def choose() -> None:
            if file_filter is None:
                chosen = QtWidgets.QFileDialog.getExistingDirectory(dialog, title, edit.text())
            else:
                chosen = QtWidgets.QFileDialog.getOpenFileName(dialog, title, edit.text(), file_filter)[0]
            if chosen:
                edit.setText(chosen)

        browse.clicked.connect(choose)
        layout.addWidget(edit, 1)
        layout.addWidget(browse)
        return row, edit

    def start_live(self, config: LiveConfig) -> None:
        """Open the source in the capture thread; the live views replace the player's once it delivers."""
        if self.active:
            return
        self.config = config
        hand_model = self.session.hand_model
        if config.source == "simulated":
            make_source = lambda: SimulatedHeadset(hand_model, config.seed, config.num_views)  # noqa: E731
        elif config.source == "opencv":
            make_source = lambda: OpenCVCameras(config.rig_path)  # noqa: E731
        else:
            raise ValueError(f"unknown live source {config.source!r}")
        self.window.transport.pause()
        self.capture = CaptureWorker(make_source, self)
        self.capture.source_ready.connect(self._on_source_ready)
        self.capture.failed.connect(self._on_source_failed)
        self.capture.frame_ready.connect(self._on_frame_ready)
        self.capture.recording_finished.connect(self._on_recording_finished)
        self.live_action.setEnabled(False)
        self.window.statusBar().showMessage("Starting the live source…")
        self.capture.start()

    def _on_source_ready(self, source) -> None:
        if self.capture is None:
            return
        model_path = self.config.model_path
        status = f"no model — {model_path} missing (live view without predictions)"
        if model_path.is_file():
            status = f"loading {model_path.name}…"
            hand_model = source.rig.hand_model or self.session.hand_model
            self.tracking = LiveTrackingWorker(model_path, hand_model, source.rig, self)
            self.tracking.model_ready.connect(lambda name: self.live.set_model_status(name))
            self.tracking.model_failed.connect(lambda message: self.live.set_model_status(f"no model — {message}"))
            self.tracking.tracked.connect(self._on_tracked)
            self.capture.consumers.append(self.tracking.submit)
            self.tracking.start()
        self.live.start(source.rig, source.name, status)
        menu = self.unplug_button.menu()
        menu.clear()
        for view, label in enumerate(source.rig.labels):
            menu.addAction(f"camera {view + 1} ({label}) for {UNPLUG_SECONDS:.0f} s", lambda v=view: self.simulate_unplug(v, UNPLUG_SECONDS))
        self.unplug_action.setVisible(isinstance(source, SimulatedHeadset))
        self.window.takeCentralWidget()  # the player's views: kept (not deleted) for when live mode stops
        self.window.setCentralWidget(self.panel)
        self.panel.show()
        self.toolbar.show()
        self.stats_timer.start()
        self.window.statusBar().showMessage(f"Live: {source.name}")

    def _on_source_failed(self, message: str) -> None:
        self._retire()
        self.live_action.setEnabled(True)
        self.window.statusBar().showMessage("The live source did not start")
        QtWidgets.QMessageBox.warning(self.window, "Cannot start the live source", message)

    # -- running --------------------------------------------------------------------------------

    def _on_frame_ready(self) -> None:
        if self.capture is None:
            return
        frame = self.capture.take_newest()
        if frame is not None:
            self.live.show_frame(frame)

    def _on_tracked(self, prediction: LivePrediction) -> None:
        if self.tracking is None:
            return
        self.live.set_prediction(prediction)  # drawn synchronously: the latency below includes it
        self._latency_ms.add(1e3 * (time.monotonic() - prediction.handed_over_at) + prediction.timings_ms.get("capture_ms", 0.0))

    def _update_stats(self) -> None:
        capture, tracking, panel = self.capture, self.tracking, self.panel
        if capture is None or capture.source is None:
            return
        self.live.set_stats(LiveStats(
            capture_fps=capture.rate.rate(),
            tracking_fps=tracking.rate.rate() if tracking is not None else 0.0,
            display_fps=panel.display_rate.rate(),
            stage_ms={
                "capture": capture.capture_ms.mean(),
                "crop": tracking.stage_ms["crop"].mean() if tracking is not None else float("nan"),
                "network": tracking.stage_ms["network"].mean() if tracking is not None else float("nan"),
                "render": panel.render_ms.mean(),
            },
            latency_ms=self._latency_ms.mean() if tracking is not None else float("nan"),
            frames_dropped=capture.source.frames_dropped,
        ))  # fmt: skip

    def simulate_unplug(self, view: int, duration_s: float) -> None:
        """Unplug a camera of the simulated headset for ``duration_s`` (a demo of the reconnect path)."""
        source = self.capture.source if self.capture is not None else None
        if isinstance(source, SimulatedHeadset):
            source.unplug(view, duration_s)

    # -- recording ------------------------------------------------------------------------------

    def set_recording(self, on: bool) -> None:
        """Start or stop recording (the Record toggle). Recording starts into the configured folder,
        asking for one when none is set."""
        if self.capture is None or on == self.capture.recording:
            return
        if not on:
            self.capture.stop_recording()
            self.live.set_recording(None)
            self.window.statusBar().showMessage("Writing the recording…")
            return
        folder = self.config.record_folder
        if folder is None:
            chosen = QtWidgets.QFileDialog.getExistingDirectory(self.window, "Record live input to")
            folder = Path(chosen) if chosen else None
        if folder is None:
            self._uncheck_record()
            return
        stem = folder / f"live_{datetime.datetime.now():%Y%m%d_%H%M%S}"
        try:
            self.capture.start_recording(stem)
        except (OSError, RuntimeError) as exc:
            self._uncheck_record()
            QtWidgets.QMessageBox.warning(self.window, "Cannot record", str(exc))
            return
        self.live.set_recording(stem.with_suffix(".mp4"))

    def _uncheck_record(self) -> None:
        with QtCore.QSignalBlocker(self.record_action):
            self.record_action.setChecked(False)

    def _on_recording_finished(self, path: Path | None, error: str) -> None:
        if path is None:
            QtWidgets.QMessageBox.warning(self.window, "Recording failed", error)
            return
        self.last_recording = path
        self.open_last_action.setEnabled(True)
        self.window.statusBar().showMessage(f"Recorded {path}")
        if self._open_when_written and not self.active:
            self._open_when_written = False
            self.window.open_recording(path)

    def open_last_recording(self) -> None:
        if self.last_recording is not None:
            self.window.open_recording(self.last_recording)

    # -- stopping -------------------------------------------------------------------------------

    def stop_live(self) -> None:
        """Back to the player; a recording in progress is finished (and opened once written)."""
        if not self.active:
            return
        was_recording = self.capture.recording
        self._open_when_written = was_recording and self.config.open_recording_after
        if was_recording:
            self.capture.stop_recording()
            self._uncheck_record()
        self._retire()
        self.live.stop()
        self.stats_timer.stop()
        self.toolbar.hide()
        if self.window.centralWidget() is self.panel:
            self.window.takeCentralWidget()
            self.panel.hide()
            self.window.setCentralWidget(self.window.views)
            self.window.views.show()
        self.live_action.setEnabled(True)
        self.window.statusBar().showMessage("Live mode stopped" + (": writing the recording…" if was_recording else ""))

    def _retire(self) -> None:
        """Ask the workers to end without waiting; they are kept until they have."""
        for worker in (self.tracking, self.capture):
            if worker is None:
                continue
            worker.stop()
            self._retired.append(worker)
            worker.finished.connect(lambda w=worker: self._retired.remove(w) if w in self._retired else None)
        self.capture = None
        self.tracking = None

    def shutdown(self) -> None:
        """Stop live mode and wait for the threads and any recording being written (the window closes)."""
        self.stop_live()
        self._retire()
        for worker in list(self._retired):
            worker.wait()
            if isinstance(worker, CaptureWorker):
                worker.wait_for_recordings()
        self._retired.clear()
