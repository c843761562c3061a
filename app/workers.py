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
