"""Perspective crops: a virtual pinhole camera per hand and view, and the image warp into it.

Follows the released UmeTrack code (``lib/common/crop.py``, ``lib/tracker/perspective_crop.py``):

* the crop camera sits at the source camera's centre and looks at the centre of the bounding box
  of the crop points (minimal rotation from the source optical axis, so roll is inherited from the
  physical camera), then rolls by the view's ``camera_angle`` (degrees);
* for right hands the world->eye transform is mirrored, x -> -x, so the network always sees a left
  hand; the crop camera->world is then a reflection (det -1) and is kept as a general 4x4;
* the focal length makes the farthest crop point land at 95 % of the half-size
  (``hand_ratio_in_crop``), the principal point is the image centre ((S-1)/2 with pixel centres at
  integers).

Unlike the paper's prose, the official tracker crops from 63 points: the pose itself, the neutral
pose (mid joint limits) and the open hand, all under the same wrist, which keeps the crop size
stable when the hand closes. ``crop_points`` does the same.

Lengths are metres. The official code works in mm and rejects points with z < 1e-4 mm; we reject
z < 1e-4 m (0.1 mm), which is the same failure (a point at or behind the camera) in our unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch

from umetrack.camera import Camera
from umetrack.errors import CropError
from umetrack.geometry import invert_rigid, make_transform, transform_points
from umetrack.hand.fk import landmarks
from umetrack.hand.model import RIGHT, HandModel

CROP_SIZE = 96
HAND_RATIO_IN_CROP = 0.95
MIN_DEPTH_M = 1e-4
MIN_FOCAL_PX = 5.0
_MIRROR_X = (-1.0, 1.0, 1.0, 1.0)


@dataclass(frozen=True, eq=False)
class CropCamera:
    """A square pinhole crop camera (no distortion). Tensors may carry a batch shape ``...``.

    Attributes:
        T_crop_from_world: (..., 4, 4) world -> crop eye, metres; includes the x-mirror for right hands.
        focal: (...,) focal length in pixels (fx = fy).
        size: output width = height in pixels.
        hand_index: 0 left, 1 right (right crops are mirrored).
    """

    T_crop_from_world: torch.Tensor
    focal: torch.Tensor
    size: int = CROP_SIZE
    hand_index: int = 0

    @property
    def principal_point(self) -> float:
        return (self.size - 1) / 2.0

    @property
    def K(self) -> torch.Tensor:
        """(..., 3, 3) intrinsics."""
        f = self.focal
        K = torch.zeros(*f.shape, 3, 3, dtype=f.dtype, device=f.device)
        K[..., 0, 0] = f
        K[..., 1, 1] = f
        K[..., 0, 2] = self.principal_point
        K[..., 1, 2] = self.principal_point
        K[..., 2, 2] = 1.0
        return K

    @property
    def T_world_from_crop(self) -> torch.Tensor:
        """(..., 4, 4) crop eye -> world. A reflection for right hands (kept general, not re-orthonormalised)."""
        return torch.linalg.inv(self.T_crop_from_world)

    def project(self, points_world: torch.Tensor) -> torch.Tensor:
        """World points (..., N, 3) -> crop pixels (..., N, 2); no validity check (see ``depth``)."""
        eye = transform_points(self.T_crop_from_world, points_world)
        return eye[..., :2] / eye[..., 2:3] * self.focal[..., None, None] + self.principal_point

    def unproject(self, pixels: torch.Tensor) -> torch.Tensor:
        """Crop pixels (..., N, 2) -> unit rays (..., N, 3) in the crop eye frame."""
        xy = (pixels - self.principal_point) / self.focal[..., None, None]
        rays = torch.cat([xy, torch.ones_like(xy[..., :1])], dim=-1)
        return rays / rays.norm(dim=-1, keepdim=True)


def crop_points(
    model: HandModel,
    joint_angles: torch.Tensor,
    T_world_from_wrist: torch.Tensor,
    hand_index: int | torch.Tensor,
    num_points: int = 63,
) -> torch.Tensor:
    """The points a crop must contain: landmarks of the pose, the neutral pose and the open hand.

    Args:
        joint_angles: (..., 22) radians. T_world_from_wrist: (..., 4, 4) in the hand's own convention.
        hand_index: 0 left, 1 right; an int or a (...,) tensor (both hands in one call).
        num_points: 21, 42 or 63 (the official tracker uses 63).
    Returns:
        (..., num_points, 3) world, metres.
    """
    if num_points not in (21, 42, 63):
        raise ValueError(f"num_points must be 21, 42 or 63, got {num_points}")
    angles = joint_angles[..., :20]
    neutral = model.neutral_angles[:20].to(angles).expand_as(angles)
    poses = torch.stack([angles, neutral, torch.zeros_like(angles)], dim=-2)[..., : num_points // 21, :]
    if isinstance(hand_index, torch.Tensor):
        hand_index = hand_index[..., None]  # against the (..., 3 poses) batch
    points = landmarks(model, poses, T_world_from_wrist[..., None, :, :], hand_index)
    return points.flatten(-3, -2)


def _rotation_z(angle_deg: torch.Tensor) -> torch.Tensor:
    a = torch.deg2rad(angle_deg)
    c, s = torch.cos(a), torch.sin(a)
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    return torch.stack(
        [torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1), torch.stack([zero, zero, one], -1)], -2
    )


def _minimal_rotation_from_z(direction: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation taking (0, 0, 1) to the unit ``direction`` (..., 3) (Rodrigues, as released)."""
    z = torch.zeros_like(direction)
    z[..., 2] = 1.0
    v = torch.cross(z, direction, dim=-1)
    c = (z * direction).sum(-1)
    vx = torch.zeros(*v.shape[:-1], 3, 3, dtype=v.dtype, device=v.device)
    vx[..., 0, 1], vx[..., 0, 2] = -v[..., 2], v[..., 1]
    vx[..., 1, 0], vx[..., 1, 2] = v[..., 2], -v[..., 0]
    vx[..., 2, 0], vx[..., 2, 1] = -v[..., 1], v[..., 0]
    v_sq = (v * v).sum(-1).clamp_min(1e-15)
    eye = torch.eye(3, dtype=v.dtype, device=v.device)
    return eye + vx + (vx @ vx) * ((1.0 - c) / v_sq)[..., None, None]


def make_crop_camera(
    T_world_from_source: torch.Tensor,
    points_world: torch.Tensor,
    hand_index: int,
    camera_angle_deg: float | torch.Tensor = 0.0,
    size: int = CROP_SIZE,
    hand_ratio: float = HAND_RATIO_IN_CROP,
) -> CropCamera:
    """Build the virtual crop camera of one hand in one source camera (perspective_crop.md §2-3).

    Args:
        T_world_from_source: (..., 4, 4) source camera -> world, metres.
        points_world: (..., P, 3) crop points (see ``crop_points``).
        hand_index: 0 left, 1 right (right crops are mirrored in x).
        camera_angle_deg: extra in-plane roll of this view, degrees (UmeTrack's ``camera_angles``).
    Raises:
        CropError: a crop point lies at or behind the crop camera, or the focal length would fall
            below 5 px (hand too close / too wide for a pinhole crop).
    """
    T_crop_from_world, focal, min_depth = _crop_geometry(
        T_world_from_source, points_world, hand_index == RIGHT, camera_angle_deg, size, hand_ratio
    )
    if (min_depth < MIN_DEPTH_M).any():
        raise CropError(f"a crop point lies at or behind the camera (depth {min_depth.min().item():.4g} m)")
    if (focal < MIN_FOCAL_PX).any():
        raise CropError(f"crop focal length {focal.min().item():.3g} px < {MIN_FOCAL_PX} px (hand spans too wide a view)")
    return CropCamera(T_crop_from_world=T_crop_from_world, focal=focal, size=size, hand_index=hand_index)


def make_crop_cameras(
    T_world_from_source: torch.Tensor,
    points_world: torch.Tensor,
    hand_index: torch.Tensor,
    camera_angle_deg: torch.Tensor,
    size: int = CROP_SIZE,
    hand_ratio: float = HAND_RATIO_IN_CROP,
) -> tuple[list[CropCamera | None], torch.Tensor]:
    """``make_crop_camera`` for K (hand, view) pairs at once, reporting failures instead of raising.

    Args:
        T_world_from_source: (K, 4, 4). points_world: (K, P, 3). hand_index: (K,) 0/1.
        camera_angle_deg: (K,) degrees.
    Returns:
        the K unbatched crop cameras (None where ``make_crop_camera`` would raise ``CropError``) and
        ok (K,) bool.
    """
    T_crop_from_world, focal, min_depth = _crop_geometry(
        T_world_from_source, points_world, hand_index == RIGHT, camera_angle_deg, size, hand_ratio
    )
    ok = (min_depth >= MIN_DEPTH_M) & (focal >= MIN_FOCAL_PX)
    crops = [
        CropCamera(T_crop_from_world[k], focal[k], size, int(h)) if good else None
        for k, (h, good) in enumerate(zip(hand_index.tolist(), ok.tolist()))
    ]
    return crops, ok


def _crop_geometry(
    T_world_from_source: torch.Tensor,
    points_world: torch.Tensor,
    mirror: bool | torch.Tensor,
    camera_angle_deg: float | torch.Tensor,
    size: int,
    hand_ratio: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """T_crop_from_world (..., 4, 4), focal (...,) and the nearest crop point's depth (...,) of the
    crop cameras (perspective_crop.md §2-3), unchecked; ``mirror`` (bool or (...,)) mirrors right hands."""
    dtype = points_world.dtype
    T_world_from_source = T_world_from_source.to(dtype)
    center = 0.5 * (points_world.amin(-2) + points_world.amax(-2))
    R_source = T_world_from_source[..., :3, :3]
    t_source = T_world_from_source[..., :3, 3]
    direction = (R_source.transpose(-1, -2) @ (center - t_source)[..., None])[..., 0]
    direction = direction / direction.norm(dim=-1, keepdim=True)
    roll = torch.as_tensor(camera_angle_deg, dtype=dtype).expand(direction.shape[:-1])
    rotation = R_source @ _minimal_rotation_from_z(direction) @ _rotation_z(roll)
    T_crop_from_world = invert_rigid(make_transform(rotation, t_source))
    mirrored = torch.tensor(_MIRROR_X, dtype=dtype)[:, None] * T_crop_from_world
    T_crop_from_world = torch.where(torch.as_tensor(mirror)[..., None, None], mirrored, T_crop_from_world)

    eye = transform_points(T_crop_from_world, points_world)
    min_depth = eye[..., 2].amin(-1)
    normalized = eye[..., :2] / eye[..., 2:3]
    extent = normalized.abs().amax((-1, -2))
    focal = (size - 1) / 2.0 / extent * hand_ratio
    return T_crop_from_world, focal, min_depth


def crop_pixels_to_source(crop: CropCamera, source: Camera, pixels: torch.Tensor) -> torch.Tensor:
    """Where crop pixels come from in the source image (the warp's sampling positions).

    Each crop ray is taken as a point at unit distance, moved to world by the crop camera->world and
    into the source eye, then projected with the source model. Rays behind the source camera map
    to (-1, -1), i.e. outside the image, like the released code.

    Args:
        crop: one crop, or K crops (T_crop_from_world (K, 4, 4), focal (K,)).
        source: one camera, or ``Camera.stack`` of K cameras (crop k in camera k).
        pixels: (..., N, 2) crop pixels. Returns: (..., N, 2) source pixels ((K, N, 2) for K crops).
    """
    rays = crop.unproject(pixels.to(crop.focal.dtype))
    T_source_from_crop = source.T_camera_from_world.to(rays.dtype) @ crop.T_world_from_crop
    in_source = transform_points(T_source_from_crop, rays)
    uv, valid = source.model.project(in_source)
    valid = valid & (in_source[..., 2] > 0)
    return torch.where(valid[..., None], uv, torch.full_like(uv, -1.0))


def source_pixels_to_crop(crop: CropCamera, source: Camera, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Map source-image pixels into the crop (inverse of ``crop_pixels_to_source``).

    Args:
        pixels: (..., N, 2) source pixels.
    Returns:
        crop pixels (..., N, 2) and valid (..., N): the source pixel unprojects and lies in front of the crop camera.
    """
    rays, valid = source.model.unproject(pixels.to(crop.focal.dtype))
    T_crop_from_source = crop.T_crop_from_world @ source.T_world_from_camera.to(rays.dtype)
    # Crop and source share the optical centre, so a source ray at any depth maps to the same crop pixel.
    eye = transform_points(T_crop_from_source, rays)
    valid = valid & (eye[..., 2] > MIN_DEPTH_M)
    depth = torch.where(valid, eye[..., 2], torch.ones_like(eye[..., 2]))
    return eye[..., :2] / depth[..., None] * crop.focal[..., None, None] + crop.principal_point, valid


def crop_pixel_grid(size: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(size*size, 2) integer pixel centres (u, v) in row-major order."""
    v, u = torch.meshgrid(torch.arange(size, dtype=dtype), torch.arange(size, dtype=dtype), indexing="ij")
    return torch.stack([u.reshape(-1), v.reshape(-1)], dim=-1)


MAP_GRID_STEP = 5
"""The sampling maps are smooth (a fisheye seen through a narrow pinhole crop), so they are computed
on every 5th pixel (a 20x20 grid for 96 px, which includes both borders) and interpolated
bilinearly: 23x fewer projections, error well under 0.01 px (``tests/test_crop.py``)."""


def _interpolation_matrix(size: int, step: int) -> np.ndarray | None:
    """(size, n) linear interpolation from samples at 0, step, ..., size-1 (None if they do not end there)."""
    if (size - 1) % step:
        return None
    n = (size - 1) // step + 1
    x = np.arange(size) / step
    low = np.minimum(np.floor(x).astype(int), n - 2)
    weight = x - low
    matrix = np.zeros((size, n), np.float32)
    matrix[np.arange(size), low] = 1.0 - weight
    matrix[np.arange(size), low + 1] = weight
    return matrix


def warp_maps(crop: CropCamera, source: Camera) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV remap maps (map_x, map_y), each (size, size) float32, for an unbatched crop."""
    map_x, map_y = warp_maps_batch([crop], [source])
    return map_x[0], map_y[0]


def warp_maps_batch(crops: Sequence[CropCamera], sources: Sequence[Camera]) -> tuple[np.ndarray, np.ndarray]:
    """``warp_maps`` of K unbatched crops, crop k sampling ``sources[k]``, in one projection.

    Args:
        crops: K crop cameras of one size. sources: K unbatched cameras.
    Returns:
        (map_x, map_y), each (K, size, size) float32, C-contiguous (K = 0 gives (0, 96, 96)).
    """
    if not crops:
        empty = np.empty((0, CROP_SIZE, CROP_SIZE), np.float32)
        return empty, empty.copy()
    size = crops[0].size
    if any(c.size != size for c in crops) or len(crops) != len(sources):
        raise ValueError("warp_maps_batch needs one source per crop and crops of one size")
    dtype = torch.float32
    T_crop_from_world = torch.stack([c.T_crop_from_world.to(dtype) for c in crops])
    focal = torch.stack([c.focal.to(dtype) for c in crops])
    stacked_crop = CropCamera(T_crop_from_world, focal, size)
    stacked_source = Camera.stack(sources)
    maps = np.empty((len(crops), size, size, 2), np.float32)
    dense = list(range(len(crops)))
    interpolate = _interpolation_matrix(size, MAP_GRID_STEP)
    if interpolate is not None:
        coarse_size = interpolate.shape[1]
        coarse = crop_pixels_to_source(stacked_crop, stacked_source, crop_pixel_grid(coarse_size, dtype) * MAP_GRID_STEP)
        coarse = coarse.reshape(len(crops), coarse_size, coarse_size, 2).numpy()
        # Where a coarse sample leaves the lens (marked -1), interpolation would smear the marker
        # into valid pixels: compute those crops densely instead.
        dense = np.flatnonzero((coarse == -1.0).all(-1).any((-1, -2))).tolist()
        for k in (0, 1):
            maps[..., k] = interpolate @ coarse[..., k] @ interpolate.T
    if dense:
        crop_dense = CropCamera(T_crop_from_world[dense], focal[dense], size)
        uv = crop_pixels_to_source(crop_dense, Camera.stack([sources[k] for k in dense]), crop_pixel_grid(size, dtype))
        maps[dense] = uv.reshape(len(dense), size, size, 2).numpy()
    return np.ascontiguousarray(maps[..., 0]), np.ascontiguousarray(maps[..., 1])


def warp_image(image: np.ndarray, crop: CropCamera, source: Camera) -> np.ndarray:
    """Resample a source image into the crop: bilinear, black outside the source image.

    Args:
        image: (H, W) or (H, W, C) uint8 source view.
    Returns:
        (size, size[, C]) same dtype. The network input is this / 255 (no mean/std normalisation).
    """
    return warp_image_batch([image], [crop], [source])[0]


def warp_image_batch(images: Sequence[np.ndarray], crops: Sequence[CropCamera], sources: Sequence[Camera]) -> list[np.ndarray]:
    """``warp_image`` of K (image, crop, source) triples; the sampling maps come from one ``warp_maps_batch``.

    Args:
        images: K (H, W[, C]) uint8 source views (crop k samples ``images[k]`` seen by ``sources[k]``).
    Returns:
        K (size, size[, C]) crops.
    """
    map_x, map_y = warp_maps_batch(crops, sources)
    return [
        cv2.remap(image, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        for image, mx, my in zip(images, map_x, map_y)
    ]


__all__ = [
    "CROP_SIZE",
    "HAND_RATIO_IN_CROP",
    "CropCamera",
    "crop_points",
    "make_crop_camera",
    "make_crop_cameras",
    "crop_pixels_to_source",
    "source_pixels_to_crop",
    "crop_pixel_grid",
    "warp_maps",
    "warp_maps_batch",
    "warp_image",
    "warp_image_batch",
]
