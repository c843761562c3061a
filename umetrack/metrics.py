"""Evaluation metrics: MPJPE, MPJPA, PCK/AUC, success rate, and pinch precision/recall.

Definitions follow the released UmeTrack evaluation (``load_eval.py``, ``metric_utils.py``) and the
Hand Tracking Challenge (``hand_tracking_toolkit/metrics.py``); see shared/reference/metrics.md.

Unit convention (the same for every function here):
* **Keypoints come in metres**, like everywhere else in the library: arrays of shape (..., 21, 3)
  in the landmark order of ``umetrack.hand.model``.
* **Pose metrics come out in millimetres**: errors in mm, accelerations in mm/frame², PCK thresholds
  in mm. The metre -> millimetre conversion happens once, right after validation, by multiplying by
  ``METRES_TO_MM``; nothing else scales.
* **Pinch quantities stay in metres** (thumb-index distance and the thresholds eps1/eps2), because
  they are geometric quantities compared against the training-loss thresholds, which are in metres.

Slots and masks: a *slot* is one (hand, frame) entry, i.e. every leading index of a (..., 21, 3)
keypoint array. A boolean ``valid`` mask of the slot shape excludes slots (they are never penalised,
as in the released evaluation). NaN/inf inside a valid slot is an error (``ValueError``); inside an
excluded slot it is allowed and ignored. Per-slot outputs mark excluded or undefined slots with NaN,
so they can be plotted directly and pooled with ``pooled_mean``.

All functions are pure, accept numpy arrays or torch tensors (converted to float64 numpy), and
return numpy arrays or Python floats.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from umetrack.hand.model import INDEX_TIP, NUM_LANDMARKS, PALM_CENTER, THUMB_TIP, WRIST_LANDMARK

METRES_TO_MM = 1000.0
"""The single metre -> millimetre factor applied to keypoints before computing pose metrics."""

PCK_MAX_ERROR_MM = 50.0
PCK_THRESHOLDS_MM = np.linspace(0.0, PCK_MAX_ERROR_MM, 101)
"""Default PCK thresholds, mm: 0, 0.5, ..., 50 (as in the released evaluation and the challenge)."""
PCK_THRESHOLDS_MM.setflags(write=False)  # a shared default must not be edited in place

CHALLENGE_EVAL_LANDMARKS: tuple[int, ...] = tuple(
    i for i in range(NUM_LANDMARKS) if i not in (WRIST_LANDMARK, PALM_CENTER)
)
"""The 19 landmarks the Hand Tracking Challenge scores: all but the wrist (5) and the palm centre (20)."""

FINGERTIP_LANDMARKS: tuple[int, ...] = (0, 1, 2, 3, 4)
"""Thumb, index, middle, ring, pinky tips (the challenge's FINGERTIP_PCK_AUC subset)."""

PINCH_ENTER_DISTANCE_M = 0.01
"""eps1 of L_pinch (network.md §10), metres: a pinch starts when the thumb-index distance drops below it."""
PINCH_EXIT_DISTANCE_M = 0.02
"""eps2 of L_pinch (network.md §10), metres: a pinch ends when the thumb-index distance rises above it."""


# --------------------------------------------------------------------------------------------
# Input validation helpers
# --------------------------------------------------------------------------------------------


def _to_float_array(x: object, name: str) -> np.ndarray:
    """numpy float64 copy/view of an array-like or torch tensor; ValueError if not numeric."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a numeric array, got {type(x).__name__}") from exc


def _to_bool_array(x: object, name: str) -> np.ndarray:
    """Boolean array from bools or 0/1 numbers; anything else is rejected rather than truthy-cast."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name}: expected a boolean array, got dtype {arr.dtype}")
    # Accepting 0/1 numbers is convenient (masks saved as uint8), but 0.5 or NaN is surely a bug.
    if not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name}: expected a boolean array (or only 0/1 values)")
    return arr.astype(bool)


def _keypoints(x: object, name: str, min_leading_dims: int = 0) -> np.ndarray:
    """Validate a (..., 21, 3) keypoint array (metres) and return it as float64."""
    arr = _to_float_array(x, name)
    # min_leading_dims = 1 is the time axis that accelerations need.
    expected = "(..., T, 21, 3)" if min_leading_dims else "(..., 21, 3)"
    if arr.ndim < 2 + min_leading_dims or arr.shape[-2:] != (NUM_LANDMARKS, 3):
        raise ValueError(f"{name}: expected keypoints of shape {expected} in metres, got shape {arr.shape}")
    return arr


def _slot_mask(valid: object | None, slot_shape: tuple[int, ...], name: str = "valid") -> np.ndarray:
    """The valid mask with exactly ``slot_shape``; all True when ``valid`` is None."""
    if valid is None:
        return np.ones(slot_shape, dtype=bool)
    mask = _to_bool_array(valid, name)
    if mask.shape != slot_shape:
        raise ValueError(f"{name}: expected shape {slot_shape} (one flag per slot), got {mask.shape}")
    return mask


def _first_index(flags: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(flags)[0])


def _finite_in_valid_slots(values: np.ndarray, mask: np.ndarray, name: str) -> np.ndarray:
    """Raise on NaN/inf inside valid slots; zero it inside excluded slots.

    ``values`` has shape mask.shape + trailing dims. Zeroing excluded slots lets the vectorised
    arithmetic below run without NaN warnings; their results are masked out afterwards anyway.
    """
    nonfinite_slot = ~np.isfinite(values).all(axis=tuple(range(mask.ndim, values.ndim)))
    offending = nonfinite_slot & mask
    if offending.any():
        raise ValueError(
            f"{name}: {int(offending.sum())} valid slot(s) contain NaN or inf (first at slot index "
            f"{_first_index(offending)}); fix the input or mark those slots False in `valid`"
        )
    if nonfinite_slot.any():
        values = np.where(_expand_mask(nonfinite_slot, values.ndim), 0.0, values)
    return values


def _landmark_indices(landmarks: Sequence[int] | None, default: Sequence[int]) -> list[int]:
    chosen = list(default if landmarks is None else landmarks)
    if not chosen:
        raise ValueError("landmarks: expected at least one landmark index")
    for index in chosen:
        if not isinstance(index, (int, np.integer)) or not 0 <= int(index) < NUM_LANDMARKS:
            raise ValueError(f"landmarks: expected indices in 0..{NUM_LANDMARKS - 1}, got {index!r}")
    return [int(i) for i in chosen]


def _expand_mask(mask: np.ndarray, ndim: int) -> np.ndarray:
    """Append singleton axes so a slot mask (...) broadcasts against per-slot data (..., L[, 3])."""
    return mask.reshape(mask.shape + (1,) * (ndim - mask.ndim))


def _nan_where_invalid(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(_expand_mask(mask, values.ndim), values, np.nan)


# --------------------------------------------------------------------------------------------
# Position error: per landmark, per slot, MPJPE
# --------------------------------------------------------------------------------------------


def per_joint_error(gt: object, pred: object, valid: object | None = None) -> np.ndarray:
    """Euclidean distance between ground-truth and predicted landmarks, per landmark.

    Args:
        gt: (..., 21, 3) ground-truth keypoints, metres.
        pred: (..., 21, 3) predicted keypoints, metres, same shape as ``gt``.
        valid: optional (...) bool mask of slots to evaluate; excluded slots may hold NaN.
    Returns:
        (..., 21) float64 errors in **mm**; NaN in excluded slots.
    Raises:
        ValueError: wrong shapes, or NaN/inf in a valid slot.
    """
    gt_m = _keypoints(gt, "gt")
    pred_m = _keypoints(pred, "pred")
    if pred_m.shape != gt_m.shape:
        raise ValueError(f"pred: expected the same shape as gt {gt_m.shape}, got {pred_m.shape}")
    mask = _slot_mask(valid, gt_m.shape[:-2])
    gt_mm = _finite_in_valid_slots(gt_m, mask, "gt") * METRES_TO_MM
    pred_mm = _finite_in_valid_slots(pred_m, mask, "pred") * METRES_TO_MM
    return _nan_where_invalid(np.linalg.norm(pred_mm - gt_mm, axis=-1), mask)


def per_slot_errors(
    gt: object, pred: object, valid: object | None = None, landmarks: Sequence[int] | None = None
) -> np.ndarray:
    """Per-slot mean landmark error e[h, t] = (1/21) sum_l ||gt - pred||_2 (metrics.md §1).

    Args:
        gt: (..., 21, 3) ground-truth keypoints, metres; e.g. (2, N, 21, 3) for both hands.
        pred: (..., 21, 3) predicted keypoints, metres, same shape.
        valid: optional (...) bool mask; excluded slots may hold NaN.
        landmarks: landmark indices to average over; default all 21 (the UmeTrack protocol).
    Returns:
        (...) float64 errors in **mm**; NaN in excluded slots (ready to plot over time).
    """
    indices = _landmark_indices(landmarks, range(NUM_LANDMARKS))
    # NaN in excluded slots propagates through the mean on purpose: it marks them excluded.
    return per_joint_error(gt, pred, valid)[..., indices].mean(axis=-1)


def mpjpe(
    gt: object, pred: object, valid: object | None = None, landmarks: Sequence[int] | None = None
) -> float:
    """Mean per-joint position error (metrics.md §1): mean of e[h, t] over all valid slots.

    Every valid slot weighs the same (frame-weighted). To pool several sequences the way the
    protocol does, use ``pooled_mean([per_slot_errors(g, p, v) for g, p, v in sequences])``
    rather than averaging per-sequence MPJPEs.

    Args:
        gt: (..., 21, 3) ground-truth keypoints, metres.
        pred: (..., 21, 3) predicted keypoints, metres.
        valid: optional (...) bool mask of slots to evaluate (default: all).
        landmarks: indices averaged per slot; default all 21.
    Returns:
        MPJPE in **mm**; NaN when no slot is valid (the mean is undefined).
    """
    return pooled_mean([per_slot_errors(gt, pred, valid, landmarks)])


# --------------------------------------------------------------------------------------------
# Jitter: MPJPA
# --------------------------------------------------------------------------------------------


def per_slot_accelerations(keypoints: object, valid: object | None = None) -> np.ndarray:
    """Per-slot mean landmark acceleration a[h, t] = (1/21) sum_l ||p[t-1] + p[t+1] - 2 p[t]||_2.

    The time axis is the last leading axis (axis -3 of the keypoints). No division by the frame
    interval: the unit is mm per frame² (multiply by fps², 900 at 30 fps, for mm/s²).

    Args:
        keypoints: (..., T, 21, 3) keypoints in metres (predicted for MPJPA; GT gives the reference).
        valid: optional (..., T) bool mask.
    Returns:
        (..., T) float64 in **mm/frame²**, indexed by the centre frame t. NaN at t = 0 and T-1 and
        wherever any of t-1, t, t+1 is invalid for that hand.
    """
    points_m = _keypoints(keypoints, "keypoints", min_leading_dims=1)
    mask = _slot_mask(valid, points_m.shape[:-2])
    points_mm = _finite_in_valid_slots(points_m, mask, "keypoints") * METRES_TO_MM
    series = np.full(points_mm.shape[:-2], np.nan)
    if points_mm.shape[-3] >= 3:
        before, centre, after = (points_mm[..., s, :, :] for s in (np.s_[:-2], np.s_[1:-1], np.s_[2:]))
        acceleration = np.linalg.norm(before + after - 2.0 * centre, axis=-1).mean(axis=-1)
        triplet_valid = mask[..., :-2] & mask[..., 1:-1] & mask[..., 2:]
        series[..., 1:-1] = np.where(triplet_valid, acceleration, np.nan)
    return series


def mpjpa(pred: object, valid: object | None = None) -> float:
    """Mean per-joint acceleration (paper eq. 10, metrics.md §1), a jitter measure.

    Mean of ``per_slot_accelerations`` over the (hand, t) whose triplet t-1, t, t+1 is valid.
    Pool sequences with ``pooled_mean([per_slot_accelerations(p, v) for p, v in sequences])``;
    concatenating sequences in time would invent triplets across the seam.

    Args:
        pred: (..., T, 21, 3) predicted keypoints, metres.
        valid: optional (..., T) bool mask.
    Returns:
        MPJPA in **mm/frame²**; NaN when there is no valid triplet.
    """
    return pooled_mean([per_slot_accelerations(pred, valid)])


def pooled_mean(per_slot_series: Iterable[object]) -> float:
    """Frame-weighted mean over several per-slot series, NaN entries (excluded slots) skipped.

    Args:
        per_slot_series: arrays of any shapes from ``per_slot_errors`` / ``per_slot_accelerations``
            (units are whatever those carry: mm or mm/frame²).
    Returns:
        Mean of all non-NaN entries; NaN when there are none.
    Raises:
        ValueError: an entry is +/-inf (these functions never produce it, so it is a bug upstream).
    """
    flattened = [_to_float_array(series, "per_slot_series").ravel() for series in per_slot_series]
    values = np.concatenate(flattened) if flattened else np.zeros(0)
    if np.isinf(values).any():
        raise ValueError("per_slot_series: contains inf; only NaN may mark excluded slots")
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")


def success_rate(valid: object) -> float:
    """Share of valid slots, percent (metrics.md §1: #valid / (2 · frames) for a (2, N) mask).

    Args:
        valid: (...) bool mask of any shape, e.g. (2, N).
    Returns:
        0..100; NaN for an empty mask.
    """
    mask = _to_bool_array(valid, "valid")
    return float(100.0 * mask.mean()) if mask.size else float("nan")


# --------------------------------------------------------------------------------------------
# PCK / AUC
# --------------------------------------------------------------------------------------------


def _thresholds(thresholds_mm: object | None, name: str = "thresholds_mm") -> np.ndarray:
    if thresholds_mm is None:
        return PCK_THRESHOLDS_MM.copy()
    thresholds = _to_float_array(thresholds_mm, name)
    if thresholds.ndim != 1 or thresholds.size < 1:
        raise ValueError(f"{name}: expected shape (K,) with K >= 1, got {thresholds.shape}")
    if not np.isfinite(thresholds).all():
        raise ValueError(f"{name}: contains NaN or inf")
    if (np.diff(thresholds) < 0).any():
        raise ValueError(f"{name}: must be non-decreasing")
    return thresholds


def pck_curve(
    errors_mm: object, thresholds_mm: object | None = None, valid: object | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Percentage of correct keypoints: PCK(tau) = 100 · share of samples with error <= tau.

    Every entry of ``errors_mm`` is one sample. For the UmeTrack protocol (metrics.md §1) pass
    per-slot mean errors (``per_slot_errors``); for the Hand Tracking Challenge variant (§4) pass
    per-landmark errors, e.g. ``per_joint_error(gt, pred, v)[..., CHALLENGE_EVAL_LANDMARKS]`` with
    the slot mask ``v`` (see ``pck_auc(per_landmark=True)``).

    Args:
        errors_mm: (...) errors in **mm**.
        thresholds_mm: (K,) non-decreasing thresholds in mm; default ``PCK_THRESHOLDS_MM``
            (0..50 mm, 101 values).
        valid: optional bool mask whose shape is ``errors_mm.shape`` or a prefix of it (a slot
            mask (...) for per-landmark errors (..., L) applies to all L landmarks of the slot).
            Excluded entries may be NaN; NaN/inf in included entries raises ValueError.
    Returns:
        (thresholds_mm (K,), pck_percent (K,)) with PCK in 0..100. With no included sample PCK is
        all zeros (the released helper's divide-by-zero rule).
    """
    errors = np.atleast_1d(_to_float_array(errors_mm, "errors_mm"))
    thresholds = _thresholds(thresholds_mm)
    if valid is None:
        mask = np.ones(errors.shape, dtype=bool)
    else:
        slot_mask = _to_bool_array(valid, "valid")
        if slot_mask.ndim == 0 or errors.shape[: slot_mask.ndim] != slot_mask.shape:
            raise ValueError(
                f"valid: expected shape {errors.shape} or a leading prefix of it, got {slot_mask.shape}"
            )
        mask = np.broadcast_to(_expand_mask(slot_mask, errors.ndim), errors.shape)
    included = errors[mask]
    if not np.isfinite(included).all():
        raise ValueError(
            "errors_mm: contains NaN or inf in included entries; exclude them with `valid` "
            "(e.g. valid=np.isfinite(errors) for per-slot outputs whose NaN marks excluded slots)"
        )
    if (included < 0).any():
        raise ValueError("errors_mm: errors are distances and must be >= 0")
    if included.size == 0:
        return thresholds, np.zeros_like(thresholds)
    sorted_errors = np.sort(included)
    # side="right" counts errors equal to the threshold as correct (error <= tau, as released).
    correct = np.searchsorted(sorted_errors, thresholds, side="right")
    return thresholds, 100.0 * correct / included.size


def auc(thresholds_mm: object, pck_percent: object) -> float:
    """Normalised area under a PCK curve: trapezoidal area / (tau_max - tau_min), in 0..100.

    Equals the released ``normalized_AUC(thresholds, 100 · pck, y_max=1)``.

    Args:
        thresholds_mm: (K,) non-decreasing thresholds, mm, K >= 2, last > first.
        pck_percent: (K,) PCK values in percent.
    Returns:
        AUC in percent (0..100).
    """
    thresholds = _thresholds(thresholds_mm)
    pck = _to_float_array(pck_percent, "pck_percent")
    if pck.shape != thresholds.shape:
        raise ValueError(
            f"pck_percent: expected shape {thresholds.shape} (one per threshold), got {pck.shape}"
        )
    if not np.isfinite(pck).all():
        raise ValueError("pck_percent: contains NaN or inf")
    span = thresholds[-1] - thresholds[0]
    if thresholds.size < 2 or span <= 0:
        raise ValueError("thresholds_mm: need at least two thresholds spanning a positive range")
    area = float(np.sum(np.diff(thresholds) * (pck[1:] + pck[:-1]) * 0.5))
    return float(area / span)


def pck_auc(
    gt: object,
    pred: object,
    valid: object | None = None,
    *,
    per_landmark: bool = False,
    landmarks: Sequence[int] | None = None,
    thresholds_mm: object | None = None,
) -> float:
    """PCK AUC of a prediction, in percent (0..100).

    * ``per_landmark=False`` (UmeTrack, metrics.md §1): one sample per valid slot, the slot's
      mean error over ``landmarks`` (default all 21).
    * ``per_landmark=True`` (Hand Tracking Challenge, §4): one sample per landmark of each valid
      slot, over ``landmarks`` (default ``CHALLENGE_EVAL_LANDMARKS``, the 19 without wrist and
      palm centre; pass ``FINGERTIP_LANDMARKS`` for FINGERTIP_PCK_AUC).

    Args:
        gt, pred: (..., 21, 3) keypoints, metres.
        valid: optional (...) bool slot mask.
        per_landmark: which protocol, see above.
        landmarks: landmark subset; default depends on the protocol as described.
        thresholds_mm: PCK thresholds, mm; default 0..50 mm, 101 values.
    Returns:
        AUC in percent; 0 when no slot is valid.
    """
    mask = _slot_mask(valid, _keypoints(gt, "gt").shape[:-2])
    if per_landmark:
        indices = _landmark_indices(landmarks, CHALLENGE_EVAL_LANDMARKS)
        errors = per_joint_error(gt, pred, mask)[..., indices]
    else:
        errors = per_slot_errors(gt, pred, mask, landmarks)
    return auc(*pck_curve(errors, thresholds_mm, valid=mask))


# --------------------------------------------------------------------------------------------
# Pinch detection and scoring
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class PinchEvent:
    """A run of pinch frames, half-open interval [start, end) of frame indices (end > start >= 0)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        for field_name in ("start", "end"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"PinchEvent.{field_name}: expected an integer frame index, got {value!r}")
            object.__setattr__(self, field_name, int(value))  # normalise numpy ints for clean reprs
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"PinchEvent: expected 0 <= start < end, got [{self.start}, {self.end})")

    @property
    def num_frames(self) -> int:
        return self.end - self.start

    def overlap(self, other: PinchEvent) -> int:
        """Number of frames in both intervals."""
        return max(0, min(self.end, other.end) - max(self.start, other.start))

    def iou(self, other: PinchEvent) -> float:
        """Intersection over union of the two frame intervals, 0..1."""
        shared = self.overlap(other)
        return shared / (self.num_frames + other.num_frames - shared)


@dataclass(frozen=True)
class PinchScore:
    """Result of scoring predicted pinches against ground truth.

    Attributes:
        unit: "event" (counts are pinch events) or "frame" (counts are frames).
        precision: TP / (TP + FP), 0..1; 1.0 when nothing was predicted (no false claim was made).
        recall: TP / (TP + FN), 0..1; 1.0 when the ground truth has nothing to find.
        true_positives, false_positives, false_negatives: counts in ``unit``.
        matched_pairs: (predicted, true) event pairs. For unit "frame", runs of frames both
            predicted and true, each paired with itself.
        false_positive_events: predicted events without a match (unit "frame": runs of frames
            predicted but not true) — the false alarms to list.
        false_negative_events: true events without a match (unit "frame": runs of true frames
            not predicted) — the misses to list.
    """

    unit: Literal["event", "frame"]
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int
    matched_pairs: tuple[tuple[PinchEvent, PinchEvent], ...]
    false_positive_events: tuple[PinchEvent, ...]
    false_negative_events: tuple[PinchEvent, ...]


def precision_recall_from_counts(
    true_positives: int, false_positives: int, false_negatives: int
) -> tuple[float, float]:
    """(precision, recall) from counts, without dividing by zero.

    Conventions: precision = 1.0 when TP + FP = 0 (no prediction, hence no false claim); recall =
    1.0 when TP + FN = 0 (nothing to find, hence nothing missed). A detector that never fires thus
    scores (1, 0) on a sequence with pinches and (1, 1) on one without. To pool sequences, sum the
    counts of every ``PinchScore`` and call this once (event- or frame-weighted, like MPJPE).
    """
    for name, count in (("true_positives", true_positives), ("false_positives", false_positives),
                        ("false_negatives", false_negatives)):  # fmt: skip
        if count < 0:
            raise ValueError(f"{name}: expected a count >= 0, got {count}")
    predicted, actual = true_positives + false_positives, true_positives + false_negatives
    precision = true_positives / predicted if predicted else 1.0
    recall = true_positives / actual if actual else 1.0
    return float(precision), float(recall)


def thumb_index_distance(keypoints: object, valid: object | None = None) -> np.ndarray:
    """Distance between the thumb tip (landmark 0) and the index tip (landmark 1).

    Args:
        keypoints: (..., 21, 3) keypoints, metres.
        valid: optional (...) bool slot mask; excluded slots may hold NaN.
    Returns:
        (...) float64 distances in **metres** (the unit of eps1/eps2); NaN in excluded slots.
    """
    points = _keypoints(keypoints, "keypoints")
    mask = _slot_mask(valid, points.shape[:-2])
    points = _finite_in_valid_slots(points, mask, "keypoints")
    distance = np.linalg.norm(points[..., THUMB_TIP, :] - points[..., INDEX_TIP, :], axis=-1)
    return np.where(mask, distance, np.nan)


def detect_pinch_frames(
    distances_m: object,
    valid: object | None = None,
    *,
    enter_below_m: float = PINCH_ENTER_DISTANCE_M,
    exit_above_m: float = PINCH_EXIT_DISTANCE_M,
) -> np.ndarray:
    """Per-frame pinch state from thumb-index distances, with hysteresis between eps1 and eps2.

    The paper thresholds the distance with "the same threshold as in L_pinch" without saying
    which; a two-threshold hysteresis is used so that a distance hovering around one threshold
    does not flicker into many one-frame pinches. Rule, frame by frame along the last axis,
    starting in the released (not pinching) state:
      * not pinching -> pinching when distance < ``enter_below_m`` (strictly; eps1 = 0.01 m);
      * pinching -> not pinching when distance > ``exit_above_m`` (strictly; eps2 = 0.02 m);
      * otherwise the state carries over (the band [eps1, eps2] keeps the previous state).
      * An invalid frame is not a pinch and resets the state to released: without tracking there
        is no prediction, and a pinch after a gap must be re-entered below eps1.
    Each frame's state is decided with that frame's distance (the entering frame is a pinch frame;
    the leaving frame is not). Setting both thresholds equal gives a single-threshold detector.

    Args:
        distances_m: (..., T) thumb-index distances, **metres** (``thumb_index_distance``).
        valid: optional (..., T) bool mask; excluded frames may be NaN.
        enter_below_m: eps1, metres.
        exit_above_m: eps2, metres; must be >= ``enter_below_m``.
    Returns:
        (..., T) bool, True on pinch frames.
    """
    distances = _to_float_array(distances_m, "distances_m")
    if distances.ndim < 1:
        raise ValueError(f"distances_m: expected shape (..., T), got a scalar {distances.shape}")
    mask = _slot_mask(valid, distances.shape)
    distances = _finite_in_valid_slots(distances, mask, "distances_m")
    if not (np.isfinite(enter_below_m) and np.isfinite(exit_above_m) and 0 <= enter_below_m <= exit_above_m):
        raise ValueError(
            f"enter_below_m/exit_above_m: expected 0 <= enter <= exit, got {enter_below_m} and {exit_above_m}"
        )
    # Explicit row count: reshape(-1, 0) cannot infer it for an empty sequence.
    flat_distances = distances.reshape(math.prod(distances.shape[:-1]), distances.shape[-1])
    flat_mask = mask.reshape(flat_distances.shape)
    pinching = np.zeros(flat_distances.shape, dtype=bool)
    for row in range(flat_distances.shape[0]):
        state = False
        for t in range(flat_distances.shape[1]):
            if not flat_mask[row, t]:
                state = False
            elif state:
                state = not flat_distances[row, t] > exit_above_m
            else:
                state = flat_distances[row, t] < enter_below_m
            pinching[row, t] = state
    return pinching.reshape(distances.shape)


def frames_to_events(pinch_frames: object) -> tuple[PinchEvent, ...]:
    """Maximal runs of True frames as [start, end) events, in time order.

    Args:
        pinch_frames: (T,) bool (or 0/1) per-frame pinch flags of one hand.
    Returns:
        Tuple of ``PinchEvent``.
    """
    flags = _to_bool_array(pinch_frames, "pinch_frames")
    if flags.ndim != 1:
        raise ValueError(f"pinch_frames: expected shape (T,) for one hand, got {flags.shape}")
    # Pad with False on both sides so every run has a rising and a falling edge.
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return tuple(PinchEvent(int(s), int(e)) for s, e in zip(starts, ends, strict=True))


def events_to_frames(events: Iterable[PinchEvent | tuple[int, int]], num_frames: int) -> np.ndarray:
    """Inverse of ``frames_to_events``: (num_frames,) bool with the events' frames set True.

    Raises:
        ValueError: an event reaches past ``num_frames``.
    """
    if num_frames < 0:
        raise ValueError(f"num_frames: expected >= 0, got {num_frames}")
    flags = np.zeros(num_frames, dtype=bool)
    for event in _as_events(events, "events"):
        if event.end > num_frames:
            raise ValueError(f"events: {event} reaches past num_frames = {num_frames}")
        flags[event.start : event.end] = True
    return flags


def detect_pinch_events(
    keypoints: object,
    valid: object | None = None,
    *,
    enter_below_m: float = PINCH_ENTER_DISTANCE_M,
    exit_above_m: float = PINCH_EXIT_DISTANCE_M,
) -> tuple[PinchEvent, ...]:
    """Pinch events of one hand: ``thumb_index_distance`` -> ``detect_pinch_frames`` -> events.

    Args:
        keypoints: (T, 21, 3) keypoints of one hand, metres.
        valid: optional (T,) bool mask.
        enter_below_m, exit_above_m: eps1, eps2 in metres (see ``detect_pinch_frames``).
    """
    points = _keypoints(keypoints, "keypoints")
    if points.ndim != 3:
        raise ValueError(f"keypoints: expected shape (T, 21, 3) for one hand, metres, got {points.shape}")
    distances = thumb_index_distance(points, valid)
    frames = detect_pinch_frames(distances, valid, enter_below_m=enter_below_m, exit_above_m=exit_above_m)
    return frames_to_events(frames)


def _as_events(events: Iterable[PinchEvent | tuple[int, int]], name: str) -> list[PinchEvent]:
    converted = []
    for item in events:
        if isinstance(item, PinchEvent):
            converted.append(item)
            continue
        try:
            start, end = item
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: expected PinchEvent or (start, end) pairs, got {item!r}") from exc
        try:
            converted.append(PinchEvent(start, end))
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from exc
    return converted


def pinch_precision_recall(
    predicted_events: Iterable[PinchEvent | tuple[int, int]],
    true_events: Iterable[PinchEvent | tuple[int, int]],
    *,
    min_iou: float = 0.0,
) -> PinchScore:
    """Event-level pinch precision/recall with one-to-one matching.

    Matching rule: a (predicted, true) pair is a candidate when the intervals share at least one
    frame and their IoU is >= ``min_iou`` (default 0: any overlap counts). Candidates are taken
    greedily, most shared frames first (ties: higher IoU, then earlier true event, then earlier
    predicted event), skipping any pair whose predicted or true event is already matched. Matched
    pairs are true positives; unmatched predictions are false positives; unmatched true events
    are false negatives. Precision/recall follow ``precision_recall_from_counts`` (1.0 when the
    denominator is empty).

    Args:
        predicted_events: ``PinchEvent`` or (start, end) pairs, half-open frame intervals.
        true_events: same, from annotations (``frames_to_events`` on per-frame labels).
        min_iou: 0..1, minimum IoU for a match.
    Returns:
        ``PinchScore`` with unit "event".
    """
    if not 0.0 <= min_iou <= 1.0:
        raise ValueError(f"min_iou: expected a value in 0..1, got {min_iou}")
    predicted = sorted(_as_events(predicted_events, "predicted_events"))
    truth = sorted(_as_events(true_events, "true_events"))
    candidates = []
    for pred_index, pred_event in enumerate(predicted):
        for true_index, true_event in enumerate(truth):
            shared = pred_event.overlap(true_event)
            if shared > 0 and pred_event.iou(true_event) >= min_iou:
                candidates.append((-shared, -pred_event.iou(true_event), true_index, pred_index))
    candidates.sort()
    matched_pred: set[int] = set()
    matched_true: set[int] = set()
    pairs = []
    for _, _, true_index, pred_index in candidates:
        if pred_index in matched_pred or true_index in matched_true:
            continue
        matched_pred.add(pred_index)
        matched_true.add(true_index)
        pairs.append((predicted[pred_index], truth[true_index]))
    pairs.sort(key=lambda pair: (pair[1], pair[0]))  # list matches in time order
    false_positive = tuple(e for i, e in enumerate(predicted) if i not in matched_pred)
    false_negative = tuple(e for i, e in enumerate(truth) if i not in matched_true)
    precision, recall = precision_recall_from_counts(len(pairs), len(false_positive), len(false_negative))
    return PinchScore(
        unit="event",
        precision=precision,
        recall=recall,
        true_positives=len(pairs),
        false_positives=len(false_positive),
        false_negatives=len(false_negative),
        matched_pairs=tuple(pairs),
        false_positive_events=false_positive,
        false_negative_events=false_negative,
    )


def pinch_frame_precision_recall(
    predicted_frames: object, true_frames: object, valid: object | None = None
) -> PinchScore:
    """Frame-level pinch precision/recall: every frame is one sample.

    TP = frames pinched in both, FP = predicted only, FN = true only. Frames where ``valid`` is
    False are not counted at all (omit ``valid`` to count every frame, so that a true pinch during
    lost tracking counts as missed).

    Args:
        predicted_frames: (T,) bool per-frame predicted pinch (``detect_pinch_frames``).
        true_frames: (T,) bool per-frame labels.
        valid: optional (T,) bool mask of frames to count.
    Returns:
        ``PinchScore`` with unit "frame"; the event fields hold runs of frames (see its docs).
    """
    predicted = _to_bool_array(predicted_frames, "predicted_frames")
    truth = _to_bool_array(true_frames, "true_frames")
    if predicted.ndim != 1:
        raise ValueError(f"predicted_frames: expected shape (T,) for one hand, got {predicted.shape}")
    if truth.shape != predicted.shape:
        raise ValueError(
            f"true_frames: expected shape {predicted.shape} like predicted_frames, got {truth.shape}"
        )
    counted = _slot_mask(valid, predicted.shape)
    both = predicted & truth & counted
    predicted_only = predicted & ~truth & counted
    true_only = truth & ~predicted & counted
    tp, fp, fn = int(both.sum()), int(predicted_only.sum()), int(true_only.sum())
    precision, recall = precision_recall_from_counts(tp, fp, fn)
    return PinchScore(
        unit="frame",
        precision=precision,
        recall=recall,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        matched_pairs=tuple((run, run) for run in frames_to_events(both)),
        false_positive_events=frames_to_events(predicted_only),
        false_negative_events=frames_to_events(true_only),
    )
