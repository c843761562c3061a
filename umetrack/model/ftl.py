"""Feature transform layer (Worrall et al. 2017, Remelli et al. 2020) as UmeTrack uses it.

A feature map (N, C, H, W) with C divisible by 3 is read as C/3 * H * W 3-D points, channel-major:
channels [0, C/3) are X, [C/3, 2C/3) Y, [2C/3, C) Z, and point k pairs channel c with c + C/3 and
c + 2C/3 at the same pixel. A 4x4 affine transform (rotation may include scale or a reflection,
translation in metres) is applied to every point and the map reshaped back.
"""

from __future__ import annotations

import torch

CANONICAL_FOCAL_PX = 200.0
"""Focal length of the "scaled" space the backbone predicts in (released code)."""


def feature_transform(features: torch.Tensor, transform: torch.Tensor) -> torch.Tensor:
    """Apply x' = A x + t to the 3-D points encoded in a feature map.

    Args:
        features: (N, C, H, W), C divisible by 3.
        transform: (N, 4, 4) or (4, 4).
    Returns:
        (N, C, H, W) float32: geometry stays in full precision under mixed-precision autocast
        (bf16 keeps ~3 significant digits, too few for metric coordinates).
    """
    n, c, h, w = features.shape
    if c % 3:
        raise ValueError(f"feature channels must be divisible by 3, got {c}")
    with full_precision(features.device):
        points = features.float().reshape(n, 3, (c // 3) * h * w)
        transform = transform.float().expand(n, 4, 4)
        moved = transform[:, :3, :3] @ points + transform[:, :3, 3:4]
    return moved.reshape(n, c, h, w)


def full_precision(device: torch.device) -> torch.autocast:
    """A region where autocast is off: geometry (transforms, inverses, SVD) runs in float32."""
    return torch.autocast(device.type, enabled=False)


def focal_scale_transform(focal_px: torch.Tensor) -> torch.Tensor:
    """S = diag(1, 1, f / 200, 1): maps the backbone's canonical-focal space to the crop camera's metric space.

    Args:
        focal_px: (N,) crop focal lengths (K[0, 0]).
    Returns:
        (N, 4, 4)
    """
    S = torch.zeros(*focal_px.shape, 4, 4, dtype=focal_px.dtype, device=focal_px.device)
    S[..., 0, 0] = 1.0
    S[..., 1, 1] = 1.0
    S[..., 2, 2] = focal_px / CANONICAL_FOCAL_PX
    S[..., 3, 3] = 1.0
    return S
