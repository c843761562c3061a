"""Synthetic grayscale headset images of hands, rendered with OpenGL (EGL, no display needed).

Two paths draw the same scene with the same shading, background and sensor model:

* ``render_view``: a full fisheye frame (fisheye62 / fisheye624) of the hands. The vertex shader
  projects every mesh vertex with the camera's exact formula (``CameraModel.project``: arctan
  projection, radial polynomial with the pi^2 clamp, tangential, thin prism; float32, within
  1e-3 px) and the depth test uses the distance along the ray. Triangles are drawn straight
  between projected vertices; hand triangles are ~5 mm, so the bend of their edges under the
  fisheye stays far below a pixel. Also returns a per-pixel mask (0 background, 1 left hand,
  2 right hand, 3 forearm).
* ``render_crops``: 96x96 hand crops rendered directly through the pinhole ``CropCamera``
  (perspective projection, mirrored for right hands), up to 1,024 crops per atlas draw. It
  reproduces "render the fisheye frame, then ``umetrack.crop.warp_image``" (about 1 grey level
  mean difference on the hand) without the fisheye detour. Each frame's meshes are uploaded once
  however many crops see them, and a crop draws only the hands that reach its view.

Look (chosen to resemble monochrome headset tracking cameras, which see in near-IR):

* hands: the skinned mesh plus a forearm (``forearm_mesh``), Lambert skin lit per vertex by an
  ambient term, a world-fixed key light (wrapped, as skin scatters light under the surface) and an
  illuminator at each camera (a "flash" falling off as 1/d^2, normalised at 0.4 m). A strong
  flash gives the IR look, near hands brighter than the room; a weak one an ordinary indoor look.
  Grazing surfaces are darkened (rim term), so a finger in front of another keeps a dark outline.
  Skin albedo and lights vary per recording (``Look``).
* background: ``umetrack.synth.background.Environment``, a cube map at infinity sampled along each
  pixel's world ray (fisheye rays from ``pixel_rays``, computed once per camera model; crop rays
  from K^-1), so it turns with the head. Pixels outside the lens's image circle are black.
* optics and sensor (``Sensor``, per frame): the hand layer is blurred by a small 3x3 kernel
  (sigma 0.5 px, soft silhouettes as through a real lens), then linear response with gain (exposure x
  analogue gain), vignetting 1 - v (1 - cos theta) with theta the angle from the physical
  camera's optical axis (for crops: the source camera's), Gaussian read noise plus shot noise
  (variance proportional to the signal), rounding to uint8. Noise comes from a hash of (pixel,
  crop, seed): identical inputs give identical bytes.

Units: metres, radians; pixel (0, 0) is the centre of the top-left pixel. Triangles are culled
by winding: faces must be outward (``mesh_triangles(model, hand_index)``); a mirrored (det -1)
crop camera flips the screen-space winding, which the crop path accounts for.

The OpenGL context is created on first use, one per process; calls from several threads are
serialised, and a fork (multiprocessing workers) shuts it down first so that parent and child
each start a fresh one.
"""

from __future__ import annotations

import ctypes
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import moderngl
import numpy as np
import torch

from umetrack.camera import Camera, CameraModel
from umetrack.crop import CropCamera, crop_pixels_to_source
from umetrack.errors import UmeTrackError
from umetrack.geometry import transform_points
from umetrack.hand.fk import left_hand_wrist, mesh_triangles, mesh_vertices
from umetrack.hand.model import RIGHT, HandModel
from umetrack.mesh import vertex_normals
from umetrack.synth.background import WORLD_UP, Environment

NEAR_M = 0.01
"""Nearest rendered distance from the camera centre (metres); hands never come closer."""
FAR_M = 50.0
FLASH_REFERENCE_M = 0.4
"""Distance at which the camera illuminator contributes ``Look.flash`` (1/d^2 falloff)."""
SKIN_WRAP = 0.3
"""Wrap-lighting term for the key light, (n.l + w) / (1 + w): light bleeds past the terminator as in skin."""
MAX_CROPS_PER_DRAW = 1024
"""Crops per atlas (32 x 32 tiles of 96 px = 3072 px square): large draws amortise GL overhead."""
FISHEYE_KINDS = ("fisheye62", "fisheye624")
FOREARM_LABEL = 3
"""``View.mask`` value of forearm pixels (hands are 1 left, 2 right)."""


class GLUnavailableError(UmeTrackError, RuntimeError):
    """No OpenGL 4.3 context could be created through EGL (missing drivers or libraries)."""


# ----------------------------------------------------------------------------------------------
# Parameters


@dataclass(frozen=True)
class Look:
    """Lighting and skin of one recording (linear radiance units: 1 = full scale at gain 1).

    Attributes:
        skin_albedo: diffuse reflectance of the skin, 0..1.
        ambient: uniform light on the skin.
        key: strength of the world-fixed key light.
        key_direction: (3,) unit world direction from the hands towards the key light.
        flash: strength of the camera-mounted illuminator at ``FLASH_REFERENCE_M``.
        rim: darkening of grazing skin, 0 (none) .. 1 (black silhouettes).
        background_gain: multiplies the environment radiance.
    """

    skin_albedo: float
    ambient: float
    key: float
    key_direction: tuple[float, float, float]
    flash: float
    rim: float
    background_gain: float

    def __post_init__(self) -> None:
        for name in ("skin_albedo", "ambient", "key", "flash", "rim", "background_gain"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"Look.{name} must be a finite number >= 0, got {value!r}")
        if self.skin_albedo > 1.0 or self.rim > 1.0:
            raise ValueError(f"Look.skin_albedo and Look.rim must be <= 1, got {self.skin_albedo}, {self.rim}")
        direction = np.asarray(self.key_direction, dtype=np.float64)
        if direction.shape != (3,) or not np.isfinite(direction).all() or np.linalg.norm(direction) < 1e-9:
            raise ValueError(f"Look.key_direction must be a finite non-zero 3-vector, got {self.key_direction!r}")
        object.__setattr__(self, "key_direction", tuple(float(v) for v in direction / np.linalg.norm(direction)))

    @classmethod
    def sample(cls, rng: np.random.Generator, up: tuple[float, float, float] = WORLD_UP) -> Look:
        """A random look: half the recordings IR-like (strong flash, dimmer room), half room-lit."""
        infrared = rng.random() < 0.5
        up_axis = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        direction = direction + up_axis * (abs(direction @ up_axis) + 0.3 - direction @ up_axis)  # from above
        return cls(
            skin_albedo=float(rng.uniform(0.35, 0.7)),
            ambient=float(rng.uniform(0.1, 0.3)),
            key=float(rng.uniform(0.1, 0.4) if infrared else rng.uniform(0.3, 0.8)),
            key_direction=tuple(direction / np.linalg.norm(direction)),
            # Near hands (0.2 m: 4x the 0.4 m flash) may saturate, as they do on real IR cameras.
            flash=float(rng.uniform(0.35, 0.75) if infrared else rng.uniform(0.0, 0.3)),
            rim=float(rng.uniform(0.3, 0.7)),
            background_gain=float(rng.uniform(0.25, 0.6) if infrared else rng.uniform(0.5, 1.0)),
        )


@dataclass(frozen=True)
class Sensor:
    """Exposure and noise of one frame (grey levels are 0..255).

    Attributes:
        gain: radiance -> full-scale multiplier (exposure time x analogue gain).
        read_noise: standard deviation of the signal-independent Gaussian noise, grey levels.
        shot_noise: variance of the shot noise per grey level of signal (Poisson-like).
        vignetting: relative loss 90 deg off the optical axis: gain 1 - v (1 - cos theta).
    """

    gain: float = 1.0
    read_noise: float = 0.0
    shot_noise: float = 0.0
    vignetting: float = 0.0

    def __post_init__(self) -> None:
        for name in ("gain", "read_noise", "shot_noise", "vignetting"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"Sensor.{name} must be a finite number >= 0, got {value!r}")
        if self.vignetting > 1.0:
            raise ValueError(f"Sensor.vignetting must be <= 1, got {self.vignetting}")

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Sensor:
        return cls(
            gain=float(np.exp(rng.normal(0.0, 0.25))),
            read_noise=float(rng.uniform(1.0, 4.0)),
            shot_noise=float(rng.uniform(0.05, 0.4)),
            vignetting=float(rng.uniform(0.15, 0.45)),
        )


@dataclass(frozen=True, eq=False)
class Scene:
    """What surrounds the hands of one recording: the environment and the look."""

    environment: Environment
    look: Look

    @classmethod
    def random(cls, seed: int, up: tuple[float, float, float] = WORLD_UP) -> Scene:
        """Environment and look drawn from ``seed`` (about 1.5 s, mostly the environment)."""
        rng = np.random.default_rng(seed)
        environment_seed = int(rng.integers(2**31))
        return cls(Environment.generate(environment_seed, up), Look.sample(rng, up))


@dataclass(frozen=True, eq=False)
class Hands:
    """Skinned hand meshes to draw (usually built by ``Hands.posed``).

    Attributes:
        vertices: (..., H, V, 3) float32 world positions, metres; ``...`` is () for ``render_view``
            and (N,) frames for ``render_crops``. H may be 0 (no hands).
        faces: (H, F, 3) int32 triangles with outward winding per hand
            (``mesh_triangles(model, hand_index)``, then the forearm's).
        hand_indices: (H,) 0 left, 1 right: the mask labels 1 and 2.
        forearm_vertices: how many of each hand's V vertices, at the end, belong to its forearm
            (mask label 3).
    """

    vertices: np.ndarray
    faces: np.ndarray
    hand_indices: tuple[int, ...]
    forearm_vertices: int = 0

    def __post_init__(self) -> None:
        vertices = _as_numpy(self.vertices, np.float32)
        faces = _as_numpy(self.faces, np.int64)
        indices = tuple(int(i) for i in self.hand_indices)
        if vertices.ndim < 3 or vertices.shape[-1] != 3:
            raise ValueError(f"hand vertices: expected (..., H, V, 3), got shape {vertices.shape}")
        hands, count = vertices.shape[-3], vertices.shape[-2]
        if faces.ndim != 3 or faces.shape[0] != hands or faces.shape[2] != 3:
            raise ValueError(f"hand faces: expected ({hands}, F, 3) for {hands} hands, got shape {faces.shape}")
        if len(indices) != hands or any(i not in (0, 1) for i in indices):
            raise ValueError(f"hand_indices: expected {hands} values in (0, 1), got {self.hand_indices!r}")
        if faces.size and (faces.min() < 0 or faces.max() >= count):
            raise ValueError(f"hand faces index vertices outside 0..{count - 1}")
        if not np.isfinite(vertices).all():
            raise ValueError("hand vertices contain NaN or inf")
        if not 0 <= self.forearm_vertices <= count:
            raise ValueError(f"forearm_vertices must lie in 0..{count}, got {self.forearm_vertices}")
        object.__setattr__(self, "vertices", np.ascontiguousarray(vertices))
        object.__setattr__(self, "faces", np.ascontiguousarray(faces, dtype=np.int32))
        object.__setattr__(self, "hand_indices", indices)

    @classmethod
    def posed(
        cls,
        model: HandModel,
        joint_angles: Any,
        T_world_from_wrist: Any,
        hand_indices: tuple[int, ...],
        elbow_positions: Any = None,
    ) -> Hands:
        """Skin ``model``'s mesh for each hand and attach a forearm to it (``forearm_mesh``).

        Args:
            joint_angles: (..., H, 22) radians. T_world_from_wrist: (..., H, 4, 4) in each hand's
                own convention (right hands as stored), metres.
            hand_indices: (H,) 0 left, 1 right.
            elbow_positions: (..., H, 3) world, metres, where each forearm ends (e.g.
                ``SyntheticSequence.elbow_positions``); None: forearms 25 cm long straight along
                the hand's axis.
        """
        angles = torch.as_tensor(joint_angles)
        wrists = torch.as_tensor(T_world_from_wrist).to(angles.dtype)
        if angles.ndim < 2 or wrists.shape != angles.shape[:-1] + (4, 4) or angles.shape[-2] != len(hand_indices):
            raise ValueError(
                f"posed hands: expected joint_angles (..., {len(hand_indices)}, 22) and T_world_from_wrist (..., "
                f"{len(hand_indices)}, 4, 4), got {tuple(angles.shape)} and {tuple(wrists.shape)}"
            )
        elbows = None if elbow_positions is None else torch.as_tensor(elbow_positions).to(angles.dtype)
        if elbows is not None and elbows.shape != angles.shape[:-1] + (3,):
            raise ValueError(f"posed hands: expected elbow_positions {tuple(angles.shape[:-1]) + (3,)}, got {tuple(elbows.shape)}")
        if not (torch.isfinite(angles).all() and torch.isfinite(wrists).all() and (elbows is None or torch.isfinite(elbows).all())):
            raise ValueError("posed hands: joint angles, wrist transforms or elbows contain NaN or inf")
        model = model.to(angles.dtype)
        index = torch.tensor(hand_indices, dtype=torch.long)
        forearm = forearm_mesh(model)
        with torch.no_grad():
            skin = mesh_vertices(model, angles, wrists, index)
            T_world_from_local = left_hand_wrist(wrists, index)  # the (left) model's frame; det -1 for right hands
            arm = _bend_forearm(forearm, T_world_from_local, elbows)
        vertices = torch.cat([skin, arm], -2)
        num_hand = skin.shape[-2]
        faces = [
            np.concatenate([mesh_triangles(model, i).numpy(), (forearm.faces[:, ::-1] if i == RIGHT else forearm.faces) + num_hand])
            for i in hand_indices
        ]
        faces = np.stack(faces) if faces else np.zeros((0, 0, 3), np.int64)
        return cls(vertices, faces, tuple(hand_indices), forearm_vertices=len(forearm.vertices))

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.vertices.shape[:-3])


_FOREARM_STATIONS = (
    # (metres back from the end of the model's mesh, scale of its end cross-section). The first
    # ring sits inside the mesh, hiding the seam; an adult forearm widens from ~17 cm round at the
    # wrist to ~26 cm, then narrows towards the elbow.
    (-0.012, 0.9),
    (0.0, 0.98),
    (0.03, 1.1),
    (0.08, 1.3),
    (0.14, 1.45),
    (0.2, 1.45),
    (0.25, 1.3),
)
_FOREARM_SEGMENTS = 16


@dataclass(frozen=True)
class ForearmMesh:
    """A straight forearm in the (left) hand model's frame, metres.

    Attributes:
        vertices: (A, 3) float64 rings along -x from the end of the model's mesh, then the centre
            of the elbow cap.
        faces: (T, 3) int64 wound outward for the left hand (reverse them for a right hand).
        pivot: (3,) the centre of the mesh's end cross-section, where the forearm bends.
        back: (A,) float64 each vertex's distance behind the pivot along the forearm (< 0 inside
            the mesh).
    """

    vertices: np.ndarray
    faces: np.ndarray
    pivot: np.ndarray
    back: np.ndarray


def forearm_mesh(model: HandModel) -> ForearmMesh:
    """A forearm for the (left) model: an elliptic tube from the wrist end of its mesh back 25 cm.

    Real headset images always show the forearm; a hand cut off at the wrist would be a cue that
    never occurs in real data. The tube continues the mesh along -x of the wrist frame with the
    cross-section of the mesh's last 6 mm, widening as a forearm does, and is closed by a flat cap
    at the elbow end. ``Hands.posed`` bends and stretches it towards the elbow.
    """
    rest = model.mesh_vertices.detach().cpu().numpy().astype(np.float64)
    end = rest[:, 0].min()
    section = rest[rest[:, 0] < end + 0.006, 1:]
    centre = 0.5 * (section.min(0) + section.max(0))
    semi_axes = 0.5 * (section.max(0) - section.min(0))
    angle = np.linspace(0.0, 2 * np.pi, _FOREARM_SEGMENTS, endpoint=False)
    rings = [
        np.column_stack(
            [np.full_like(angle, end - back), centre[0] + scale * semi_axes[0] * np.cos(angle), centre[1] + scale * semi_axes[1] * np.sin(angle)]
        )
        for back, scale in _FOREARM_STATIONS
    ]
    vertices = np.concatenate(rings + [[[end - _FOREARM_STATIONS[-1][0], centre[0], centre[1]]]])
    n = _FOREARM_SEGMENTS
    k = np.arange(n)
    faces = []
    for r in range(len(rings) - 1):
        a, b = r * n + k, r * n + (k + 1) % n
        c, d = a + n, b + n
        faces += [np.column_stack([a, c, b]), np.column_stack([b, c, d])]
    last = (len(rings) - 1) * n
    faces.append(np.column_stack([last + k, np.full(n, len(vertices) - 1), last + (k + 1) % n]))
    faces = np.concatenate(faces)
    # Orient outward: side faces point away from the tube's axis, the cap towards the elbow.
    v0, v1, v2 = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    normals = np.cross(v1 - v0, v2 - v0)
    away = (v0 + v1 + v2) / 3.0
    away[:, 1:] -= centre
    away[:, 0] = 0.0
    away[-n:] = (-1.0, 0.0, 0.0)
    if (np.einsum("ij,ij->i", normals, away) < 0).sum() > len(faces) / 2:
        faces = faces[:, ::-1]
    pivot = np.array([end, centre[0], centre[1]])
    return ForearmMesh(vertices, np.ascontiguousarray(faces), pivot, end - vertices[:, 0])


_FOREARM_LENGTH_M = _FOREARM_STATIONS[-1][0]


def _bend_forearm(forearm: ForearmMesh, T_world_from_local: torch.Tensor, elbows: torch.Tensor | None) -> torch.Tensor:
    """World vertices (..., H, A, 3) of the forearms of hands posed by ``T_world_from_local`` (..., H, 4, 4).

    Without elbows the tube stays straight. With elbows (..., H, 3) the part behind the pivot
    turns rigidly about the pivot to point at the elbow and stretches to reach it: the wrist bends
    there, as a real wrist does; the ring inside the hand mesh stays with the hand.
    """
    dtype = T_world_from_local.dtype
    rest = torch.from_numpy(forearm.vertices).to(dtype)
    if elbows is None:
        return transform_points(T_world_from_local, rest)
    pivot = torch.from_numpy(forearm.pivot).to(dtype)
    back = torch.from_numpy(forearm.back).to(dtype)
    elbow = transform_points(torch.linalg.inv(T_world_from_local), elbows[..., None, :])[..., 0, :]  # model frame
    towards = elbow - pivot
    length = towards.norm(dim=-1, keepdim=True).clamp_min(0.05)
    direction = towards / length
    # Stretch along the tube (-x), then rotate -x onto the elbow direction: R = I + [v]x + [v]x^2 / (1 + c).
    behind = back > 0
    along = -back * torch.where(behind, length / _FOREARM_LENGTH_M, torch.ones_like(length))  # (..., H, A)
    across = (rest - pivot)[:, 1:].expand(*along.shape, 2)
    stretched = torch.cat([along[..., None], across], -1)
    axis = torch.zeros_like(direction)
    axis[..., 0] = -1.0
    v = torch.cross(axis, direction, dim=-1)
    c = (axis * direction).sum(-1).clamp_min(-0.99)  # the elbow never lies inside the hand
    vx = torch.zeros(*v.shape, 3, dtype=dtype)
    vx[..., 0, 1], vx[..., 0, 2] = -v[..., 2], v[..., 1]
    vx[..., 1, 0], vx[..., 1, 2] = v[..., 2], -v[..., 0]
    vx[..., 2, 0], vx[..., 2, 1] = -v[..., 1], v[..., 0]
    rotation = torch.eye(3, dtype=dtype) + vx + vx @ vx / (1.0 + c)[..., None, None]
    turned = stretched @ rotation.transpose(-1, -2)
    local = pivot + torch.where(behind[:, None], turned, stretched)
    return transform_points(T_world_from_local, local)


@dataclass(frozen=True, eq=False)
class View:
    """One rendered camera image.

    Attributes:
        image: (H, W) uint8 grayscale.
        mask: (H, W) uint8 visible surface at each pixel centre: 0 background, 1 left hand,
            2 right hand, 3 forearm (either side).
    """

    image: np.ndarray
    mask: np.ndarray


# ----------------------------------------------------------------------------------------------
# Public entry points


def render_view(camera: Camera, hands: Hands, scene: Scene, sensor: Sensor, seed: int) -> View:
    """Render one fisheye camera image of the hands.

    Args:
        camera: an unbatched fisheye62 / fisheye624 camera (world metres).
        hands: unbatched (vertices (H, V, 3)).
        scene: environment and look; sensor: exposure and noise.
        seed: noise seed (uint32): the noise depends on it and the pixel only, so give every
            camera and frame its own seed.
    Raises:
        ValueError: another camera kind, a batched camera or hands, bad parameters.
        GLUnavailableError: no OpenGL through EGL on this machine.
    """
    if camera.model.kind not in FISHEYE_KINDS:
        raise ValueError(f"render_view draws fisheye62/fisheye624 cameras, got {camera.model.kind!r}")
    if camera.T_world_from_camera.shape != (4, 4):
        raise ValueError(f"render_view takes one camera, got T_world_from_camera {tuple(camera.T_world_from_camera.shape)}")
    if hands.batch_shape:
        raise ValueError(f"render_view takes unbatched hands (H, V, 3), got vertices {hands.vertices.shape}")
    seed = _check_seed(seed)
    return _on_gl_thread(lambda renderer: renderer.view(camera, hands, scene, sensor, seed))


def render_crops(
    crops: CropCamera,
    source_models: CameraModel | Sequence[CameraModel],
    T_world_from_source: Any,
    hands: Hands,
    scene: Scene,
    sensor: Sensor,
    seed: int,
    frames: Any = None,
) -> np.ndarray:
    """Render hand crops directly through their pinhole crop cameras.

    Equivalent to ``warp_image(render_view(source, ...).image, crop, source)`` up to resampling
    and noise: same shading, background along each crop pixel's world ray, vignetting by the
    angle from the source camera's axis, and black where the source camera's image or lens does
    not reach (crops of hands near the image border).

    Args:
        crops: a CropCamera batched over (B,) (T_crop_from_world (B, 4, 4), focal (B,)), one hand
            index for the batch (right crops mirrored).
        source_models: the fisheye62/624 model of the physical camera each crop was cut from, one
            for all crops or (B,).
        T_world_from_source: (B, 4, 4) that camera's pose.
        hands: vertices (N, H, V, 3): the hands of N frames (the cropped hand and any other that
            may appear in its crops). A frame's normals are computed and uploaded once however
            many crops see it; each crop draws only the hands that reach its view.
        scene, sensor: as ``render_view``; seed: noise seed (uint32); the noise also depends on the
            crop's index in the batch.
        frames: (B,) int, the frame (row of ``hands.vertices``) crop b sees; None means crop b
            sees frame b (then N must equal B).
    Returns:
        (B, S, S) uint8 images, S = ``crops.size``.
    Raises:
        ValueError: inconsistent shapes, non-finite input. GLUnavailableError: no OpenGL.
    """
    T_crop = torch.as_tensor(crops.T_crop_from_world, dtype=torch.float64)
    focal = torch.as_tensor(crops.focal, dtype=torch.float64)
    T_source = torch.as_tensor(T_world_from_source, dtype=torch.float64)
    if T_crop.ndim != 3 or T_crop.shape[1:] != (4, 4) or focal.shape != T_crop.shape[:1]:
        raise ValueError(f"crops: expected T_crop_from_world (B, 4, 4) and focal (B,), got {tuple(T_crop.shape)}, {tuple(focal.shape)}")
    batch = T_crop.shape[0]
    if T_source.shape != (batch, 4, 4):
        raise ValueError(f"T_world_from_source: expected ({batch}, 4, 4), got {tuple(T_source.shape)}")
    models = (source_models,) * batch if isinstance(source_models, CameraModel) else tuple(source_models)
    if len(models) != batch:
        raise ValueError(f"source_models: expected one model or {batch}, got {len(models)}")
    if any(m.kind not in FISHEYE_KINDS for m in models):
        raise ValueError(f"source_models must be fisheye62/fisheye624, got {sorted({m.kind for m in models})}")
    if len(hands.batch_shape) != 1:
        raise ValueError(f"hands: expected vertices (N, H, V, 3), got {hands.vertices.shape}")
    if frames is None:
        frames = np.arange(batch)
    frames = _as_numpy(frames, np.float64)
    if frames.shape != (batch,) or not np.isfinite(frames).all() or (frames != np.round(frames)).any():
        raise ValueError(f"frames: expected ({batch},) integers, got {frames.shape}")
    frames = frames.astype(np.int64)
    if batch and (frames.min() < 0 or frames.max() >= hands.batch_shape[0]):
        raise ValueError(f"frames index rows 0..{hands.batch_shape[0] - 1} of hands.vertices, got {frames.min()}..{frames.max()}")
    if not (torch.isfinite(T_crop).all() and torch.isfinite(focal).all() and torch.isfinite(T_source).all()):
        raise ValueError("crop cameras or source poses contain NaN or inf")
    if not bool((focal > 0).all()):
        raise ValueError("crop focal lengths must be positive")
    seed = _check_seed(seed)
    return _on_gl_thread(lambda renderer: renderer.crops(T_crop, focal, crops.size, models, T_source, hands, frames, scene, sensor, seed))


def gl_project_points(camera: Camera, points_world: Any) -> np.ndarray:
    """The renderer's own vertex projection (float32 GLSL), to check it against ``CameraModel.project``.

    Args:
        camera: unbatched fisheye62 / fisheye624 camera. points_world: (N, 3) metres.
    Returns:
        (N, 2) float64 pixels.
    """
    if camera.model.kind not in FISHEYE_KINDS:
        raise ValueError(f"fisheye62/fisheye624 cameras only, got {camera.model.kind!r}")
    points = _as_numpy(points_world, np.float32)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points: expected (N, 3), got {points.shape}")
    return _on_gl_thread(lambda renderer: renderer.project(camera, points))


# ----------------------------------------------------------------------------------------------
# Helpers


def _as_numpy(value: Any, dtype) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2^32), got {seed!r}")
    return int(seed)


_RAY_GRID_STEP = 4
"""Pixel step of the exact unprojection grid behind ``pixel_rays``: rays turn smoothly, by ~1/f rad
per pixel, so bilinear interpolation between grid rays is a small fraction of a pixel."""


def pixel_rays(model: CameraModel) -> np.ndarray:
    """Unit eye rays of every pixel centre and the lens's validity (the background's ray map).

    Exact ``CameraModel.unproject`` of every pixel would take seconds per camera model, mostly on
    pixels outside the lens's image circle where Newton never converges. Instead the image circle
    is the projection of the cone at ``max_angle`` (a polygon of 4,096 rays) and pixels outside it
    are invalid; inside, rays are unprojected exactly on a 4 px grid and interpolated bilinearly
    (then renormalised); pixels whose grid cell touches an invalid grid ray (the rim) are
    unprojected exactly.

    Returns:
        (H, W, 4) float64: xyz the unit ray (where invalid: the ray on the rim of the lens's range
        at the pixel's azimuth), w 1 where the pixel sees through the lens, else 0.
    """
    height, width = model.height, model.width
    azimuth = np.linspace(0.0, 2 * np.pi, 4096, endpoint=False)
    angle = min(model.max_angle, np.pi * (1 - 1e-6))
    rim = np.stack([np.sin(angle) * np.cos(azimuth), np.sin(angle) * np.sin(azimuth), np.full_like(azimuth, np.cos(angle))], -1)
    rim_pixels = model.project(torch.from_numpy(rim))[0].numpy()
    inside = np.zeros((height, width), np.uint8)
    shift = 4  # cv2 polygon vertices in 1/16 px; pixel centres are at integers
    cv2.fillPoly(inside, [np.round(rim_pixels * (1 << shift)).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=shift)
    inside = cv2.dilate(inside, np.ones((3, 3), np.uint8)).astype(bool)  # unproject decides on the rim itself

    step = _RAY_GRID_STEP
    gv, gu = np.meshgrid(np.arange(0, height + step - 1, step), np.arange(0, width + step - 1, step), indexing="ij")
    grid_rays = np.zeros(gu.shape + (3,))
    grid_valid = np.zeros(gu.shape, bool)
    grid_inside = inside[np.minimum(gv, height - 1), np.minimum(gu, width - 1)]
    exact, exact_valid = model.unproject(torch.from_numpy(np.stack([gu[grid_inside], gv[grid_inside]], -1).astype(np.float64)))
    grid_rays[grid_inside], grid_valid[grid_inside] = exact.numpy(), exact_valid.numpy()

    v, u = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    i0, j0 = v // step, u // step
    fv, fu = ((v % step) / step)[..., None], ((u % step) / step)[..., None]
    corners = [((i0, j0), (1 - fv) * (1 - fu)), ((i0, j0 + 1), (1 - fv) * fu), ((i0 + 1, j0), fv * (1 - fu)), ((i0 + 1, j0 + 1), fv * fu)]
    rays = sum(grid_rays[c] * w for c, w in corners)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True).clip(1e-12)
    valid = inside & np.logical_and.reduce([grid_valid[c] for c, _ in corners])
    rim_cells = inside & ~valid
    if rim_cells.any():
        exact, exact_valid = model.unproject(torch.from_numpy(np.stack([u[rim_cells], v[rim_cells]], -1).astype(np.float64)))
        rays[rim_cells], valid[rim_cells] = exact.numpy(), exact_valid.numpy()
    # Outside the circle: the rim ray at the pixel's azimuth, so the background's mip level, which
    # comes from differences between neighbouring pixels' rays, stays right along the rim.
    azimuth = np.arctan2((v - model.cy) / model.fy, (u - model.cx) / model.fx)[~valid]
    rays[~valid] = np.stack([np.sin(angle) * np.cos(azimuth), np.sin(angle) * np.sin(azimuth), np.full_like(azimuth, np.cos(angle))], -1)
    return np.concatenate([rays, valid[..., None].astype(np.float64)], -1)




# ----------------------------------------------------------------------------------------------
# GLSL

_VERSION = "#version 430\n"

_FISHEYE_GLSL = """
// CameraModel.project for fisheye62/fisheye624 (cameras.md section 3); fisheye62 has zero thin
// prism. Parameters (``_fisheye_parameters``): intrinsics (fx, fy, cx, cy), radial (k1..k4),
// radial_tangential (k5, k6, p1, p2), prism (s1..s4).
vec2 fisheye_project(vec3 p, vec4 intrinsics, vec4 radial, vec4 radial_tangential, vec4 prism, out float theta) {
    float r = length(p.xy);
    theta = atan(r, p.z);
    // theta / r -> 1 / z on the axis; straight behind the camera (r = 0, z < 0) is never valid.
    float scale = r > 1e-20 ? theta / r : (p.z > 0.0 ? 1.0 / p.z : 0.0);
    vec2 uv = p.xy * scale;
    float rho2 = min(dot(uv, uv), 9.869604401089358);  // clamp to pi^2
    float k = radial_tangential.y;
    k = k * rho2 + radial_tangential.x;
    k = k * rho2 + radial.w;
    k = k * rho2 + radial.z;
    k = k * rho2 + radial.y;
    k = k * rho2 + radial.x;
    vec2 xr = uv * (1.0 + k * rho2);
    float s2 = dot(xr, xr);
    float p1 = radial_tangential.z, p2 = radial_tangential.w;
    vec2 xd = vec2(xr.x + 2.0 * p2 * xr.x * xr.y + p1 * (s2 + 2.0 * xr.x * xr.x),
                   xr.y + 2.0 * p1 * xr.x * xr.y + p2 * (s2 + 2.0 * xr.y * xr.y));
    xd += vec2(prism.x * s2 + prism.y * s2 * s2, prism.z * s2 + prism.w * s2 * s2);
    return intrinsics.xy * xd + intrinsics.zw;
}
"""

_FISHEYE_UNIFORMS_GLSL = """
uniform vec4 u_fisheye[4];  // intrinsics, radial, radial_tangential, prism
uniform float u_max_angle;
"""

_SKIN_GLSL = """
// Skin radiance, evaluated per vertex (Gouraud): hand triangles cover a few pixels, so per-pixel
// lighting would look the same and cost more (llvmpipe's set-up cost grows with the varyings).
uniform int u_vertices_per_hand;
uniform int u_hands_per_item;  // H: a frame's vertices are H meshes of V vertices
uniform int u_hand_vertices;   // of a hand's V vertices, the first ones are the hand, the rest its forearm
uniform uint u_labels[8];
uniform float u_albedo;
uniform float u_ambient;
uniform float u_key;
uniform vec3 u_key_direction;
uniform float u_flash;
uniform float u_rim;
out vec2 v_hand;  // radiance, label (constant over a hand)

vec2 skin(vec3 world, vec3 normal_sum, vec3 eye_centre) {
    vec3 to_eye = eye_centre - world;
    float distance = length(to_eye);
    vec3 normal = normalize(normal_sum);
    // Vertices on a silhouette can face slightly away; treat them as grazing.
    float facing = clamp(dot(normal, to_eye / distance), 0.0, 1.0);
    float key = max((dot(normal, u_key_direction) + SKIN_WRAP) / (1.0 + SKIN_WRAP), 0.0);
    float flash = u_flash * facing * (FLASH_REFERENCE * FLASH_REFERENCE) / (distance * distance);
    float rim = 1.0 - u_rim * (1.0 - facing) * (1.0 - facing);
    bool forearm = gl_VertexID % u_vertices_per_hand >= u_hand_vertices;
    uint label = forearm ? uint(FOREARM_LABEL) : u_labels[(gl_VertexID / u_vertices_per_hand) % u_hands_per_item];
    return vec2(u_albedo * (u_ambient + u_key * key + flash) * rim, float(label));
}
"""

_FRAME_VS = (
    _VERSION
    + _FISHEYE_GLSL
    + _FISHEYE_UNIFORMS_GLSL
    + _SKIN_GLSL
    + """
in vec3 in_position;
in vec3 in_normal;
uniform mat4 u_eye_from_world;
uniform vec3 u_eye_centre;
uniform vec2 u_size;
out float gl_ClipDistance[2];

void main() {
    vec3 p = (u_eye_from_world * vec4(in_position, 1.0)).xyz;
    float theta;
    vec2 pixel = fisheye_project(p, u_fisheye[0], u_fisheye[1], u_fisheye[2], u_fisheye[3], theta);
    float distance = length(p);
    // Pixel centres sit at integer + 0.5 in GL window coordinates; image row v maps to window
    // y = v + 0.5, so the framebuffer's first row is the image's top row.
    gl_Position = vec4((pixel + 0.5) / u_size * 2.0 - 1.0, (distance - NEAR) / (FAR - NEAR) * 2.0 - 1.0, 1.0);
    gl_ClipDistance[0] = u_max_angle - theta;  // beyond the lens's one-to-one range
    gl_ClipDistance[1] = distance - NEAR;
    v_hand = skin(in_position, in_normal, u_eye_centre);
}
"""
)

_PROJECT_VS = (
    _VERSION
    + _FISHEYE_GLSL
    + _FISHEYE_UNIFORMS_GLSL
    + """
in vec3 in_position;
uniform mat4 u_eye_from_world;
out vec2 out_pixel;
void main() {
    float theta;
    vec3 p = (u_eye_from_world * vec4(in_position, 1.0)).xyz;
    out_pixel = fisheye_project(p, u_fisheye[0], u_fisheye[1], u_fisheye[2], u_fisheye[3], theta);
}
"""
)

_CROP_DATA_GLSL = """
struct CropData {           // ``_CROP_RECORD``: one per crop, std430
    mat4 clip_from_world;   // crop projection (own 96x96 NDC) x T_crop_from_world
    vec4 eye_centre;        // xyz: camera centre, world
    vec4 atlas;             // NDC scale (x, y) and offset (x, y) of the crop's tile
    mat4 world_from_pixel;  // upper 3x3: R_world_from_crop K^-1, crop pixel (u, v, 1) -> world ray
    mat4 source_from_world; // upper 3x3: world -> source camera eye rotation
    vec4 fisheye[4];        // the source camera's lens (``_fisheye_parameters``)
    vec4 limits;            // source image width - 1, height - 1, max_angle, 1 if the crop leaves the source image
};
layout(std430, binding = 0) readonly buffer Crops { CropData crops[]; };
"""

_CROP_VS = (
    _VERSION
    + _SKIN_GLSL
    + """
in vec3 in_position;
in vec3 in_normal;
// Per instance (the draw command's base instance is the crop): the crop's record, fetched as
// vertex attributes, which llvmpipe does far faster than per-vertex storage-buffer reads.
in mat4 in_clip_from_world;
in vec3 in_eye_centre;
in vec4 in_atlas;
out float gl_ClipDistance[4];

void main() {
    vec4 clip = in_clip_from_world * vec4(in_position, 1.0);
    vec4 atlas = in_atlas;
    // Clip to the crop's own frustum before moving it into its atlas tile, so no triangle
    // spills into a neighbouring crop.
    gl_ClipDistance[0] = clip.w - clip.x;
    gl_ClipDistance[1] = clip.w + clip.x;
    gl_ClipDistance[2] = clip.w - clip.y;
    gl_ClipDistance[3] = clip.w + clip.y;
    gl_Position = vec4(clip.xy * atlas.xy + clip.w * atlas.zw, clip.zw);
    v_hand = skin(in_position, in_normal, in_eye_centre);  // gl_VertexID includes the base vertex
}
"""
)

_SKIN_FS = (
    _VERSION
    + """
in vec2 v_hand;
out vec3 out_hand;  // radiance, coverage, label
void main() { out_hand = vec3(v_hand.x, 1.0, v_hand.y); }
"""
)

_FULLSCREEN_VS = (
    _VERSION
    + """
void main() {
    // One triangle covering the viewport.
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
"""
)

_SENSOR_GLSL = """
uniform float u_gain;
uniform float u_read_noise;
uniform float u_shot_noise;
uniform float u_vignetting;
uniform uint u_seed;
uniform float u_background_gain;
uniform samplerCube u_environment;
uniform sampler2D u_hands;  // hand pass: radiance, coverage (1 on a hand, 0 elsewhere), label
layout(location = 0) out float out_value;
layout(location = 1) out float out_label;  // hand label / 255

uvec3 pcg3d(uvec3 v) {  // Jarzynski & Olano, "Hash functions for GPU rendering", JCGT 2020
    v = v * 1664525u + 1013904223u;
    v.x += v.y * v.z; v.y += v.z * v.x; v.z += v.x * v.y;
    v ^= v >> 16u;
    v.x += v.y * v.z; v.y += v.z * v.x; v.z += v.x * v.y;
    return v;
}

// Radiance along a pixel -> normalised uint8 output. cos_theta: of the angle from the physical
// camera's optical axis.
float expose(float radiance, float cos_theta, uvec3 key) {
    float falloff = 1.0 - u_vignetting * min(1.0 - cos_theta, 1.0);
    float value = 255.0 * u_gain * radiance * falloff;
    float sigma = sqrt(u_read_noise * u_read_noise + u_shot_noise * max(value, 0.0));
    uvec3 h = pcg3d(key);
    float u1 = (float(h.x >> 8u) + 0.5) / 16777216.0;
    float u2 = float(h.y >> 8u) / 16777216.0;
    value += sigma * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);  // Box-Muller
    return clamp(value, 0.0, 255.0) / 255.0;  // the R8 target rounds to the nearest level
}

// The hand pass blurred by the lens, composited over the background: the kernel [[0 1 0] [1 4 1]
// [0 1 0]] / 8 (sigma 0.5 px), which softens the rasterised silhouettes as real optics do at a
// fraction of the cost of multisampling on llvmpipe. It is symmetric under mirroring and quarter
// turns, so mirrored and rolled crops blur like the fisheye frames they stand in for.
// lo, hi: the texels the taps may reach (a crop's own tile, so neighbours never bleed in).
float pixel_radiance(ivec2 texel, vec3 world_ray, ivec2 lo, ivec2 hi) {
    // Sampled unconditionally so the cube map's mip selection sees continuous derivatives.
    float background = u_background_gain * texture(u_environment, world_ray).r;
    vec2 hand = 0.5 * texelFetch(u_hands, texel, 0).rg;  // radiance x coverage, coverage
    hand += 0.125 * texelFetch(u_hands, clamp(texel + ivec2(1, 0), lo, hi), 0).rg;
    hand += 0.125 * texelFetch(u_hands, clamp(texel - ivec2(1, 0), lo, hi), 0).rg;
    hand += 0.125 * texelFetch(u_hands, clamp(texel + ivec2(0, 1), lo, hi), 0).rg;
    hand += 0.125 * texelFetch(u_hands, clamp(texel - ivec2(0, 1), lo, hi), 0).rg;
    out_label = texelFetch(u_hands, texel, 0).b / 255.0;
    return hand.x + (1.0 - hand.y) * background;
}
"""

_FRAME_SENSOR_FS = (
    _VERSION
    + _SENSOR_GLSL
    + """
uniform sampler2D u_rays;  // xyz: unit eye ray of the pixel, w: 1 inside the lens's image circle
uniform mat3 u_world_from_eye;

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    vec4 ray = texelFetch(u_rays, texel, 0);
    float radiance = pixel_radiance(texel, u_world_from_eye * ray.xyz, ivec2(0), textureSize(u_hands, 0) - 1);
    out_value = ray.w * expose(radiance, ray.z, uvec3(texel, u_seed));
}
"""
)

_CROP_SENSOR_VS = (
    _VERSION
    + _CROP_DATA_GLSL
    + """
uniform int u_crop_size;
uniform vec2 u_atlas_size;
out vec3 v_ray;  // world ray of the pixel: linear in the crop pixel, so interpolation is exact
flat out mat3 v_source_from_world;
flat out vec4 v_fisheye[4];
flat out vec4 v_limits;
flat out ivec3 v_tile;  // tile origin in the atlas (px), crop index

void main() {
    // One quad per crop (instance), a 4-vertex strip over its tile: the crop's data is read here,
    // four times per crop, instead of per pixel in the fragment shader.
    vec2 corner = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));
    int crop = gl_InstanceID;
    int columns = int(u_atlas_size.x) / u_crop_size;
    ivec2 origin = ivec2(crop % columns, crop / columns) * u_crop_size;
    vec2 local = corner * float(u_crop_size) - 0.5;  // tile edges, in crop pixel coordinates
    v_ray = mat3(crops[crop].world_from_pixel) * vec3(local, 1.0);
    v_source_from_world = mat3(crops[crop].source_from_world);
    for (int i = 0; i < 4; ++i) v_fisheye[i] = crops[crop].fisheye[i];
    v_limits = crops[crop].limits;
    v_tile = ivec3(origin, crop);
    gl_Position = vec4((vec2(origin) + corner * float(u_crop_size)) / u_atlas_size * 2.0 - 1.0, 0.0, 1.0);
}
"""
)

_CROP_SENSOR_FS = (
    _VERSION
    + _FISHEYE_GLSL
    + _SENSOR_GLSL
    + """
in vec3 v_ray;
flat in mat3 v_source_from_world;
flat in vec4 v_fisheye[4];
flat in vec4 v_limits;
flat in ivec3 v_tile;
uniform int u_crop_size;
uniform int u_first_crop;  // index of this atlas's first crop in the caller's batch (noise key)

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    ivec2 local = texel - v_tile.xy;
    float radiance = pixel_radiance(texel, v_ray, v_tile.xy, v_tile.xy + u_crop_size - 1);
    // Where the source camera saw this ray: crop pixels outside its image or lens are black in a
    // crop warped from a real frame, with the soft edge of bilinear sampling against a black
    // border (cv2.remap, BORDER_CONSTANT).
    // Only crops that reach the border pay for the per-pixel projection (a per-crop branch).
    vec3 eye = v_source_from_world * v_ray;
    float seen = 1.0;
    if (v_limits.w > 0.5) {
        float theta;
        vec2 source = fisheye_project(eye, v_fisheye[0], v_fisheye[1], v_fisheye[2], v_fisheye[3], theta);
        vec2 inside = clamp(source + 1.0, 0.0, 1.0) * clamp(v_limits.xy + 1.0 - source, 0.0, 1.0);
        seen = eye.z > 0.0 && theta < v_limits.z ? inside.x * inside.y : 0.0;
    }
    uint key = uint(local.y * u_crop_size + local.x);
    out_value = seen * expose(radiance, eye.z / length(eye), uvec3(key, uint(u_first_crop + v_tile.z), u_seed));
}
"""
)


def _defines(source: str) -> str:
    constants = {
        "NEAR": NEAR_M,
        "FAR": FAR_M,
        "SKIN_WRAP": SKIN_WRAP,
        "FLASH_REFERENCE": FLASH_REFERENCE_M,
    }
    lines = "".join(f"#define {name} {float(value)!r}\n" for name, value in constants.items())
    lines += f"#define FOREARM_LABEL {FOREARM_LABEL}\n"
    return source.replace(_VERSION, _VERSION + lines, 1)


# ----------------------------------------------------------------------------------------------
# Renderer

_GL_CLIP_DISTANCE0 = 0x3000
_GL_TEXTURE_CUBE_MAP_SEAMLESS = 0x884F
_CACHE_SIZE = 8
_STRIDE = 24  # bytes per vertex: position and normal, float32
_CROP_RECORD_BYTES = 4 * (16 + 4 + 4 + 16 + 16 + 16 + 4)  # ``_CROP_DATA_GLSL``


@dataclass
class _Target:
    """Offscreen buffers of one size: the hand pass (RGB32F radiance, coverage, label; depth), then
    the sensor pass (uint8 image and mask)."""

    hand_texture: Any
    depth: Any
    hands: Any
    image: Any
    mask: Any
    output: Any

    def release(self) -> None:
        for obj in (self.hands, self.output, self.hand_texture, self.depth, self.image, self.mask):
            obj.release()


@dataclass
class _Slot:
    """GL buffers of one atlas in flight; two alternate so one can be filled while the other renders."""

    vertices: Any
    records: Any


@dataclass
class _CropChunk:
    """One atlas of crops, prepared on the CPU without GL calls (so it can overlap rasterisation).

    Attributes:
        first, count: the crops ``first .. first + count - 1`` of the caller's batch.
        columns, rows: atlas layout, tile i at (i % columns, i // columns).
        records: (count, ``_CROP_RECORD_BYTES``) bytes, ``_CROP_DATA_GLSL``.
        vertices: positions and normals of the frames the chunk draws, frame-major (N, H, V, 6) float32.
        commands: (D, 5) uint32 indirect draws (count, instances, first index, base vertex,
            base instance): one hand into one crop each.
    """

    first: int
    count: int
    columns: int
    rows: int
    records: bytes
    vertices: bytes
    commands: np.ndarray


class _Renderer:
    """A process's OpenGL context, programs and caches (GL objects cannot cross a fork)."""

    def __init__(self) -> None:
        try:
            self.ctx = moderngl.create_context(standalone=True, backend="egl", require=430)
        except Exception as exc:  # missing libEGL, no usable driver, GL < 4.3: all mean "no GL here"
            raise GLUnavailableError(
                "cannot create an OpenGL 4.3 context through EGL "
                f"({type(exc).__name__}: {exc}); install the EGL and Mesa drivers "
                "(Debian: libegl1 libgl1-mesa-dri)"
            ) from exc
        ctx = self.ctx
        with ctx:
            self._display = _egl.current_display()
            ctx.enable_direct(_GL_TEXTURE_CUBE_MAP_SEAMLESS)
            self.frame_program = ctx.program(vertex_shader=_defines(_FRAME_VS), fragment_shader=_defines(_SKIN_FS))
            self.crop_program = ctx.program(vertex_shader=_defines(_CROP_VS), fragment_shader=_defines(_SKIN_FS))
            self.frame_sensor = ctx.program(vertex_shader=_FULLSCREEN_VS, fragment_shader=_defines(_FRAME_SENSOR_FS))
            self.crop_sensor = ctx.program(vertex_shader=_CROP_SENSOR_VS, fragment_shader=_defines(_CROP_SENSOR_FS))
            self.project_program = ctx.program(vertex_shader=_defines(_PROJECT_VS), varyings=["out_pixel"])
            self.fullscreen = ctx.vertex_array(self.frame_sensor, [])
            self.crop_tiles = ctx.vertex_array(self.crop_sensor, [])
            self.slots = [_Slot(ctx.buffer(reserve=_STRIDE * 3), ctx.buffer(reserve=_CROP_RECORD_BYTES)) for _ in range(2)]
            self._flush = _egl.gl_flush()
        self._environments: OrderedDict[int, tuple[Environment, Any]] = OrderedDict()
        self._rays: OrderedDict[CameraModel, Any] = OrderedDict()
        self._indices: OrderedDict[tuple, Any] = OrderedDict()
        self._targets: OrderedDict[tuple[int, int, int], _Target] = OrderedDict()

    # -- caches ----------------------------------------------------------------------------

    def _environment(self, environment: Environment):
        entry = self._environments.get(id(environment))
        if entry is None or entry[0] is not environment:
            n = environment.face_size
            texture = self.ctx.texture_cube((n, n), 1, environment.faces.astype(np.float16).tobytes(), dtype="f2")
            texture.build_mipmaps()
            texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
            entry = (environment, texture)
            self._environments[id(environment)] = entry
            _evict(self._environments)
        self._environments.move_to_end(id(environment))
        return entry[1]

    def _ray_map(self, model: CameraModel):
        texture = self._rays.get(model)
        if texture is None:
            data = pixel_rays(model).astype(np.float32)
            texture = self.ctx.texture((model.width, model.height), 4, np.ascontiguousarray(data).tobytes(), dtype="f4")
            self._rays[model] = texture
            _evict(self._rays)
        self._rays.move_to_end(model)
        return texture

    def _index_buffer(self, faces: np.ndarray, num_vertices: int):
        """Triangles of the H hands of one frame, hand h's vertices at h * V (a frame's vertex layout)."""
        key = (faces.tobytes(), num_vertices)
        buffer = self._indices.get(key)
        if buffer is None:
            offsets = (np.arange(faces.shape[0], dtype=np.int64) * num_vertices)[:, None, None]
            buffer = self.ctx.buffer((faces + offsets).astype(np.uint32).tobytes())
            self._indices[key] = buffer
            _evict(self._indices)
        self._indices.move_to_end(key)
        return buffer

    def _target(self, width: int, height: int, slot: int = 0) -> _Target:
        key = (width, height, slot)
        target = self._targets.get(key)
        if target is None:
            ctx = self.ctx
            hand_texture = ctx.texture((width, height), 3, dtype="f4")
            depth = ctx.depth_renderbuffer((width, height))
            image = ctx.texture((width, height), 1, dtype="f1")
            mask = ctx.texture((width, height), 1, dtype="f1")
            target = _Target(
                hand_texture=hand_texture,
                depth=depth,
                hands=ctx.framebuffer([hand_texture], depth),
                image=image,
                mask=mask,
                output=ctx.framebuffer([image, mask]),
            )
            self._targets[key] = target
            _evict(self._targets, 4)
        self._targets.move_to_end(key)
        return target

    # -- drawing ---------------------------------------------------------------------------

    def _set_look(self, program, look: Look, hands: Hands) -> None:
        program["u_albedo"].value = look.skin_albedo
        program["u_ambient"].value = look.ambient
        program["u_key"].value = look.key
        program["u_key_direction"].value = look.key_direction
        program["u_flash"].value = look.flash
        program["u_rim"].value = look.rim
        program["u_vertices_per_hand"].value = hands.vertices.shape[-2]
        program["u_hands_per_item"].value = hands.vertices.shape[-3]
        program["u_hand_vertices"].value = hands.vertices.shape[-2] - hands.forearm_vertices
        labels = [i + 1 for i in hands.hand_indices] + [0] * (8 - len(hands.hand_indices))
        program["u_labels"].value = labels

    def _set_sensor(self, program, sensor: Sensor, scene: Scene, seed: int) -> None:
        program["u_gain"].value = sensor.gain
        program["u_read_noise"].value = sensor.read_noise
        program["u_shot_noise"].value = sensor.shot_noise
        program["u_vignetting"].value = sensor.vignetting
        program["u_seed"].value = seed
        program["u_background_gain"].value = scene.look.background_gain
        program["u_environment"].value = 0
        program["u_hands"].value = 1

    def _draw_hands(self, program, target: _Target, slot: _Slot, faces: np.ndarray, num_vertices: int, front_face: str, commands=None) -> None:
        """Clear the hand target and draw the meshes in ``slot.vertices`` into it.

        Without ``commands`` (the fisheye frame) every hand of the one frame is drawn once; with
        them (crops, (D, 5) uint32) each indirect command draws one hand into one crop, whose
        record (``slot.records``, per-instance attributes) its base instance selects.
        """
        ctx = self.ctx
        target.hands.use()  # also sets the viewport: moderngl keeps one per framebuffer, never set ctx.viewport
        target.hands.clear(color=(0.0, 0.0, 0.0, 0.0), depth=1.0)  # coverage 0: no hand
        if faces.size == 0 or num_vertices == 0 or (commands is not None and len(commands) == 0):
            return
        content = [(slot.vertices, "3f 3f", "in_position", "in_normal")]
        if commands is not None:
            # The first fields of each crop record (``_CROP_DATA_GLSL``), per instance.
            content.append((slot.records, f"16f 3f 4x 4f {_CROP_RECORD_BYTES - 96}x /i", "in_clip_from_world", "in_eye_centre", "in_atlas"))
        vao = ctx.vertex_array(program, content, index_buffer=self._index_buffer(faces, num_vertices), index_element_size=4)
        clip_planes = 2 if commands is None else 4  # fisheye: lens range, near; crops: their tile
        ctx.enable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.front_face = front_face
        ctx.cull_face = "back"
        for plane in range(clip_planes):
            ctx.enable_direct(_GL_CLIP_DISTANCE0 + plane)
        if commands is None:
            vao.render(moderngl.TRIANGLES)
        else:
            command_buffer = ctx.buffer(commands.tobytes())
            vao.render_indirect(command_buffer, moderngl.TRIANGLES)
            command_buffer.release()
        for plane in range(clip_planes):
            ctx.disable_direct(_GL_CLIP_DISTANCE0 + plane)
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        vao.release()

    @staticmethod
    def _write(buffer, data: bytes) -> None:
        if buffer.size < len(data):
            buffer.orphan(len(data))
        if data:
            buffer.write(data)

    def view(self, camera: Camera, hands: Hands, scene: Scene, sensor: Sensor, seed: int) -> View:
        model = camera.model
        vertices = _vertex_data(hands.vertices[None], hands.faces, None)
        ctx = self.ctx
        with ctx:
            target, slot = self._target(model.width, model.height), self.slots[0]
            T_world_from_eye = camera.T_world_from_camera.to(torch.float64)
            T_eye_from_world = torch.linalg.inv(T_world_from_eye)
            program = self.frame_program
            self._set_camera_model(program, model)
            program["u_eye_from_world"].write(T_eye_from_world.T.contiguous().to(torch.float32).numpy().tobytes())
            program["u_eye_centre"].value = tuple(T_world_from_eye[:3, 3].tolist())
            program["u_size"].value = (float(model.width), float(model.height))
            self._set_look(program, scene.look, hands)
            self._write(slot.vertices, vertices)
            # Outward faces wind clockwise in the window (the image's y-down maps onto GL's y-up).
            self._draw_hands(program, target, slot, hands.faces, hands.vertices.shape[-2], "cw")

            sensor_program = self.frame_sensor
            self._set_sensor(sensor_program, sensor, scene, seed)
            sensor_program["u_rays"].value = 2
            sensor_program["u_world_from_eye"].write(T_world_from_eye[:3, :3].T.contiguous().to(torch.float32).numpy().tobytes())
            self._environment(scene.environment).use(0)
            target.hand_texture.use(1)
            self._ray_map(model).use(2)
            target.output.use()
            self.fullscreen.render(vertices=3)
            image = np.frombuffer(target.output.read(components=1, dtype="f1"), np.uint8)
            mask = np.frombuffer(target.output.read(components=1, dtype="f1", attachment=1), np.uint8)
        shape = (model.height, model.width)
        return View(image.reshape(shape).copy(), mask.reshape(shape).copy())

    def crops(
        self,
        T_crop_from_world: torch.Tensor,
        focal: torch.Tensor,
        size: int,
        source_models: tuple[CameraModel, ...],
        T_world_from_source: torch.Tensor,
        hands: Hands,
        frames: np.ndarray,
        scene: Scene,
        sensor: Sensor,
        seed: int,
    ) -> np.ndarray:
        """Render the batch in atlases of up to ``MAX_CROPS_PER_DRAW`` crops, at least two atlases
        for batches of 128 or more, pipelined: llvmpipe rasterises one atlas on its threads while
        this thread prepares and submits the next (``_CropChunk``)."""
        batch = T_crop_from_world.shape[0]
        out = np.empty((batch, size, size), np.uint8)
        if batch == 0:
            return out
        det = torch.linalg.det(T_crop_from_world[:, :3, :3])
        if not (bool((det > 0).all()) or bool((det < 0).all())):
            raise ValueError("crop cameras in one batch must be all mirrored (right hand) or all proper (left hand)")
        # Outward faces wind clockwise for a proper camera (see ``view``); a mirror reverses that.
        front_face = "cw" if bool(det[0] > 0) else "ccw"
        per_atlas = min(MAX_CROPS_PER_DRAW, max(_MIN_PIPELINED_CROPS, math.ceil(batch / 2)))
        starts = list(range(0, batch, per_atlas))

        def prepare(start: int) -> _CropChunk:
            stop = min(start + per_atlas, batch)
            return _prepare_crop_chunk(
                start, T_crop_from_world[start:stop], focal[start:stop], size, source_models[start:stop],
                T_world_from_source[start:stop], hands, frames[start:stop],
            )  # fmt: skip

        ctx = self.ctx
        with ctx:
            self._set_look(self.crop_program, scene.look, hands)
            self._set_sensor(self.crop_sensor, sensor, scene, seed)
            self.crop_sensor["u_crop_size"].value = size
            environment = self._environment(scene.environment)
            chunk, pending = prepare(0), None
            for k, _ in enumerate(starts):
                slot = self.slots[k % 2]
                target = self._target(chunk.columns * size, chunk.rows * size, k % 2)
                self._write(slot.records, chunk.records)
                self._write(slot.vertices, chunk.vertices)
                self._draw_hands(self.crop_program, target, slot, hands.faces, hands.vertices.shape[-2], front_face, chunk.commands)
                self._flush()  # rasterise the hands while the next atlas is prepared
                following = prepare(starts[k + 1]) if k + 1 < len(starts) else None
                slot.records.bind_to_storage_buffer(0)
                sensor_program = self.crop_sensor
                sensor_program["u_atlas_size"].value = (float(target.image.width), float(target.image.height))
                sensor_program["u_first_crop"].value = chunk.first
                environment.use(0)
                target.hand_texture.use(1)
                target.output.use()
                self.crop_tiles.render(moderngl.TRIANGLE_STRIP, vertices=4, instances=chunk.count)
                self._flush()
                if pending is not None:
                    self._read_crops(*pending, size, out)
                pending, chunk = (chunk, target), following
            self._read_crops(*pending, size, out)
        return out

    @staticmethod
    def _read_crops(chunk: _CropChunk, target: _Target, size: int, out: np.ndarray) -> None:
        atlas = np.frombuffer(target.output.read(components=1, dtype="f1"), np.uint8)
        tiles = atlas.reshape(chunk.rows, size, chunk.columns, size).transpose(0, 2, 1, 3).reshape(-1, size, size)
        out[chunk.first : chunk.first + chunk.count] = tiles[: chunk.count]

    def close(self) -> None:
        """Release the context and shut EGL's display down, which stops llvmpipe's threads."""
        self.ctx.release()
        _egl.terminate(self._display)

    def _set_camera_model(self, program, model: CameraModel) -> None:
        program["u_fisheye"].write(_fisheye_parameters(model).astype(np.float32).tobytes())
        if "u_max_angle" in program:  # the projection-only program compiles it away
            program["u_max_angle"].value = model.max_angle

    def project(self, camera: Camera, points: np.ndarray) -> np.ndarray:
        if len(points) == 0:
            return np.zeros((0, 2))
        ctx = self.ctx
        with ctx:
            program = self.project_program
            self._set_camera_model(program, camera.model)
            T_eye_from_world = torch.linalg.inv(camera.T_world_from_camera.to(torch.float64))
            program["u_eye_from_world"].write(T_eye_from_world.T.contiguous().to(torch.float32).numpy().tobytes())
            source = ctx.buffer(np.ascontiguousarray(points, np.float32).tobytes())
            result = ctx.buffer(reserve=len(points) * 8)
            vao = ctx.vertex_array(program, [(source, "3f", "in_position")])
            self._target(1, 1).output.use()  # a surfaceless context has no complete default framebuffer
            vao.transform(result, moderngl.POINTS, vertices=len(points))
            pixels = np.frombuffer(result.read(), np.float32).reshape(-1, 2).astype(np.float64)
            for obj in (vao, source, result):
                obj.release()
        return pixels


_MIN_PIPELINED_CROPS = 64
"""Smallest atlas worth splitting a batch for (below, the fixed cost per atlas outweighs the overlap)."""


class _EGL:
    """The few EGL/GL entry points moderngl does not expose, through libEGL (no-ops without it)."""

    def __init__(self) -> None:
        try:
            self.lib = ctypes.CDLL("libEGL.so.1")
        except OSError:
            self.lib = None
            return
        self.lib.eglGetProcAddress.restype = ctypes.c_void_p
        self.lib.eglGetProcAddress.argtypes = [ctypes.c_char_p]
        self.lib.eglGetCurrentDisplay.restype = ctypes.c_void_p
        self.lib.eglTerminate.argtypes = [ctypes.c_void_p]

    def gl_flush(self):
        """glFlush of the current context: starts llvmpipe's rasteriser threads on the queued work
        without waiting for them."""
        address = self.lib.eglGetProcAddress(b"glFlush") if self.lib else None
        return ctypes.CFUNCTYPE(None)(address) if address else (lambda: None)

    def current_display(self) -> int | None:
        return self.lib.eglGetCurrentDisplay() if self.lib else None

    def terminate(self, display: int | None) -> None:
        if self.lib and display:
            self.lib.eglTerminate(display)


_egl = _EGL()


def _vertex_data(vertices: np.ndarray, faces: np.ndarray, drawn: np.ndarray | None) -> bytes:
    """Positions and normals of frames (N, H, V, 3), frame-major float32 (N, H, V, 6) bytes.

    drawn: (N, H) bool, the meshes a draw uses (None: all); normals are computed for those only.
    """
    data = np.zeros(vertices.shape[:-1] + (6,), dtype=np.float32)
    data[..., :3] = vertices
    for h in range(vertices.shape[1]):
        rows = slice(None) if drawn is None else np.flatnonzero(drawn[:, h])
        data[rows, h, :, 3:] = vertex_normals(vertices[rows, h], faces[h])
    return data.tobytes()


def _prepare_crop_chunk(
    first: int,
    T_crop_from_world: torch.Tensor,
    focal: torch.Tensor,
    size: int,
    source_models: tuple[CameraModel, ...],
    T_world_from_source: torch.Tensor,
    hands: Hands,
    frames: np.ndarray,
) -> _CropChunk:
    """The CPU side of one atlas: crop records, indirect draws, and the vertices of its frames."""
    count = T_crop_from_world.shape[0]
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    width, height = columns * size, rows * size
    half = size / 2.0
    centre = (size - 1) / 2.0

    # Crop pixel (u, v) -> own NDC ((u + 0.5) / half - 1, (v + 0.5) / half - 1), v up the window.
    projection = torch.zeros(count, 4, 4, dtype=torch.float64)
    projection[:, 0, 0] = focal / half
    projection[:, 1, 1] = focal / half
    projection[:, 0, 2] = (centre + 0.5) / half - 1.0
    projection[:, 1, 2] = (centre + 0.5) / half - 1.0
    projection[:, 2, 2] = (FAR_M + NEAR_M) / (FAR_M - NEAR_M)
    projection[:, 2, 3] = -2.0 * FAR_M * NEAR_M / (FAR_M - NEAR_M)
    projection[:, 3, 2] = 1.0
    K_inv = torch.zeros(count, 3, 3, dtype=torch.float64)
    K_inv[:, 0, 0] = 1.0 / focal
    K_inv[:, 1, 1] = 1.0 / focal
    K_inv[:, 0, 2] = -centre / focal
    K_inv[:, 1, 2] = -centre / focal
    K_inv[:, 2, 2] = 1.0
    T_world_from_crop = torch.linalg.inv(T_crop_from_world)
    world_from_pixel = torch.zeros(count, 4, 4, dtype=torch.float64)
    world_from_pixel[:, :3, :3] = T_world_from_crop[:, :3, :3] @ K_inv
    index = torch.arange(count)
    tile_x, tile_y = (index % columns).to(torch.float64), (index // columns).to(torch.float64)
    atlas = torch.stack(
        [
            torch.full((count,), size / width, dtype=torch.float64),
            torch.full((count,), size / height, dtype=torch.float64),
            (2.0 * tile_x * size + size) / width - 1.0,
            (2.0 * tile_y * size + size) / height - 1.0,
        ],
        -1,
    )
    source_from_world = torch.zeros(count, 4, 4, dtype=torch.float64)
    source_from_world[:, :3, :3] = T_world_from_source[:, :3, :3].transpose(1, 2)
    zeros = torch.zeros(count, 1, dtype=torch.float64)
    lens_of = {m: np.concatenate([_fisheye_parameters(m), (m.width - 1.0, m.height - 1.0, m.max_angle, 0.0)]) for m in set(source_models)}
    lenses = np.array([lens_of[m] for m in source_models])
    lenses[:, -1] = _leaves_source_image(T_crop_from_world, focal, size, source_models, T_world_from_source)
    records = torch.cat(  # the layout of ``_CROP_DATA_GLSL``; GLSL matrices are column-major
        [
            (projection @ T_crop_from_world).transpose(1, 2).reshape(count, 16),
            torch.cat([T_world_from_crop[:, :3, 3], zeros], -1),
            atlas,
            world_from_pixel.transpose(1, 2).reshape(count, 16),
            source_from_world.transpose(1, 2).reshape(count, 16),
            torch.from_numpy(lenses),
        ],
        -1,
    ).to(torch.float32)

    # Each crop draws the hands of its frame that can reach its view: one indirect command
    # (count, instances, first index, base vertex, base instance) per crop and hand. The base
    # instance selects the crop's record (per-instance attributes); the base vertex the frame.
    used, frame_slot = np.unique(frames, return_inverse=True)
    vertices = hands.vertices[used]  # (U, H, V, 3)
    num_hands, num_vertices, num_faces = vertices.shape[1], vertices.shape[2], hands.faces.shape[1]
    if vertices.size and num_faces:
        reaches = _reaches_view(vertices, frame_slot, T_crop_from_world.numpy(), focal.numpy(), size)
    else:
        reaches = np.zeros((count, num_hands), bool)
    crop_index, hand_slot = np.nonzero(reaches)
    commands = np.stack(
        [
            np.full(crop_index.shape, 3 * num_faces),
            np.ones_like(crop_index),
            hand_slot * 3 * num_faces,
            frame_slot[crop_index] * num_hands * num_vertices,
            crop_index,
        ],
        -1,
    ).astype(np.uint32)
    drawn = np.zeros((len(used), num_hands), bool)
    drawn[frame_slot[crop_index], hand_slot] = True
    return _CropChunk(first, count, columns, rows, records.numpy().tobytes(), _vertex_data(vertices, hands.faces, drawn), commands)


def _fisheye_parameters(model: CameraModel) -> np.ndarray:
    """(16,) float64 lens of a fisheye62/624 model as the GLSL ``fisheye_project`` takes it:
    (fx, fy, cx, cy), (k1, k2, k3, k4), (k5, k6, p1, p2), (s1, s2, s3, s4)."""
    c = model.distortion
    if model.kind == "fisheye62":  # k1 k2 k3 k4 p1 p2 k5 k6, no thin prism
        lens = (*c[0:4], c[6], c[7], c[4], c[5], 0.0, 0.0, 0.0, 0.0)
    else:  # fisheye624: k1..k6 p1 p2 s1..s4
        lens = c
    return np.array([model.fx, model.fy, model.cx, model.cy, *lens], dtype=np.float64)


_BORDER_SAMPLES = 8
"""Points per crop side tested by ``_leaves_source_image`` (a crop's footprint in the source image
is smooth: between samples 12 px apart its edge bends by far less than the 2 px margin)."""
_BORDER_MARGIN_PX = 2.0


def _leaves_source_image(
    T_crop_from_world: torch.Tensor, focal: torch.Tensor, size: int, source_models: tuple[CameraModel, ...], T_world_from_source: torch.Tensor
) -> np.ndarray:
    """(C,) float 1 where some pixel of the crop may fall outside its source image or lens, else 0.

    Tests the crop's border (the footprint of a convex crop is bounded by the image of its border)
    with ``crop_pixels_to_source``, one batch per source model.
    """
    ticks = np.linspace(0.0, size - 1.0, _BORDER_SAMPLES)
    last = np.full_like(ticks, size - 1.0)
    border = np.concatenate([np.stack(p, -1) for p in ((ticks, 0 * ticks), (ticks, last), (0 * ticks, ticks), (last, ticks))])
    border = torch.from_numpy(border).to(torch.float64)
    leaves = np.zeros(len(source_models))
    models = np.array(source_models, dtype=object)
    for model in set(source_models):
        index = np.flatnonzero(models == model)
        crops = CropCamera(T_crop_from_world[index], focal[index], size)
        source = Camera(model, T_world_from_source[index])
        uv = crop_pixels_to_source(crops, source, border.expand(len(index), -1, -1))
        limit = torch.tensor([model.width - 1.0, model.height - 1.0], dtype=uv.dtype)
        inside = ((uv >= _BORDER_MARGIN_PX) & (uv <= limit - _BORDER_MARGIN_PX)).all(-1).all(-1)
        leaves[index] = (~inside).numpy()
    return leaves


def _reaches_view(vertices: np.ndarray, frame: np.ndarray, T_crop_from_world: np.ndarray, focal: np.ndarray, size: int) -> np.ndarray:
    """Whether each hand's bounding sphere meets each crop's view cone (conservative).

    Args:
        vertices: (U, H, V, 3) hands of U frames. frame: (C,) the frame of each crop.
        T_crop_from_world: (C, 4, 4). focal: (C,) px. size: crop size, px.
    Returns:
        (C, H) bool.
    """
    low, high = (t.numpy() for t in torch.aminmax(torch.from_numpy(vertices), dim=2))  # numpy's axis=2 is 15x slower
    centre = 0.5 * (low + high)[frame]
    radius = 0.5 * np.linalg.norm(high - low, axis=-1)[frame]
    eye = np.einsum("cij,chj->chi", T_crop_from_world[:, :3, :3], centre) + T_crop_from_world[:, None, :3, 3]
    distance = np.linalg.norm(eye, axis=-1)
    inside = distance <= radius
    off_axis = np.arccos(np.clip(eye[..., 2] / np.maximum(distance, 1e-12), -1.0, 1.0))
    sphere_half_angle = np.arcsin(np.clip(radius / np.maximum(distance, 1e-12), 0.0, 1.0))
    view_half_angle = np.arctan(np.sqrt(2.0) * 0.5 * size / focal)[:, None]  # to the corners
    return inside | (off_axis - sphere_half_angle < view_half_angle)


def _evict(cache: OrderedDict, size: int = _CACHE_SIZE) -> None:
    while len(cache) > size:
        _, value = cache.popitem(last=False)
        (value[1] if isinstance(value, tuple) else value).release()


_RENDERER: tuple[int, _Renderer, ThreadPoolExecutor] | None = None


_RENDERER_LOCK = threading.Lock()


def _on_gl_thread(work: Callable[[_Renderer], Any]) -> Any:
    """Run ``work(renderer)`` on the process's GL thread and return its result (or raise its error).

    All rendering happens on one dedicated thread that owns the EGL context and keeps it current.
    Calls from any thread are thereby serialised, and a thread that uses another GL context (the
    app's Qt/vispy views make a GLX context current on the GUI thread) can never leave a foreign
    context current under the renderer: with both on one thread, Mesa drew into the wrong one.
    """
    global _RENDERER
    with _RENDERER_LOCK:
        if _RENDERER is None or _RENDERER[0] != os.getpid():
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="umetrack-gl")
            renderer = executor.submit(_Renderer).result()  # raises GLUnavailableError here
            _RENDERER = (os.getpid(), renderer, executor)
        _pid, renderer, executor = _RENDERER
        future = executor.submit(work, renderer)
    return future.result()


def _close_before_fork() -> None:
    """A forked child cannot use its parent's llvmpipe (the rasteriser threads do not survive the
    fork, and the child would hang on its first draw), so the renderer shuts down before every
    ``os.fork`` (multiprocessing's default on Linux, e.g. data-loader workers) and parent and
    child each build a new one on their next render; the caches are rebuilt then."""
    global _RENDERER
    with _RENDERER_LOCK:
        if _RENDERER is not None and _RENDERER[0] == os.getpid():
            _pid, renderer, executor = _RENDERER
            executor.submit(renderer.close).result()
            executor.shutdown(wait=True)
        _RENDERER = None


os.register_at_fork(before=_close_before_fork)


__all__ = [
    "FISHEYE_KINDS",
    "FOREARM_LABEL",
    "GLUnavailableError",
    "Hands",
    "Look",
    "Scene",
    "Sensor",
    "View",
    "ForearmMesh",
    "forearm_mesh",
    "gl_project_points",
    "pixel_rays",
    "render_crops",
    "render_view",
]
