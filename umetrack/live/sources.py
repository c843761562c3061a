"""Live sources: timestamped multi-view frames as they happen, newest first, never a backlog.

A ``LiveSource`` hands out ``LiveFrame``s through ``next_frame()``: it blocks until the next frame
is due on the source's clock and returns the newest one. A consumer slower than the source
(rendering, tracking, a busy machine) therefore skips frames instead of falling behind; the frame
``index`` (time in frame periods since the source started) shows the gaps. Each frame carries the
rig's posed cameras (``T_world_from_camera`` per view, as ``Recording`` stores them), one image per
view or None where that camera had no frame (with the reason in ``view_errors``), and the ground
truth where the source knows it.

Sources:
* ``SimulatedHeadset`` streams the synthetic world (``umetrack.synth``) in real time: the frame
  index comes from the wall clock, the views of that frame are rendered on demand. The motion is a
  generated sequence played forwards then backwards (so it never jumps), with exact ground truth.
  ``Outage``s (or ``unplug()``) make a camera deliver nothing for a time window, for tests and demos.
* ``OpenCVCameras`` reads ``cv2.VideoCapture`` devices (device indices, ``/dev/video*``, stream URLs
  or video files, which play at their own frame rate like a camera) described by a rig file. Each
  camera is read by its own thread that keeps only its newest frame; a camera whose read fails or
  that delivers nothing for ``stall_ms`` is reported missing and reopened with exponential backoff.

Rig file (``RIG_FORMAT``, JSON; metres, the rig frame is the world)::

    {"format": "umetrack-studio.rig", "version": 1, "fps": 30,
     "cameras": [
       {"label": "left", "device": 0,
        "intrinsics": {"ImageSizeX": 640, "ImageSizeY": 480, "fx": 260.0, "fy": 260.0,
                       "cx": 319.5, "cy": 239.5, "DistortionModel": "FishEye62",
                       "k1": 0.0, "k2": 0.0, "k3": 0.0, "k4": 0.0, "k5": 0.0, "k6": 0.0,
                       "p1": 0.0, "p2": 0.0},
        "T_rig_from_camera": {"quaternion_wxyz": [1, 0, 0, 0], "translation_xyz": [0.05, 0, 0]},
        "camera_angle_deg": 0.0},
       ...]}

``device`` is a device index (int) or a string: a path (relative paths are taken from the rig
file's folder), ``/dev/videoN`` or a URL. ``intrinsics`` is a UmeTrack raw-data camera entry
(``PinholePlane``, ``FishEye62`` or ``FishEye624``: the kinds the recorder can store),
``T_rig_from_camera`` maps camera to rig coordinates, ``camera_angle_deg`` (optional, 0) is the
crop roll of the view. Bad files raise ``FormatError`` naming the field (NaN intrinsics included).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch

from umetrack.camera.io import camera_model_from_umetrack_dict, pose_from_dict
from umetrack.camera.models import Camera, CameraModel, DeviceCamera
from umetrack.errors import FormatError, UmeTrackError
from umetrack.fileio import array_field, read_json, require
from umetrack.hand.model import HandModel
from umetrack.hand.pose import HandPose

RIG_FORMAT = "umetrack-studio.rig"
RIG_VERSION = 1
DEFAULT_FPS = 30.0
DISCONNECTED = "disconnected — reconnecting…"


class LiveSourceError(UmeTrackError):
    """A live source cannot start: a camera does not open, or delivers frames the rig does not describe."""


# ---------------------------------------------------------------------------------------------
# Frames and rigs


@dataclass(frozen=True, eq=False)
class LiveRig:
    """The cameras of a live source.

    Attributes:
        cameras: intrinsics and ``T_device_from_camera`` (the headset or rig frame), in view order.
        camera_angles_deg: crop roll per view, degrees.
        fps: the rate the source delivers frames at when nothing is dropped.
        hand_model: the subject's (left) hand model when the source knows it (the simulation), else None.
    """

    cameras: tuple[DeviceCamera, ...]
    camera_angles_deg: tuple[float, ...]
    fps: float = DEFAULT_FPS
    hand_model: HandModel | None = None

    @property
    def num_views(self) -> int:
        return len(self.cameras)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(camera.label for camera in self.cameras)

    @property
    def models(self) -> tuple[CameraModel, ...]:
        return tuple(camera.model for camera in self.cameras)


@dataclass(frozen=True, eq=False)
class LiveFrame:
    """One multi-view frame of a live source.

    Attributes:
        index: frame number on the source's clock (``timestamp_ns = index * 1e9 / fps``); a gap
            between consecutive frames is the number of frames dropped.
        timestamp_ns: time since the source started.
        images: per view a read-only uint8 (H, W) image, or None when that camera had no frame.
        T_world_from_camera: (V, 4, 4) float64 camera -> world, metres.
        gt: ground-truth poses {hand: pose} (empty when the source has none).
        capture_ms: time spent producing the frame (rendering it, or reading and converting it).
        view_errors: per view, why it has no image (None where it has one).
    """

    index: int
    timestamp_ns: int
    images: tuple[np.ndarray | None, ...]
    T_world_from_camera: np.ndarray
    gt: dict[int, HandPose] = field(default_factory=dict)
    capture_ms: float = 0.0
    view_errors: tuple[str | None, ...] = ()

    @property
    def missing_views(self) -> tuple[int, ...]:
        return tuple(view for view, image in enumerate(self.images) if image is None)

    def cameras(self, rig: LiveRig) -> list[Camera]:
        """The posed cameras of this frame (what ``Tracker.step`` takes)."""
        return [Camera(c.model, torch.from_numpy(self.T_world_from_camera[v]), c.label) for v, c in enumerate(rig.cameras)]


class LiveSource(Protocol):
    """What the app's capture worker and the recorder need from a live source."""

    name: str
    rig: LiveRig
    has_ground_truth: bool
    frames_dropped: int

    def next_frame(self, timeout_s: float = 1.0) -> LiveFrame | None:
        """Block until the next frame is due and return the newest one (None after ``timeout_s``)."""
        ...

    def close(self) -> None:
        """Stop capturing and release devices (idempotent)."""
        ...


class _FrameClock:
    """Frame indices from a monotonic clock: ``wait_for_next`` sleeps until the frame after the last
    one handed out is due, and returns the newest due index (skipping the ones a slow consumer missed)."""

    def __init__(self, fps: float):
        self.fps = float(fps)
        self.start = time.monotonic()
        self.last_index = -1
        self.dropped = 0

    def elapsed_s(self) -> float:
        return time.monotonic() - self.start

    def current_index(self) -> int:
        return math.floor(self.elapsed_s() * self.fps)

    def wait_for_next(self, timeout_s: float) -> int | None:
        due_at = (self.last_index + 1) / self.fps
        wait = due_at - self.elapsed_s()
        if wait > timeout_s:
            time.sleep(max(0.0, timeout_s))
            return None
        if wait > 0:
            time.sleep(wait)
        index = max(self.last_index + 1, self.current_index())
        self.dropped += index - self.last_index - 1 if self.last_index >= 0 else index
        self.last_index = index
        return index

    def timestamp_ns(self, index: int) -> int:
        return round(index * 1e9 / self.fps)


# ---------------------------------------------------------------------------------------------
# Simulated headset


@dataclass(frozen=True)
class Outage:
    """Camera ``view`` delivers nothing from ``start_s`` for ``duration_s`` (source time): frames
    ``round(start_s * fps) <= index < round((start_s + duration_s) * fps)``."""

    view: int
    start_s: float
    duration_s: float

    def frames(self, fps: float) -> range:
        return range(round(self.start_s * fps), round((self.start_s + self.duration_s) * fps))


class SimulatedHeadset:
    """The synthetic headset world streamed in real time (see the module docstring).

    Args:
        hand_model: the base (left) hand model; the subject's hand is it scaled (``rig.hand_model``).
        seed: everything (motion, scene, sensor) derives from it.
        num_views: 1..4 headset cameras.
        loop_s: length of the generated motion; it plays forwards, then backwards, and so on.
        outages: camera dropouts to simulate (``unplug`` adds more while running).
    """

    has_ground_truth = True

    def __init__(self, hand_model: HandModel, seed: int = 0, num_views: int = 4, loop_s: float = 60.0, outages: tuple[Outage, ...] = ()):
        from umetrack.synth.motion import FPS  # the synthetic world's frame rate
        from umetrack.synth.recording import synthetic_recording

        if loop_s * FPS < 2:
            raise ValueError(f"loop_s must cover at least two frames, got {loop_s}")
        self._recording = synthetic_recording(hand_model, int(round(loop_s * FPS)), seed, num_views, name=f"live_{seed:06d}")
        recording = self._recording
        cameras = tuple(
            DeviceCamera(str(view), label, model, torch.eye(4, dtype=torch.float64))
            for view, (label, model) in enumerate(zip(recording.view_labels, recording.camera_models))
        )
        self.rig = LiveRig(cameras, recording.camera_angles_deg, float(FPS), recording.hand_model)
        self.name = f"simulated headset (seed {seed}, {num_views} views)"
        self._lock = threading.Lock()
        self._outages: list[Outage] = [self._checked(o) for o in outages]
        self._clock: _FrameClock | None = None
        recording.images(0)  # the renderer's first frame sets up OpenGL (seconds): not on the live clock

    def _checked(self, outage: Outage) -> Outage:
        if not 0 <= outage.view < self.rig.num_views:
            raise ValueError(f"outage of view {outage.view}: the headset has views 0..{self.rig.num_views - 1}")
        return outage

    @property
    def frames_dropped(self) -> int:
        return self._clock.dropped if self._clock is not None else 0

    @property
    def outages(self) -> tuple[Outage, ...]:
        with self._lock:
            return tuple(self._outages)

    def unplug(self, view: int, duration_s: float) -> Outage:
        """Unplug camera ``view`` for ``duration_s`` from the next frame on; returns the outage."""
        next_index = (self._clock.current_index() + 1) if self._clock is not None else 0
        outage = self._checked(Outage(view, next_index / self.rig.fps, duration_s))
        with self._lock:
            self._outages.append(outage)
        return outage

    def _sequence_frame(self, index: int) -> int:
        """Forwards, then backwards: frame 0, 1, .., N-1, N-2, .., 1, 0, 1, ..."""
        n = self._recording.num_frames
        period = 2 * n - 2
        k = index % period
        return k if k < n else period - k

    def _missing(self, index: int) -> set[int]:
        fps = self.rig.fps
        with self._lock:
            return {o.view for o in self._outages if index in o.frames(fps)}

    def next_frame(self, timeout_s: float = 1.0) -> LiveFrame | None:
        if self._clock is None:
            self._clock = _FrameClock(self.rig.fps)  # the source's time starts with its first frame
        index = self._clock.wait_for_next(timeout_s)
        if index is None:
            return None
        started = time.perf_counter()
        frame = self._sequence_frame(index)
        missing = self._missing(index)
        images = self._recording.images(frame)  # rendered on the renderer's own GL thread
        capture_ms = 1e3 * (time.perf_counter() - started)
        return LiveFrame(
            index=index,
            timestamp_ns=self._clock.timestamp_ns(index),
            images=tuple(None if view in missing else image for view, image in enumerate(images)),
            T_world_from_camera=np.array(self._recording.T_world_from_camera[frame]),
            gt=self._recording.gt_poses(frame),
            capture_ms=capture_ms,
            view_errors=tuple(f"unplugged (simulated) — {DISCONNECTED}" if view in missing else None for view in range(len(images))),
        )

    def close(self) -> None:
        self._recording.close()


# ---------------------------------------------------------------------------------------------
# OpenCV cameras


@dataclass(frozen=True, eq=False)
class RigCamera:
    """One camera of a rig file: what to open and its calibration (``T_device_from_camera`` = T_rig_from_camera)."""

    device: int | str
    camera: DeviceCamera
    camera_angle_deg: float = 0.0


def read_rig_file(path: str | Path) -> tuple[tuple[RigCamera, ...], float]:
    """Read a rig file (format in the module docstring); returns (cameras, fps).

    Raises FormatError naming the file and field for anything malformed (NaN or non-positive
    intrinsics, a non-unit quaternion, a missing key, an unknown format or version).
    """
    path = Path(path)
    doc = read_json(path)
    fmt = require(doc, "format", path)
    if fmt != RIG_FORMAT:
        raise FormatError(path, "format", f"expected {RIG_FORMAT!r}, got {fmt!r}")
    if require(doc, "version", path) != RIG_VERSION:
        raise FormatError(path, "version", f"unsupported version {doc['version']!r} (this reader knows {RIG_VERSION})")
    fps = float(array_field(doc, "fps", (), path)) if "fps" in doc else DEFAULT_FPS
    if fps <= 0:
        raise FormatError(path, "fps", f"must be > 0, got {fps}")
    entries = require(doc, "cameras", path)
    if not isinstance(entries, list) or not entries:
        raise FormatError(path, "cameras", "expected a non-empty list of cameras")
    cameras = []
    for index, entry in enumerate(entries):
        parent = f"cameras[{index}]"
        label = require(entry, "label", path, parent)
        if not isinstance(label, str) or not label:
            raise FormatError(path, f"{parent}.label", "expected a non-empty string")
        device = require(entry, "device", path, parent)
        if isinstance(device, bool) or not isinstance(device, (int, str)) or device == "":
            raise FormatError(path, f"{parent}.device", f"expected a device index or a path/URL string, got {device!r}")
        if isinstance(device, str) and "://" not in device and not Path(device).is_absolute():
            device = str(path.parent / device)
        model = camera_model_from_umetrack_dict(require(entry, "intrinsics", path, parent), path, f"{parent}.intrinsics")
        T = pose_from_dict(require(entry, "T_rig_from_camera", path, parent), path, f"{parent}.T_rig_from_camera")
        angle = float(array_field(entry, "camera_angle_deg", (), path, parent)) if "camera_angle_deg" in entry else 0.0
        cameras.append(RigCamera(device, DeviceCamera(str(index), label, model, T), angle))
    return tuple(cameras), fps


def _open_capture(device: int | str) -> cv2.VideoCapture | None:
    capture = cv2.VideoCapture(device)
    if capture.isOpened():
        return capture
    capture.release()
    return None


def _gray(frame: np.ndarray) -> np.ndarray:
    image = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    image = np.ascontiguousarray(image, dtype=np.uint8)
    image.setflags(write=False)
    return image


def _describe(device: int | str) -> str:
    return f"device {device}" if isinstance(device, int) else str(device)


class _CameraReader:
    """Reads one camera in its own thread, keeping only the newest frame; reopens it after a failure,
    waiting ``backoff_s`` first and doubling the wait after every failed attempt (up to ``max_backoff_s``)."""

    def __init__(self, rig_camera: RigCamera, capture: cv2.VideoCapture, first: np.ndarray, backoff_s: float, max_backoff_s: float):
        self.rig_camera = rig_camera
        self._capture: cv2.VideoCapture | None = capture
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._latest: tuple[np.ndarray, float, float] | None = (first, time.monotonic(), 0.0)  # image, time, read ms
        self.error: str | None = None
        self.reconnects = 0
        self._thread = threading.Thread(target=self._run, name=f"camera {rig_camera.camera.label}", daemon=True)
        self._thread.start()

    @property
    def _size(self) -> tuple[int, int]:
        model = self.rig_camera.camera.model
        return model.width, model.height

    def latest(self) -> tuple[np.ndarray | None, float, float, str | None]:
        """(newest image, its capture time (monotonic s), read ms, error or None)."""
        with self._lock:
            if self._latest is None:
                return None, 0.0, 0.0, self.error
            return (*self._latest, self.error)

    def _frame_period(self, capture: cv2.VideoCapture) -> float:
        """A video file plays at its own rate, as a camera would; devices pace themselves (0)."""
        device = self.rig_camera.device
        if isinstance(device, str) and Path(device).is_file():
            fps = capture.get(cv2.CAP_PROP_FPS)
            return 1.0 / fps if fps and fps > 0 else 1.0 / DEFAULT_FPS
        return 0.0

    def _fail(self, reason: str) -> None:
        with self._lock:
            self.error = reason
            self._latest = None
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _run(self) -> None:
        backoff = self._backoff_s
        device = self.rig_camera.device
        period = self._frame_period(self._capture)
        next_due = time.monotonic() + period
        while not self._stop.is_set():
            if self._capture is None:
                if self._stop.wait(backoff):
                    break
                backoff = min(2 * backoff, self._max_backoff_s)
                capture = _open_capture(device)
                if capture is None:
                    with self._lock:
                        self.error = f"cannot open {_describe(device)}"
                    continue
                self._capture = capture
                self.reconnects += 1
                period = self._frame_period(capture)
                next_due = time.monotonic()
            if period > 0:
                if self._stop.wait(max(0.0, next_due - time.monotonic())):
                    break
                next_due += period
            started = time.perf_counter()
            ok, frame = self._capture.read()
            if not ok or frame is None:
                self._fail("no frame (read failed: unplugged, or the stream ended)")
                continue
            image = _gray(frame)
            if (image.shape[1], image.shape[0]) != self._size:
                self._fail(f"frames are {image.shape[1]}x{image.shape[0]}, the rig file says {self._size[0]}x{self._size[1]}")
                continue
            read_ms = 1e3 * (time.perf_counter() - started)
            with self._lock:
                self._latest = (image, time.monotonic(), read_ms)
                self.error = None
            backoff = self._backoff_s

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)  # a read blocked in the driver ends when its frame (or error) comes
        if not self._thread.is_alive() and self._capture is not None:
            self._capture.release()
            self._capture = None


class OpenCVCameras:
    """Cameras opened with ``cv2.VideoCapture`` per a rig file (see the module docstring).

    Every ``1 / fps`` seconds (the rig file's fps) ``next_frame`` samples each camera's newest frame
    (the cameras are not hardware-synchronised). A camera with no frame newer than ``stall_ms`` is
    missing in that frame, with the reason in ``view_errors``; its reader keeps reopening it.

    Raises:
        FormatError: a malformed rig file.
        LiveSourceError: a camera that cannot be opened, delivers no first frame, or delivers frames
            of another size than its calibration (all cameras are released again).
    """

    has_ground_truth = False

    def __init__(self, rig_path: str | Path, stall_ms: float = 500.0, backoff_s: float = 0.1, max_backoff_s: float = 2.0):
        rig_cameras, fps = read_rig_file(rig_path)
        self.rig = LiveRig(tuple(c.camera for c in rig_cameras), tuple(c.camera_angle_deg for c in rig_cameras), fps)
        self.name = f"OpenCV cameras ({Path(rig_path).name})"
        self.stall_ms = float(stall_ms)
        self._T_world_from_camera = np.stack([c.camera.T_device_from_camera.numpy() for c in rig_cameras])
        self._T_world_from_camera.setflags(write=False)  # shared by every frame
        self._readers: list[_CameraReader] = []
        try:
            for index, rig_camera in enumerate(rig_cameras):
                self._readers.append(self._start(index, rig_camera, backoff_s, max_backoff_s))
        except BaseException:
            self.close()
            raise
        self._clock: _FrameClock | None = None

    @staticmethod
    def _start(index: int, rig_camera: RigCamera, backoff_s: float, max_backoff_s: float) -> _CameraReader:
        label = rig_camera.camera.label
        model = rig_camera.camera.model
        capture = _open_capture(rig_camera.device)
        if capture is None:
            raise LiveSourceError(f"camera {index} ({label}): cannot open {_describe(rig_camera.device)} (not connected, busy, or no such file)")
        ok, frame = capture.read()
        if not ok or frame is None:
            capture.release()
            raise LiveSourceError(f"camera {index} ({label}): {_describe(rig_camera.device)} opened but delivers no frames")
        image = _gray(frame)
        if (image.shape[1], image.shape[0]) != (model.width, model.height):
            capture.release()
            raise LiveSourceError(
                f"camera {index} ({label}): {_describe(rig_camera.device)} delivers {image.shape[1]}x{image.shape[0]} frames, "
                f"the rig file calibrates {model.width}x{model.height}"
            )
        return _CameraReader(rig_camera, capture, image, backoff_s, max_backoff_s)

    @property
    def frames_dropped(self) -> int:
        return self._clock.dropped if self._clock is not None else 0

    @property
    def reconnects(self) -> tuple[int, ...]:
        """How many times each camera was reopened."""
        return tuple(reader.reconnects for reader in self._readers)

    def next_frame(self, timeout_s: float = 1.0) -> LiveFrame | None:
        if self._clock is None:
            self._clock = _FrameClock(self.rig.fps)
        index = self._clock.wait_for_next(timeout_s)
        if index is None:
            return None
        now = time.monotonic()
        images: list[np.ndarray | None] = []
        errors: list[str | None] = []
        capture_ms = 0.0
        for reader in self._readers:
            image, taken_at, read_ms, error = reader.latest()
            age_ms = 1e3 * (now - taken_at)
            if image is None or age_ms > self.stall_ms:
                images.append(None)
                reason = error or f"stalled (no frame for {age_ms:.0f} ms)"
                errors.append(f"{reason} — {DISCONNECTED}")
            else:
                images.append(image)
                errors.append(None)
                capture_ms = max(capture_ms, read_ms)
        return LiveFrame(
            index=index,
            timestamp_ns=self._clock.timestamp_ns(index),
            images=tuple(images),
            T_world_from_camera=self._T_world_from_camera,
            capture_ms=capture_ms,
            view_errors=tuple(errors),
        )

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers.clear()
