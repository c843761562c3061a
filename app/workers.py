"""Background work off the GUI thread. Results come back as queued Qt signals.

``FrameLoader`` decodes recording frames in its own thread. Requests coalesce: when the user scrubs
faster than frames decode, only the newest request is served, so the display never lags behind
the playhead (frames are dropped instead; ``NewestOnly`` is that one-request mailbox).
``TrackerJob`` is a one-shot, cancellable job on the tracker's threads (``TrackingWorker`` runs the
tracker over a recording); ``BackgroundComputation`` derives per-recording data (errors, failure
lists) for a panel.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

import numpy as np
import torch
from PySide6 import QtCore

from umetrack.errors import UmeTrackError
from umetrack.recording import Recording

TRACKER_THREADS = torch.get_num_threads()
"""Intra-op threads for the tracker's network: the process default, read before the main window
drops its own (GUI) thread to one (torch's setting is per thread; new threads start from the latter)."""

EXPECTED_FAILURES = (UmeTrackError, OSError, ValueError, RuntimeError)
"""What bad input, missing files or a failing device raise; a worker reports these as a message
(the app keeps running). Anything else is a bug and is left to propagate."""

Item = TypeVar("Item")


class NewestOnly(Generic[Item]):
    """A one-item mailbox between threads: ``put`` replaces an item not yet taken, so the consumer
    always gets the newest request and a slow consumer drops requests instead of falling behind."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: Item | None = None
        self._closed = False

    def put(self, item: Item) -> None:
        with self._condition:
            self._item = item
            self._condition.notify()

    def close(self) -> None:
        """Wake the consumer for good: ``take`` returns None from now on, even with an item waiting."""
        with self._condition:
            self._closed = True
            self._condition.notify()

    def take(self) -> Item | None:
        """Block until an item arrives (and remove it) or the mailbox is closed (None)."""
        with self._condition:
            while self._item is None and not self._closed:
                self._condition.wait()
            if self._closed:
                return None
            item, self._item = self._item, None
            return item


class FrameLoader(QtCore.QThread):
    """Signals:
    loaded(recording, frame, images): images is a list of (H, W) uint8 arrays, one per view (black
    where the view had no image: ``Recording.filled_images``).
    failed(recording, frame, message): decoding failed; the app keeps running.
    The recording rides along so a receiver can drop late frames of a recording it has since closed.
    """

    loaded = QtCore.Signal(object, int, object)
    failed = QtCore.Signal(object, int, str)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._requests: NewestOnly[tuple[Recording, int]] = NewestOnly()

    def request(self, recording: Recording, frame: int) -> None:
        """Ask for a frame; replaces any request not yet started."""
        self._requests.put((recording, frame))

    def stop(self) -> None:
        self._requests.close()
        self.wait(5000)

    def run(self) -> None:
        while (request := self._requests.take()) is not None:
            recording, frame = request
            try:
                images = [np.ascontiguousarray(image) for image in recording.filled_images(frame)]
            except EXPECTED_FAILURES as exc:
                self.failed.emit(recording, frame, str(exc))
                continue
            self.loaded.emit(recording, frame, images)


class TrackerJob(QtCore.QThread):
    """Runs ``work()`` once off the GUI thread with the tracker's intra-op threads.

    Signals:
    finished_job(result); failed(message): an expected failure, or "cancelled" when ``work`` stopped
    on ``cancelled`` (by raising ``umetrack.track.results.Cancelled``).
    """

    finished_job = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def work(self) -> object:
        raise NotImplementedError

    def run(self) -> None:
        from umetrack.track.results import Cancelled

        torch.set_num_threads(TRACKER_THREADS)
        try:
            result = self.work()
        except Cancelled:
            self.failed.emit("cancelled")
            return
        except EXPECTED_FAILURES as exc:
            self.failed.emit(str(exc))
            return
        self.finished_job.emit(result)


class TrackingWorker(TrackerJob):
    """Runs the tracker over a whole recording.

    Signals (besides ``TrackerJob``'s; the result is a ``TrackedRecording``): progress(done, total).
    """

    progress = QtCore.Signal(int, int)

    def __init__(self, recording: Recording, model_path: str, hand_model, options, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.recording = recording
        self.model_path = model_path
        self.hand_model = hand_model
        self.options = options

    def work(self) -> object:
        from umetrack.track.results import track_recording
        from umetrack.train.loop import load_trained_network

        net, _config = load_trained_network(self.model_path)
        return track_recording(
            net, self.recording, self.hand_model, self.options,
            progress=lambda done, total: self.progress.emit(done, total),
            should_stop=self._cancel.is_set,
        )  # fmt: skip


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
