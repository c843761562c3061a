"""Drawing helpers shared by panels: hand skeletons over camera images (the player's views and the
live views), and time-series curves drawn from a cache."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6 import QtWidgets

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


def cached_curve(item: pg.PlotDataItem) -> pg.PlotDataItem:
    """``item`` with its curve drawn from a pixmap cache that only a data change or a zoom redraws.
    A time-series plot repaints under the moving playhead cursor on every frame of playback, and
    redrawing a whole recording's curve each time cost ~2.5 ms a frame over the app's plots."""
    item.curve.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return item
