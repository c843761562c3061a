"""The Qt-free live-mode state the live panels observe (``Session.live``): the source's rig, the newest
frame on display, the newest prediction, which cameras are disconnected, per-stage latency and
fps, the model and the recording in progress.

Like ``Session``, it is changed on the GUI thread only (workers hand frames and results over with
queued Qt signals) and fires its events synchronously there. The meters (``RateMeter``,
``RollingMean``) are thread-safe: workers tick them on their own threads, the GUI reads them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.events import Event
from umetrack.live import LiveFrame, LiveRig

STAGES = ("capture", "crop", "network", "render")
"""Per-stage latency shown in the HUD: producing the frame (rendering the synthetic world or reading
the cameras), placing and warping the crops, the network (with skinning the prediction), drawing."""


class RateMeter:
    """Events per second over the last ``window_s`` seconds (thread-safe)."""

    def __init__(self, window_s: float = 1.0):
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            now = time.monotonic()
            self._times.append(now)
            self._drop_old(now)

    def _drop_old(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()

    def rate(self) -> float:
        with self._lock:
            self._drop_old(time.monotonic())
            return len(self._times) / self.window_s


class RollingMean:
    """Mean of the last ``size`` values (thread-safe); NaN before the first."""

    def __init__(self, size: int = 15):
        self._values: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, value: float) -> None:
        with self._lock:
            self._values.append(float(value))

    def mean(self) -> float:
        with self._lock:
            return float(np.mean(self._values)) if self._values else float("nan")


@dataclass(frozen=True)
class LiveStats:
    """What the HUD shows. Rates in frames/s; ``stage_ms`` keyed by ``STAGES`` (NaN: not measured yet,
    e.g. no model); ``latency_ms``: from the start of capture to the prediction on screen."""

    capture_fps: float = 0.0
    tracking_fps: float = 0.0
    display_fps: float = 0.0
    stage_ms: dict[str, float] = field(default_factory=lambda: {stage: float("nan") for stage in STAGES})
    latency_ms: float = float("nan")
    frames_dropped: int = 0


@dataclass(frozen=True, eq=False)
class LivePrediction:
    """The tracker's output for one live frame.

    Attributes:
        frame_index: the source frame it was computed from.
        landmarks: {hand: (21, 3) world metres} of the tracked hands.
        reasons: {hand: reason text} for every hand ("tracked", "lost track", ...).
        timings_ms: the tracker's per-stage timings (``FrameResult.timings_ms``).
        handed_over_at: ``time.monotonic()`` when the capture worker handed the frame over.
    """

    frame_index: int
    landmarks: dict[int, np.ndarray]
    reasons: dict[int, str]
    timings_ms: dict[str, float]
    handed_over_at: float


class LiveSession:
    """Events:
    started(rig, source_name): live mode began with this rig.
    frame_changed(frame): the newest frame to display (a ``LiveFrame``).
    prediction_changed(prediction | None): new tracker output.
    views_status_changed(disconnected): {view: reason} of the cameras without frames ({} when all deliver).
    stats_changed(stats): new HUD numbers.
    recording_changed(path | None): recording to ``path`` began, or the recording stopped.
    stopped(): live mode ended.
    """

    def __init__(self):
        self.started = Event("started")
        self.frame_changed = Event("frame_changed")
        self.prediction_changed = Event("prediction_changed")
        self.views_status_changed = Event("views_status_changed")
        self.stats_changed = Event("stats_changed")
        self.recording_changed = Event("recording_changed")
        self.stopped = Event("stopped")
        self.active = False
        self.rig: LiveRig | None = None
        self.source_name = ""
        self.model_status = ""
        """The model in use (its file name), or why there is none ("no model: … missing")."""
        self.frame: LiveFrame | None = None
        self.prediction: LivePrediction | None = None
        self.disconnected: dict[int, str] = {}
        self.stats = LiveStats()
        self.recording_path: Path | None = None
        self.recording_started_at: float | None = None

    def start(self, rig: LiveRig, source_name: str, model_status: str) -> None:
        self.active = True
        self.rig = rig
        self.source_name = source_name
        self.model_status = model_status
        self.frame = None
        self.prediction = None
        self.disconnected = {}
        self.stats = LiveStats()
        self.started.emit(rig, source_name)

    def set_model_status(self, status: str) -> None:
        self.model_status = status
        self.stats_changed.emit(self.stats)

    def show_frame(self, frame: LiveFrame) -> None:
        """Put the newest frame on display; updates which cameras are disconnected."""
        if not self.active:
            return
        self.frame = frame
        disconnected = {v: error for v, error in enumerate(frame.view_errors) if error is not None}
        if disconnected.keys() != self.disconnected.keys():
            self.disconnected = disconnected
            self.views_status_changed.emit(dict(disconnected))
        else:
            self.disconnected = disconnected  # same cameras, maybe a newer reason
        self.frame_changed.emit(frame)

    def set_prediction(self, prediction: LivePrediction | None) -> None:
        if not self.active:
            return
        self.prediction = prediction
        self.prediction_changed.emit(prediction)

    def set_stats(self, stats: LiveStats) -> None:
        self.stats = stats
        self.stats_changed.emit(stats)

    def set_recording(self, path: Path | None) -> None:
        self.recording_path = path
        self.recording_started_at = time.monotonic() if path is not None else None
        self.recording_changed.emit(path)

    def stop(self) -> None:
        if not self.active:
            return
        self.active = False
        if self.recording_path is not None:
            self.set_recording(None)
        self.frame = None
        self.prediction = None
        self.disconnected = {}
        self.stopped.emit()
