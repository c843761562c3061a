"""The unit of training data: S hand sequences of T steps, each step with 1 or 2 crops."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch

MAX_VIEWS = 2


@dataclass(frozen=True, eq=False)
class TrainBatch:
    """Everything one optimisation step needs. Metres, radians, crop size 96.

    Attributes:
        images: (S, T, 2, 96, 96) uint8 crops; slot 1 is unused (zeros) where num_views == 1. None
            when ``crop_features`` stands in for them.
        focal: (S, T, 2) crop focal lengths, px.
        extrinsics: (S, T, 2, 4, 4) crop world -> eye (right-hand mirror included), metres.
        num_views: (S, T) int64, 1 or 2.
        hand_index: (S,) int64, 0 left / 1 right.
        joint_angles: (S, T, 22) ground truth.
        T_world_from_wrist: (S, T, 4, 4) ground truth, the hand's own convention.
        hand_scale: (S,) scale of each hand relative to the base hand model.
        pinch: (S, T) float 0/1 ground-truth pinch labels.
        use_memory: (S, T) bool: the step continues the previous one's temporal memory (False at
            t = 0 and where the generator simulates a lost track, so the reset path is trained too).
        crop_features: (S, T, 2, 72, 6, 6) float16, the crops already through a frozen image encoder
            (``UmeTrackNet.encode_crops``; ``umetrack.train.feature_cache``), or None.
    """

    images: torch.Tensor | None
    focal: torch.Tensor
    extrinsics: torch.Tensor
    num_views: torch.Tensor
    hand_index: torch.Tensor
    joint_angles: torch.Tensor
    T_world_from_wrist: torch.Tensor
    hand_scale: torch.Tensor
    pinch: torch.Tensor
    use_memory: torch.Tensor
    crop_features: torch.Tensor | None = None

    def __post_init__(self):
        if (self.images is None) == (self.crop_features is None):
            raise ValueError("a TrainBatch holds either crop images or crop features, exactly one of them")

    @property
    def num_sequences(self) -> int:
        return int(self.num_views.shape[0])

    @property
    def sequence_length(self) -> int:
        return int(self.num_views.shape[1])

    @property
    def num_crops(self) -> int:
        return int(self.num_views.sum())

    def to(self, device: torch.device | str) -> "TrainBatch":
        return replace(self, **{name: value.to(device, non_blocking=True) for name, value in self.tensors().items()})

    def flat_crop_images(self) -> torch.Tensor:
        """The crops as the image encoder takes them: (S * T, 2, 96, 96) float in [0, 1], row s * T + t."""
        return self.images.reshape(-1, *self.images.shape[2:]).float() / 255.0

    def tensors(self) -> dict[str, torch.Tensor]:
        """The fields that are set, by name (what a feature-cache shard stores)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @staticmethod
    def from_numpy(arrays: dict[str, np.ndarray]) -> "TrainBatch":
        return TrainBatch(**{f.name: torch.from_numpy(np.asarray(arrays[f.name])) for f in fields(TrainBatch) if arrays.get(f.name) is not None})
