"""File ▸ Export: screenshots (PNG) of the window or the views panel, a video (mp4) of a frame range of
what the views panel shows, overlays included, and the metrics CSV of the current tracking results.

The video export never blocks the GUI: it seeks the playhead one frame at a time and captures the
views panel when that frame's decoded images arrive (``ViewsGridPanel.frame_shown``), returning to
the event loop between frames; a ``VideoEncoder`` thread encodes the captures with PyAV. Every output
is written to a temporary file next to the target and renamed over it when complete, so a failed
or cancelled export never leaves a torn file.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from app.dialogs import run_ok_cancel
from umetrack.errors import UmeTrackError
from umetrack.eval.frame_metrics import frame_metrics, write_metrics_csv
from umetrack.fileio import atomic_write_bytes, new_temporary_sibling
from umetrack.recording import write_video

if TYPE_CHECKING:
    from app.main_window import MainWindow

VIDEO_CRF = 18
"""Visually lossless for screen content at a fraction of the default (camera-faithful) CRF 10's size."""
VIDEO_PRESET = "veryfast"
"""The encoder shares two cores with decoding and drawing; slower presets only shave the file size."""
ENCODER_QUEUE_FRAMES = 8
"""Captured frames waiting for the encoder (a 1280x800 RGB capture is 3 MB)."""


def png_bytes(image: QtGui.QImage) -> bytes:
    data = QtCore.QByteArray()
    buffer = QtCore.QBuffer(data)
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("the image could not be encoded as PNG")
    return bytes(data.data())


def rgb_array(image: QtGui.QImage, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8 copy of ``image``, scaled to that size if it differs."""
    if (image.width(), image.height()) != (width, height):
        image = image.scaled(width, height, QtCore.Qt.AspectRatioMode.IgnoreAspectRatio, QtCore.Qt.TransformationMode.SmoothTransformation)
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes()).reshape(height, image.bytesPerLine())
    return rows[:, : 3 * width].reshape(height, width, 3).copy()  # rows are padded to 4 bytes


@dataclass(frozen=True)
class VideoRequest:
    """Frames ``first``..``last`` (inclusive) of the views panel, ``width`` x ``height`` pixels, at ``fps``."""

    path: Path
    first: int
    last: int
    width: int
    height: int
    fps: float

    @property
    def num_frames(self) -> int:
        return self.last - self.first + 1


class _Cancelled(Exception):
    pass


class VideoEncoder(QtCore.QThread):
    """Encodes RGB frames handed over by the GUI thread into ``request.path``.

    Signals: finished_encoding(frames written); failed(message), also "cancelled".
    """

    finished_encoding = QtCore.Signal(int)
    failed = QtCore.Signal(str)

    def __init__(self, request: VideoRequest, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.request = request
        # Unbounded so that put_nowait never fails; has_room() keeps it to ENCODER_QUEUE_FRAMES.
        self._frames: queue.Queue[np.ndarray | None] = queue.Queue()
        self._cancel = threading.Event()

    def has_room(self) -> bool:
        return self._frames.qsize() < ENCODER_QUEUE_FRAMES

    def push(self, rgb: np.ndarray) -> None:
        """Queue one frame (check ``has_room`` first: the GUI thread must never wait here)."""
        self._frames.put_nowait(rgb)

    def end_of_input(self) -> None:
        self._frames.put_nowait(None)

    def cancel(self) -> None:
        self._cancel.set()

    def _incoming(self):
        """Frames as ``write_video`` takes them (one view each) until the end-of-input marker."""
        while True:
            if self._cancel.is_set():
                raise _Cancelled
            try:
                rgb = self._frames.get(timeout=0.05)  # wakes up to notice a cancel
            except queue.Empty:
                continue
            if rgb is None:
                return
            yield (rgb,)

    def run(self) -> None:
        target = self.request.path
        temporary = None
        try:
            temporary = new_temporary_sibling(target)
            count = write_video(temporary, self._incoming(), self.request.fps, crf=VIDEO_CRF, preset=VIDEO_PRESET)
            os.replace(temporary, target)
        except _Cancelled:
            self.failed.emit("cancelled")
        except (OSError, ValueError, av.error.FFmpegError) as exc:
            self.failed.emit(f"{target}: {exc}")
        else:
            self.finished_encoding.emit(count)
            return
        if temporary is not None:
            temporary.unlink(missing_ok=True)


class VideoExport(QtCore.QObject):
    """Steps the playhead through the request's frames, capturing the views panel as each one shows.

    Moving the playhead (or opening another recording) during the export cancels it; otherwise the
    playhead returns to where it was. Signals: progress(captured, total); done(message); failed(message).
    """

    progress = QtCore.Signal(int, int)
    done = QtCore.Signal(str)
    failed = QtCore.Signal(str)

    def __init__(self, window: "MainWindow", request: VideoRequest):
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.request = request
        self.encoder = VideoEncoder(request, self)
        self.encoder.finished_encoding.connect(self._on_encoded)
        self.encoder.failed.connect(self._on_encoder_failed)
        self.captured = 0
        self._target: int | None = None
        self._moving_playhead = False
        self._return_to = self.session.playhead
        self._cancel_reason = "cancelled"
        self.running = False

    def start(self) -> None:
        self.window.transport.pause()
        self.running = True
        self.window.views.frame_shown.connect(self._on_frame_shown)
        self.session.playhead_changed.connect(self._on_playhead_changed)
        self.session.recording_changed.connect(self._on_recording_changed)
        self.encoder.start()
        self._show(self.request.first)

    def cancel(self, reason: str = "cancelled") -> None:
        if not self.running:
            return
        self._stop_stepping()
        self._cancel_reason = reason
        self.encoder.cancel()

    def _show(self, frame: int) -> None:
        self._target = frame
        recording = self.session.recording
        self._moving_playhead = True
        try:
            moved = frame != self.session.playhead
            self.session.seek(frame)
        finally:
            self._moving_playhead = False
        if not recording.has_images:
            QtCore.QTimer.singleShot(0, self._capture)  # overlays only: drawn synchronously by the seek
        elif not moved:
            self.window.views.loader.request(recording, frame)  # decode it afresh: nothing else would

    def _on_frame_shown(self, frame: int) -> None:
        if frame == self._target:
            self._capture()

    def _capture(self) -> None:
        if not self.running or self._target is None:
            return
        if not self.encoder.has_room():
            QtCore.QTimer.singleShot(10, self._capture)  # let the encoder catch up; the GUI stays live
            return
        image = self.window.views.grab().toImage()
        self.encoder.push(rgb_array(image, self.request.width, self.request.height))
        self.captured += 1
        self.progress.emit(self.captured, self.request.num_frames)
        frame, self._target = self._target, None
        if frame >= self.request.last:
            self._stop_stepping()
            self.encoder.end_of_input()
            self._restore_playhead()
            return
        # Next frame from the event loop, so the GUI repaints and handles input between frames.
        QtCore.QTimer.singleShot(0, lambda: self._show(frame + 1) if self.running else None)

    def _stop_stepping(self) -> None:
        self.running = False
        self._target = None
        self.window.views.frame_shown.disconnect(self._on_frame_shown)
        self.session.playhead_changed.disconnect(self._on_playhead_changed)
        self.session.recording_changed.disconnect(self._on_recording_changed)

    def _restore_playhead(self) -> None:
        self._moving_playhead = True
        self.session.seek(self._return_to)
        self._moving_playhead = False

    def _on_playhead_changed(self, frame: int) -> None:
        if not self._moving_playhead:
            self.cancel("cancelled: the playhead was moved during the export")

    def _on_recording_changed(self, _recording) -> None:
        self.cancel("cancelled: another recording was opened")

    def _on_encoded(self, count: int) -> None:
        self.encoder.wait()
        self.done.emit(f"Video exported: {self.request.path} ({count} frames, {self.request.width}x{self.request.height})")

    def _on_encoder_failed(self, message: str) -> None:
        self.encoder.wait()
        if self.running:  # the encoder failed on its own (disk full, ...): stop stepping too
            self._stop_stepping()
        if message == "cancelled":
            message = self._cancel_reason
            if message == "cancelled" and self.session.recording is not None:
                self._restore_playhead()
        self.failed.emit(message)


class MetricsCsvWorker(QtCore.QThread):
    """Computes the per-frame metrics and writes the CSV off the GUI thread.
    Signals: written(path, rows); failed(message)."""

    written = QtCore.Signal(str, int)
    failed = QtCore.Signal(str)

    def __init__(self, recording, tracking, path: Path, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.recording, self.tracking, self.path = recording, tracking, Path(path)

    def run(self) -> None:
        try:
            rows = write_metrics_csv(self.path, frame_metrics(self.recording, self.tracking))
        except (UmeTrackError, OSError, ValueError) as exc:
            self.failed.emit(f"{self.path}: {exc}")
            return
        self.written.emit(str(self.path), rows)


class ExportActions(QtCore.QObject):
    """The File ▸ Export menu and the export progress in the status bar."""

    def __init__(self, window: "MainWindow", menu: QtWidgets.QMenu):
        super().__init__(window)
        self.window = window
        self.video: VideoExport | None = None
        self.csv_worker: MetricsCsvWorker | None = None
        self.window_screenshot_action = menu.addAction("Screenshot of the &window…", lambda: self._screenshot_dialog(self.window))
        self.views_screenshot_action = menu.addAction("Screenshot of the &views…", lambda: self._screenshot_dialog(self.window.views))
        self.video_action = menu.addAction("&Video of the views…", self.video_dialog)
        self.csv_action = menu.addAction("&Metrics CSV…", self.metrics_csv_dialog)
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setMaximumWidth(240)
        self.progress_bar.setFormat("export %v/%m")
        self.cancel_button = QtWidgets.QPushButton("Cancel export")
        self.cancel_button.clicked.connect(self.cancel_video)
        for widget in (self.progress_bar, self.cancel_button):
            widget.hide()
            window.statusBar().addPermanentWidget(widget)

    def _default_path(self, ending: str) -> str:
        """<recording>_<playhead><ending> in the working folder (not next to the recording: the
        bundled sample lives in the repository)."""
        session = self.window.session
        name = session.recording.name if session.recording is not None else "studio"
        return str(Path.cwd() / f"{name}_{session.playhead:06d}{ending}")

    def _warn(self, title: str, message: str) -> None:
        QtWidgets.QMessageBox.warning(self.window, title, message)

    # -- screenshots -----------------------------------------------------------------------------

    def _screenshot_dialog(self, widget: QtWidgets.QWidget) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.window, "Save screenshot", self._default_path(".png"), "PNG images (*.png)")
        if path:
            self.save_screenshot(widget, path)

    def save_screenshot(self, widget: QtWidgets.QWidget, path: str | Path) -> bool:
        """Save what ``widget`` shows now as a PNG (written atomically)."""
        try:
            atomic_write_bytes(path, png_bytes(widget.grab().toImage()))
        except OSError as exc:
            self._warn("Cannot save screenshot", f"{path}: {exc.strerror or exc}")
            return False
        self.window.statusBar().showMessage(f"Screenshot saved: {path}")
        return True

    # -- video -----------------------------------------------------------------------------------

    def video_dialog(self) -> None:
        session = self.window.session
        if session.recording is None:
            QtWidgets.QMessageBox.information(self.window, "Export video", "Open a recording first.")
            return
        dialog = QtWidgets.QDialog(self.window)
        dialog.setWindowTitle("Export video of the views")
        form = QtWidgets.QFormLayout(dialog)
        last_frame = session.num_frames - 1
        first, last = QtWidgets.QSpinBox(), QtWidgets.QSpinBox()
        for box, value in ((first, session.playhead), (last, last_frame)):
            box.setRange(0, last_frame)
            box.setValue(value)
        size = self.window.views.size()
        width = QtWidgets.QSpinBox()
        width.setRange(64, 7680)
        width.setSingleStep(2)
        width.setValue(size.width() - size.width() % 2)
        form.addRow("First frame", first)
        form.addRow("Last frame", last)
        form.addRow("Width (height keeps the panel's aspect)", width)
        if not run_ok_cancel(dialog, form):
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.window, "Export video", self._default_path(".mp4"), "MP4 video (*.mp4)")
        if not path:
            return
        height = round(width.value() * size.height() / max(1, size.width()))
        self.export_video(path, first.value(), last.value(), width.value(), height + height % 2)

    def export_video(self, path: str | Path, first: int, last: int, width: int, height: int) -> VideoExport | None:
        """Start exporting frames first..last of the views panel; returns the running export."""
        session = self.window.session
        if session.recording is None or self.video is not None:
            return None
        if not (0 <= first <= last < session.num_frames):
            self._warn("Export video", f"Frames {first}..{last} are outside the recording (0..{session.num_frames - 1}).")
            return None
        request = VideoRequest(Path(path), first, last, width, height, self.window.transport.fps)
        self.video = VideoExport(self.window, request)
        self.video.progress.connect(self._on_progress)
        self.video.done.connect(self._on_video_done)
        self.video.failed.connect(self._on_video_failed)
        self.progress_bar.setRange(0, request.num_frames)
        self.progress_bar.setValue(0)
        self.progress_bar.show()
        self.cancel_button.show()
        self.window.statusBar().showMessage(f"Exporting frames {first}..{last} to {path}…")
        self.video.start()
        return self.video

    def cancel_video(self) -> None:
        if self.video is not None:
            self.video.cancel()

    def _on_progress(self, captured: int, total: int) -> None:
        self.progress_bar.setValue(captured)

    def _end_video(self) -> None:
        self.video = None
        self.progress_bar.hide()
        self.cancel_button.hide()

    def _on_video_done(self, message: str) -> None:
        self._end_video()
        self.window.statusBar().showMessage(message)

    def _on_video_failed(self, message: str) -> None:
        self._end_video()
        if message.startswith("cancelled"):
            self.window.statusBar().showMessage(f"Video export {message}")
        else:
            self._warn("Video export failed", message)

    # -- metrics CSV -----------------------------------------------------------------------------

    def metrics_csv_dialog(self) -> None:
        if self.window.session.tracking is None:
            QtWidgets.QMessageBox.information(self.window, "Export metrics", "Run the tracker first (Tracking ▸ Run tracker…).")
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.window, "Export metrics CSV", self._default_path("_metrics.csv"), "CSV (*.csv)")
        if path:
            self.export_metrics_csv(path)

    def export_metrics_csv(self, path: str | Path) -> MetricsCsvWorker | None:
        """Compute and write the metrics of the current tracking results in a worker."""
        session = self.window.session
        if session.tracking is None or self.csv_worker is not None:
            return None
        worker = MetricsCsvWorker(session.recording, session.tracking, Path(path), self)
        worker.written.connect(lambda written, rows: self._on_csv_done(f"Metrics exported: {written} ({rows} rows)"))
        worker.failed.connect(lambda message: self._on_csv_done(message, failed=True))
        self.csv_worker = worker
        self.window.statusBar().showMessage(f"Exporting metrics to {path}…")
        worker.start()
        return worker

    def _on_csv_done(self, message: str, failed: bool = False) -> None:
        self.csv_worker.wait()
        self.csv_worker = None
        if failed:
            self._warn("Metrics export failed", message)
        else:
            self.window.statusBar().showMessage(message)

    def shutdown(self) -> None:
        """Stop background work before the window goes away."""
        if self.video is not None:
            self.video.cancel()
            self.video.encoder.wait()
        if self.csv_worker is not None:
            self.csv_worker.wait()
