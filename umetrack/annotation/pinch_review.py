"""Predicted pinches scored against reference intervals (annotations, or ground truth), with the
mismatches an annotator walks through.

Predicted pinch intervals come from the predicted thumb-index tip distance with the hysteresis of
``umetrack.metrics.detect_pinch_frames`` (enter below 1 cm, leave above 2 cm); frames where a hand
is not tracked (NaN landmarks) are released. Events are matched with ``pinch_precision_recall``'s
one-to-one rule (any overlap, most shared frames first). Unlike ``umetrack eval``, a reference pinch
during lost tracking is not excluded: for an annotator it is a miss to look at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from umetrack.annotation.pinch_intervals import HANDS
from umetrack.metrics import PinchEvent, PinchScore, detect_pinch_events, pinch_precision_recall, precision_recall_from_counts


def predicted_pinch_events(landmarks: np.ndarray) -> dict[int, tuple[PinchEvent, ...]]:
    """Per hand, the pinch events of predicted landmarks (N, 2, 21, 3) in metres, NaN where untracked."""
    events = {}
    for hand in HANDS:
        points = np.asarray(landmarks[:, hand], dtype=np.float64)
        tracked = np.isfinite(points).all(axis=(-1, -2))
        events[hand] = detect_pinch_events(np.nan_to_num(points), tracked)
    return events


@dataclass(frozen=True)
class PinchMismatch:
    """A predicted pinch with no reference pinch ("false"), or a reference pinch never predicted ("missed")."""

    hand: int
    kind: Literal["missed", "false"]
    event: PinchEvent


@dataclass(frozen=True)
class PinchReview:
    """Per-hand event scores, pooled precision/recall (counts summed over hands) and the mismatches
    in time order."""

    per_hand: Mapping[int, PinchScore]
    precision: float
    recall: float
    mismatches: tuple[PinchMismatch, ...]


def review_pinches(predicted: Mapping[int, Sequence[PinchEvent]], reference: Mapping[int, Sequence[PinchEvent]]) -> PinchReview:
    """Score ``predicted`` events against ``reference`` events, hand by hand (see module docs)."""
    per_hand = {hand: pinch_precision_recall(predicted.get(hand, ()), reference.get(hand, ())) for hand in HANDS}
    counts = [sum(getattr(score, name) for score in per_hand.values()) for name in ("true_positives", "false_positives", "false_negatives")]
    precision, recall = precision_recall_from_counts(*counts)
    mismatches = [PinchMismatch(hand, "missed", event) for hand, score in per_hand.items() for event in score.false_negative_events]
    mismatches += [PinchMismatch(hand, "false", event) for hand, score in per_hand.items() for event in score.false_positive_events]
    mismatches.sort(key=lambda m: (m.event.start, m.hand, m.kind))
    return PinchReview(per_hand, precision, recall, tuple(mismatches))
