"""Tracking results of a whole recording, as arrays (what the app caches, plots and inspects)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from umetrack.crop import CROP_SIZE
from umetrack.hand.model import NUM_JOINTS, HandModel
from umetrack.model.network import UmeTrackNet
from umetrack.recording import Recording
from umetrack.track.tracker import MAX_VIEWS, Detector, Reason, Tracker, TrackerOptions

REASONS = tuple(Reason)
"""Reason codes by their index in ``TrackedRecording.reasons``."""


class Cancelled(Exception):
    """Raised out of ``track_recording`` when its ``should_stop`` callback says so."""


@dataclass(frozen=True, eq=False)
class TrackedRecording:
    """Per-frame tracker output for N frames, both hands (hand axis 0 = left, 1 = right).

    Attributes:
        landmarks: (N, 2, 21, 3) predicted world landmarks, metres; NaN where not tracked.
        reasons: (N, 2) index into ``REASONS``.
        views: (N, 2, 2) camera index of each crop, -1 where unused.
        crop_images: (N, 2, 2, 96, 96) uint8 network inputs.
        T_crop_from_world: (N, 2, 2, 4, 4) and focal (N, 2, 2): the crop cameras (NaN where unused).
        confidence: (N, 2).
        options: how the tracker ran.
        joint_angles: (N, 2, 22) and T_world_from_wrist: (N, 2, 4, 4): the predicted poses (the hand's
            own convention, NaN where not tracked), to skin predicted meshes; None in results without them.
    """

    landmarks: np.ndarray
    reasons: np.ndarray
    views: np.ndarray
    crop_images: np.ndarray
    T_crop_from_world: np.ndarray
    focal: np.ndarray
    confidence: np.ndarray
    options: TrackerOptions
    joint_angles: np.ndarray | None = None
    T_world_from_wrist: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.landmarks.shape[0])

    def reason(self, frame: int, hand: int) -> Reason:
        return REASONS[int(self.reasons[frame, hand])]


def gt_bootstrap(recording: Recording) -> tuple[Callable, dict[str, int]]:
    """A detector that returns the GT poses of the frame in ``state["frame"]`` (set it before each
    step): tracked crops start from GT when a hand appears, until the learned detector exists."""
    state = {"frame": 0}

    def detect(images, cameras):
        return {h: p for h, p in recording.gt_poses(state["frame"]).items() if p.confidence >= 0.5}

    return detect, state


BOOTSTRAPS = ("auto", "detector", "gt")
"""How tracked crops start a hand: "detector" (the learned hand detector), "gt" (the recording's
ground truth, ``gt_bootstrap``), "auto" (the detector when its shipped weights exist, else GT)."""


def recording_bootstrap(recording: Recording, hand_model: HandModel, bootstrap: str | Detector = "auto") -> tuple[Detector, dict[str, int]]:
    """The detector that starts tracked crops on ``recording`` (a ``BOOTSTRAPS`` name or a detector
    callable), and the frame holder to set before each step (only the GT bootstrap reads it).

    Raises:
        ValueError: unknown name. FormatError: "detector" without readable weights.
    """
    if callable(bootstrap):
        return bootstrap, {"frame": 0}
    if bootstrap not in BOOTSTRAPS:
        raise ValueError(f"bootstrap must be one of {BOOTSTRAPS} or a detector, got {bootstrap!r}")
    # Imported here: umetrack.detect imports the tracker module of this package.
    from umetrack.detect.bootstrap import DEFAULT_WEIGHTS, HandDetector, default_detector

    if bootstrap == "detector":
        return HandDetector(DEFAULT_WEIGHTS, hand_model), {"frame": 0}
    detector = default_detector(hand_model) if bootstrap == "auto" else None
    return (detector, {"frame": 0}) if detector is not None else gt_bootstrap(recording)


def track_recording(
    net: UmeTrackNet,
    recording: Recording,
    hand_model: HandModel,
    options: TrackerOptions,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    bootstrap: str | Detector = "auto",
) -> TrackedRecording:
    """Run the tracker over every frame (oracle crops use the recording's GT).

    Tracked crops start a hand from ``bootstrap`` (``recording_bootstrap``: by default the learned
    detector when its weights are shipped, else the GT pose) and then follow the tracker's own predictions.
    """
    detector, frame_holder = recording_bootstrap(recording, hand_model, bootstrap) if options.crops == "tracked" else (None, {"frame": 0})
    tracker = Tracker(net, hand_model, options, detector=detector,
                      camera_angles_deg=recording.camera_angles_deg)  # fmt: skip
    n = recording.num_frames
    landmarks = np.full((n, 2, 21, 3), np.nan, np.float32)
    reasons = np.zeros((n, 2), np.int8)
    views = np.full((n, 2, MAX_VIEWS), -1, np.int8)
    crops = np.zeros((n, 2, MAX_VIEWS, CROP_SIZE, CROP_SIZE), np.uint8)
    T_crop = np.full((n, 2, MAX_VIEWS, 4, 4), np.nan, np.float32)
    focal = np.full((n, 2, MAX_VIEWS), np.nan, np.float32)
    confidence = np.zeros((n, 2), np.float32)
    joint_angles = np.full((n, 2, NUM_JOINTS), np.nan, np.float32)
    T_world_from_wrist = np.full((n, 2, 4, 4), np.nan, np.float32)
    for frame in range(n):
        if should_stop is not None and should_stop():
            raise Cancelled(f"tracking cancelled at frame {frame}")
        frame_holder["frame"] = frame
        result = tracker.step(recording.images(frame), recording.cameras(frame), recording.gt_poses(frame))
        for hand, hand_result in result.hands.items():
            reasons[frame, hand] = REASONS.index(hand_result.reason)
            confidence[frame, hand] = hand_result.confidence
            if hand_result.landmarks is not None:
                landmarks[frame, hand] = hand_result.landmarks
            if hand_result.pose is not None:
                joint_angles[frame, hand] = hand_result.pose.joint_angles.detach().cpu().numpy()
                T_world_from_wrist[frame, hand] = hand_result.pose.T_world_from_wrist.detach().cpu().numpy()
            for k, (view, crop) in enumerate(zip(hand_result.views, hand_result.crops)):
                views[frame, hand, k] = view
                T_crop[frame, hand, k] = crop.T_crop_from_world.numpy()
                focal[frame, hand, k] = float(crop.focal)
                if hand_result.crop_images is not None:
                    crops[frame, hand, k] = hand_result.crop_images[k]
        if progress is not None:
            progress(frame + 1, n)
    return TrackedRecording(landmarks, reasons, views, crops, T_crop, focal, confidence, options, joint_angles, T_world_from_wrist)
