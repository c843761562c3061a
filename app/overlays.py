"""Drawing hand skeletons over camera images, shared by the player's views and the live views."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch

from umetrack.hand.model import SKELETON_BONES

_BONES = np.asarray(SKELETON_BONES)


def pixels_in_view(camera, points: torch.Tensor) -> np.ndarray:
    """(P, 2) pixels of (P, 3) world points, NaN where a point is not visible in the image (behind
    the camera, beyond the lens, or outside the frame)."""
    with torch.no_grad():
        # ``camera.visible`` in one projection instead of two (the projection is what costs).
        eye = camera.world_to_eye(points)
        pixels, valid = camera.model.project(eye)
        visible = valid & camera.model.in_image(pixels) & (eye[..., 2] > 0)
    pixels = pixels.numpy().copy()
    pixels[~visible.numpy()] = np.nan
    return pixels


def draw_skeleton(curve: pg.PlotCurveItem, pixels: np.ndarray | None) -> None:
    """Bones of (21, 2) landmark pixels whose two ends are both visible; nothing for None."""
    if pixels is None:
        curve.setData([], [])
        return
    segments = pixels[_BONES].reshape(-1, 2)
    keep = np.isfinite(segments).all(1).reshape(-1, 2).all(1).repeat(2)
    curve.setData(segments[keep, 0], segments[keep, 1])
