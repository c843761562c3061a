"""Hand-scale calibration for unknown users (paper §3.3, tracker.md §3).

The unknown-skeleton head predicts a hand scale from two views. Calibration averages the
predictions of the first 30 hand observations seen in at least two views (both hands pooled, as
the released code does) and scales the generic model by the mean. ``ScaleCalibration`` exposes the
process step by step (sample count, running mean and spread, converged or not) so the app can
plot it live.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from umetrack.hand.io import save_hand_model
from umetrack.hand.model import HandModel
from umetrack.track.tracker import HandResult, Reason

DEFAULT_SAMPLES = 30
MIN_VIEWS_FOR_SCALE = 2
MAX_RELATIVE_STANDARD_ERROR = 0.01
"""Convergence: the mean of the samples is known to 1 % (one standard error), so the calibrated
scale is within ~2 % of what the network would average to with unlimited samples, well inside the
3 % the calibrated skeleton is expected to reach."""


@dataclass(frozen=True)
class CalibrationStatus:
    """Where a calibration stands.

    Attributes:
        samples: scale predictions collected so far.
        required: how many make the calibration complete.
        mean: running mean scale (None before the first sample).
        spread: sample standard deviation (None before two samples).
        standard_error: spread / sqrt(samples): the uncertainty of the mean.
    """

    samples: int
    required: int
    mean: float | None
    spread: float | None
    standard_error: float | None

    @property
    def converged(self) -> bool:
        return self.samples >= self.required

    @property
    def relative_standard_error(self) -> float | None:
        """standard_error / mean: the uncertainty of the estimate as a fraction of it."""
        if self.standard_error is None or not self.mean:
            return None
        return self.standard_error / abs(self.mean)

    def settled(self, max_relative_standard_error: float = MAX_RELATIVE_STANDARD_ERROR) -> bool:
        """Converged and trustworthy: all ``required`` samples are in (the paper's protocol) and the
        mean is known to ``max_relative_standard_error``. A complete calibration whose samples
        disagree more than that is finished but not to be trusted (the hand was badly seen)."""
        error = self.relative_standard_error
        return self.converged and error is not None and error <= max_relative_standard_error


def scale_relative_to(subject: HandModel, generic: HandModel) -> float:
    """How much larger ``subject``'s hand is than ``generic`` (wrist to middle fingertip): the true
    scale a calibration of that subject should find (a synthetic subject is an exactly scaled generic)."""

    def length(model: HandModel) -> float:
        return float((model.landmark_rest_positions[2] - model.landmark_rest_positions[5]).norm())

    return length(subject) / length(generic)


def _status_of(samples: list[float], required: int) -> CalibrationStatus:
    n = len(samples)
    mean = sum(samples) / n if n else None
    spread = math.sqrt(sum((s - mean) ** 2 for s in samples) / (n - 1)) if n >= 2 else None
    error = spread / math.sqrt(n) if spread is not None else None
    return CalibrationStatus(n, required, mean, spread, error)


@dataclass
class ScaleCalibration:
    required: int = DEFAULT_SAMPLES
    samples: list[float] = field(default_factory=list)

    def add(self, result: HandResult) -> bool:
        """Offer one hand's tracking result; returns True if it was used as a sample.

        Used when the hand was tracked from at least two views with a scale prediction, and only
        until ``required`` samples are collected (later frames do not move the estimate).
        """
        if self.status.converged or result.reason is not Reason.TRACKED or result.hand_scale is None:
            return False
        if len(result.views) < MIN_VIEWS_FOR_SCALE or not math.isfinite(result.hand_scale):
            return False
        self.samples.append(float(result.hand_scale))
        return True

    @property
    def status(self) -> CalibrationStatus:
        return _status_of(self.samples, self.required)

    def history(self) -> list[CalibrationStatus]:
        """The status after each sample, in order (what a live plot of the running estimate shows)."""
        return [_status_of(self.samples[: n + 1], self.required) for n in range(len(self.samples))]

    def calibrated_model(self, generic: HandModel) -> HandModel:
        """The generic model scaled by the mean prediction (raises if no sample was collected)."""
        mean = self.status.mean
        if mean is None:
            raise ValueError("no scale samples collected: the hand was never tracked in two views")
        return generic.scaled(mean)

    def save_profile(self, path: str | Path, generic: HandModel) -> HandModel:
        """Write the calibrated model as a UmeTrack user profile ({"hand_model": ...}, mm), atomically."""
        model = self.calibrated_model(generic)
        save_hand_model(path, model, container="hand_model")
        return model
