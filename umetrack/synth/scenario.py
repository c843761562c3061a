"""Synthetic recordings: rig + motion + exact ground truth, deterministic from a seed.

``generate_sequence`` draws a subject (hand scale 0.85..1.15, seated or standing), a pose library
for the scaled hand model, and the body, head and hand motion of ``motion.py``; it returns the
per-frame camera poses and hand ground truth. Pinch labels are derived from the actual
thumb-index tip distances with the hysteresis of ``umetrack.metrics.detect_pinch_frames``, so
they agree with the geometry exactly. Ground truth exists in every frame (confidence 1), also
when a hand is outside every camera; ``visible_landmark_counts`` says what the cameras see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from umetrack.camera.models import Camera, CameraModel
from umetrack.hand.fk import landmarks
from umetrack.hand.model import HandModel
from umetrack.hand.pose import HandPose
from umetrack.metrics import detect_pinch_frames, thumb_index_distance
from umetrack.synth.motion import (
    FPS,
    Subject,
    sample_body_in_world,
    sample_hand_motion,
    sample_head_in_body,
    sample_phases,
)
from umetrack.synth.poses import build_pose_library
from umetrack.synth.rig import HeadsetRig, headset_rig

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, eq=False)
class SyntheticSequence:
    """One synthetic recording. N frames at 30 fps, V views, hands 0 = left, 1 = right; metres.

    Attributes:
        timestamps_ns: (N,) int64, frame i at round(i * 1e9 / 30).
        rig: the headset (device cameras and crop rolls).
        T_world_from_device: (N, 4, 4) float64 headset poses.
        T_world_from_camera: (N, V, 4, 4) float64 camera -> world.
        hand_model: the subject's model: the input model scaled by ``hand_scale``.
        hand_scale: the uniform scale applied to the input model.
        joint_angles: (N, 2, 22) float64 radians, within the model's joint limits.
        T_world_from_wrist: (N, 2, 4, 4) float64, each hand in its own convention (proper rigid;
            FK negates column 0 for the right hand).
        elbow_positions: (N, 2, 3) float64 elbows of the arm model that placed the hands; the
            forearm runs from the wrist to here (for rendering forearms and clearance tests).
        confidence: (N, 2) float64 ground-truth confidence, all 1 (GT exists in every frame).
        pinch: (N, 2) bool, thumb-index pinch labels (hysteresis 1 cm enter / 2 cm exit).
    """

    timestamps_ns: np.ndarray
    rig: HeadsetRig
    T_world_from_device: torch.Tensor
    T_world_from_camera: torch.Tensor
    hand_model: HandModel
    hand_scale: float
    joint_angles: torch.Tensor
    T_world_from_wrist: torch.Tensor
    elbow_positions: torch.Tensor
    confidence: torch.Tensor
    pinch: torch.Tensor

    @property
    def num_frames(self) -> int:
        return int(self.timestamps_ns.shape[0])

    @property
    def num_views(self) -> int:
        return self.rig.num_views

    @property
    def camera_models(self) -> tuple[CameraModel, ...]:
        return self.rig.camera_models

    @property
    def camera_angles_deg(self) -> torch.Tensor:
        """(V,) float64 crop roll per view, degrees."""
        return torch.tensor(self.rig.camera_angles_deg, dtype=torch.float64)

    def landmarks(self) -> torch.Tensor:
        """(N, 2, 21, 3) float64 world landmarks of both hands (batched FK)."""
        return hand_landmarks(self.hand_model, self.joint_angles, self.T_world_from_wrist)

    def cameras(self, frame: int) -> tuple[Camera, ...]:
        """The V posed cameras of one frame."""
        return tuple(
            Camera(model, self.T_world_from_camera[frame, view], camera.label)
            for view, (model, camera) in enumerate(zip(self.camera_models, self.rig.cameras))
        )

    def hand_pose(self, frame: int, hand: int) -> HandPose:
        """Ground truth of one hand in one frame."""
        return HandPose(hand, self.joint_angles[frame, hand], self.T_world_from_wrist[frame, hand],
                        float(self.confidence[frame, hand]))  # fmt: skip


def hand_landmarks(model: HandModel, joint_angles: torch.Tensor, T_world_from_wrist: torch.Tensor) -> torch.Tensor:
    """Landmarks of (..., 2) hand pairs (left, right) in one batched FK call.

    Args:
        joint_angles: (..., 2, 22) radians. T_world_from_wrist: (..., 2, 4, 4) own convention.
    Returns:
        (..., 2, 21, 3) in the dtype of ``joint_angles``.
    """
    hand_index = torch.tensor([0, 1]).expand(joint_angles.shape[:-1])
    return landmarks(model.to(joint_angles.dtype), joint_angles, T_world_from_wrist.to(joint_angles.dtype), hand_index)


def visible_landmark_counts(
    points_world: torch.Tensor, camera_models: tuple[CameraModel, ...], T_world_from_camera: torch.Tensor
) -> torch.Tensor:
    """How many landmarks of each hand each camera sees (``Camera.visible``: valid projection,
    inside the image, in front of the camera), per frame. Occlusion is not considered.

    Args:
        points_world: (N, H, L, 3) points per frame and hand (e.g. ``SyntheticSequence.landmarks``).
        camera_models: (V,) models.
        T_world_from_camera: (N, V, 4, 4).
    Returns:
        (N, V, H) int64 counts.
    """
    counts = []
    for view, model in enumerate(camera_models):
        camera = Camera(model, T_world_from_camera[:, view, None])  # (N, 1, 4, 4) broadcasts over hands
        counts.append(camera.visible(points_world).sum(-1))
    return torch.stack(counts, dim=1)


def sequence_visibility(sequence: SyntheticSequence) -> torch.Tensor:
    """(N, V, 2) landmarks of each hand visible in each view of a sequence."""
    return visible_landmark_counts(sequence.landmarks(), sequence.camera_models, sequence.T_world_from_camera)


def generate_sequence(hand_model: HandModel, num_frames: int, seed: int, num_views: int = 4) -> SyntheticSequence:
    """A synthetic recording of ``num_frames`` frames at 30 fps, fully determined by ``seed``.

    Args:
        hand_model: the base (left) hand model, metres; it is scaled per recording.
        num_frames: >= 1.
        seed: any non-negative int; the same seed gives identical arrays.
        num_views: 1..4 cameras of the rig (the front stereo pair first).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    subject_rng, library_rng, phase_rng, hand_rng, head_rng, body_rng = streams
    subject = Subject.sample(subject_rng)
    model = hand_model.scaled(subject.hand_scale)
    library = build_pose_library(model, library_rng)

    times = np.arange(num_frames) / FPS
    phases = sample_phases(phase_rng, float(times[-1]) + 1.0)
    hands = sample_hand_motion(hand_rng, model, library, phases, times, subject.hand_scale)
    T_body_from_device = sample_head_in_body(head_rng, hands, times)
    T_world_from_body = sample_body_in_world(body_rng, subject, times)

    rig = headset_rig(num_views)
    T_world_from_device = torch.as_tensor(T_world_from_body @ T_body_from_device)
    T_world_from_camera = T_world_from_device[:, None] @ rig.T_device_from_camera[None]
    T_world_from_wrist = torch.as_tensor(T_world_from_body[:, None] @ hands.T_body_from_wrist)
    elbows = np.einsum("nij,nhj->nhi", T_world_from_body[:, :3, :3], hands.elbow_body) + T_world_from_body[:, None, :3, 3]
    joint_angles = torch.as_tensor(hands.joint_angles)

    points = hand_landmarks(model, joint_angles, T_world_from_wrist)
    pinch = detect_pinch_frames(thumb_index_distance(points).T).T  # hysteresis runs along time
    return SyntheticSequence(
        timestamps_ns=np.round(np.arange(num_frames) * (NS_PER_S / FPS)).astype(np.int64),
        rig=rig,
        T_world_from_device=T_world_from_device,
        T_world_from_camera=T_world_from_camera,
        hand_model=model,
        hand_scale=subject.hand_scale,
        joint_angles=joint_angles,
        T_world_from_wrist=T_world_from_wrist,
        elbow_positions=torch.as_tensor(elbows),
        confidence=torch.ones(num_frames, 2, dtype=torch.float64),
        pinch=torch.as_tensor(pinch),
    )
