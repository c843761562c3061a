"""The hand detector network: a tiny CNN on one downscaled grey view, per hand side a heatmap of the
hand centre, a presence logit and a depth estimate.

Input: the view resized to ``INPUT_WIDTH`` x ``INPUT_HEIGHT`` (160x120, area averaging), grey /255.
Output per side (0 left, 1 right), on an ``HEATMAP_WIDTH`` x ``HEATMAP_HEIGHT`` grid (80x60, stride 2
in the input, 8 px in a 640x480 view):

* ``heatmap_logits``: log of an unnormalised spatial distribution of the hand centre (the mean of
  its 21 landmarks) in the view; trained with a spatial softmax against a Gaussian target, so the
  log-heatmap near the peak is a quadratic and ``decode_peak`` finds the sub-cell maximum exactly;
* ``presence_logit``: is the hand's centre in the view with enough of the hand visible;
* ``log_depth_map``: log of the centre's distance from the camera (metres), read at the peak (the
  single-view bootstrap needs a depth along the ray).

Coordinates (pixel-centre convention of ``umetrack.camera``): heatmap cell (i, j) covers the view's
pixels whose centres map to it, so a view of width W has u = (j + 0.5) W / HEATMAP_WIDTH - 0.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

INPUT_WIDTH, INPUT_HEIGHT = 160, 120
HEATMAP_STRIDE = 2
HEATMAP_WIDTH, HEATMAP_HEIGHT = INPUT_WIDTH // HEATMAP_STRIDE, INPUT_HEIGHT // HEATMAP_STRIDE
NUM_SIDES = 2
TARGET_SIGMA_CELLS = 1.5
"""Standard deviation of the Gaussian heatmap target, heatmap cells (12 px in a 640x480 view)."""
_LOG_FLOOR = -60.0
"""Log-heatmap value standing for "zero" in targets and guarded fits (exp(-60) ~ 1e-26)."""


def _conv(inputs: int, outputs: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    )


@dataclass(frozen=True)
class DetectorOutput:
    """Network output for a batch of B views (tensors, float32).

    Attributes:
        heatmap_logits: (B, 2, 60, 80) log-heatmap per side (any additive constant).
        presence_logit: (B, 2).
        log_depth: (B, 2, 60, 80) log metres.
    """

    heatmap_logits: torch.Tensor
    presence_logit: torch.Tensor
    log_depth: torch.Tensor


class HandDetectorNet(nn.Module):
    """Encoder to 1/8 of the input (15x20) with a dilated context block, and a light decoder back to
    1/2 (1x1 projections, bilinear upsampling, additive skips, one 3x3 conv per level: the half
    resolution is where the compute goes); ~0.07 M parameters (~0.3 MB in float32)."""

    def __init__(self, width: int = 16):
        super().__init__()
        w = width
        self.stem = _conv(1, w, 2)  # 1/2
        self.down1 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))  # 1/4
        self.down2 = nn.Sequential(_conv(2 * w, 3 * w, 2), _conv(3 * w, 3 * w, dilation=2), _conv(3 * w, 3 * w, dilation=4))  # 1/8
        self.project1 = nn.Conv2d(3 * w, 2 * w, 1)
        self.up1 = _conv(2 * w, 2 * w)
        self.project2 = nn.Conv2d(2 * w, w, 1)
        self.up2 = _conv(w, w)
        self.heads = nn.Conv2d(w, 2 * NUM_SIDES, 1)  # heatmap logits and log depth per side
        self.presence = nn.Linear(2 * 3 * w, NUM_SIDES)

    def forward(self, images: torch.Tensor) -> DetectorOutput:
        """images: (B, 1, 120, 160) grey in 0..1."""
        half = self.stem(images - 0.5)
        quarter = self.down1(half)
        eighth = self.down2(quarter)
        pooled = torch.cat([eighth.mean((2, 3)), eighth.amax((2, 3))], 1)
        up = F.interpolate(self.project1(eighth), size=quarter.shape[-2:], mode="bilinear", align_corners=False)
        up = self.up1(up + quarter)
        up = F.interpolate(self.project2(up), size=half.shape[-2:], mode="bilinear", align_corners=False)
        maps = self.heads(self.up2(up + half))
        return DetectorOutput(maps[:, :NUM_SIDES], self.presence(pooled), maps[:, NUM_SIDES:])


def preprocess(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 view -> (120, 160) uint8, area averaged (any input size; aspect not preserved)."""
    if image.shape == (INPUT_HEIGHT, INPUT_WIDTH):
        return np.ascontiguousarray(image)
    return cv2.resize(image, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_AREA)


def image_to_heatmap(pixels: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """View pixels -> heatmap cells (continuous, cell centres at integers).

    Args:
        pixels: (..., 2) u, v in the view. image_size: (width, height) of the view.
    Returns:
        (..., 2) j, i (x, y) in heatmap cells.
    """
    scale = np.array([HEATMAP_WIDTH / image_size[0], HEATMAP_HEIGHT / image_size[1]])
    return (np.asarray(pixels, dtype=np.float64) + 0.5) * scale - 0.5


def heatmap_to_image(cells: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Inverse of ``image_to_heatmap``: (..., 2) heatmap x, y -> (..., 2) view u, v."""
    scale = np.array([image_size[0] / HEATMAP_WIDTH, image_size[1] / HEATMAP_HEIGHT])
    return (np.asarray(cells, dtype=np.float64) + 0.5) * scale - 0.5


def heatmap_target(centre: np.ndarray, sigma: float = TARGET_SIGMA_CELLS) -> np.ndarray:
    """Log of a Gaussian centred at ``centre`` on the heatmap grid (unnormalised, peak value 0 at the centre).

    Args:
        centre: (2,) x, y in heatmap cells (may lie outside the grid).
    Returns:
        (60, 80) float64 log-heatmap, -(d^2) / (2 sigma^2).
    """
    xs = np.arange(HEATMAP_WIDTH, dtype=np.float64)
    ys = np.arange(HEATMAP_HEIGHT, dtype=np.float64)
    d2 = (xs[None, :] - centre[0]) ** 2 + (ys[:, None] - centre[1]) ** 2
    return -d2 / (2.0 * sigma * sigma)


def decode_peak(log_heatmap: np.ndarray) -> np.ndarray:
    """Sub-cell maximum of a log-heatmap: the arg-max cell refined, along x and along y, by the
    vertex of the parabola through it and its two neighbours (the two inner ones at the border),
    kept within half a cell of it. Exact for a Gaussian heatmap, whose log is a quadratic.

    Args:
        log_heatmap: (..., 60, 80) log values (any additive constant).
    Returns:
        (..., 2) x, y in heatmap cells.
    """
    values = np.maximum(np.asarray(log_heatmap, dtype=np.float64), _LOG_FLOOR)
    height, width = values.shape[-2:]
    flat = values.reshape(-1, height, width)
    peaks = np.empty((flat.shape[0], 2))
    for k, grid in enumerate(flat):
        i, j = np.unravel_index(int(np.argmax(grid)), grid.shape)
        peaks[k] = _parabola_vertex(grid[i, :], j), _parabola_vertex(grid[:, j], i)
    return peaks.reshape(*values.shape[:-2], 2)


def _parabola_vertex(line: np.ndarray, peak: int) -> float:
    """Vertex of the parabola through three samples of ``line`` around index ``peak``, within +-0.5 of it."""
    if len(line) < 3:
        return float(peak)
    start = min(max(peak - 1, 0), len(line) - 3)
    left, centre, right = line[start : start + 3]
    curvature = left - 2.0 * centre + right
    if not curvature < 0.0:
        return float(peak)
    vertex = start + 1 + 0.5 * (left - right) / curvature
    return float(np.clip(vertex, peak - 0.5, peak + 0.5))


def gather_at(maps: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Bilinear sample of (..., 60, 80) maps at (..., 2) heatmap x, y (clamped to the grid) -> (...,)."""
    maps = np.asarray(maps, dtype=np.float64)
    height, width = maps.shape[-2:]
    flat_maps = maps.reshape(-1, height, width)
    flat_cells = np.asarray(cells, dtype=np.float64).reshape(-1, 2)
    out = np.empty(flat_maps.shape[0])
    for k, (grid, (x, y)) in enumerate(zip(flat_maps, flat_cells)):
        x, y = float(np.clip(x, 0, width - 1)), float(np.clip(y, 0, height - 1))
        j0, i0 = min(int(math.floor(x)), width - 2), min(int(math.floor(y)), height - 2)
        fx, fy = x - j0, y - i0
        top = grid[i0, j0] * (1 - fx) + grid[i0, j0 + 1] * fx
        bottom = grid[i0 + 1, j0] * (1 - fx) + grid[i0 + 1, j0 + 1] * fx
        out[k] = top * (1 - fy) + bottom * fy
    return out.reshape(maps.shape[:-2])
