"""Pinch annotations: per hand, a sorted list of frame intervals in which the hand pinches.

Intervals are half-open ``[start, end)`` frame ranges (``umetrack.metrics.PinchEvent``), like the
recordings' pinch labels and the pinch metrics, so annotations, ground truth and predictions compare
without conversion. Invariant per hand: ``0 <= start < end <= num_frames``, sorted, and *separated*
by at least one released frame (``previous.end < next.start``). Two touching intervals would be the
same frames as one longer interval, so the intervals and the per-frame flags map one to one.

Every edit is an ``IntervalChange`` (intervals removed, intervals added) built by a pure method
(``create``, ``move``, ``resize``, ``split``, ``merge_with_next``, ``delete``, ``toggle_at``,
``replace_all``) and applied with ``apply``; ``apply(change.inverted())`` undoes it exactly. The app's
undo stack wraps each change in one command.

Edit semantics (what the app's mouse and keys do):
* ``create(start, end)`` paints: the new interval absorbs every interval it overlaps or touches.
* ``move`` / ``resize`` never merge: they must stay inside ``free_range`` (the GUI clamps to it).
* ``split(interval, frame)`` releases ``frame``: [s, e) -> [s, frame) and [frame + 1, e).
* ``toggle_at(frame)`` flips one frame: a released frame becomes a one-frame pinch, joining the
  neighbouring interval(s) it touches; a pinched frame is released, shortening the interval at an
  edge, splitting it inside, or deleting a one-frame interval.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from umetrack.hand.model import HAND_NAMES
from umetrack.metrics import PinchEvent, events_to_frames

HANDS = (0, 1)


@dataclass(frozen=True, order=True)
class HandInterval:
    """One interval of one hand (hand 0 = left, 1 = right)."""

    hand: int
    interval: PinchEvent

    def __str__(self) -> str:
        return f"{HAND_NAMES[self.hand]} [{self.interval.start}, {self.interval.end})"


@dataclass(frozen=True)
class IntervalChange:
    """A reversible edit: ``removed`` intervals are taken out, then ``added`` ones put in."""

    description: str
    removed: tuple[HandInterval, ...] = ()
    added: tuple[HandInterval, ...] = ()

    def inverted(self) -> IntervalChange:
        return IntervalChange(self.description, removed=self.added, added=self.removed)

    @property
    def is_empty(self) -> bool:
        return set(self.removed) == set(self.added)

    @property
    def hands(self) -> frozenset[int]:
        return frozenset(item.hand for item in self.removed + self.added)


def _event(item: PinchEvent | tuple[int, int]) -> PinchEvent:
    return item if isinstance(item, PinchEvent) else PinchEvent(*item)


def invariant_violation(intervals: Iterable[PinchEvent], num_frames: int) -> str | None:
    """Why a hand's interval list breaks the invariant (module docstring), or None when it holds."""
    previous: PinchEvent | None = None
    for interval in intervals:
        if interval.end > num_frames:
            return f"[{interval.start}, {interval.end}) reaches past the last frame ({num_frames} frames)"
        if previous is not None and interval.start <= previous.end:
            relation = "touches" if interval.start == previous.end else "overlaps or precedes"
            return f"[{interval.start}, {interval.end}) {relation} [{previous.start}, {previous.end})"
        previous = interval
    return None


class PinchAnnotations:
    """Pinch intervals of both hands of one recording of ``num_frames`` frames (see module docs)."""

    def __init__(self, num_frames: int, intervals: Mapping[int, Iterable[PinchEvent | tuple[int, int]]] | None = None):
        if num_frames < 1:
            raise ValueError(f"num_frames: expected >= 1, got {num_frames}")
        self.num_frames = int(num_frames)
        self._intervals: dict[int, list[PinchEvent]] = {hand: [] for hand in HANDS}
        for hand, items in (intervals or {}).items():
            events = [_event(item) for item in items]
            problem = invariant_violation(events, self.num_frames)
            if problem is not None:
                raise ValueError(f"{HAND_NAMES[hand]} hand: {problem}")
            self._intervals[hand] = events

    # -- reading ---------------------------------------------------------------------------------

    def intervals(self, hand: int) -> tuple[PinchEvent, ...]:
        return tuple(self._intervals[hand])

    def as_dict(self) -> dict[int, tuple[PinchEvent, ...]]:
        return {hand: self.intervals(hand) for hand in HANDS}

    @property
    def is_empty(self) -> bool:
        return not any(self._intervals.values())

    def frames(self, hand: int) -> np.ndarray:
        """(num_frames,) bool, True on the hand's pinch frames."""
        return events_to_frames(self._intervals[hand], self.num_frames)

    def interval_at(self, hand: int, frame: int) -> PinchEvent | None:
        """The hand's interval containing ``frame``, or None."""
        index = self._index_at_or_before(hand, frame)
        if index is not None and frame < self._intervals[hand][index].end:
            return self._intervals[hand][index]
        return None

    def free_range(self, hand: int, interval: PinchEvent) -> tuple[int, int]:
        """[lo, hi): the frames ``interval`` may occupy after a move or resize without touching its
        neighbours (one released frame must stay between intervals)."""
        index = self._index_of(hand, interval)
        items = self._intervals[hand]
        lo = items[index - 1].end + 1 if index > 0 else 0
        hi = items[index + 1].start - 1 if index + 1 < len(items) else self.num_frames
        return lo, hi

    def next_interval(self, hand: int, interval: PinchEvent) -> PinchEvent | None:
        index = self._index_of(hand, interval)
        items = self._intervals[hand]
        return items[index + 1] if index + 1 < len(items) else None

    def copy(self) -> PinchAnnotations:
        return PinchAnnotations(self.num_frames, self.as_dict())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PinchAnnotations) and (self.num_frames, self.as_dict()) == (other.num_frames, other.as_dict())

    def __repr__(self) -> str:
        parts = ", ".join(f"{HAND_NAMES[h]}={[(e.start, e.end) for e in self._intervals[h]]}" for h in HANDS)
        return f"PinchAnnotations({self.num_frames} frames, {parts})"

    # -- building changes (pure) -----------------------------------------------------------------

    def create(self, hand: int, start: int, end: int) -> IntervalChange:
        """Pinch frames [start, end) (clipped to the recording), absorbing touched intervals."""
        start, end = max(0, int(start)), min(self.num_frames, int(end))
        if end <= start:
            raise ValueError(f"create: empty interval [{start}, {end}) within {self.num_frames} frames")
        absorbed = [e for e in self._intervals[hand] if e.start <= end and e.end >= start]
        union = PinchEvent(min([start] + [e.start for e in absorbed]), max([end] + [e.end for e in absorbed]))
        return self._change(f"create {HAND_NAMES[hand]} pinch", hand, absorbed, [union])

    def move(self, hand: int, interval: PinchEvent, new_start: int) -> IntervalChange:
        """Shift ``interval`` to start at ``new_start`` (same length), inside ``free_range``."""
        return self.resize(hand, interval, new_start, int(new_start) + interval.num_frames, verb="move")

    def resize(self, hand: int, interval: PinchEvent, start: int, end: int, verb: str = "resize") -> IntervalChange:
        """Give ``interval`` new edges [start, end), inside ``free_range``."""
        start, end = int(start), int(end)
        lo, hi = self.free_range(hand, interval)
        if not lo <= start < end <= hi:
            raise ValueError(f"{verb}: [{start}, {end}) is empty or leaves the free range [{lo}, {hi}) of {HAND_NAMES[hand]} [{interval.start}, {interval.end})")
        return self._change(f"{verb} {HAND_NAMES[hand]} pinch", hand, [interval], [PinchEvent(start, end)])

    def split(self, hand: int, interval: PinchEvent, frame: int) -> IntervalChange:
        """Release ``frame`` inside ``interval``: [s, e) -> [s, frame) + [frame + 1, e). Both parts
        must be non-empty (s < frame < e - 1); to trim an edge use resize or toggle_at."""
        self._index_of(hand, interval)
        if not interval.start < frame < interval.end - 1:
            raise ValueError(f"split: frame {frame} is not strictly inside [{interval.start}, {interval.end - 1}] of {HAND_NAMES[hand]} [{interval.start}, {interval.end})")
        parts = [PinchEvent(interval.start, frame), PinchEvent(frame + 1, interval.end)]
        return self._change(f"split {HAND_NAMES[hand]} pinch at frame {frame}", hand, [interval], parts)

    def merge_with_next(self, hand: int, interval: PinchEvent) -> IntervalChange:
        """Join ``interval`` and the next one of the same hand, pinching the frames between them."""
        following = self.next_interval(hand, interval)
        if following is None:
            raise ValueError(f"merge: {HAND_NAMES[hand]} [{interval.start}, {interval.end}) is the last interval")
        merged = PinchEvent(interval.start, following.end)
        return self._change(f"merge {HAND_NAMES[hand]} pinches", hand, [interval, following], [merged])

    def delete(self, hand: int, interval: PinchEvent) -> IntervalChange:
        self._index_of(hand, interval)
        return self._change(f"delete {HAND_NAMES[hand]} pinch", hand, [interval], [])

    def toggle_at(self, hand: int, frame: int) -> IntervalChange:
        """Flip the pinch state of one frame (module docstring)."""
        frame = int(frame)
        if not 0 <= frame < self.num_frames:
            raise ValueError(f"toggle: frame {frame} outside 0..{self.num_frames - 1}")
        label = f"toggle {HAND_NAMES[hand]} pinch at frame {frame}"
        inside = self.interval_at(hand, frame)
        if inside is None:
            return replace(self.create(hand, frame, frame + 1), description=label)
        remaining = [e for e in (PinchEvent(inside.start, frame) if frame > inside.start else None,
                                 PinchEvent(frame + 1, inside.end) if frame + 1 < inside.end else None) if e is not None]  # fmt: skip
        return self._change(label, hand, [inside], remaining)

    def replace_all(self, other: PinchAnnotations, description: str) -> IntervalChange:
        """Replace every interval of both hands with ``other``'s (an import, as one undoable change)."""
        if other.num_frames != self.num_frames:
            raise ValueError(f"replace: {other.num_frames} frames, these annotations have {self.num_frames}")
        removed = tuple(HandInterval(h, e) for h in HANDS for e in self._intervals[h])
        added = tuple(HandInterval(h, e) for h in HANDS for e in other.intervals(h))
        return IntervalChange(description, removed, added)

    # -- applying --------------------------------------------------------------------------------

    def apply(self, change: IntervalChange) -> None:
        """Apply ``change`` (all of it, or nothing: ValueError when it does not fit)."""
        updated = {hand: list(items) for hand, items in self._intervals.items()}
        for item in change.removed:
            if item.interval not in updated[item.hand]:
                raise ValueError(f"{change.description}: {item} is not annotated")
            updated[item.hand].remove(item.interval)
        for item in change.added:
            updated[item.hand].append(item.interval)
        for hand in change.hands:
            updated[hand].sort()
            problem = invariant_violation(updated[hand], self.num_frames)
            if problem is not None:
                raise ValueError(f"{change.description}: {HAND_NAMES[hand]} hand: {problem}")
        self._intervals = updated

    # -- helpers ---------------------------------------------------------------------------------

    def _index_at_or_before(self, hand: int, frame: int) -> int | None:
        starts = [e.start for e in self._intervals[hand]]
        index = bisect.bisect_right(starts, frame) - 1
        return index if index >= 0 else None

    def _index_of(self, hand: int, interval: PinchEvent) -> int:
        try:
            return self._intervals[hand].index(interval)
        except ValueError:
            raise ValueError(f"{HAND_NAMES[hand]} [{interval.start}, {interval.end}) is not annotated") from None

    @staticmethod
    def _change(description: str, hand: int, removed: Iterable[PinchEvent], added: Iterable[PinchEvent]) -> IntervalChange:
        return IntervalChange(description, tuple(HandInterval(hand, e) for e in removed), tuple(HandInterval(hand, e) for e in added))
