"""The UmeTrack hand model: a left-hand skeleton with 22 DOFs, 21 landmarks, 17 skinning frames.

All lengths are metres (files store millimetres; ``umetrack.hand.io`` converts once at load).
Right hands are posed with this left model by negating column 0 of the wrist transform
(see ``umetrack.hand.fk.left_hand_wrist``), exactly as the released code and HOT3D do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

NUM_JOINTS = 22
"""Joint-angle vector length (20 finger DOFs + 2 wrist DOFs that FK ignores)."""
NUM_FINGER_JOINTS = 20
NUM_LANDMARKS = 21
NUM_SKINNING_FRAMES = 17
NO_INDEX = 255
"""Sentinel used by the JSON for "no parent / no frame"."""

LEFT, RIGHT = 0, 1
HAND_NAMES = ("left", "right")

LANDMARK_NAMES = (
    "thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip",
    "wrist",
    "thumb_intermediate", "thumb_distal",
    "index_proximal", "index_intermediate", "index_distal",
    "middle_proximal", "middle_intermediate", "middle_distal",
    "ring_proximal", "ring_intermediate", "ring_distal",
    "pinky_proximal", "pinky_intermediate", "pinky_distal",
    "palm_center",
)  # fmt: skip
THUMB_TIP, INDEX_TIP = 0, 1
WRIST_LANDMARK = 5
PALM_CENTER = 20

JOINT_NAMES = (
    "thumb_cmc_1", "thumb_cmc_2", "thumb_mcp", "thumb_ip",
    "index_mcp_abduction", "index_mcp_flexion", "index_pip", "index_dip",
    "middle_mcp_abduction", "middle_mcp_flexion", "middle_pip", "middle_dip",
    "ring_mcp_abduction", "ring_mcp_flexion", "ring_pip", "ring_dip",
    "pinky_mcp_abduction", "pinky_mcp_flexion", "pinky_pip", "pinky_dip",
    "wrist_1", "wrist_2",
)  # fmt: skip

# Bones for drawing a skeleton: (parent landmark, child landmark).
SKELETON_BONES = (
    (5, 6), (6, 7), (7, 0),
    (5, 8), (8, 9), (9, 10), (10, 1),
    (5, 11), (11, 12), (12, 13), (13, 2),
    (5, 14), (14, 15), (15, 16), (16, 3),
    (5, 17), (17, 18), (18, 19), (19, 4),
    (8, 11), (11, 14), (14, 17),
)  # fmt: skip


def skinning_frame_of_joint() -> tuple[int, ...]:
    """The canonical ``joint_frame_index``: DOF 4f -> none, 4f+1..4f+3 -> 2+3f..4+3f; 20 -> none, 21 -> 0."""
    out = []
    for finger in range(5):
        out += [NO_INDEX, 2 + 3 * finger, 3 + 3 * finger, 4 + 3 * finger]
    return tuple(out + [NO_INDEX, 0])


@dataclass(frozen=True, eq=False)
class HandModel:
    """A left-hand UmeTrack model, metres. Tensors share dtype/device.

    Attributes:
        joint_rotation_axes: (22, 3) unit axis per DOF, hand-local frame.
        joint_rest_positions: (22, 3) pivot per DOF, metres.
        joint_frame_index: (22,) int64, skinning frame produced by each DOF (255 = none).
        joint_parent, joint_first_child, joint_next_sibling: (22,) int64 topology (informational;
            FK hard-codes five chains of four DOFs like the released code).
        landmark_rest_positions: (21, 3) metres.
        landmark_rest_bone_weights: (21, 3) up to three weights per landmark.
        landmark_rest_bone_indices: (21, 3) int64 skinning frame per weight.
        hand_scale: scalar stored in the file (1.0 everywhere; scaling does not update it).
        mesh_vertices: (V, 3) metres, rest pose.
        mesh_triangles: (F, 3) int64, winding for the LEFT hand.
        dense_bone_weights: (V, 17) per-vertex skinning weights, rows sum to 1.
        joint_limits: (22, 2) [min, max] radians.
    """

    joint_rotation_axes: torch.Tensor
    joint_rest_positions: torch.Tensor
    joint_frame_index: torch.Tensor
    joint_parent: torch.Tensor
    joint_first_child: torch.Tensor
    joint_next_sibling: torch.Tensor
    landmark_rest_positions: torch.Tensor
    landmark_rest_bone_weights: torch.Tensor
    landmark_rest_bone_indices: torch.Tensor
    hand_scale: float
    mesh_vertices: torch.Tensor
    mesh_triangles: torch.Tensor
    dense_bone_weights: torch.Tensor
    joint_limits: torch.Tensor

    @property
    def num_vertices(self) -> int:
        return int(self.mesh_vertices.shape[0])

    @property
    def dtype(self) -> torch.dtype:
        return self.joint_rest_positions.dtype

    @property
    def landmark_weights(self) -> torch.Tensor:
        """(21, 17) dense landmark skinning weights, built by *placing* each non-zero weight
        at its frame column (zero-weight padding that repeats an index is ignored)."""
        dense = torch.zeros(
            NUM_LANDMARKS, NUM_SKINNING_FRAMES, dtype=self.dtype, device=self.joint_rest_positions.device
        )
        weights = self.landmark_rest_bone_weights.to(self.dtype)
        nonzero = weights != 0
        rows = torch.arange(NUM_LANDMARKS, device=dense.device)[:, None].expand_as(weights)
        dense[rows[nonzero], self.landmark_rest_bone_indices[nonzero]] = weights[nonzero]
        return dense

    @property
    def neutral_angles(self) -> torch.Tensor:
        """(22,) mid-range pose, 0.5 * (min + max) of the joint limits (used for crop points)."""
        return 0.5 * (self.joint_limits[:, 0] + self.joint_limits[:, 1])

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> "HandModel":
        """Copy with float tensors cast to ``dtype`` and everything moved to ``device``."""
        changes = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                target_dtype = dtype if (dtype is not None and value.is_floating_point()) else value.dtype
                changes[f.name] = value.to(device=device, dtype=target_dtype)
        return replace(self, **changes)

    def scaled(self, scale: float | torch.Tensor) -> "HandModel":
        """Uniformly scaled copy: rest positions, landmarks and mesh times ``scale``.

        Axes, weights and limits are unchanged; like the released helper, ``hand_scale`` is not
        updated (it records the file's value, not the applied factor).
        """
        return replace(
            self,
            joint_rest_positions=self.joint_rest_positions * scale,
            landmark_rest_positions=self.landmark_rest_positions * scale,
            mesh_vertices=self.mesh_vertices * scale,
        )

    def mirrored(self) -> "HandModel":
        """The right-hand (x -> -x mirrored) version of this model, used with unmodified wrist transforms.

        Equivalent to posing this left model with column 0 of the wrist negated, because
        M R(a, t) M = R(-M a, t) with M = diag(-1, 1, 1). Unlike the released helper (which
        forgets the mesh), mesh vertices are mirrored too, and triangle winding is reversed so
        normals still point outwards.
        """
        flip = torch.tensor([-1.0, 1.0, 1.0], dtype=self.dtype, device=self.joint_rest_positions.device)
        return replace(
            self,
            joint_rotation_axes=self.joint_rotation_axes * -flip,
            joint_rest_positions=self.joint_rest_positions * flip,
            landmark_rest_positions=self.landmark_rest_positions * flip,
            mesh_vertices=self.mesh_vertices * flip,
            mesh_triangles=self.mesh_triangles.flip(-1),
        )

    def skeleton_features(self) -> torch.Tensor:
        """(132,) the network's skeleton input: per joint [axis xyz, rest position xyz (m)], joints 0..21."""
        return torch.cat([self.joint_rotation_axes, self.joint_rest_positions], dim=-1).reshape(-1)
