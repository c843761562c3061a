"""Per-frame, per-hand metrics of a tracked recording against its ground truth, and their CSV form
(the app's File ▸ Export ▸ Metrics CSV; usable from scripts too).

Every number comes from ``umetrack.metrics`` (the functions ``umetrack eval`` uses), one row per
(frame, hand). A slot's errors are defined where the hand has ground truth and a prediction; the eval
protocol additionally requires a camera to see >= 19 GT landmarks before it counts a slot in MPJPE.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from umetrack.eval.ground_truth import gt_landmarks
from umetrack.fileio import atomic_write_text
from umetrack.hand.model import HAND_NAMES, LANDMARK_NAMES
from umetrack.metrics import (
    detect_pinch_frames,
    per_joint_error,
    per_slot_accelerations,
    per_slot_errors,
    thumb_index_distance,
)
from umetrack.recording import Recording
from umetrack.track.results import TrackedRecording


@dataclass(frozen=True)
class FrameMetrics:
    """(N, 2[, 21]) arrays, frame axis first, hand axis second; NaN where undefined.

    Attributes:
        joint_errors_mm: per-landmark error where the hand has GT and a prediction.
        mpjpe_mm: mean of the 21 landmark errors.
        acceleration_mm_per_frame2: mean landmark acceleration of the prediction (MPJPA's per-slot term).
        thumb_index_mm: predicted thumb-tip to index-tip distance.
        pinch_predicted: pinch state detected from that distance (hysteresis as in the eval).
        pinch_label: the recording's pinch labels, or None without labels.
        gt_present: the hand has ground truth in the frame.
    """

    reasons: tuple[tuple[str, str], ...]
    confidence: np.ndarray
    gt_present: np.ndarray
    joint_errors_mm: np.ndarray
    mpjpe_mm: np.ndarray
    acceleration_mm_per_frame2: np.ndarray
    thumb_index_mm: np.ndarray
    pinch_predicted: np.ndarray
    pinch_label: np.ndarray | None

    @property
    def num_frames(self) -> int:
        return len(self.mpjpe_mm)


def frame_metrics(recording: Recording, tracking: TrackedRecording) -> FrameMetrics:
    """Metrics of every (frame, hand) of ``tracking`` (which must cover ``recording``)."""
    if tracking.num_frames != recording.num_frames:
        raise ValueError(f"tracking results have {tracking.num_frames} frames, the recording {recording.num_frames}")
    predicted = tracking.landmarks.astype(np.float64)  # (N, 2, 21, 3)
    tracked = np.isfinite(predicted).all(axis=(-1, -2))
    truth = gt_landmarks(recording)
    gt_present = np.zeros_like(tracked) if truth is None else np.isfinite(truth).all(axis=(-1, -2))
    scored = tracked & gt_present
    truth_or_zero = np.zeros_like(predicted) if truth is None else np.nan_to_num(truth)
    predicted_or_zero = np.nan_to_num(predicted)
    # Time is the last leading axis for accelerations and pinch detection: per hand, (2, N, ...).
    acceleration = per_slot_accelerations(np.moveaxis(predicted_or_zero, 1, 0), tracked.T).T
    distance_m = thumb_index_distance(predicted_or_zero, tracked)
    pinch_predicted = detect_pinch_frames(np.nan_to_num(distance_m).T, tracked.T).T
    names = [[tracking.reason(frame, hand).value for hand in (0, 1)] for frame in range(tracking.num_frames)]
    return FrameMetrics(
        reasons=tuple(tuple(row) for row in names),
        confidence=np.asarray(tracking.confidence, dtype=np.float64),
        gt_present=gt_present,
        joint_errors_mm=per_joint_error(truth_or_zero, predicted_or_zero, scored),
        mpjpe_mm=per_slot_errors(truth_or_zero, predicted_or_zero, scored),
        acceleration_mm_per_frame2=acceleration,
        thumb_index_mm=distance_m * 1000.0,
        pinch_predicted=pinch_predicted,
        pinch_label=None if recording.pinch is None else np.asarray(recording.pinch.frames, dtype=bool),
    )


CSV_COLUMNS = (
    "frame", "hand", "reason", "confidence", "gt_present", "mpjpe_mm", "acceleration_mm_per_frame2",
    "thumb_index_mm", "pinch_predicted", "pinch_label",
    *(f"error_mm_{name}" for name in LANDMARK_NAMES),
)  # fmt: skip
"""One row per (frame, hand); an empty cell where a value is undefined (no GT, no prediction, no labels)."""


def metrics_csv_text(metrics: FrameMetrics) -> str:
    def number(value: float) -> str:
        return "" if math.isnan(value) else f"{value:.9g}"

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for frame in range(metrics.num_frames):
        for hand in (0, 1):
            label = "" if metrics.pinch_label is None else int(metrics.pinch_label[frame, hand])
            writer.writerow([
                frame, HAND_NAMES[hand], metrics.reasons[frame][hand], number(metrics.confidence[frame, hand]),
                int(metrics.gt_present[frame, hand]), number(metrics.mpjpe_mm[frame, hand]),
                number(metrics.acceleration_mm_per_frame2[frame, hand]), number(metrics.thumb_index_mm[frame, hand]),
                int(metrics.pinch_predicted[frame, hand]), label,
                *(number(v) for v in metrics.joint_errors_mm[frame, hand]),
            ])  # fmt: skip
    return out.getvalue()


def write_metrics_csv(path: str | Path, metrics: FrameMetrics) -> int:
    """Write the CSV atomically; returns the number of data rows."""
    atomic_write_text(path, metrics_csv_text(metrics))
    return 2 * metrics.num_frames
