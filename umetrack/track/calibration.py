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
        n = len(self.samples)
        mean = sum(self.samples) / n if n else None
        spread = math.sqrt(sum((s - mean) ** 2 for s in self.samples) / (n - 1)) if n >= 2 else None
        error = spread / math.sqrt(n) if spread is not None else None
        return CalibrationStatus(n, self.required, mean, spread, error)

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
