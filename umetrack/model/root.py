"""Wrist (root) transform from 7 predicted points: differentiable Kabsch/Procrustes.

The network does not regress a rotation directly; it predicts where 7 fixed reference points of the
left-hand wrist frame land in the reference crop camera, and the rigid transform is recovered by SVD.
The reference points are the released code's (network.md §7), not the paper's (1,1,0)/(1,0,1)/(0,1,1):
the last three point the other way and every point has norm 0.1 m.
"""

from __future__ import annotations

import math

import torch

_S = 0.1 / math.sqrt(2.0)
WRIST_REFERENCE_POINTS = (
    (0.0, 0.0, 0.0),
    (0.1, 0.0, 0.0),
    (0.0, 0.1, 0.0),
    (0.0, 0.0, 0.1),
    (-_S, -_S, 0.0),
    (-_S, 0.0, -_S),
    (0.0, -_S, -_S),
)
"""(7, 3) metres, in the left-hand wrist frame."""


def reference_points(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    return torch.tensor(WRIST_REFERENCE_POINTS, dtype=dtype, device=device)


def rigid_from_points(predicted: torch.Tensor) -> torch.Tensor:
    """Best rigid transform X with X p_i ~ q_i (Kabsch), from the reference points p to ``predicted`` q.

    Args:
        predicted: (..., 7, 3) metres.
    Returns:
        (..., 4, 4) proper rigid transform (det R = +1), wrist -> reference crop camera.
    """
    p = reference_points(predicted.dtype, predicted.device)
    p_mean = p.mean(-2)
    q_mean = predicted.mean(-2)
    H = (p - p_mean).transpose(-1, -2) @ (predicted - q_mean[..., None, :])  # (..., 3, 3)
    U, _, Vh = torch.linalg.svd(H)
    V = Vh.transpose(-1, -2)
    d = torch.sign(torch.linalg.det(V @ U.transpose(-1, -2)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    R = V @ D @ U.transpose(-1, -2)
    t = q_mean - (R @ p_mean[..., None])[..., 0]
    X = torch.zeros(*predicted.shape[:-2], 4, 4, dtype=predicted.dtype, device=predicted.device)
    X[..., :3, :3] = R
    X[..., :3, 3] = t
    X[..., 3, 3] = 1.0
    return X


def points_from_rigid(X: torch.Tensor) -> torch.Tensor:
    """The 7 reference points moved by X: (..., 4, 4) -> (..., 7, 3). The training target of the root head."""
    p = reference_points(X.dtype, X.device)
    return p @ X[..., :3, :3].transpose(-1, -2) + X[..., None, :3, 3]
