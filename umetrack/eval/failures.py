"""Failure finder: the worst frames and segments of a tracked recording, ranked, so an engineer can
jump straight to them (the app's failure list; usable from scripts and the CLI too).

Four kinds of failure, each a run of frames of one hand:

* **MPJPE spike**: the hand's per-frame error (mean over the 21 landmarks) stands out above its
  typical (median) error for the recording by at least ``error_excess_mm`` and by at least
  ``robust_sigmas`` robust standard deviations (1.4826 x MAD), so a noisy model does not flood the list.
* **Jitter spike**: the same test on the per-frame landmark acceleration (mm/frame², as MPJPA).
  A jitter spike within a frame of an MPJPE spike or a swap of the same hand is that failure's own
  edge, not a new one, and is not listed.
* **Left/right swap**: the hand's prediction lies closer to the *other* hand's ground truth than to
  its own (and is at least ``error_excess_mm`` off its own). Swapped frames are not MPJPE spikes.
* **Track loss**: the hand is there (GT present; without GT: anything but "not detected") but has no
  prediction; one failure per run of frames with the same reason code.

Every failure gets a dimensionless ``score`` in multiples of its kind's threshold (peak excess over
``error_excess_mm`` or ``jitter_excess_mm_per_frame2``, a swap's mean error over ``error_excess_mm``,
a loss's length over ``loss_reference_frames``), so all kinds rank in one list, worst first.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from umetrack.hand.model import HAND_NAMES, LANDMARK_NAMES
from umetrack.metrics import frames_to_events, per_joint_error, per_slot_accelerations
from umetrack.track.results import REASONS
from umetrack.track.tracker import Reason

ROBUST_SIGMA_PER_MAD = 1.4826
"""MAD x this estimates the standard deviation of normally distributed values."""


class FailureKind(enum.Enum):
    ERROR_SPIKE = "MPJPE spike"
    JITTER_SPIKE = "jitter spike"
    SWAP = "left/right swap"
    TRACK_LOSS = "track loss"


@dataclass(frozen=True)
class FailureThresholds:
    """What counts as a failure; the defaults suit a tracker of about 10-20 mm MPJPE at 30 fps (fast
    real hand motion peaks near 5 mm/frame², so jitter starts above that)."""

    error_excess_mm: float = 10.0
    jitter_excess_mm_per_frame2: float = 10.0
    robust_sigmas: float = 5.0
    loss_reference_frames: int = 15


@dataclass(frozen=True)
class Failure:
    """One failure of one hand over frames [start, end).

    Attributes:
        peak_frame: the frame to look at first (the worst one, or a loss's first frame).
        score: ranking key, multiples of the kind's threshold (see the module docstring).
        description: one human line with the numbers (mm, mm/frame², frames).
        reason: the tracker's reason code, for track losses only.
        joint: the worst landmark at the peak, for MPJPE spikes only.
    """

    kind: FailureKind
    hand: int
    start: int
    end: int
    peak_frame: int
    score: float
    description: str
    reason: Reason | None = None
    joint: int | None = None

    @property
    def num_frames(self) -> int:
        return self.end - self.start


def find_failures(
    predicted: np.ndarray,
    reasons: np.ndarray,
    truth: np.ndarray | None = None,
    thresholds: FailureThresholds = FailureThresholds(),
    limit: int | None = None,
) -> list[Failure]:
    """Rank a tracked recording's failures, worst first.

    Args:
        predicted: (N, 2, 21, 3) predicted landmarks, metres, NaN where the hand was not tracked
            (``TrackedRecording.landmarks``).
        reasons: (N, 2) indices into ``REASONS`` (``TrackedRecording.reasons``).
        truth: optional (N, 2, 21, 3) GT landmarks, metres, NaN where the hand is absent
            (``umetrack.eval.ground_truth.gt_landmarks``). Without it only jitter spikes and track
            losses can be found.
        limit: keep only this many of the worst.
    Returns:
        Failures sorted by score (descending), ties by first frame.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    reasons = np.asarray(reasons)
    n = predicted.shape[0]
    if predicted.shape != (n, 2, len(LANDMARK_NAMES), 3) or reasons.shape != (n, 2):
        raise ValueError(f"expected predicted (N, 2, 21, 3) and reasons (N, 2), got {predicted.shape} and {reasons.shape}")
    if truth is not None and np.shape(truth) != predicted.shape:
        raise ValueError(f"truth: expected {predicted.shape}, got {np.shape(truth)}")
    tracked = np.isfinite(predicted).all(axis=(-1, -2))
    failures: list[Failure] = []
    explained = np.zeros((n, 2), bool)  # frames an MPJPE spike or swap already accounts for
    if truth is not None:
        truth = np.asarray(truth, dtype=np.float64)
        present = np.isfinite(truth).all(axis=(-1, -2))
        joint_errors = per_joint_error(np.nan_to_num(truth), np.nan_to_num(predicted), present & tracked)
        errors = joint_errors.mean(axis=-1)
        swapped, swaps = _swaps(predicted, truth, tracked, present, errors, thresholds)
        failures += swaps
        spikes = _error_spikes(np.where(swapped, np.nan, errors), joint_errors, thresholds)
        failures += spikes
        for failure in swaps + spikes:
            explained[max(0, failure.start - 1) : failure.end + 1, failure.hand] = True
    else:
        present = reasons != REASONS.index(Reason.NOT_DETECTED)
    failures += _jitter_spikes(predicted, tracked, explained, thresholds)
    # A "tracked" code without landmarks is no loss to explain (its reason would read "tracked").
    failures += _track_losses(reasons, present & ~tracked & (reasons != REASONS.index(Reason.TRACKED)), thresholds)
    failures.sort(key=lambda f: (-f.score, f.start, f.hand))
    return failures[:limit] if limit is not None else failures


def _robust_excess(series: np.ndarray, min_excess: float, robust_sigmas: float) -> tuple[np.ndarray, float, float]:
    """(excess over the median, threshold, median) of a per-frame series with NaN gaps."""
    finite = series[np.isfinite(series)]
    if finite.size == 0:
        return np.full_like(series, np.nan), np.inf, np.nan
    median = float(np.median(finite))
    sigma = ROBUST_SIGMA_PER_MAD * float(np.median(np.abs(finite - median)))
    return series - median, max(min_excess, robust_sigmas * sigma), median


def _runs(flags: np.ndarray):
    """[start, end) runs of True (``frames_to_events``, reused for any per-frame flag)."""
    return frames_to_events(flags) if flags.any() else ()


def _error_spikes(errors: np.ndarray, joint_errors: np.ndarray, thresholds: FailureThresholds) -> list[Failure]:
    failures = []
    for hand in (0, 1):
        excess, threshold, median = _robust_excess(errors[:, hand], thresholds.error_excess_mm, thresholds.robust_sigmas)
        for run in _runs(np.nan_to_num(excess, nan=-np.inf) >= threshold):
            peak = run.start + int(np.argmax(excess[run.start : run.end]))
            worst_joint = int(np.argmax(joint_errors[peak, hand]))
            failures.append(Failure(
                FailureKind.ERROR_SPIKE, hand, run.start, run.end, peak, float(excess[peak]) / thresholds.error_excess_mm,
                f"MPJPE {errors[peak, hand]:.1f} mm (typical {median:.1f} mm); worst joint "
                f"{LANDMARK_NAMES[worst_joint]} {joint_errors[peak, hand, worst_joint]:.1f} mm", joint=worst_joint,
            ))  # fmt: skip
    return failures


def _swaps(
    predicted: np.ndarray, truth: np.ndarray, tracked: np.ndarray, present: np.ndarray, errors: np.ndarray,
    thresholds: FailureThresholds,
) -> tuple[np.ndarray, list[Failure]]:  # fmt: skip
    """(N, 2) swapped frames and one failure per run of them per hand."""
    other_truth = truth[:, ::-1]
    comparable = tracked & present & present[:, ::-1]
    to_other = per_joint_error(np.nan_to_num(other_truth), np.nan_to_num(predicted), comparable).mean(axis=-1)
    swapped = comparable & (to_other < errors) & (errors >= thresholds.error_excess_mm)
    failures = []
    for hand in (0, 1):
        for run in _runs(swapped[:, hand]):
            own = errors[run.start : run.end, hand]
            peak = run.start + int(np.argmax(own))
            failures.append(Failure(
                FailureKind.SWAP, hand, run.start, run.end, peak, float(own.mean()) / thresholds.error_excess_mm,
                f"{HAND_NAMES[hand]} prediction on the {HAND_NAMES[1 - hand]} hand for {run.num_frames} frames: "
                f"{own.mean():.0f} mm from its own GT, {to_other[run.start:run.end, hand].mean():.0f} mm from the other",
            ))  # fmt: skip
    return swapped, failures


def _jitter_spikes(predicted: np.ndarray, tracked: np.ndarray, explained: np.ndarray, thresholds: FailureThresholds) -> list[Failure]:
    # per_slot_accelerations wants time on axis -3: (2, N, 21, 3).
    accelerations = per_slot_accelerations(np.moveaxis(np.nan_to_num(predicted), 1, 0), tracked.T).T  # (N, 2)
    failures = []
    for hand in (0, 1):
        excess, threshold, median = _robust_excess(
            accelerations[:, hand], thresholds.jitter_excess_mm_per_frame2, thresholds.robust_sigmas
        )
        for run in _runs(np.nan_to_num(excess, nan=-np.inf) >= threshold):
            if explained[run.start : run.end, hand].any():
                continue
            peak = run.start + int(np.argmax(excess[run.start : run.end]))
            failures.append(Failure(
                FailureKind.JITTER_SPIKE, hand, run.start, run.end, peak,
                float(excess[peak]) / thresholds.jitter_excess_mm_per_frame2,
                f"acceleration {accelerations[peak, hand]:.1f} mm/frame² (typical {median:.1f})",
            ))  # fmt: skip
    return failures


def _track_losses(reasons: np.ndarray, lost: np.ndarray, thresholds: FailureThresholds) -> list[Failure]:
    failures = []
    for hand in (0, 1):
        for code in np.unique(reasons[lost[:, hand], hand]):
            reason = REASONS[int(code)]
            for run in _runs(lost[:, hand] & (reasons[:, hand] == code)):
                failures.append(Failure(
                    FailureKind.TRACK_LOSS, hand, run.start, run.end, run.start,
                    run.num_frames / thresholds.loss_reference_frames,
                    f"{reason.value} for {run.num_frames} frame{'s' if run.num_frames > 1 else ''}", reason,
                ))  # fmt: skip
    return failures
