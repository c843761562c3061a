"""The one-euro filter (Casiez, Roussel, Vogel, CHI 2012): the paper's jitter baseline (Table 2).

Per signal: the derivative is low-passed with a fixed cutoff, the signal with a cutoff that grows
with speed, min_cutoff + beta |dx/dt|: smooth when still, responsive when moving. Applied
independently to every keypoint coordinate; a gap (invalid frame) restarts the filter.
"""

from __future__ import annotations

import math

import numpy as np

from umetrack.metrics import mpjpa

DEFAULT_FPS = 30.0


def _alpha(cutoff_hz: np.ndarray | float, rate_hz: float) -> np.ndarray:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz))
    return 1.0 / (1.0 + tau * rate_hz)


def one_euro(
    signal: np.ndarray,
    valid: np.ndarray | None = None,
    min_cutoff_hz: float = 1.0,
    beta: float = 0.0,
    derivative_cutoff_hz: float = 1.0,
    rate_hz: float = DEFAULT_FPS,
) -> np.ndarray:
    """Filter a sequence causally.

    Args:
        signal: (T, ...) samples (e.g. (T, 21, 3) keypoints in metres).
        valid: optional (T,) bool; invalid frames pass through as NaN and restart the filter.
        min_cutoff_hz: cutoff when still (lower = smoother, laggier).
        beta: speed coefficient (per unit of the signal per second), higher = less lag when moving.
    Returns:
        (T, ...) filtered, float64.
    """
    x = np.asarray(signal, dtype=np.float64)
    valid = np.ones(len(x), bool) if valid is None else np.asarray(valid, bool)
    out = np.full_like(x, np.nan)
    previous = derivative = None
    for t in range(len(x)):
        if not valid[t] or not np.isfinite(x[t]).all():
            previous = derivative = None
            continue
        if previous is None:
            previous, derivative = x[t], np.zeros_like(x[t])
        else:
            raw_derivative = (x[t] - previous) * rate_hz
            derivative = derivative + _alpha(derivative_cutoff_hz, rate_hz) * (raw_derivative - derivative)
            cutoff = min_cutoff_hz + beta * np.abs(derivative)
            previous = previous + _alpha(cutoff, rate_hz) * (x[t] - previous)
        out[t] = previous
    return out


def tune_to_mpjpa(
    keypoints: np.ndarray, valid: np.ndarray, target_mpjpa: float, beta: float = 0.5, rate_hz: float = DEFAULT_FPS
) -> float:
    """The min cutoff (Hz) at which the filtered keypoints reach ``target_mpjpa`` (mm/frame^2), by
    bisection on a log scale; the paper compares methods at equal MPJPA.

    Args:
        keypoints: (H, T, 21, 3) metres; valid: (H, T).
    """
    def jitter(min_cutoff: float) -> float:
        filtered = np.stack([one_euro(keypoints[h], valid[h], min_cutoff, beta, rate_hz=rate_hz) for h in range(len(keypoints))])
        return mpjpa(np.nan_to_num(filtered), valid)

    low, high = math.log(0.01), math.log(1000.0)  # 1 kHz at 30 fps: practically unfiltered
    for _ in range(20):
        middle = 0.5 * (low + high)
        if jitter(math.exp(middle)) > target_mpjpa:
            high = middle  # too jittery: lower the cutoff
        else:
            low = middle
    return math.exp(0.5 * (low + high))
