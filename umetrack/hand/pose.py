"""A posed hand: the per-frame state every reader, the tracker and the app exchange."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from umetrack.hand.fk import validate_pose


@dataclass(frozen=True, eq=False)
class HandPose:
    """One hand in one frame.

    Attributes:
        hand_index: 0 left, 1 right.
        joint_angles: (22,) radians (entries 20, 21 are unused by FK and normally 0).
        T_world_from_wrist: (4, 4) hand-local -> world, metres, in the hand's own convention
            (a proper rigid transform for both hands; FK negates column 0 for right hands).
        confidence: the source's hand confidence (GT: > 0 present; trackers skip < 0.5).
    """

    hand_index: int
    joint_angles: torch.Tensor
    T_world_from_wrist: torch.Tensor
    confidence: float = 1.0

    def validated(self, name: str = "hand pose") -> "HandPose":
        """Return self, or raise InvalidPoseError (naming ``name``) for NaN angles or a non-rigid wrist."""
        validate_pose(self.joint_angles, self.T_world_from_wrist, name)
        return self
