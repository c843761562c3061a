"""Hand-scale calibration (Tracking ▸ Calibrate hand scale…): a guided, non-modal dialog.

1. Pick the source (the open recording from the playhead; live sources register with ``add_source``),
   the model weights, the generic hand model and the hand(s).
2. Start: the unknown-skeleton model runs frame by frame in a worker. The dialog shows how many views
   see each hand now, the sample count, the running scale estimate with its spread (plotted against
   the sample count), whether it has converged, and the GT scale with the error where it is known.
3. Accept: the calibrated profile (UmeTrack profile JSON, written atomically) becomes the session's
   hand model; Track with profile runs the main window's tracker with it (known skeleton).
4. Compare: known-skeleton tracking with the generic and the calibrated model over the same frames,
   MPJPE and per-joint error side by side.

The work (``umetrack.eval.calibration_session``) never runs on the GUI thread; Stop cancels it at
the next frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from app.overlays import plain_background
from app.session import DEFAULT_HAND_MODEL
from app.session_file import SESSIONS_DIR
from app.style import PANEL_BACKGROUND_RGB
from app.workers import TrackerJob
from umetrack.errors import UmeTrackError
from umetrack.eval.calibration_session import (
    HANDS,
    CalibrationOptions,
    CalibrationOutcome,
    CalibrationSource,
    CalibrationStep,
    SkeletonComparison,
    calibrate,
    compare_skeletons,
    live_source,
    recording_source,
    true_scale,
)
from umetrack.hand.io import load_hand_model
from umetrack.hand.model import HAND_NAMES, LANDMARK_NAMES, HandModel
from umetrack.model.network import UmeTrackNet
from umetrack.track.calibration import DEFAULT_SAMPLES, MAX_RELATIVE_STANDARD_ERROR, CalibrationStatus, ScaleCalibration
from umetrack.resources import TRACKER_WEIGHTS
from umetrack.track.tracker import TrackerOptions

DEFAULT_WEIGHTS = TRACKER_WEIGHTS
PROFILE_SUFFIX = ".hand_profile.json"
HAND_CHOICES = (("Both hands", (0, 1)), (f"{HAND_NAMES[0].capitalize()} hand", (0,)), (f"{HAND_NAMES[1].capitalize()} hand", (1,)))
CROP_CHOICES = (("oracle (from ground truth)", "oracle"), ("tracked (previous prediction)", "tracked"))
GOOD, PENDING, BAD, NEUTRAL = "#3cc864", "#e6c83c", "#e6503c", "#9a9aa0"
LIVE_FRAMES = 300
"""A live calibration ends after 10 s at 30 fps if it has not completed (it stops as soon as it does)."""
SIMULATED_HEADSET_SEED = 7


SourceOpener = Callable[[], CalibrationSource]
"""Opens a calibration source; runs on the worker thread (opening cameras or the simulated world takes seconds)."""


@dataclass(frozen=True)
class SourceChoice:
    """An entry of the source list. ``prepare(dialog)`` runs on the GUI thread when Start is pressed:
    it reads the dialog's settings (raising ValueError with a message for the user when it cannot
    start) and returns the opener the worker calls."""

    label: str
    prepare: Callable[["CalibrationDialog"], SourceOpener]


@dataclass(frozen=True, eq=False)
class CalibrationRun:
    """What a finished calibration job hands back to the dialog."""

    outcome: CalibrationOutcome
    generic: HandModel
    net: UmeTrackNet
    source: CalibrationSource


def indicator(status: CalibrationStatus | None) -> tuple[str, str]:
    """(text, colour) of the convergence indicator: converged means the paper's sample count is in
    and the mean is known to ``MAX_RELATIVE_STANDARD_ERROR`` (``CalibrationStatus.settled``)."""
    if status is None or status.samples == 0:
        return "Waiting for a hand seen in two views", NEUTRAL
    if not status.converged:
        return f"Collecting: {status.samples} / {status.required} samples", PENDING
    if status.settled():
        return "Converged", GOOD
    error = status.relative_standard_error
    known = "unknown" if error is None else f"{100 * error:.2f} %"
    return f"Complete but not converged: the samples disagree (mean known to {known}, needs ≤ {100 * MAX_RELATIVE_STANDARD_ERROR:.0f} %)", BAD


class CalibrationWorker(TrackerJob):
    """Runs one calibration or comparison job; the job polls ``cancelled`` between frames.

    Signals (besides ``TrackerJob``'s finished_job and failed):
    prepared(source, true scale | None): the model is loaded and the source is open;
    step(CalibrationStep): a calibration frame is done; progress(done, total).
    """

    prepared = QtCore.Signal(object, object)
    step = QtCore.Signal(object)
    progress = QtCore.Signal(int, int)

    def __init__(self, job: Callable[["CalibrationWorker"], object], parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._job = job

    def work(self) -> object:
        return self._job(self)


def _recording_choice(dialog: "CalibrationDialog") -> SourceChoice:
    session = dialog.session

    def prepare(dialog: CalibrationDialog) -> SourceOpener:
        if session.recording is None:
            raise ValueError("Open a recording first (File ▸ Open recording…).")
        recording, start = session.recording, session.playhead
        frames = range(start, min(session.num_frames, start + dialog.frames_spin.value()))
        return lambda: recording_source(recording, frames)

    name = session.recording.name if session.recording is not None else "no recording open"
    return SourceChoice(f"Recording: {name} (from the playhead)", prepare)


def _simulated_headset_choice() -> SourceChoice:
    """The synthetic world streamed in real time, its own instance (live mode's capture keeps its source)."""

    def prepare(dialog: CalibrationDialog) -> SourceOpener:
        from umetrack.live import SimulatedHeadset

        base = dialog.generic_edit.text()
        return lambda: live_source(SimulatedHeadset(load_hand_model(base), seed=SIMULATED_HEADSET_SEED), LIVE_FRAMES)

    return SourceChoice(f"Live: simulated headset (seed {SIMULATED_HEADSET_SEED}, up to {LIVE_FRAMES} frames)", prepare)


class CalibrationDialog(QtWidgets.QDialog):
    def __init__(self, window: QtWidgets.QMainWindow):
        super().__init__(window)
        self.setObjectName("calibration_dialog")
        self.setWindowTitle("Calibrate hand scale")
        self.window_ = window
        self.session = window.session
        self.settings: QtCore.QSettings = window.settings
        self.extra_sources: list[SourceChoice] = []
        self.worker: CalibrationWorker | None = None
        self.run: CalibrationRun | None = None
        """The last finished (or stopped) calibration."""
        self.calibration: ScaleCalibration | None = None
        """The samples of the current or last run, as they arrived."""
        self.run_options = CalibrationOptions()
        self.run_frames: range | None = None
        self.run_true_scale: float | None = None
        self.last_step: CalibrationStep | None = None
        self.profile_path: Path | None = None
        self.comparison: SkeletonComparison | None = None

        self._build_setup()
        self._build_status()
        self._build_plot()
        self._build_table()
        left = QtWidgets.QVBoxLayout()
        left.addWidget(self.setup_box)
        left.addLayout(self.buttons_row)
        left.addWidget(self.status_box)
        left.addStretch(1)
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        right.addWidget(self.plot)
        right.addWidget(self.table)
        right.setSizes([330, 330])
        layout = QtWidgets.QHBoxLayout(self)
        layout.addLayout(left, 0)
        layout.addWidget(right, 1)
        self.resize(1180, 700)

        self.session.recording_changed.connect(self._on_recording_changed)
        self.session.playhead_changed.connect(lambda _frame: self._refresh_sources())
        self._refresh_sources()
        self._reset_results()

    # -- widgets ---------------------------------------------------------------------------------

    def _build_setup(self) -> None:
        self.setup_box = QtWidgets.QGroupBox("Setup")
        form = QtWidgets.QFormLayout(self.setup_box)
        self.source_combo = QtWidgets.QComboBox()
        form.addRow("Source", self.source_combo)
        self.frames_spin = QtWidgets.QSpinBox()
        self.frames_spin.setToolTip("How many frames from the playhead to calibrate on (it stops earlier once complete)")
        form.addRow("Frames", self.frames_spin)
        self.model_edit = QtWidgets.QLineEdit(str(self.settings.value("calibration/model", str(DEFAULT_WEIGHTS))))
        form.addRow("Model weights", self._with_browse(self.model_edit, "Model weights", "Weights (*.pt *.torch)"))
        self.generic_edit = QtWidgets.QLineEdit(str(DEFAULT_HAND_MODEL))
        self.generic_edit.setToolTip("The generic hand model the calibrated profile scales")
        form.addRow("Generic hand model", self._with_browse(self.generic_edit, "Generic hand model", "Hand model JSON (*.json)"))
        self.hands_combo = QtWidgets.QComboBox()
        for label, hands in HAND_CHOICES:
            self.hands_combo.addItem(label, hands)
        form.addRow("Hands", self.hands_combo)
        self.crops_combo = QtWidgets.QComboBox()
        for label, crops in CROP_CHOICES:
            self.crops_combo.addItem(label, crops)
        form.addRow("Crops", self.crops_combo)
        self.samples_spin = QtWidgets.QSpinBox()
        self.samples_spin.setRange(2, 10_000)
        self.samples_spin.setValue(DEFAULT_SAMPLES)
        self.samples_spin.setToolTip("Multi-view samples that complete the calibration (the paper averages 30)")
        form.addRow("Samples", self.samples_spin)

        self.buttons_row = QtWidgets.QHBoxLayout()
        self.start_button = QtWidgets.QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.clicked.connect(self.cancel)
        self.accept_button = QtWidgets.QPushButton("Accept…")
        self.accept_button.setToolTip("Save the calibrated hand profile and use it as the session's hand model")
        self.accept_button.clicked.connect(lambda: self.accept_profile())
        self.compare_button = QtWidgets.QPushButton("Compare")
        self.compare_button.setToolTip("Track the same frames with the generic and the calibrated skeleton and compare errors")
        self.compare_button.clicked.connect(self.compare)
        self.track_button = QtWidgets.QPushButton("Track with profile")
        self.track_button.setToolTip("Run the tracker (known skeleton) on the recording with the accepted profile")
        self.track_button.clicked.connect(self.track_with_profile)
        for button in (self.start_button, self.stop_button, self.accept_button, self.compare_button, self.track_button):
            self.buttons_row.addWidget(button)

    def _with_browse(self, edit: QtWidgets.QLineEdit, title: str, filter_: str) -> QtWidgets.QWidget:
        row = QtWidgets.QWidget()
        layout = QtWidgets.QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        browse = QtWidgets.QPushButton("…")
        browse.setFixedWidth(28)
        browse.clicked.connect(lambda: edit.setText(QtWidgets.QFileDialog.getOpenFileName(self, title, edit.text(), filter_)[0] or edit.text()))
        layout.addWidget(edit, 1)
        layout.addWidget(browse)
        return row

    def _build_status(self) -> None:
        self.status_box = QtWidgets.QGroupBox("Calibration")
        grid = QtWidgets.QFormLayout(self.status_box)
        self.views_label = QtWidgets.QLabel()
        self.samples_label = QtWidgets.QLabel()
        self.estimate_label = QtWidgets.QLabel()
        self.gt_label = QtWidgets.QLabel()
        self.indicator_label = QtWidgets.QLabel()
        self.indicator_label.setWordWrap(True)
        self.progress_bar = QtWidgets.QProgressBar()
        self.message_label = QtWidgets.QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setMinimumWidth(380)
        grid.addRow("Views now", self.views_label)
        grid.addRow("Samples", self.samples_label)
        grid.addRow("Scale", self.estimate_label)
        grid.addRow("GT scale", self.gt_label)
        grid.addRow("State", self.indicator_label)
        grid.addRow("Progress", self.progress_bar)
        grid.addRow(self.message_label)

    def _build_plot(self) -> None:
        self.plot = plain_background(pg.PlotWidget(), PANEL_BACKGROUND_RGB)
        self.plot.setTitle("running scale estimate: mean ± spread (1 std)")
        self.plot.setLabel("bottom", "samples")
        self.plot.setLabel("left", "hand scale")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.addLegend(offset=(-10, -10))  # bottom right: the GT line and "required" label sit at the top
        self.upper_curve = pg.PlotDataItem(pen=pg.mkPen((120, 170, 240, 120)))
        self.lower_curve = pg.PlotDataItem(pen=pg.mkPen((120, 170, 240, 120)))
        self.band = pg.FillBetweenItem(self.upper_curve, self.lower_curve, brush=pg.mkBrush(90, 158, 242, 60))
        for item in (self.upper_curve, self.lower_curve, self.band):
            self.plot.addItem(item)
        self.sample_dots = self.plot.plot(pen=None, symbol="o", symbolSize=5, symbolBrush=(200, 200, 205, 150), symbolPen=None, name="samples")
        self.mean_curve = self.plot.plot(pen=pg.mkPen((240, 240, 240), width=2), name="running mean")
        self.gt_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(GOOD, width=1.5, style=QtCore.Qt.PenStyle.DashLine),
                                       label="GT {value:.4f}", labelOpts={"color": GOOD, "position": 0.08})  # fmt: skip
        self.required_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((150, 150, 155), style=QtCore.Qt.PenStyle.DotLine),
                                             label="required", labelOpts={"color": (150, 150, 155), "position": 0.95})  # fmt: skip
        self.plot.addItem(self.gt_line)
        self.plot.addItem(self.required_line)

    def _build_table(self) -> None:
        self.table = QtWidgets.QTableWidget(1 + len(LANDMARK_NAMES), 3)
        self.table.setHorizontalHeaderLabels(["Generic (mm)", "Calibrated (mm)", "Difference (mm)"])
        self.table.setVerticalHeaderLabels(["MPJPE", *LANDMARK_NAMES])
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(18)
        bold = self.font()
        bold.setBold(True)
        for row in range(self.table.rowCount()):
            for column in range(3):
                item = QtWidgets.QTableWidgetItem("")
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                if row == 0:
                    item.setFont(bold)
                self.table.setItem(row, column, item)

    # -- sources ---------------------------------------------------------------------------------

    def add_source(self, choice: SourceChoice) -> None:
        """Offer another source (live cameras register here)."""
        self.extra_sources.append(choice)
        self._refresh_sources()

    def source_choices(self) -> list[SourceChoice]:
        return [_recording_choice(self), _simulated_headset_choice(), *self.extra_sources]

    def _refresh_sources(self) -> None:
        current = self.source_combo.currentIndex()
        with QtCore.QSignalBlocker(self.source_combo):
            self.source_combo.clear()
            for choice in self.source_choices():
                self.source_combo.addItem(choice.label)
            self.source_combo.setCurrentIndex(max(0, min(current, self.source_combo.count() - 1)))
        remaining = max(1, self.session.num_frames - self.session.playhead)
        at_end = self.frames_spin.value() in (0, self.frames_spin.maximum())
        self.frames_spin.setRange(1, remaining)
        if at_end:
            self.frames_spin.setValue(remaining)  # default: to the end of the recording
        self.frames_spin.setSuffix(f"  (from frame {self.session.playhead})")

    def _on_recording_changed(self, _recording) -> None:
        # The recording a job reads from is closed when another one opens: stop it first.
        self.shutdown()
        self.frames_spin.setValue(0)
        self._refresh_sources()
        self._reset_results()

    # -- running ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def options(self) -> CalibrationOptions:
        return CalibrationOptions(hands=self.hands_combo.currentData(), required=self.samples_spin.value(), crops=self.crops_combo.currentData())

    def start(self) -> bool:
        """Start a calibration with the setup as shown; False (with the reason shown) if it cannot start."""
        if self.busy:
            return False
        choice = self.source_choices()[self.source_combo.currentIndex()]
        try:
            open_source = choice.prepare(self)
        except ValueError as exc:
            self._show_message(str(exc), BAD)
            return False
        model_path, generic_path = self.model_edit.text(), self.generic_edit.text()
        options = self.options()
        self.settings.setValue("calibration/model", model_path)
        self._reset_results()
        self.run_options = options
        self.calibration = ScaleCalibration(required=options.required)
        self.progress_bar.setRange(0, 0)  # busy until the source is open

        def job(worker: CalibrationWorker) -> CalibrationRun:
            from umetrack.train.loop import load_trained_network

            generic = load_hand_model(generic_path)
            net, _config = load_trained_network(model_path)
            source = open_source()
            worker.prepared.emit(source, true_scale(source, generic))
            outcome = calibrate(net, generic, source, options, on_step=worker.step.emit, should_stop=lambda: worker.cancelled)
            return CalibrationRun(outcome, generic, net, source)

        self._start_worker(job, f"Calibrating: {choice.label}…")
        self.worker.prepared.connect(self._on_prepared)
        self.worker.step.connect(self._on_step)
        self.worker.finished_job.connect(self._on_calibrated)
        return True

    def _start_worker(self, job: Callable[[CalibrationWorker], object], message: str) -> None:
        self.worker = CalibrationWorker(job, self)
        self.worker.progress.connect(self._on_progress)
        self.worker.failed.connect(self._on_failed)
        self._show_message(message, NEUTRAL)
        self._update_buttons()
        self.worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def shutdown(self) -> None:
        """Stop any job and wait for it (before the recording closes or the window is destroyed)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait()
            self.worker = None
        self._update_buttons()

    def _finish_worker(self) -> None:
        if self.worker is not None:
            self.worker.wait()  # the signal is emitted just before run() returns
            self.worker = None
        self._update_buttons()

    def _on_progress(self, done: int, total: int) -> None:
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)

    def _on_prepared(self, source: CalibrationSource, scale: float | None) -> None:
        self.run_frames = source.frame_range
        self.run_true_scale = scale
        self.progress_bar.setRange(0, source.total_frames or 0)
        self._show_message(f"Calibrating on {source.name}…", NEUTRAL)
        self._show_calibration()

    def _on_step(self, step: CalibrationStep) -> None:
        if self.calibration is None:
            return
        self.last_step = step
        self.calibration.samples[:] = step.samples
        self.steps_done += 1
        self._on_progress(self.steps_done, self.progress_bar.maximum())
        self._show_calibration()

    def _on_calibrated(self, run: CalibrationRun) -> None:
        self._finish_worker()
        self.run = run
        self.calibration = run.outcome.calibration
        self.run_true_scale = true_scale(run.source, run.generic)
        self._show_calibration()
        if run.outcome.status.converged:
            self._show_message(f"Calibration complete after {run.outcome.frames_done} frames. Accept to save the profile.", GOOD)
        else:
            self._show_message(run.outcome.shortfall_message(), BAD)

    def _on_failed(self, message: str) -> None:
        self._finish_worker()
        if message == "cancelled":
            kept = self.calibration.status.samples if self.calibration is not None else 0
            self._show_message(f"Stopped; {kept} samples kept.", PENDING)
        else:
            self._show_message(message, BAD)

    # -- showing ---------------------------------------------------------------------------------

    def _reset_results(self) -> None:
        self.run = None
        self.calibration = None
        self.last_step = None
        self.steps_done = 0
        self.run_frames = None
        self.run_true_scale = None
        self.comparison = None
        self.profile_path = None
        self.progress_bar.reset()
        self._show_calibration()
        self._show_comparison()
        self._update_buttons()

    def _show_message(self, text: str, colour: str) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet(f"color: {colour};")

    def _show_calibration(self) -> None:
        status = self.calibration.status if self.calibration is not None else None
        step = self.last_step
        if step is None:
            self.views_label.setText("—")
        else:
            # A hand not sampled says why (one view only, lost track, ...): views alone do not make a sample.
            views = ", ".join(f"{HAND_NAMES[h]} {step.views_now[h]}" + ("" if step.sampled[h] else f" ({step.reasons[h].value})") for h in HANDS)
            self.views_label.setText(f"{views}  (frame {step.frame})")
        self.samples_label.setText("—" if status is None else f"{status.samples} / {status.required}")
        if status is None or status.mean is None:
            self.estimate_label.setText("—")
        elif status.spread is None:
            self.estimate_label.setText(f"{status.mean:.4f}")
        else:
            self.estimate_label.setText(
                f"{status.mean:.4f} ± {status.spread:.4f}  (mean known to {100 * status.relative_standard_error:.2f} %)"
            )
        truth = self.run_true_scale
        if truth is None:
            self.gt_label.setText("unknown for this source")
        elif status is None or status.mean is None:
            self.gt_label.setText(f"{truth:.4f}")
        else:
            self.gt_label.setText(f"{truth:.4f}  ·  error {100 * (status.mean / truth - 1):+.2f} %")
        text, colour = indicator(status)
        self.indicator_label.setText(text)
        self.indicator_label.setStyleSheet(f"color: {colour}; font-weight: bold;")
        self._update_plot(status)
        self._update_buttons()

    def _update_plot(self, status: CalibrationStatus | None) -> None:
        history = self.calibration.history() if self.calibration is not None else []
        counts = np.array([s.samples for s in history], dtype=float)
        means = np.array([s.mean for s in history], dtype=float)
        spreads = np.array([np.nan if s.spread is None else s.spread for s in history], dtype=float)
        self.mean_curve.setData(counts, means)
        self.sample_dots.setData(counts, np.asarray(self.calibration.samples if self.calibration else [], dtype=float))
        banded = np.isfinite(spreads)
        self.upper_curve.setData(counts[banded], (means + spreads)[banded])
        self.lower_curve.setData(counts[banded], (means - spreads)[banded])
        self.gt_line.setVisible(self.run_true_scale is not None)
        if self.run_true_scale is not None:
            self.gt_line.setValue(self.run_true_scale)
        required = status.required if status is not None else self.samples_spin.value()
        self.required_line.setValue(required)
        self.plot.setXRange(0, max(required, len(counts)) + 1, padding=0.02)
        # Autorange ignores the GT line: frame the samples, the band and the truth together.
        shown = np.concatenate([np.asarray(self.calibration.samples if self.calibration else [], dtype=float),
                                (means + spreads)[banded], (means - spreads)[banded],
                                [] if self.run_true_scale is None else [self.run_true_scale]])  # fmt: skip
        if shown.size:
            self.plot.setYRange(float(shown.min()), float(shown.max()), padding=0.1)

    def _show_comparison(self) -> None:
        comparison = self.comparison
        for row in range(self.table.rowCount()):
            if comparison is None:
                values = (math.nan, math.nan)
            elif row == 0:
                values = (comparison.generic.mpjpe_mm, comparison.calibrated.mpjpe_mm)
            else:
                values = (comparison.generic.per_joint_mm[row - 1], comparison.calibrated.per_joint_mm[row - 1])
            generic, calibrated = (float(v) for v in values)
            for column, value in enumerate((generic, calibrated, calibrated - generic)):
                text = "—" if math.isnan(value) else (f"{value:+.1f}" if column == 2 else f"{value:.1f}")
                self.table.item(row, column).setText(text)
            difference = calibrated - generic
            colour = NEUTRAL if math.isnan(difference) or difference == 0 else (GOOD if difference < 0 else BAD)
            self.table.item(row, 2).setForeground(QtGui.QColor(colour))

    def _update_buttons(self) -> None:
        busy = self.worker is not None
        has_samples = self.calibration is not None and self.calibration.status.samples > 0
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        for widget in (self.source_combo, self.frames_spin, self.model_edit, self.generic_edit, self.hands_combo, self.crops_combo, self.samples_spin):
            widget.setEnabled(not busy)
        self.accept_button.setEnabled(not busy and has_samples and self.run is not None)
        recording = self.run.source.recording if self.run is not None else None
        self.compare_button.setEnabled(not busy and has_samples and self.run is not None and recording is not None and recording.gt is not None)
        self.track_button.setEnabled(not busy and self.profile_path is not None and self.session.recording is not None)

    # -- accept, compare, track ------------------------------------------------------------------

    def default_profile_path(self) -> Path:
        """Next to the recording (``<name>.hand_profile.json``), or in sessions/ for one not read from a file."""
        recording_path = self.session.recording_path
        if recording_path is not None:
            folder = recording_path if recording_path.is_dir() else recording_path.parent
            return folder / f"{recording_path.stem}{PROFILE_SUFFIX}"
        name = self.session.recording.name if self.session.recording is not None else "hand"
        return SESSIONS_DIR / f"{name}{PROFILE_SUFFIX}"

    def accept_profile(self, path: str | Path | None = None) -> bool:
        """Save the calibrated profile (asks where when ``path`` is None) and load it into the session."""
        if self.run is None or self.calibration is None or not self.calibration.samples:
            return False
        if path is None:
            chosen, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save hand profile", str(self.default_profile_path()), "Hand profile JSON (*.json)")
            if not chosen:
                return False
            path = chosen
        path = Path(path)
        try:
            self.calibration.save_profile(path, self.run.generic)
            self.session.load_hand_model(path)
        except (OSError, UmeTrackError) as exc:
            self._show_message(f"Cannot save the profile to {path}: {getattr(exc, 'strerror', None) or exc}", BAD)
            return False
        self.profile_path = path
        converged = "" if self.calibration.status.settled() else " (not converged)"
        self._show_message(f"Saved {path.name}{converged} and loaded it as the hand model. Track with profile runs the tracker with it.", GOOD)
        self.window_.statusBar().showMessage(f"Hand model: {path}")
        self._update_buttons()
        return True

    def compare(self) -> bool:
        """Track the run's frames with the generic and the calibrated skeleton (in the worker)."""
        if self.busy or self.run is None or self.calibration is None or not self.calibration.samples:
            return False
        recording = self.run.source.recording
        if recording is None or recording.gt is None or self.run_frames is None:
            self._show_message("Comparing needs a recording with ground truth.", BAD)
            return False
        run, frames, options = self.run, self.run_frames, self.run_options
        calibrated = self.calibration.calibrated_model(run.generic)
        self.comparison = None
        self._show_comparison()
        self.progress_bar.setRange(0, 2 * len(frames))

        def job(worker: CalibrationWorker) -> SkeletonComparison:
            return compare_skeletons(
                run.net, recording, run.generic, calibrated, frames, options.hands, options.crops,
                progress=worker.progress.emit, should_stop=lambda: worker.cancelled,
            )  # fmt: skip

        self._start_worker(job, f"Tracking frames {frames.start}-{frames.stop - 1} with the generic and the calibrated skeleton…")
        self.worker.finished_job.connect(self._on_compared)
        return True

    def _on_compared(self, comparison: SkeletonComparison) -> None:
        self._finish_worker()
        self.comparison = comparison
        self._show_comparison()
        if comparison.scored_slots == 0:
            self._show_message("No hand was tracked by both skeletons in these frames: nothing to compare.", BAD)
            return
        gain = comparison.generic.mpjpe_mm - comparison.calibrated.mpjpe_mm
        verdict = f"the calibrated skeleton is {abs(gain):.1f} mm {'better' if gain >= 0 else 'worse'}"
        self._show_message(
            f"MPJPE over {comparison.scored_slots} hand-frames (frames {comparison.frames.start}-{comparison.frames.stop - 1}): "
            f"generic {comparison.generic.mpjpe_mm:.1f} mm, calibrated {comparison.calibrated.mpjpe_mm:.1f} mm: {verdict}.",
            GOOD if gain >= 0 else BAD,
        )

    def track_with_profile(self) -> None:
        """The main window's tracker over the open recording, known skeleton, with the accepted profile."""
        if self.profile_path is None or self.session.recording is None:
            return
        options = TrackerOptions(skeleton="known", crops=self.crops_combo.currentData())
        self.window_.run_tracker(self.model_edit.text(), options)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def reject(self) -> None:  # Escape closes the dialog: stop the job like closing does
        self.shutdown()
        super().reject()
