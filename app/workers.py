"""Background work off the GUI thread. Results come back as queued Qt signals.

``FrameLoader`` decodes recording frames in its own thread. Requests coalesce: when the user scrubs
faster than frames decode, only the newest request is served, so the display never lags behind
the playhead (frames are dropped instead).
"""

from __future__ import annotations

import threading

import numpy as np
from PySide6 import QtCore

from umetrack.errors import UmeTrackError
from umetrack.recording import Recording


class FrameLoader(QtCore.QThread):
    """Signals:
    loaded(recording, frame, images): images is a list of (H, W) uint8 arrays, one per view.
    failed(recording, frame, message): decoding failed; the app keeps running.
    The recording rides along so a receiver can drop late frames of a recording it has since closed.
    """

    loaded = QtCore.Signal(object, int, object)
    failed = QtCore.Signal(object, int, str)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._condition = threading.Condition()
        self._pending: tuple[Recording, int] | None = None
        self._stopping = False

    def request(self, recording: Recording, frame: int) -> None:
        """Ask for a frame; replaces any request not yet started."""
        with self._condition:
            self._pending = (recording, frame)
            self._condition.notify()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify()
        self.wait(5000)

    def run(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                recording, frame = self._pending
                self._pending = None
            try:
                images = [np.ascontiguousarray(image) for image in recording.images(frame)]
            except (UmeTrackError, OSError, ValueError, RuntimeError) as exc:
                self.failed.emit(recording, frame, str(exc))
                continue
            self.loaded.emit(recording, frame, images)


class TrackingWorker(QtCore.QThread):
    """Runs the tracker over a whole recording off the GUI thread.

    Signals:
    progress(done, total); finished_tracking(results); failed(message) (also on cancel).
    """

    progress = QtCore.Signal(int, int)
    finished_tracking = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(self, recording: Recording, model_path: str, hand_model, options, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.recording = recording
        self.model_path = model_path
        self.hand_model = hand_model
        self.options = options
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        from umetrack.track.results import Cancelled, track_recording
        from umetrack.train.loop import load_trained_network

        try:
            net, _config = load_trained_network(self.model_path)
            results = track_recording(
                net, self.recording, self.hand_model, self.options,
                progress=lambda done, total: self.progress.emit(done, total),
                should_stop=self._cancel.is_set,
            )  # fmt: skip
        except Cancelled:
            self.failed.emit("cancelled")
            return
        except (UmeTrackError, OSError, ValueError, RuntimeError) as exc:
            self.failed.emit(str(exc))
            return
        self.finished_tracking.emit(results)
