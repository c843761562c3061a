"""Pure, batched rigid-body geometry in torch (differentiable).

Conventions used across the project:
* Transforms are named ``T_a_from_b``: a 4x4 matrix mapping points in frame b to frame a.
* Quaternions are (w, x, y, z), Hamilton, active rotation.
* Functions accept any leading batch shape ``...``.
"""

from __future__ import annotations

import torch

from umetrack.errors import InvalidPoseError

_SMALL_ANGLE = 1e-6


def skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrix.

    Args:
        v: (..., 3)
    Returns:
        (..., 3, 3) with skew(v) @ w == cross(v, w).
    """
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack(
        [
            torch.stack([zero, -z, y], -1),
            torch.stack([z, zero, -x], -1),
            torch.stack([-y, x, zero], -1),
        ],
        -2,
    )


def axis_angle_to_matrix(rotation_vector: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, R = I + sin(phi)/phi [r]x + (1 - cos(phi))/phi^2 [r]x^2.

    Exact identity at phi = 0 with finite gradients there (Taylor branch), unlike the
    HOT3D layer which returns NaN for an exactly-zero angle.

    Args:
        rotation_vector: (..., 3) axis * angle, radians.
    Returns:
        (..., 3, 3) rotation matrices.
    """
    phi_sq = (rotation_vector * rotation_vector).sum(-1)
    small = phi_sq < _SMALL_ANGLE**2
    safe_phi_sq = torch.where(small, torch.ones_like(phi_sq), phi_sq)
    safe_phi = safe_phi_sq.sqrt()
    a = torch.where(small, 1.0 - phi_sq / 6.0, torch.sin(safe_phi) / safe_phi)
    b = torch.where(small, 0.5 - phi_sq / 24.0, (1.0 - torch.cos(safe_phi)) / safe_phi_sq)
    k = skew(rotation_vector)
    eye = torch.eye(3, dtype=rotation_vector.dtype, device=rotation_vector.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def quaternion_wxyz_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrix of a (not necessarily unit) quaternion.

    Args:
        q: (..., 4) as (w, x, y, z).
    Returns:
        (..., 3, 3)
    """
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        [
            torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def matrix_to_quaternion_wxyz(rotation: torch.Tensor) -> torch.Tensor:
    """Unit quaternion (w >= 0) of a rotation matrix (Shepperd's method, branch per sample).

    Args:
        rotation: (..., 3, 3) proper rotation.
    Returns:
        (..., 4) as (w, x, y, z).
    """
    m = rotation
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    candidates = torch.stack(
        [
            torch.stack([1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1),
            torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1),
        ],
        -2,
    )  # (..., 4 candidates, 4); candidate i is 4*q_i*q, best conditioned when its i-th entry is largest
    diag = torch.stack([1 + trace, 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], 1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1)
    best = diag.argmax(-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = q / q.norm(dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def make_transform(rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """4x4 homogeneous transform from (..., 3, 3) rotation and (..., 3) translation."""
    batch = torch.broadcast_shapes(rotation.shape[:-2], translation.shape[:-1])
    out = torch.zeros(*batch, 4, 4, dtype=rotation.dtype, device=rotation.device)
    out[..., :3, :3] = rotation
    out[..., :3, 3] = translation
    out[..., 3, 3] = 1.0
    return out


def invert_rigid(T: torch.Tensor) -> torch.Tensor:
    """Inverse of a rigid (or mirrored-rigid, |det R| = 1) transform: [R^T | -R^T t].

    Args:
        T: (..., 4, 4)
    """
    rotation_t = T[..., :3, :3].transpose(-1, -2)
    return make_transform(rotation_t, -(rotation_t @ T[..., :3, 3:4])[..., 0])


def transform_points(T: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Apply a 4x4 (affine) transform to points.

    Args:
        T: (..., 4, 4) broadcastable against points' batch.
        points: (..., N, 3)
    Returns:
        (..., N, 3)
    """
    return points @ T[..., :3, :3].transpose(-1, -2) + T[..., None, :3, 3]


def rigidity_error(T: torch.Tensor) -> torch.Tensor:
    """How far a 4x4 is from a proper rigid transform: max |R^T R - I| + |det R - 1| + |last row - e4|.

    Args:
        T: (..., 4, 4)
    Returns:
        (...,) non-negative; NaN entries give NaN.
    """
    rotation = T[..., :3, :3]
    eye = torch.eye(3, dtype=T.dtype, device=T.device)
    ortho = (rotation.transpose(-1, -2) @ rotation - eye).abs().amax((-1, -2))
    det = (torch.linalg.det(rotation) - 1.0).abs()
    last = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=T.dtype, device=T.device)
    bottom = (T[..., 3, :] - last).abs().amax(-1)
    return ortho + det + bottom


def check_rigid(T: torch.Tensor, name: str, tolerance: float = 1e-3) -> None:
    """Raise InvalidPoseError naming ``name`` if any transform is non-finite or not rigid.

    Args:
        T: (..., 4, 4)
        name: what the transform is, used in the message ("wrist_transforms[12, 1]").
    """
    if T.shape[-2:] != (4, 4):
        raise InvalidPoseError(f"{name}: expected (..., 4, 4), got shape {tuple(T.shape)}")
    if not torch.isfinite(T).all():
        bad = torch.nonzero(~torch.isfinite(T).reshape(*T.shape[:-2], 16).all(-1))
        raise InvalidPoseError(f"{name}: non-finite values at batch index {bad[0].tolist()}")
    err = rigidity_error(T.double())
    if (err > tolerance).any():
        idx = torch.nonzero(err > tolerance)[0].tolist()
        raise InvalidPoseError(
            f"{name}: not a rigid transform at batch index {idx} "
            f"(orthonormality/determinant error {err.max().item():.3g} > {tolerance})"
        )
