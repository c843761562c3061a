"""Live-mode threads: capture pulls frames from the source, tracking runs the tracker on the newest.

Neither thread ever queues frames: the capture worker keeps only the newest frame for the GUI
(one ``frame_ready`` notification until the GUI took it) and hands the newest to the tracking
worker, which drops whatever arrived while the network was busy. So a slow display or a slow
network costs frames, never latency. Recording happens on the capture thread (``LiveRecorder.add``
never blocks; encoding runs in the recorder's own thread).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import torch
from PySide6 import QtCore

from app.live_session import LivePrediction, RateMeter, RollingMean
from app.workers import EXPECTED_FAILURES, TRACKER_THREADS, NewestOnly
from umetrack.hand.model import HandModel
from umetrack.live import LiveFrame, LiveRecorder, LiveRig, LiveSource

class CaptureWorker(QtCore.QThread):
    """Opens the source (``make_source`` may take seconds: it runs on this thread) and pulls frames.

    Signals:
    source_ready(source): the source is open and delivering.
    failed(message): the source could not be opened.
    frame_ready(): a new newest frame waits in ``take_newest`` (not emitted again until taken).
    recording_finished(path | None, error): a recording was written (path) or failed (error text).
    """

    source_ready = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    frame_ready = QtCore.Signal()
    recording_finished = QtCore.Signal(object, str)

    def __init__(self, make_source: Callable[[], LiveSource], parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._make_source = make_source
        self.source: LiveSource | None = None
        self.consumers: list[Callable[[LiveFrame, float], None]] = []
        """Called on this thread with each frame and when it was handed over (the tracking worker)."""
        self.rate = RateMeter()
        self.capture_ms = RollingMean()
        self._lock = threading.Lock()
        self._newest: LiveFrame | None = None
        self._notified = False
        self._recorder: LiveRecorder | None = None
        self._stop = threading.Event()
        self._finishers: list[threading.Thread] = []

    def stop(self) -> None:
        """Ask the thread to end (it closes the source and finishes a recording in progress)."""
        self._stop.set()

    def take_newest(self) -> LiveFrame | None:
        with self._lock:
            frame, self._newest, self._notified = self._newest, None, False
        return frame

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    def start_recording(self, stem: Path) -> None:
        """Record from the next frame on into ``stem`` (.mp4/.json/.live.json). Raises OSError when
        the folder cannot be written."""
        if self.source is None:
            raise RuntimeError("the live source is not open yet")
        recorder = LiveRecorder(self.source.rig, stem, self.source.name, has_ground_truth=self.source.has_ground_truth)
        with self._lock:
            self._recorder = recorder

    def stop_recording(self) -> None:
        """Stop recording; the files are written in a background thread, then ``recording_finished``."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        if recorder is not None:
            thread = threading.Thread(target=self._finish, args=(recorder,), name="live recording finisher")
            self._finishers.append(thread)
            thread.start()

    def _finish(self, recorder: LiveRecorder) -> None:
        try:
            path = recorder.finish()
        except EXPECTED_FAILURES as exc:
            self.recording_finished.emit(None, str(exc))
            return
        self.recording_finished.emit(path, "")

    def wait_for_recordings(self) -> None:
        """Block until recordings being written are complete (when the app closes)."""
        for thread in self._finishers:
            thread.join()

    def run(self) -> None:
        try:
            source = self._make_source()
        except EXPECTED_FAILURES as exc:
            self.failed.emit(str(exc))
            return
        self.source = source
        self.source_ready.emit(source)
        try:
            while not self._stop.is_set():
                frame = source.next_frame(timeout_s=0.25)
                if frame is None:
                    continue
                handed_over_at = time.monotonic()
                self.rate.tick()
                self.capture_ms.add(frame.capture_ms)
                with self._lock:
                    recorder = self._recorder
                if recorder is not None:
                    recorder.add(frame)
                for consumer in self.consumers:
                    consumer(frame, handed_over_at)
                with self._lock:
                    self._newest = frame
                    notify, self._notified = not self._notified, True
                if notify:
                    self.frame_ready.emit()
        finally:
            self.stop_recording()
            source.close()


class LiveTrackingWorker(QtCore.QThread):
    """Runs the tracker on the newest submitted frame, dropping the ones that arrive meanwhile.

    Crops follow the previous prediction; a hand without a track starts from the frame's ground
    truth where the source has it (the learned detector does not exist yet), so with a camera
    source and no detector hands are reported "not detected".

    Signals:
    model_ready(name): the weights loaded.
    model_failed(message): the weights could not be loaded (live mode goes on without predictions).
    tracked(prediction): a ``LivePrediction``.
    """

    model_ready = QtCore.Signal(str)
    model_failed = QtCore.Signal(str)
    tracked = QtCore.Signal(object)

    def __init__(self, model_path: Path, hand_model: HandModel, rig: LiveRig, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.model_path = Path(model_path)
        self.hand_model = hand_model
        self.rig = rig
        self.rate = RateMeter()
        self.stage_ms = {"crop": RollingMean(), "network": RollingMean()}
        self._frames: NewestOnly[tuple[LiveFrame, float]] = NewestOnly()
        self._current: LiveFrame | None = None

    def submit(self, frame: LiveFrame, handed_over_at: float) -> None:
        """Offer a frame (any thread); replaces a frame not yet started."""
        self._frames.put((frame, handed_over_at))

    def stop(self) -> None:
        self._frames.close()

    def _ground_truth_bootstrap(self, images, cameras):
        frame = self._current
        return {h: p for h, p in frame.gt.items() if p.confidence >= 0.5} if frame is not None else {}

    def run(self) -> None:
        from umetrack.track.tracker import Tracker, TrackerOptions
        from umetrack.train.loop import load_trained_network

        torch.set_num_threads(TRACKER_THREADS)
        try:
            net, _config = load_trained_network(self.model_path)
        except EXPECTED_FAILURES as exc:
            self.model_failed.emit(str(exc))
            return
        tracker = Tracker(net, self.hand_model, TrackerOptions(crops="tracked"), detector=self._ground_truth_bootstrap,
                          camera_angles_deg=self.rig.camera_angles_deg)  # fmt: skip
        self.model_ready.emit(self.model_path.name)
        while (offered := self._frames.take()) is not None:
            frame, handed_over_at = offered
            self._current = frame
            result = tracker.step(list(frame.images), frame.cameras(self.rig), frame.gt)
            timings = result.timings_ms
            self.rate.tick()
            self.stage_ms["crop"].add(timings["crop_ms"])
            if "network_ms" in timings:
                self.stage_ms["network"].add(timings["network_ms"] + timings.get("fk_ms", 0.0))
            self.tracked.emit(LivePrediction(
                frame_index=frame.index,
                landmarks={h: r.landmarks for h, r in result.hands.items() if r.landmarks is not None},
                reasons={h: r.reason.value for h, r in result.hands.items()},
                timings_ms=dict(timings),
                handed_over_at=handed_over_at,
            ))  # fmt: skip
