"""The in-memory recording every reader returns and the app and the tracker consume.

A ``Recording`` is format-free: N frames of V calibrated views with per-frame camera poses, an
optional hand model, optional ground-truth hand poses (``HandTrajectory``) and optional pinch
labels (``PinchLabels``); its images come from a ``FrameSource`` and are decoded on demand, in any
frame order. Units: metres, radians, nanoseconds. Hand index 0 = left, 1 = right.

Bulk per-frame data is numpy (cheap slicing, cheap to write back); the per-frame accessors return
the library's torch types (``Camera``, ``HandPose``, float64).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from umetrack.camera.models import Camera, CameraModel
from umetrack.errors import FormatError
from umetrack.geometry import rigidity_error
from umetrack.hand.model import NUM_FINGER_JOINTS, NUM_JOINTS, HandModel
from umetrack.hand.pose import HandPose
from umetrack.metrics import PinchEvent, events_to_frames, frames_to_events
from umetrack.recording.frames import FrameSource

NUM_HANDS = 2
RIGID_TOLERANCE = 1e-3
"""Largest accepted ``rigidity_error`` of a stored transform (float32 writers reach ~1e-6)."""

Source = str | Path | None


# ---------------------------------------------------------------------------------------------
# Validation helpers shared by the readers (so errors name the file's own field) and the model


def check_rigid_frames(T: np.ndarray, present: np.ndarray, source: Source, field: str) -> None:
    """Raise FormatError naming ``field[index]`` unless every present transform is finite and rigid.

    Args:
        T: (..., 4, 4) transforms (any unit: translation does not enter the test).
        present: bool of shape T.shape[:-2]; absent entries are not checked (formats store zeros).
    """
    if not present.any():
        return
    chosen = np.asarray(T, dtype=np.float64)[present]
    finite = np.isfinite(chosen).all(axis=(-1, -2))
    error = np.full(len(chosen), np.inf)
    error[finite] = rigidity_error(torch.as_tensor(chosen[finite])).numpy()
    bad = error > RIGID_TOLERANCE
    if bad.any():
        k = int(np.argmax(bad))
        index = ", ".join(str(int(i)) for i in np.argwhere(present)[k])
        what = "contains NaN or inf" if not finite[k] else f"not a rigid transform (rotation error {error[k]:.3g})"
        raise FormatError(source, f"{field}[{index}]", what)


def joint_angles_22(angles: np.ndarray, source: Source, field: str) -> np.ndarray:
    """(20,) or (22,) joint angles -> (22,) float64 (the two wrist DOFs, unused by FK, as 0)."""
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    if len(angles) not in (NUM_FINGER_JOINTS, NUM_JOINTS):
        raise FormatError(source, field, f"expected {NUM_FINGER_JOINTS} or {NUM_JOINTS} joint angles, got {len(angles)}")
    out = np.zeros(NUM_JOINTS)
    out[: len(angles)] = angles
    return out


def _expect_shape(array: np.ndarray, shape: tuple[int, ...], source: Source, field: str) -> None:
    if array.shape != shape:
        raise FormatError(source, field, f"expected shape {'x'.join(map(str, shape))}, got {'x'.join(map(str, array.shape))}")


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)  # never alias the caller's buffer
    array.setflags(write=False)
    return array


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HandTrajectory:
    """Hand poses of both hands over N frames.

    Attributes:
        joint_angles: (N, 2, 22) float64 radians; [:, h] is hand h (0 left, 1 right).
        T_world_from_wrist: (N, 2, 4, 4) float64, hand-local -> world, metres; right hands in
            the right-hand convention the formats store (FK negates column 0 when skinning).
        confidence: (N, 2) float64; <= 0 means the hand is absent in that frame, and then its
            angles/transform are meaningless (formats store zeros there; kept as stored).

    All arrays are read-only copies. Raises FormatError (source "<memory>") for wrong shapes,
    non-finite values or a non-rigid transform of a present hand.
    """

    joint_angles: np.ndarray
    T_world_from_wrist: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        for name in ("joint_angles", "T_world_from_wrist", "confidence"):
            object.__setattr__(self, name, _read_only(np.asarray(getattr(self, name), dtype=np.float64)))
        n = len(self.confidence)
        _expect_shape(self.confidence, (n, NUM_HANDS), None, "gt.confidence")
        _expect_shape(self.joint_angles, (n, NUM_HANDS, NUM_JOINTS), None, "gt.joint_angles")
        _expect_shape(self.T_world_from_wrist, (n, NUM_HANDS, 4, 4), None, "gt.T_world_from_wrist")
        for name in ("joint_angles", "T_world_from_wrist", "confidence"):
            if not np.isfinite(getattr(self, name)).all():
                raise FormatError(None, f"gt.{name}", "contains NaN or inf")
        check_rigid_frames(self.T_world_from_wrist, self.present, None, "gt.T_world_from_wrist")

    @property
    def num_frames(self) -> int:
        return len(self.confidence)

    @property
    def present(self) -> np.ndarray:
        """(N, 2) bool: the hand has a pose in that frame (confidence > 0)."""
        return self.confidence > 0

    def pose(self, frame: int, hand: int) -> HandPose | None:
        """Hand ``hand`` in ``frame`` (torch float64), or None when absent."""
        if self.confidence[frame, hand] <= 0:
            return None
        return HandPose(
            int(hand),
            torch.from_numpy(self.joint_angles[frame, hand].copy()),  # copies, ~4x cheaper than torch.tensor
            torch.from_numpy(self.T_world_from_wrist[frame, hand].copy()),
            float(self.confidence[frame, hand]),
        )

    def poses(self, frame: int) -> dict[int, HandPose]:
        """{hand index: pose} of the hands present in ``frame``, left first."""
        return {h: p for h in range(NUM_HANDS) if (p := self.pose(frame, h)) is not None}

    @classmethod
    def from_poses(cls, frames: Sequence[Mapping[int, HandPose]]) -> "HandTrajectory":
        """From per-frame {hand index: HandPose} dicts (a missing hand is absent, confidence 0)."""
        n = len(frames)
        angles = np.zeros((n, NUM_HANDS, NUM_JOINTS))
        T = np.tile(np.eye(4), (n, NUM_HANDS, 1, 1))
        confidence = np.zeros((n, NUM_HANDS))
        for i, poses in enumerate(frames):
            for hand, pose in poses.items():
                angles[i, hand] = pose.joint_angles.detach().cpu().double().numpy()
                T[i, hand] = pose.T_world_from_wrist.detach().cpu().double().numpy()
                # A present hand whose source says confidence 0 would vanish; keep it present.
                confidence[i, hand] = pose.confidence if pose.confidence > 0 else 1.0
        return cls(angles, T, confidence)


@dataclass(frozen=True, eq=False)
class PinchLabels:
    """Per-frame pinch state. frames: (N, 2) bool, [i, h] = hand h pinches in frame i."""

    frames: np.ndarray

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames)
        if frames.dtype != np.bool_:
            raise FormatError(None, "pinch.frames", f"expected booleans, got dtype {frames.dtype}")
        _expect_shape(frames, (len(frames), NUM_HANDS), None, "pinch.frames")
        object.__setattr__(self, "frames", _read_only(frames))

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def events(self, hand: int) -> tuple[PinchEvent, ...]:
        """Hand ``hand``'s pinches as half-open [start, end) frame intervals, in time order."""
        return frames_to_events(self.frames[:, hand])

    @classmethod
    def from_events(cls, events: Mapping[int, Sequence[PinchEvent | tuple[int, int]]], num_frames: int) -> "PinchLabels":
        """From {hand index: [[start, end), ...]}; a hand not in the mapping never pinches."""
        frames = np.zeros((num_frames, NUM_HANDS), dtype=bool)
        for hand, hand_events in events.items():
            frames[:, hand] = events_to_frames(hand_events, num_frames)
        return cls(frames)


@dataclass(frozen=True, eq=False)
class Recording:
    """N frames of V calibrated views, with optional hand model, ground truth and pinch labels.

    Attributes:
        name: short name (file stem, tar name, HOT3D recording name).
        timestamps_ns: (N,) int64, strictly increasing.
        view_labels: (V,) names of the views ("0".."3" for UmeTrack raw, stream ids otherwise).
        camera_models: (V,) intrinsics, constant over the recording.
        T_world_from_camera: (N, V, 4, 4) float64 camera -> world, metres; meaningless (as
            stored, zeros in UmeTrack raw data) where the headset is not tracked.
        headset_tracked: (N,) bool, the frame has camera poses.
        frames: the image source (``frames.available`` False: the format has no images).
        camera_angles_deg: (V,) in-plane crop roll per view, degrees (0 where the format has none).
        hand_model: the subject's LEFT-hand model (metres), or None.
        gt: ground-truth hand poses, or None.
        pinch: pinch labels, or None.
        source: where it was read from (named in errors), or None for an in-memory recording.
        missing_views: (N, V) bool, True where a view had no image (a camera unplugged during a
            live recording: the video holds a black stand-in there), or None when every view has
            its images. ``images`` and ``image`` give None for those views, as the tracker expects.

    Raises:
        FormatError: inconsistent shapes, non-increasing timestamps, non-finite or non-rigid camera
            poses of tracked frames, image sizes that disagree with the calibration.
    """

    name: str
    timestamps_ns: np.ndarray
    view_labels: tuple[str, ...]
    camera_models: tuple[CameraModel, ...]
    T_world_from_camera: np.ndarray
    headset_tracked: np.ndarray
    frames: FrameSource
    camera_angles_deg: tuple[float, ...] = ()
    hand_model: HandModel | None = None
    gt: HandTrajectory | None = None
    pinch: PinchLabels | None = None
    source: Path | None = field(default=None)
    missing_views: np.ndarray | None = None

    def __post_init__(self) -> None:
        src = self.source if self.source is not None else f"<recording {self.name!r}>"
        timestamps = np.asarray(self.timestamps_ns)
        if timestamps.ndim != 1 or timestamps.dtype.kind not in "iu":
            raise FormatError(src, "timestamps_ns", f"expected (N,) integers, got {timestamps.dtype} {timestamps.shape}")
        object.__setattr__(self, "timestamps_ns", _read_only(timestamps.astype(np.int64)))
        n = len(timestamps)
        if n == 0:
            raise FormatError(src, "", "a recording needs at least one frame")
        if (np.diff(self.timestamps_ns) <= 0).any():
            raise FormatError(src, "timestamps_ns", "timestamps must be strictly increasing")
        object.__setattr__(self, "view_labels", tuple(str(v) for v in self.view_labels))
        object.__setattr__(self, "camera_models", tuple(self.camera_models))
        v = len(self.camera_models)
        if len(self.view_labels) != v or v == 0:
            raise FormatError(src, "view_labels", f"{len(self.view_labels)} labels for {v} cameras")
        angles = tuple(float(a) for a in self.camera_angles_deg) or (0.0,) * v
        if len(angles) != v or not np.isfinite(angles).all():
            raise FormatError(src, "camera_angles_deg", f"expected {v} finite angles, got {angles}")
        object.__setattr__(self, "camera_angles_deg", angles)
        T = np.asarray(self.T_world_from_camera, dtype=np.float64)
        _expect_shape(T, (n, v, 4, 4), src, "T_world_from_camera")
        tracked = np.asarray(self.headset_tracked)
        if tracked.dtype != np.bool_:
            raise FormatError(src, "headset_tracked", f"expected booleans, got dtype {tracked.dtype}")
        _expect_shape(tracked, (n,), src, "headset_tracked")
        check_rigid_frames(T, np.broadcast_to(tracked[:, None], (n, v)), src, "T_world_from_camera")
        object.__setattr__(self, "T_world_from_camera", _read_only(T))
        object.__setattr__(self, "headset_tracked", _read_only(tracked))
        if self.frames.num_frames != n:
            raise FormatError(src, "frames", f"the image source has {self.frames.num_frames} frames, the labels {n}")
        sizes = tuple((m.width, m.height) for m in self.camera_models)
        if self.frames.view_sizes != sizes:
            raise FormatError(src, "frames", f"image sizes {self.frames.view_sizes} differ from the calibration {sizes}")
        for name, labels in (("gt", self.gt), ("pinch", self.pinch)):
            if labels is not None and labels.num_frames != n:
                raise FormatError(src, name, f"{labels.num_frames} frames of labels for {n} frames")
        if self.missing_views is not None:
            missing = np.asarray(self.missing_views)
            if missing.dtype != np.bool_:
                raise FormatError(src, "missing_views", f"expected booleans, got dtype {missing.dtype}")
            _expect_shape(missing, (n, v), src, "missing_views")
            object.__setattr__(self, "missing_views", _read_only(missing))

    # -----------------------------------------------------------------------------------------

    @property
    def num_frames(self) -> int:
        return len(self.timestamps_ns)

    @property
    def num_views(self) -> int:
        return len(self.camera_models)

    @property
    def has_images(self) -> bool:
        return self.frames.available

    def _check_frame(self, frame: int) -> int:
        index = int(frame)
        if not 0 <= index < self.num_frames:
            raise IndexError(f"{self.name}: frame {frame} out of range 0..{self.num_frames - 1}")
        return index

    def image(self, frame: int, view: int) -> np.ndarray | None:
        """uint8 (H, W) grayscale image of ``view`` at ``frame`` (read-only; copy to edit), or None
        where the view had no image (``missing_views``).

        Raises ImagesUnavailableError when the recording has no images, FormatError when the file
        is corrupt at that frame, IndexError for an out-of-range frame or view.
        """
        return self.images(frame)[view]

    def images(self, frame: int) -> list[np.ndarray | None]:
        """All views of ``frame``, in view order (see ``image``; None for a missing view)."""
        index = self._check_frame(frame)
        views = list(self.frames.read(index))
        if self.missing_views is None:
            return views
        # The video's stand-in for a missing view decodes to near-black with compression noise
        # above the tracker's black threshold: only None reliably reads as "no image".
        return [None if missing else image for image, missing in zip(views, self.missing_views[index])]

    def filled_images(self, frame: int) -> list[np.ndarray]:
        """``images(frame)`` with a missing view as a black image of its size: for pictures and
        video encoding, which need pixels in every view (the tracker takes ``images``)."""
        return [
            image if image is not None else _read_only(np.zeros((model.height, model.width), np.uint8))
            for image, model in zip(self.images(frame), self.camera_models)
        ]

    def cameras(self, frame: int) -> list[Camera] | None:
        """The V posed cameras of ``frame`` (labelled with ``view_labels``), or None when the
        headset is not tracked in that frame (no camera poses: nothing can be projected)."""
        index = self._check_frame(frame)
        if not self.headset_tracked[index]:
            return None
        return [
            Camera(model, torch.tensor(self.T_world_from_camera[index, v]), label)
            for v, (model, label) in enumerate(zip(self.camera_models, self.view_labels))
        ]

    def gt_poses(self, frame: int) -> dict[int, HandPose]:
        """{hand index: ground-truth pose} of the hands present in ``frame`` ({} without GT)."""
        index = self._check_frame(frame)
        return {} if self.gt is None else self.gt.poses(index)

    def close(self) -> None:
        """Release the image source's files (the labels stay usable)."""
        self.frames.close()

    def __enter__(self) -> "Recording":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
