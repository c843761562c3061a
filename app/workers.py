"""Background work off the GUI thread. Results come back as queued Qt signals.

``FrameLoader`` decodes recording frames in its own thread. Requests coalesce: when the user scrubs
faster than frames decode, only the newest request is served, so the display never lags behind
the playhead (frames are dropped instead). ``TrackingWorker`` runs the tracker over a recording;
``BackgroundComputation`` derives per-recording data (errors, failure lists) for a panel.
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np
import torch
from PySide6 import QtCore

from umetrack.errors import UmeTrackError
from umetrack.recording import Recording

TRACKER_THREADS = torch.get_num_threads()
"""Intra-op threads for the tracker's network: the process default, read before the main window
drops its own (GUI) thread to one (torch's setting is per thread; new threads start from the latter)."""


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

        torch.set_num_threads(TRACKER_THREADS)
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


class _CallThread(QtCore.QThread):
    done = QtCore.Signal(int, object, str)  # generation, result, error message ("" on success)

    def __init__(self, function: Callable[[], object], generation: int, parent: QtCore.QObject):
        super().__init__(parent)
        self._function = function
        self.generation = generation

    def run(self) -> None:
        try:
            result = self._function()
        except Exception as exc:  # noqa: BLE001 - any failure of the computation is reported to its panel
            self.done.emit(self.generation, None, f"{type(exc).__name__}: {exc}")
            return
        self.done.emit(self.generation, result, "")


class BackgroundComputation(QtCore.QObject):
    """Computes derived data (errors, failure lists) off the GUI thread; the newest request wins.

    A result whose request has since been replaced (the user opened another recording, new tracking
    results arrived) is dropped, so a panel never shows numbers of data it no longer shows.

    Signals:
    computed(result); failed(message).
    """

    computed = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._generation = 0
        self._threads: list[_CallThread] = []
        # Children are destroyed right after ``destroyed``: a running thread must end first (Qt aborts
        # on destroying a running QThread), also when the owner is deleted without ``shutdown``.
        threads = self._threads
        self.destroyed.connect(lambda *_: [thread.wait() for thread in threads])

    @property
    def busy(self) -> bool:
        return any(thread.generation == self._generation for thread in self._threads)

    def request(self, function: Callable[[], object]) -> None:
        """Run ``function()`` in a thread; it must not touch widgets."""
        self._generation += 1
        thread = _CallThread(function, self._generation, self)
        thread.done.connect(self._on_done)
        self._threads.append(thread)
        thread.start()

    def discard(self) -> None:
        """Drop the result of any request still running."""
        self._generation += 1

    def shutdown(self) -> None:
        """Wait for running computations (before the owner is destroyed)."""
        self.discard()
        for thread in self._threads:
            thread.wait()
        self._threads.clear()

    def _on_done(self, generation: int, result: object, error: str) -> None:
        for thread in [t for t in self._threads if t.generation == generation]:
            thread.wait()  # ``done`` is emitted just before run() returns
            self._threads.remove(thread)
        if generation != self._generation:
            return
        if error:
            self.failed.emit(error)
        else:
            self.computed.emit(result)
