"""Forward kinematics and linear blend skinning of the UmeTrack hand model (batched, differentiable).

Follows the released code: each DOF rotates about its axis through its rest pivot,
``L_j = [[R_j, p_j - R_j p_j], [0, 0, 0, 1]]``, five chains of four DOFs hang off the wrist
transform W, and only angles 0..19 are read (DOFs 20/21 never move anything).

Shapes: ``...`` is any batch, e.g. (frames, hands). Lengths are in the model's unit (metres for
models loaded through ``umetrack.hand.io``); the wrist translation must use the same unit.
"""

from __future__ import annotations

import torch

from umetrack.errors import InvalidPoseError
from umetrack.geometry import axis_angle_to_matrix, check_rigid
from umetrack.hand.model import NUM_FINGER_JOINTS, NUM_JOINTS, NUM_SKINNING_FRAMES, RIGHT, HandModel


def left_hand_wrist(T_world_from_wrist: torch.Tensor, hand_index: int | torch.Tensor) -> torch.Tensor:
    """Wrist transform to use with the (left) model: column 0 negated for right hands.

    Args:
        T_world_from_wrist: (..., 4, 4) hand-local -> world, in the hand's own convention.
        hand_index: 0 left, 1 right; an int or a (...,) tensor broadcastable to the batch.
    Returns:
        (..., 4, 4); the translation is never touched.
    """
    if isinstance(hand_index, int):
        if hand_index != RIGHT:
            return T_world_from_wrist
        sign = torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=T_world_from_wrist.dtype, device=T_world_from_wrist.device)
        return T_world_from_wrist * sign
    is_right = torch.as_tensor(hand_index, device=T_world_from_wrist.device) == RIGHT
    first = torch.where(is_right[..., None], -T_world_from_wrist[..., :, 0], T_world_from_wrist[..., :, 0])
    return torch.cat([first[..., None], T_world_from_wrist[..., :, 1:]], dim=-1)


def _finger_angles(joint_angles: torch.Tensor) -> torch.Tensor:
    if joint_angles.shape[-1] not in (NUM_FINGER_JOINTS, NUM_JOINTS):
        raise InvalidPoseError(
            f"joint angles: expected last dimension 20 or 22, got shape {tuple(joint_angles.shape)}"
        )
    return joint_angles[..., :NUM_FINGER_JOINTS]


def _scaled(value: torch.Tensor, scale: torch.Tensor | float | None) -> torch.Tensor:
    if scale is None:
        return value
    scale = torch.as_tensor(scale, dtype=value.dtype, device=value.device)
    return value * scale[..., None, None]


def skinning_frames(
    model: HandModel,
    joint_angles: torch.Tensor,
    T_world_from_wrist: torch.Tensor,
    scale: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """The 17 skinning frames (rest hand-local -> world) of a posed hand.

    Args:
        model: left-hand model; its axes/pivots may carry batch dims (per-sample skeletons).
        joint_angles: (..., 22) or (..., 20) radians.
        T_world_from_wrist: (..., 4, 4), already in left-hand convention (see ``left_hand_wrist``).
        scale: optional (...,) or scalar hand scale applied to the rest pivots (differentiable).
    Returns:
        (..., 17, 4, 4): frames 0 and 1 = W; frames 2+3f, 3+3f, 4+3f for finger f (thumb..pinky).
    """
    angles = _finger_angles(joint_angles)
    axes = model.joint_rotation_axes[..., :NUM_FINGER_JOINTS, :].to(angles.dtype)
    pivots = _scaled(model.joint_rest_positions[..., :NUM_FINGER_JOINTS, :].to(angles.dtype), scale)
    rotations = axis_angle_to_matrix(axes * angles[..., None])  # (..., 20, 3, 3)
    offsets = pivots - (rotations @ pivots[..., None])[..., 0]  # (..., 20, 3)
    batch = torch.broadcast_shapes(rotations.shape[:-3], offsets.shape[:-2], T_world_from_wrist.shape[:-2])
    local = torch.zeros(*batch, NUM_FINGER_JOINTS, 4, 4, dtype=angles.dtype, device=angles.device)
    local[..., :3, :3] = rotations
    local[..., :3, 3] = offsets
    local[..., 3, 3] = 1.0
    local = local.reshape(*batch, 5, 4, 4, 4)  # (..., finger, dof-in-finger, 4, 4)

    wrist = T_world_from_wrist.to(angles.dtype).expand(*batch, 4, 4)
    chain = wrist[..., None, :, :].expand(*batch, 5, 4, 4)
    finger_frames = []
    for k in range(4):
        chain = chain @ local[..., k, :, :]
        if k >= 1:
            finger_frames.append(chain)
    fingers = torch.stack(finger_frames, dim=-3).reshape(*batch, 15, 4, 4)
    return torch.cat([wrist[..., None, :, :], wrist[..., None, :, :], fingers], dim=-3)


def skin_points(frames: torch.Tensor, rest_points: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Linear blend skinning: x = sum_f w_f (F_f [x_rest; 1]).

    Args:
        frames: (..., 17, 4, 4) from ``skinning_frames``.
        rest_points: (..., P, 3) or (P, 3) rest-pose points.
        weights: (P, 17), rows summing to 1.
    Returns:
        (..., P, 3)
    """
    if weights.shape[-1] != NUM_SKINNING_FRAMES or weights.shape[-2] != rest_points.shape[-2]:
        raise ValueError(f"weights {tuple(weights.shape)} do not match points {tuple(rest_points.shape)}")
    # One GEMM, (P, 17) @ (17, batch*12), blends the 3x4 frames per point for the whole batch
    # (einsum and broadcast matmul both fall back to many tiny products: 20-50x slower here).
    batch = frames.shape[:-3]
    flat = frames[..., :3, :].reshape(-1, NUM_SKINNING_FRAMES, 12).permute(1, 0, 2).reshape(NUM_SKINNING_FRAMES, -1)
    blended = (weights.to(frames.dtype) @ flat).reshape(-1, flat.shape[1] // 12, 3, 4).permute(1, 0, 2, 3)
    blended = blended.reshape(*batch, -1, 3, 4)  # (..., P, 3, 4)
    rest = rest_points.to(frames.dtype)
    return (blended[..., :3] @ rest[..., None])[..., 0] + blended[..., 3]


def landmarks(
    model: HandModel,
    joint_angles: torch.Tensor,
    T_world_from_wrist: torch.Tensor,
    hand_index: int | torch.Tensor = 0,
    scale: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """The 21 posed landmarks.

    Args:
        joint_angles: (..., 22|20) radians.
        T_world_from_wrist: (..., 4, 4) in the hand's own convention (right hands as stored).
        hand_index: 0 left, 1 right (int or (...,) tensor).
        scale: optional (...,) hand scale.
    Returns:
        (..., 21, 3) world frame, model units.
    """
    frames = skinning_frames(model, joint_angles, left_hand_wrist(T_world_from_wrist, hand_index), scale)
    rest = _scaled(model.landmark_rest_positions, scale)
    return skin_points(frames, rest, model.landmark_weights)


def mesh_vertices(
    model: HandModel,
    joint_angles: torch.Tensor,
    T_world_from_wrist: torch.Tensor,
    hand_index: int | torch.Tensor = 0,
    scale: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Skinned mesh vertices, (..., V, 3). Use ``mesh_triangles(model, hand_index)`` for faces."""
    frames = skinning_frames(model, joint_angles, left_hand_wrist(T_world_from_wrist, hand_index), scale)
    rest = _scaled(model.mesh_vertices, scale)
    return skin_points(frames, rest, model.dense_bone_weights)


def mesh_triangles(model: HandModel, hand_index: int) -> torch.Tensor:
    """(F, 3) faces with outward winding for the given hand (reversed for right hands)."""
    return model.mesh_triangles.flip(-1) if hand_index == RIGHT else model.mesh_triangles


def validate_pose(joint_angles: torch.Tensor, T_world_from_wrist: torch.Tensor, name: str = "hand pose") -> None:
    """Raise InvalidPoseError (naming ``name``) for NaN/inf angles, a wrong angle count, or a non-rigid wrist."""
    _finger_angles(joint_angles)
    if not torch.isfinite(joint_angles).all():
        raise InvalidPoseError(f"{name}: joint angles contain NaN or inf")
    check_rigid(T_world_from_wrist, f"{name}: wrist transform")
