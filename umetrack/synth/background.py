"""Procedural cluttered surroundings for synthetic headset images, as a cube map at infinity.

The background of every rendered pixel is the environment's radiance along that pixel's world
ray, so it moves exactly with the head (rotation; there is no parallax at infinity) and the
fisheye frame and a crop rendered directly agree wherever they see the same ray.

The content is evaluated on the world direction of each cube-map texel (nothing is tied to a
face, so there are no seams) and is deterministic from the seed: a smooth random base with a
floor/ceiling gradient, many flat planar rectangles (straight edges in a perspective view,
curved ones in a fisheye) filled with flat grey, stripes, checkers, gradients or noise, thin bars
(shelf edges, frames, cables), a few lights brighter than 1 that saturate the sensor, and fine
grain. Most rectangles keep one edge vertical, as furniture does.

Radiance is linear, in sensor units: 1.0 reaches full scale (255) at gain 1 before vignetting.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FACE_SIZE = 512
"""Texels per cube face edge: 512 per 90 deg = 326 px/rad, above the ~240 px/rad of a 640x480
headset fisheye and the ~150-300 px/rad of a 96x96 hand crop, so the renderer minifies (mipmaps)."""

WORLD_UP = (0.0, 1.0, 0.0)
"""Gravity-up of the world frame: the project's synthetic world is y up (``umetrack.synth.motion``)."""


@dataclass(frozen=True, eq=False)
class Environment:
    """A surrounding at infinity stored as an OpenGL cube map.

    Attributes:
        faces: (6, N, N) float32 linear radiance in OpenGL face order (+x, -x, +y, -y, +z, -z);
            row r, column c of a face is the texel at (s, t) = ((c + 0.5) / N, (r + 0.5) / N).
        seed: the seed it was generated from.
    """

    faces: np.ndarray
    seed: int

    def __post_init__(self) -> None:
        faces = np.asarray(self.faces)
        if faces.ndim != 3 or faces.shape[0] != 6 or faces.shape[1] != faces.shape[2]:
            raise ValueError(f"environment faces: expected (6, N, N), got {faces.shape}")
        if not np.isfinite(faces).all():
            raise ValueError("environment faces contain NaN or inf")
        object.__setattr__(self, "faces", np.ascontiguousarray(faces, dtype=np.float32))

    @property
    def face_size(self) -> int:
        return int(self.faces.shape[1])

    @classmethod
    def generate(cls, seed: int, up: tuple[float, float, float] = WORLD_UP, face_size: int = FACE_SIZE) -> Environment:
        """A random cluttered surrounding (about 1 s for 512-texel faces).

        Args:
            seed: any non-negative int; equal seeds give identical faces.
            up: world gravity-up (normalised here); orients floor, ceiling, lights and vertical edges.
            face_size: texels per face edge.
        """
        rng = np.random.default_rng(seed)
        directions = cube_directions(face_size).reshape(-1, 3)
        up_axis = np.asarray(up, dtype=np.float64)
        up_axis /= np.linalg.norm(up_axis)
        radiance = _paint(rng, directions, face_size, up_axis)
        return cls(radiance.reshape(6, face_size, face_size), seed)

    def lookup(self, directions: np.ndarray) -> np.ndarray:
        """Radiance of the nearest texel along each direction (a CPU reference for the renderer).

        Args:
            directions: (..., 3) world directions (need not be unit).
        Returns:
            (...,) float32.
        """
        d = np.asarray(directions, dtype=np.float64)
        face, s, t = _direction_to_face(d.reshape(-1, 3))
        n = self.face_size
        col = np.clip((s * n).astype(np.int64), 0, n - 1)
        row = np.clip((t * n).astype(np.int64), 0, n - 1)
        return self.faces[face, row, col].reshape(d.shape[:-1])


def cube_directions(face_size: int) -> np.ndarray:
    """(6, N, N, 3) float32 unit world directions of the texel centres, OpenGL cube-map layout."""
    st = (np.arange(face_size, dtype=np.float64) + 0.5) / face_size * 2.0 - 1.0
    t, s = np.meshgrid(st, st, indexing="ij")
    one = np.ones_like(s)
    # OpenGL spec table 8.19 (major axis, sc, tc) inverted: s = (sc/|ma| + 1)/2, t = (tc/|ma| + 1)/2.
    faces = [
        (one, -t, -s),  # +x: sc = -z, tc = -y
        (-one, -t, s),  # -x: sc = +z, tc = -y
        (s, one, t),  # +y: sc = +x, tc = +z
        (s, -one, -t),  # -y: sc = +x, tc = -z
        (s, -t, one),  # +z: sc = +x, tc = -y
        (-s, -t, -one),  # -z: sc = -x, tc = -y
    ]
    d = np.stack([np.stack(f, -1) for f in faces])
    return (d / np.linalg.norm(d, axis=-1, keepdims=True)).astype(np.float32)


def _direction_to_face(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Face index and (s, t) in [0, 1] of directions (N, 3), the OpenGL selection rule."""
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    ax, ay, az = np.abs(x), np.abs(y), np.abs(z)
    major_x = (ax >= ay) & (ax >= az)
    major_y = ~major_x & (ay >= az)
    face = np.where(major_x, np.where(x >= 0, 0, 1), np.where(major_y, np.where(y >= 0, 2, 3), np.where(z >= 0, 4, 5)))
    sc = np.choose(face, [-z, z, x, x, x, -x])
    tc = np.choose(face, [-y, -y, z, -z, -y, -y])
    ma = np.choose(face, [ax, ax, ay, ay, az, az])
    return face, 0.5 * (sc / ma + 1.0), 0.5 * (tc / ma + 1.0)


def _fourier_field(rng: np.random.Generator, face_size: int, count: int, frequency: float) -> np.ndarray:
    """Smooth random field on the sphere (6 N N,), zero mean, unit variance: a sum of random plane waves.

    Evaluated on a cube of at most 128 texels per face and upsampled bilinearly: the waves are far
    smoother than a 128 texel (0.7 deg) step and the full-resolution cosines would take seconds.
    """
    coarse_size = min(face_size, 128)
    directions = cube_directions(coarse_size).reshape(-1, 3)
    waves = (rng.normal(size=(3, count)) * frequency).astype(np.float32)
    phases = rng.uniform(0, 2 * np.pi, count).astype(np.float32)
    field = (np.cos(directions @ waves + phases) * np.float32(np.sqrt(2.0 / count))).sum(-1)
    faces = field.reshape(6, coarse_size, coarse_size)
    if coarse_size != face_size:
        faces = np.stack([cv2.resize(f, (face_size, face_size), interpolation=cv2.INTER_LINEAR) for f in faces])
    return faces.reshape(-1)


def _orthonormal_frame(axis: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors (right, down) perpendicular to ``axis``, 'down' as close to -up as possible."""
    down = -up - np.dot(-up, axis) * axis
    if np.linalg.norm(down) < 1e-6:  # looking straight up or down: any perpendicular will do
        down = np.cross(axis, [1.0, 0.0, 0.0] if abs(axis[0]) < 0.9 else [0.0, 1.0, 0.0])
    down /= np.linalg.norm(down)
    return np.cross(down, axis), down


def _random_direction(rng: np.random.Generator, up: np.ndarray, elevation: tuple[float, float]) -> np.ndarray:
    """Uniform azimuth, elevation (radians above the horizon) uniform in the given range."""
    right, down = _orthonormal_frame(up, np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0]))
    azimuth = rng.uniform(0, 2 * np.pi)
    el = rng.uniform(*elevation)
    return np.cos(el) * (np.cos(azimuth) * right + np.sin(azimuth) * down) + np.sin(el) * up


def _pattern(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, half_width: float, half_height: float) -> np.ndarray:
    """A fill pattern in the rectangle's plane coordinates (x, y), values roughly in [-1, 1]."""
    kind = rng.choice(5, p=(0.35, 0.15, 0.1, 0.2, 0.2))
    scale = max(half_width, half_height)
    if kind == 0:  # flat paint
        return np.zeros_like(x)
    if kind == 1:  # stripes (blinds, books, shelves)
        period = scale * rng.uniform(0.08, 0.5)
        angle = rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)])
        u = x * np.cos(angle) + y * np.sin(angle)
        return np.sign(np.sin(2 * np.pi * u / period))
    if kind == 2:  # checker / tiles
        period = scale * rng.uniform(0.1, 0.4)
        return np.sign(np.sin(np.pi * x / period) * np.sin(np.pi * y / period))
    if kind == 3:  # shading gradient
        angle = rng.uniform(0, 2 * np.pi)
        return (x * np.cos(angle) + y * np.sin(angle)) / scale
    # wood/fabric-like noise
    k = rng.normal(size=(2, 12)) / (scale * rng.uniform(0.05, 0.3))
    phases = rng.uniform(0, 2 * np.pi, 12)
    return (np.cos(np.stack([x, y], -1) @ k + phases) * np.sqrt(2.0 / 12)).sum(-1)


def _paint(rng: np.random.Generator, directions: np.ndarray, face_size: int, up: np.ndarray) -> np.ndarray:
    """Radiance (N,) for unit directions (N, 3): base, rectangles, bars, lights, grain."""
    elevation = np.arcsin(np.clip(directions @ up.astype(np.float32), -1.0, 1.0))
    floor_level, ceiling_level = rng.uniform(0.1, 0.35), rng.uniform(0.3, 0.7)
    horizon = np.clip(elevation / 0.6, -1.0, 1.0)  # -1 floor .. +1 ceiling
    radiance = np.where(horizon < 0, floor_level, ceiling_level) * np.abs(horizon) + 0.35 * (1 - np.abs(horizon))
    radiance = radiance + 0.08 * _fourier_field(rng, face_size, 24, 3.0)
    radiance = radiance.astype(np.float32)
    blocks = _Blocks.build(face_size)

    # Planar rectangles, painted back to front (big ones first so smaller clutter sits on top).
    count = int(rng.integers(40, 70))
    sizes = np.sort(rng.uniform(0.05, 0.9, count))[::-1]
    for size in sizes:
        centre = _random_direction(rng, up, (-1.2, 1.2))
        right, down = _orthonormal_frame(centre, up)
        if rng.random() < 0.3:  # some objects lie askew
            roll = rng.uniform(0, np.pi)
            right, down = np.cos(roll) * right + np.sin(roll) * down, -np.sin(roll) * right + np.cos(roll) * down
        half_width = np.tan(min(size, 1.3)) * rng.uniform(0.4, 1.0)
        half_height = np.tan(min(size * rng.uniform(0.3, 1.5), 1.3))
        _fill_rectangle(rng, radiance, directions, blocks, centre, right, down, half_width, half_height, rng.uniform(0.05, 0.8))

    # Thin bars: long, narrow, high contrast.
    for _ in range(int(rng.integers(8, 20))):
        centre = _random_direction(rng, up, (-0.9, 0.9))
        right, down = _orthonormal_frame(centre, up)
        if rng.random() < 0.5:
            right, down = down, -right  # vertical bar
        length, width = np.tan(rng.uniform(0.2, 1.0)), rng.uniform(0.004, 0.03)
        level = rng.choice([0.03, 0.9]) + rng.uniform(0, 0.08)  # dark or light, rarely mid-grey
        _fill_rectangle(rng, radiance, directions, blocks, centre, right, down, length, width, level, plain=True)

    # Lights and windows above the horizon, brighter than full scale.
    for _ in range(int(rng.integers(2, 6))):
        centre = _random_direction(rng, up, (0.3, 1.4))
        right, down = _orthonormal_frame(centre, up)
        half = np.tan(rng.uniform(0.03, 0.15))
        level = rng.uniform(1.2, 3.0)
        _fill_rectangle(rng, radiance, directions, blocks, centre, right, down, half * rng.uniform(0.5, 2.5), half, level, plain=True)

    grain = 0.03 * _fourier_field(rng, face_size, 48, 60.0)
    return np.clip(radiance + grain, 0.0, None).astype(np.float32)


@dataclass(frozen=True)
class _Blocks:
    """Cube texels grouped in 8x8 blocks, to visit only the blocks near a shape.

    centres: (M, 3) unit block-centre directions; texels: (M, 64) flat texel indices of each block.
    radius: radians, bound on the angle between a block's centre and any of its texels.
    """

    centres: np.ndarray
    texels: np.ndarray
    radius: float

    @classmethod
    def build(cls, face_size: int) -> _Blocks:
        block = 8 if face_size % 8 == 0 else 1
        coarse = face_size // block
        index = np.arange(6 * face_size * face_size).reshape(6, coarse, block, coarse, block)
        texels = index.transpose(0, 1, 3, 2, 4).reshape(-1, block * block)
        # Texels are largest at a face centre: 2/N plane units, i.e. 2/N rad; half a block diagonal
        # is block/sqrt(2) of those, plus slack.
        return cls(cube_directions(coarse).reshape(-1, 3), texels, 1.5 * block * 2.0 / face_size)


def _fill_rectangle(
    rng: np.random.Generator,
    radiance: np.ndarray,
    directions: np.ndarray,
    blocks: _Blocks,
    centre: np.ndarray,
    right: np.ndarray,
    down: np.ndarray,
    half_width: float,
    half_height: float,
    level: float,
    plain: bool = False,
) -> None:
    """Paint, in place, a rectangle lying in the plane at unit distance along ``centre``.

    Gnomonic coordinates (x, y) = (d.right, d.down) / (d.centre) are coordinates in that plane,
    so the rectangle's edges are straight lines in any perspective view.
    """
    centre, right, down = (v.astype(np.float32) for v in (centre, right, down))
    # Visit only blocks that reach into the rectangle's bounding cone.
    cone = np.arctan(np.hypot(half_width, half_height))
    near = np.flatnonzero(blocks.centres @ centre > np.cos(min(cone + blocks.radius, np.pi)))
    if near.size == 0:
        return
    index = blocks.texels[near].reshape(-1)
    d = directions[index]
    z = d @ centre
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = (d @ right) / z, (d @ down) / z
    inside = (z > 0) & (np.abs(x) <= half_width) & (np.abs(y) <= half_height)
    if not inside.any():
        return
    x, y, index = x[inside], y[inside], index[inside]
    value = np.full(index.shape, level, dtype=np.float32)
    if not plain:
        contrast = rng.uniform(0.04, 0.25)
        value += contrast * _pattern(rng, x, y, half_width, half_height)
    radiance[index] = np.clip(value, 0.0, None)


__all__ = ["FACE_SIZE", "WORLD_UP", "Environment", "cube_directions"]
