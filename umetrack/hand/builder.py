"""Procedural construction of the project's own LEFT hand model in the UmeTrack convention.

Nothing here is copied from a released model: the skeleton comes from published anthropometry,
the skin is the zero level set of a signed distance function (SDF) built around that skeleton,
meshed with a fixed, hand-shaped quad topology (palm tube, four finger tubes branching off the
knuckle ring, a thumb tube growing out of the thenar side, capped forearm stub and fingertips),
and the skinning weights come from distances to the bones. Everything is deterministic.

Sources of the numbers (means of adult men and women, rounded to 0.1 mm):
* bone lengths: A. Buryanov, V. Kotiuk, "Proportions of hand segments", Int. J. Morphol.
  28(3):755-758, 2010 (radiographic metacarpal and phalanx lengths);
* breadths and thicknesses of palm, wrist and fingers: C. C. Gordon et al., "2012 Anthropometric
  Survey of U.S. Army Personnel" (ANSUR II), NATICK/TR-15/007, and T. M. Greiner, "Hand
  anthropometry of U.S. Army personnel", NATICK/TR-92/011, 1991;
* the two offset thumb CMC axes (flexion-extension through the trapezium, abduction-adduction
  through the metacarpal base): A. Hollister et al., "The axes of rotation of the thumb
  carpometacarpal joint", J. Orthop. Res. 10:454-460, 1992;
* joint ranges of motion: American Academy of Orthopaedic Surgeons, "Joint motion: method of
  measuring and recording", 1965 (as tabulated by Greene & Heckman, 1994).

Hand-local frame (metres in the returned model, millimetres inside this module): origin at the
wrist, +x towards the fingers, +z towards the thumb, +y towards the back of the hand; positive
flexion curls towards -y (the palm).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import torch

from umetrack.hand.model import NO_INDEX, NUM_JOINTS, NUM_LANDMARKS, NUM_SKINNING_FRAMES, HandModel, skinning_frame_of_joint

MM_PER_M = 1000.0

# --------------------------------------------------------------------------------------------
# Skeleton
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FingerSpec:
    """One long finger, millimetres and degrees, in the rest pose.

    mcp: MCP joint centre. spread: rest direction in the palm plane, degrees from +x towards +z.
    arch: tilt of the local back-of-hand normal about +x (transverse metacarpal arch), degrees,
    positive towards +z. convergence: tilt of the flexion axes so the fingers close towards the
    scaphoid (the clinical "all fingers point to the scaphoid" sign), degrees.
    lengths: MCP->PIP, PIP->DIP, DIP->tip landmark. rest_flexion: MCP, PIP, DIP degrees.
    radii: skin radius at MCP, PIP, DIP and at the fingertip pulp.
    limits: (abduction, MCP flexion, PIP, DIP) [min, max] in degrees.
    """

    mcp: tuple[float, float, float]
    spread: float
    arch: float
    convergence: float
    lengths: tuple[float, float, float]
    rest_flexion: tuple[float, float, float]
    radii: tuple[float, float, float, float]
    limits: tuple[tuple[float, float], ...]


# Phalanx lengths (Buryanov & Kotiuk 2010): proximal II-V 39.8/44.6/41.4/32.7, middle
# 22.4/26.3/25.7/18.1, distal 15.8/17.4/17.3/16.0 mm. The DIP-to-tip landmark distance adds the
# joint-centre offset and pulp (~5 mm); the tip landmark sits 2 mm inside the skin. Metacarpal
# lengths II-V 68.1/64.6/58.0/53.7 plus the carpal row put the MCP centres 80-95 mm from the wrist.
# Limits follow AAOS ranges (MCP flexion 90 deg rising towards the ulnar side, PIP 100, DIP 80).
FINGERS: tuple[FingerSpec, ...] = (
    FingerSpec((90.0, -4.0, 24.5), 9.0, 5.0, 0.0, (39.8, 22.4, 21.0), (5.0, 8.0, 5.0),
               (10.0, 9.7, 8.5, 7.5), ((-20.0, 25.0), (-20.0, 85.0), (0.0, 100.0), (0.0, 80.0))),
    FingerSpec((93.0, -3.0, 5.0), 1.0, 0.0, -4.0, (44.6, 26.3, 22.5), (5.0, 8.0, 5.0),
               (10.2, 9.9, 8.7, 7.6), ((-25.0, 20.0), (-20.0, 90.0), (0.0, 100.0), (0.0, 80.0))),
    FingerSpec((87.0, -5.0, -14.0), -6.0, -6.0, -9.0, (41.4, 25.7, 22.3), (5.0, 8.0, 5.0),
               (9.7, 9.4, 8.3, 7.2), ((-20.0, 20.0), (-20.0, 95.0), (0.0, 100.0), (0.0, 80.0))),
    FingerSpec((78.0, -8.0, -31.0), -15.0, -12.0, -14.0, (32.7, 18.1, 20.5), (5.0, 8.0, 5.0),
               (8.8, 8.4, 7.5, 6.7), ((-35.0, 25.0), (-25.0, 95.0), (0.0, 100.0), (0.0, 80.0))),
)  # fmt: skip


@dataclass(frozen=True)
class ThumbSpec:
    """The thumb in the rest pose, millimetres and degrees.

    cmc: flexion-extension pivot (trapezium). base_offset: distance to the abduction-adduction
    pivot at the metacarpal base (Hollister 1992). direction: (angle in the palm plane from +x
    towards +z, angle towards the palm). lengths: base->MCP, MCP->IP, IP->tip landmark.
    pronation: rotation of the pulp about the thumb axis from facing the palm (-y) towards the
    fingers. rest_flexion: MCP, IP. radii: skin at CMC, MCP, IP, pulp. limits: 4 [min, max].
    """

    cmc: tuple[float, float, float] = (21.0, -11.0, 15.0)
    base_offset: float = 9.0
    direction: tuple[float, float] = (42.0, 20.0)
    # Metacarpal I 46.2 mm (MCP centre ~5 mm inside its head), proximal 31.6, distal 21.7 + pulp.
    lengths: tuple[float, float, float] = (41.0, 31.6, 24.0)
    pronation: float = 55.0
    rest_flexion: tuple[float, float] = (10.0, 10.0)
    radii: tuple[float, float, float, float] = (11.5, 10.8, 10.2, 8.9)
    # CMC opposition -40..75, CMC abduction +-35, MCP -10..55, IP -15..80 (AAOS).
    limits: tuple[tuple[float, float], ...] = ((-40.0, 75.0), (-35.0, 35.0), (-10.0, 55.0), (-15.0, 80.0))


THUMB = ThumbSpec()
# Wrist deviation (about +y: radial 20, ulnar 30 deg) and flexion/extension (about +z: 80/70 deg).
WRIST_LIMITS = ((-20.0, 30.0), (-80.0, 70.0))


@dataclass(frozen=True)
class Skeleton:
    """The rest-pose skeleton, millimetres.

    axes: (22, 3) unit DOF axes. pivots: (22, 3). limits: (22, 2) radians. landmarks: (21, 3).
    bones: per skinning frame (17), an (n, 2, 3) array of segments that carry that frame's
    flesh (frame 0 has none: frames 0 and 1 are both the wrist and the skin uses frame 1).
    dorsal: (17, 3) back-of-hand direction of each frame's bone (the skin is built around it).
    radii: (17, 2) skin radius at each finger/thumb bone's start and end (frames 2..16).
    """

    axes: np.ndarray
    pivots: np.ndarray
    limits: np.ndarray
    landmarks: np.ndarray
    bones: tuple[np.ndarray, ...]
    dorsal: np.ndarray
    radii: np.ndarray


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rotate(v: np.ndarray, axis: np.ndarray, degrees: float) -> np.ndarray:
    """Rodrigues rotation of v (3,) about the unit axis (3,)."""
    a = np.radians(degrees)
    return v * np.cos(a) + np.cross(axis, v) * np.sin(a) + axis * (axis @ v) * (1 - np.cos(a))


def build_skeleton() -> Skeleton:
    """The rest skeleton (mm): DOF axes and pivots, landmarks, limits, and the bones per frame."""
    axes = np.zeros((NUM_JOINTS, 3))
    pivots = np.zeros((NUM_JOINTS, 3))
    limits = np.zeros((NUM_JOINTS, 2))
    landmarks = np.zeros((NUM_LANDMARKS, 3))
    bones: list[np.ndarray] = [np.zeros((0, 2, 3)) for _ in range(NUM_SKINNING_FRAMES)]
    dorsal = np.zeros((NUM_SKINNING_FRAMES, 3))
    radii = np.zeros((NUM_SKINNING_FRAMES, 2))
    dorsal[:2] = (0.0, 1.0, 0.0)

    # Thumb: DOF 0 (CMC opposition, moves the tip palmar and ulnar), DOF 1 (CMC abduction,
    # positive towards the back of the hand), DOF 2 (MCP), DOF 3 (IP): both flex towards the pulp.
    t = THUMB
    yaw, pitch = np.radians(t.direction)
    d_meta = np.array([np.cos(pitch) * np.cos(yaw), -np.sin(pitch), np.cos(pitch) * np.sin(yaw)])
    pulp0 = _unit(np.array([0.0, -1.0, 0.0]) - d_meta * -d_meta[1])
    pulp = _rotate(pulp0, d_meta, -t.pronation)  # turn the pulp from -y towards the fingers (-z)
    if pulp[2] > 0:
        pulp = _rotate(pulp0, d_meta, t.pronation)
    p0 = np.array(t.cmc)
    p1 = p0 + t.base_offset * d_meta
    p2 = p1 + t.lengths[0] * d_meta
    flex_axis = _unit(np.cross(d_meta, pulp))
    d_prox = _rotate(d_meta, flex_axis, t.rest_flexion[0])
    pulp_prox = _rotate(pulp, flex_axis, t.rest_flexion[0])
    p3 = p2 + t.lengths[1] * d_prox
    d_dist = _rotate(d_prox, flex_axis, t.rest_flexion[1])
    pulp_dist = _rotate(pulp_prox, flex_axis, t.rest_flexion[1])
    tip = p3 + t.lengths[2] * d_dist
    across = _unit(np.array([0.0, -0.6, -0.8]) - d_meta * (d_meta @ np.array([0.0, -0.6, -0.8])))
    axes[0] = _unit(np.cross(d_meta, across))  # rotation about it moves the tip `across`
    lift = axes[0] if axes[0][1] > 0 else -axes[0]  # perpendicular motion, towards the back
    axes[1] = _unit(np.cross(d_meta, lift))
    axes[2] = flex_axis
    axes[3] = flex_axis
    pivots[0:4] = p0, p1, p2, p3
    limits[0:4] = np.radians(t.limits)
    landmarks[0], landmarks[6], landmarks[7] = tip, p2, p3
    bones[2] = np.array([[p0, p2]])
    bones[3] = np.array([[p2, p3]])
    bones[4] = np.array([[p3, tip]])
    dorsal[2], dorsal[3], dorsal[4] = -pulp, -pulp_prox, -pulp_dist
    radii[2] = t.radii[0], t.radii[1]
    radii[3] = t.radii[1], t.radii[2]
    radii[4] = t.radii[2], t.radii[3]

    palm_bones = [np.array([[-40.0, 0.0, 0.0], [0.0, 0.0, 0.0]])]
    for f, spec in enumerate(FINGERS):
        dof = 4 + 4 * f
        frame = 5 + 3 * f
        up = np.array([0.0, np.cos(np.radians(spec.arch)), np.sin(np.radians(spec.arch))])
        yaw = np.radians(spec.spread)
        forward = _unit(np.array([np.cos(yaw), 0.0, np.sin(yaw)]) - up * (up @ np.array([np.cos(yaw), 0.0, np.sin(yaw)])))
        radial = np.cross(forward, up)
        # Abduction about the local palm normal (positive towards the thumb); flexion about the
        # ulnar-pointing axis (curls towards the palm), tilted so the finger closes towards the
        # scaphoid: a = cos(g) (-radial) + sin(g) up.
        axes[dof] = -up
        g = np.radians(spec.convergence)
        flex = np.cos(g) * -radial + np.sin(g) * up
        axes[dof + 1 : dof + 4] = flex
        joints = [np.array(spec.mcp)]
        bend = 0.0
        for k in range(3):
            bend += spec.rest_flexion[k]
            direction = np.cos(np.radians(bend)) * forward - np.sin(np.radians(bend)) * up
            joints.append(joints[-1] + spec.lengths[k] * direction)
            dorsal[frame + k] = np.cos(np.radians(bend)) * up + np.sin(np.radians(bend)) * forward
            bones[frame + k] = np.array([[joints[k], joints[k + 1]]])
            radii[frame + k] = spec.radii[k], spec.radii[k + 1]
        pivots[dof], pivots[dof + 1], pivots[dof + 2], pivots[dof + 3] = joints[0], joints[0], joints[1], joints[2]
        limits[dof : dof + 4] = np.radians(spec.limits)
        landmarks[1 + f] = joints[3]
        landmarks[8 + 3 * f : 11 + 3 * f] = joints[0], joints[1], joints[2]
        palm_bones.append(np.array([[0.0, 0.0, 0.0], joints[0]]))
    bones[1] = np.stack(palm_bones)

    axes[20], axes[21] = (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
    limits[20:22] = np.radians(WRIST_LIMITS)
    landmarks[5] = 0.0
    landmarks[20] = _palm_center(pivots)
    return Skeleton(axes=_unit(axes), pivots=pivots, limits=limits, landmarks=landmarks,
                    bones=tuple(bones), dorsal=dorsal, radii=radii)  # fmt: skip


def _palm_center(pivots: np.ndarray) -> np.ndarray:
    """Centre of the palm: 70% of the way from the wrist to the mean finger MCP, 2.5 mm under
    the palm's skin (the palm slab's palmar face)."""
    centre = 0.7 * pivots[[4, 8, 12, 16]].mean(0)
    centre[1] = PALM_CENTRE_Y - PALM_HALF_THICKNESS + 2.5
    return centre


# --------------------------------------------------------------------------------------------
# Skin as a signed distance function (negative inside), millimetres
# --------------------------------------------------------------------------------------------


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum: a fillet of radius ~k where two shapes meet."""
    h = np.clip(k - np.abs(a - b), 0.0, None) / k
    return np.minimum(a, b) - h * h * k * 0.25


def _round_cone(p: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float) -> np.ndarray:
    """Exact distance to the convex hull of two spheres (a, ra) and (b, rb) (I. Quilez)."""
    ba = b - a
    l2 = ba @ ba
    rr = ra - rb
    a2 = l2 - rr * rr
    pa = p - a
    y = pa @ ba
    z = y - l2
    x2 = ((pa * l2 - y[:, None] * ba) ** 2).sum(1)
    y2 = y * y * l2
    z2 = z * z * l2
    k = np.sign(rr) * rr * rr * x2
    d_end = np.sqrt(x2 + z2) / l2 - rb
    d_start = np.sqrt(x2 + y2) / l2 - ra
    d_side = (np.sqrt(x2 * a2 / l2) + y * rr) / l2 - ra
    return np.where(np.sign(z) * a2 * z2 > k, d_end, np.where(np.sign(y) * a2 * y2 < k, d_start, d_side))


def _ellipsoid(p: np.ndarray, centre: np.ndarray, frame: np.ndarray, semi: np.ndarray) -> np.ndarray:
    """Approximate distance to an ellipsoid; frame (3, 3) rows are its axes, semi its semi-axes."""
    q = (p - centre) @ frame.T
    k0 = np.linalg.norm(q / semi, axis=1)
    k1 = np.linalg.norm(q / (semi * semi), axis=1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)


def _polygon2d(q: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Signed distance to a simple polygon in 2-D (negative inside), q (n, 2), verts (m, 2)."""
    d = np.full(len(q), np.inf)
    inside = np.zeros(len(q), bool)
    for vi, vj in zip(verts, np.roll(verts, 1, axis=0)):
        e = vj - vi
        w = q - vi
        b = w - e * np.clip((w @ e) / (e @ e), 0.0, 1.0)[:, None]
        d = np.minimum(d, (b * b).sum(1))
        # Even-odd crossing test of a ray towards +x.
        c1 = q[:, 1] >= vi[1]
        c2 = q[:, 1] < vj[1]
        c3 = e[0] * w[:, 1] > e[1] * w[:, 0]
        inside ^= (c1 & c2 & c3) | (~c1 & ~c2 & ~c3)
    return np.where(inside, -1.0, 1.0) * np.sqrt(d)


# Palm outline in the (x, z) plane: wrist edge, radial side, a knuckle arc a few mm beyond the MCP
# centres, ulnar side. Breadth ~80 mm at the metacarpal heads (ANSUR II hand breadth).
PALM_CONTROL = np.array([
    (-12.0, -25.0), (-12.0, 23.0), (30.0, 31.0), (70.0, 33.0), (91.0, 27.0), (97.0, 5.0),
    (92.0, -14.0), (83.0, -31.0), (70.0, -39.0), (35.0, -36.0),
])  # fmt: skip


def _closed_spline(control: np.ndarray, samples_per_span: int = 5) -> np.ndarray:
    """Closed Catmull-Rom curve through the control points (m, 2) -> (m * samples, 2)."""
    t = np.arange(samples_per_span)[:, None] / samples_per_span
    out = []
    for i in range(len(control)):
        p0, p1, p2, p3 = (control[(i + j - 1) % len(control)] for j in range(4))
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    return np.concatenate(out)


PALM_OUTLINE = _closed_spline(PALM_CONTROL)
PALM_HALF_THICKNESS = 14.0  # hand thickness at metacarpal III ~28 mm (ANSUR II)
PALM_CENTRE_Y = -4.5
PALM_ARCH = 0.004  # the palm's sides curve towards the palm (transverse arch), y -= a z^2
PALM_ROUNDING = 11.0
FOREARM_CUT = -45.0
FINGER_WEB = (10.0, 2.0)  # fillet between fingers at the knuckles and past the web, mm
FINGER_FLATTENING = 0.9  # fingers are ~10% thinner (palm to back) than wide


OUTLINE_GRID_STEP = 1.0  # mm; the outline is smooth, bilinear error < 0.1 mm near it


@functools.lru_cache(maxsize=1)
def _outline_grid() -> tuple[np.ndarray, np.ndarray]:
    """The palm outline's 2-D SDF sampled once on a grid (origin (x, z), values (nx, nz))."""
    lo = PALM_OUTLINE.min(0) - 40.0
    hi = PALM_OUTLINE.max(0) + 40.0
    xs = np.arange(lo[0], hi[0] + OUTLINE_GRID_STEP, OUTLINE_GRID_STEP)
    zs = np.arange(lo[1], hi[1] + OUTLINE_GRID_STEP, OUTLINE_GRID_STEP)
    q = np.stack(np.meshgrid(xs, zs, indexing="ij"), -1).reshape(-1, 2)
    return lo, _polygon2d(q, PALM_OUTLINE).reshape(len(xs), len(zs))


def _outline_sdf(q: np.ndarray) -> np.ndarray:
    """Bilinear lookup of the outline SDF at q (n, 2); beyond the grid, the distance to it is
    added (the palm is then far outside every blend radius and never decides the skin)."""
    lo, grid = _outline_grid()
    u = (q - lo) / OUTLINE_GRID_STEP
    top = np.array(grid.shape) - 1.001
    inside = np.clip(u, 0.0, top)
    i = inside.astype(np.int64)
    f = inside - i
    g00, g01 = grid[i[:, 0], i[:, 1]], grid[i[:, 0], i[:, 1] + 1]
    g10, g11 = grid[i[:, 0] + 1, i[:, 1]], grid[i[:, 0] + 1, i[:, 1] + 1]
    value = (1 - f[:, 0]) * ((1 - f[:, 1]) * g00 + f[:, 1] * g01) + f[:, 0] * ((1 - f[:, 1]) * g10 + f[:, 1] * g11)
    return value + OUTLINE_GRID_STEP * np.linalg.norm(u - inside, axis=1)


def _palm_slab(p: np.ndarray) -> np.ndarray:
    d2 = _outline_sdf(p[:, [0, 2]]) + PALM_ROUNDING
    y = p[:, 1] - (PALM_CENTRE_Y - PALM_ARCH * p[:, 2] ** 2)
    dy = np.abs(y) - PALM_HALF_THICKNESS + PALM_ROUNDING
    inside = np.minimum(np.maximum(d2, dy), 0.0)
    return inside + np.hypot(np.maximum(d2, 0.0), np.maximum(dy, 0.0)) - PALM_ROUNDING


def _forearm(p: np.ndarray) -> np.ndarray:
    """Elliptic wrist/forearm stub (wrist breadth ~56 mm, thickness ~36 mm), cut flat."""
    s = np.clip((p[:, 0] - 10.0) / (FOREARM_CUT - 10.0), 0.0, 1.0)
    az, ay = 28.0 + 2.5 * s, 18.0 + 2.0 * s
    r = np.hypot(p[:, 2] / az, (p[:, 1] + 2.0) / ay)
    side = (r - 1.0) * np.minimum(az, ay)
    side = -_smin(-side, 10.0 - p[:, 0], 20.0)
    return -_smin(-side, p[:, 0] - FOREARM_CUT, 5.0)


def _finger_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float, up: np.ndarray) -> np.ndarray:
    q = p + (1.0 / FINGER_FLATTENING - 1.0) * ((p - a) @ up)[:, None] * up
    return _round_cone(q, a, b, ra, rb)


TIP_DEPTH = 2.0  # mm the fingertip landmark sits inside the skin


@dataclass(frozen=True)
class _Digit:
    """A finger or thumb as the skin sees it: joint chain (4, 3) ending at the pulp sphere's
    centre, skin radius at each point (4,), and (back-of-hand, radial) directions per bone."""

    chain: np.ndarray
    radii: np.ndarray
    frames: np.ndarray


def _digit(skeleton: Skeleton, frames: tuple[int, int, int]) -> _Digit:
    """The digit whose bones are these three skinning frames (proximal to distal)."""
    chain = np.array([skeleton.bones[f][0][0] for f in frames] + [skeleton.bones[frames[-1]][0][1]])
    tip_radius = skeleton.radii[frames[-1], 1]
    # The pulp sphere ends TIP_DEPTH beyond the tip landmark.
    chain[-1] += (TIP_DEPTH - tip_radius) * _unit(chain[-1] - chain[-2])
    radii = np.append(skeleton.radii[list(frames), 0], tip_radius)
    axes = _unit(np.diff(chain, axis=0))
    ups = skeleton.dorsal[list(frames)]
    return _Digit(chain, radii, np.stack([ups, np.cross(axes, ups)], 1))


def _digits(skeleton: Skeleton) -> list[_Digit]:
    """Thumb, index, middle, ring, pinky."""
    return [_digit(skeleton, (2 + 3 * f, 3 + 3 * f, 4 + 3 * f)) for f in range(5)]


def _digit_sdf(p: np.ndarray, digit: _Digit) -> np.ndarray:
    """Phalanges as round cones sharing their joint spheres, slightly flattened palm-to-back."""
    out = np.full(len(p), np.inf)
    for k in range(3):
        out = np.minimum(out, _finger_segment(p, digit.chain[k], digit.chain[k + 1], digit.radii[k], digit.radii[k + 1], digit.frames[k, 0]))
    return out


def hand_sdf(points: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Signed distance (mm, negative inside) of the rest-pose skin, points (n, 3) mm -> (n,)."""
    p = np.asarray(points, dtype=np.float64)
    s = skeleton
    palm = _smin(_forearm(p), _palm_slab(p), 14.0)
    palm = _smin(palm, _ellipsoid(p, np.array([42.0, -11.0, -28.0]), np.eye(3), np.array([36.0, 11.0, 11.0])), 8.0)
    d_meta = _unit(s.pivots[2] - s.pivots[1])
    pulp = -s.dorsal[2]
    thenar_frame = np.stack([d_meta, pulp, np.cross(d_meta, pulp)])
    thenar_centre = s.pivots[1] + 0.45 * (s.pivots[2] - s.pivots[1]) + 5.0 * pulp
    palm = _smin(palm, _ellipsoid(p, thenar_centre, thenar_frame, np.array([22.0, 11.0, 12.0])), 10.0)
    thumb, *fingers = [_digit_sdf(p, d) for d in _digits(s)]
    hand = _smin(palm, thumb, 8.0)
    # The skin web between neighbouring fingers: a wide fillet near the knuckles that fades out
    # ~20 mm beyond them, so the crotch is a smooth U and the fingers are free past it.
    knuckles = s.pivots[[4, 8, 12, 16], 0].mean()
    web = FINGER_WEB[1] + (FINGER_WEB[0] - FINGER_WEB[1]) * (1 - _smoothstep((p[:, 0] - knuckles - 8.0) / 16.0))
    union = fingers[0]
    for finger in fingers[1:]:
        union = _smin(union, finger, web)
    return _smin(hand, union, 8.0)


# --------------------------------------------------------------------------------------------
# Mesh: a fixed hand-shaped topology whose vertices are shot onto the SDF and relaxed
# --------------------------------------------------------------------------------------------

EDGE = 4.4  # target edge length, mm: ~3,000 vertices over the ~500 cm^2 of skin
PALM_K = 5  # dorsal-row vertices per finger at the knuckles
PALM_SIDE = 3  # vertices down each side of the palm, and down each finger web
THUMB_ROOT = 0.65  # where the thumb tube's root loop wraps the metacarpal (fraction of CMC->MCP)
THUMB_HOLE_ACROSS = 4  # quads removed across the palm's radial-palmar corner for the thumb


def _ray_cast(anchors: np.ndarray, dirs: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """First exit point of each ray from the solid (anchors inside, dirs unit), (n, 3) mm."""
    t = np.zeros(len(anchors))
    inside = np.ones(len(anchors), bool)
    for _ in range(200):
        if not inside.any():
            break
        f = hand_sdf(anchors[inside] + t[inside, None] * dirs[inside], skeleton)
        out = f > 0.0
        step = np.where(out, 0.0, np.maximum(-0.8 * f, 0.25))
        idx = np.flatnonzero(inside)
        t[idx] += step
        inside[idx[out]] = False
    lo, hi = np.maximum(t - 0.25, 0.0), t  # the crossing lies within the last step
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        f = hand_sdf(anchors + mid[:, None] * dirs, skeleton)
        lo, hi = np.where(f < 0, mid, lo), np.where(f < 0, hi, mid)
    return anchors + hi[:, None] * dirs


def _ring_u(points: np.ndarray, centre: np.ndarray, up: np.ndarray, radial: np.ndarray) -> np.ndarray:
    """Angle of each ring point about an axis, as a fraction of a turn from `up` towards `radial`."""
    v = points - centre
    return (np.arctan2(v @ radial, v @ up) / (2 * np.pi)) % 1.0


def _zip(a: np.ndarray, ua: np.ndarray, b: np.ndarray, ub: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangle strip between two closed rings ordered by increasing u (fraction of a turn).

    Ring a is the one nearer the palm; faces are oriented so that they agree with the palm
    tube's quads (a_j, a_j+1, b_j+1, b_j). A ring of one vertex is a pole.
    """
    sa, sb = int(np.argmin(ua)), int(np.argmin(ub))
    a, ua = np.roll(a, -sa), np.roll(ua, -sa)
    b, ub = np.roll(b, -sb), np.roll(ub, -sb)
    na, nb = len(a), len(b)
    ua_ext = np.append(ua, ua[0] + 1.0)
    ub_ext = np.append(ub, ub[0] + 1.0)
    faces = []
    i = j = 0
    while i < na or j < nb:
        advance_a = j >= nb or (i < na and ua_ext[i + 1] <= ub_ext[j + 1])
        if na == 1:
            advance_a = False
        if nb == 1:
            advance_a = True
        if advance_a:
            faces.append((a[i % na], a[(i + 1) % na], b[j % nb]))
            i += 1
        else:
            faces.append((a[i % na], b[(j + 1) % nb], b[j % nb]))
            j += 1
        if (na == 1 and j >= nb) or (nb == 1 and i >= na):
            break
    return faces


def _palm_y(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """A y inside the palm/forearm at (x, z): the palm slab's mid-surface, the forearm's axis."""
    blend = np.clip((x + 10.0) / 20.0, 0.0, 1.0)
    return (1 - blend) * -2.0 + blend * (PALM_CENTRE_Y - PALM_ARCH * z**2)


@dataclass
class _Topology:
    """Vertices are created from (anchor, direction) rays and shot onto the skin."""

    anchors: list[np.ndarray]
    dirs: list[np.ndarray]
    faces: list[tuple[int, int, int]]
    count: int = 0

    def add(self, anchors: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        anchors, dirs = np.atleast_2d(anchors), _unit(np.atleast_2d(dirs))
        self.anchors.append(anchors)
        self.dirs.append(dirs)
        self.count += len(anchors)
        return np.arange(self.count - len(anchors), self.count)


def _tube(topo: _Topology, points: np.ndarray, first: np.ndarray, digit: _Digit, start: float) -> None:
    """Grow a finger/thumb tube from an existing ring `first` along the digit and cap it.

    start: arc length along the digit's chain of the first new ring. `points` holds the
    positions of the vertices made so far, to find which way `first` turns about the digit,
    so that the new rings turn the same way (consistent winding).
    """
    seg = np.diff(digit.chain, axis=0)
    lengths = np.linalg.norm(seg, axis=1)
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    stations = np.linspace(start, cum[-1], max(1, int(round((cum[-1] - start) / EDGE))) + 1)

    def frame_at(s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        k = min(int(np.searchsorted(cum, s, side="right")) - 1, len(seg) - 1)
        w = (s - cum[k]) / lengths[k]
        up, radial = digit.frames[k]
        return digit.chain[k] + w * seg[k], seg[k] / lengths[k], up, radial, (1 - w) * digit.radii[k] + w * digit.radii[k + 1]

    centre, _, up, radial, _ = frame_at(stations[0])
    u_first = _ring_u(points[first], centre, up, radial)
    sense = 1.0 if ((np.roll(u_first, -1) - u_first + 0.5) % 1.0 - 0.5).sum() > 0 else -1.0
    prev, prev_u = first, _ring_u(points[first], centre, up, sense * radial)

    def add_ring(centre: np.ndarray, forward: np.ndarray, up: np.ndarray, radial: np.ndarray, n: int, polar: float) -> None:
        # n rays from `centre` at `polar` angle from `forward`, turning from `up` to `radial`
        nonlocal prev, prev_u
        psi = 2 * np.pi * (np.arange(n) + 0.5) / n
        around = np.cos(psi)[:, None] * up + np.sin(psi)[:, None] * radial
        ring = topo.add(np.repeat(centre[None], n, 0), np.cos(polar) * forward + np.sin(polar) * around)
        u = psi / (2 * np.pi)
        topo.faces += _zip(prev, prev_u, ring, u)
        prev, prev_u = ring, u

    for s in stations:
        centre, forward, up, radial, r = frame_at(s)
        add_ring(centre, forward, up, sense * radial, max(8, int(round(2 * np.pi * r * 0.95 / EDGE))), 0.5 * np.pi)
    # Fingertip cap: rings at decreasing polar angle about the pulp sphere, then the pole.
    caps = max(1, int(round(0.5 * np.pi * digit.radii[-1] / EDGE)))
    for m in range(1, caps + 1):
        polar = 0.5 * np.pi * (1 - m / (caps + 1))
        add_ring(centre, forward, up, sense * radial, max(3, int(round(len(prev) * np.sin(polar)))), polar)
    topo.faces += _zip(prev, prev_u, topo.add(centre, forward), np.zeros(1))


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _knuckle_layout(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Where the palm tube ends, per dorsal/palmar column q = 0..4K (ulnar to radial).

    Returns (x, z) of each column at the knuckle ring, and the MCP centres per slot (4, 3).
    Finger slots run pinky, ring, middle, index; each spans PALM_K columns between its webs.
    """
    slots = [3, 2, 1, 0]  # finger index (FINGERS order) of each slot, ulnar to radial
    mcp = np.array([skeleton.pivots[4 + 4 * f] for f in slots])
    r = np.array([FINGERS[f].radii[0] for f in slots])
    webs_z = 0.5 * (mcp[1:, 2] + mcp[:-1, 2])
    edges_z = np.concatenate([[mcp[0, 2] - r[0]], webs_z, [mcp[-1, 2] + r[-1]]])
    webs_x = 0.5 * (mcp[1:, 0] + mcp[:-1, 0])
    edges_x = np.concatenate([[mcp[0, 0] - 4.0], webs_x, [mcp[-1, 0] - 4.0]])
    q = np.arange(4 * PALM_K + 1)
    slot = np.minimum(q // PALM_K, 3)
    w = (q - slot * PALM_K) / PALM_K
    z = (1 - w) * edges_z[slot] + w * edges_z[slot + 1]
    x = np.where((q % PALM_K == 0), np.append(edges_x, 0)[slot], mcp[slot, 0])
    return np.stack([x, z], 1), mcp


def build_mesh(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """The rest-pose skin: vertices (V, 3) mm and outward-wound triangles (F, 3)."""
    topo = _Topology([], [], [])
    columns, mcp = _knuckle_layout(skeleton)
    Q = 4 * PALM_K
    L = PALM_SIDE
    x0 = FOREARM_CUT + 3.0
    rings = int(round((columns[:, 0].mean() - x0) / EDGE))
    tau = np.linspace(0.0, 1.0, rings + 1)

    # Palm tube, ring order: dorsal q = 0..Q (ulnar to radial), radial side (back to palm),
    # palmar q = Q..0, ulnar side (palm to back): it turns from +y towards +z about +x.
    wrist_z = np.linspace(-24.0, 24.0, Q + 1)
    grid = []
    for t in tau:
        x = (1 - t) * x0 + t * columns[:, 0]
        z = wrist_z + _smoothstep((x + 10.0) / 75.0) * (columns[:, 1] - wrist_z)
        y = _palm_y(x, z)
        dorsal = np.stack([x, y, z], 1)
        up = np.tile([0.0, 1.0, 0.0], (Q + 1, 1))
        alpha = np.pi * np.arange(1, L + 1) / (L + 1)
        side_dirs = np.stack([np.zeros(L), np.cos(alpha), np.sin(alpha)], 1)
        radial_anchor = dorsal[-1] - [0.0, 0.0, 10.0]
        ulnar_anchor = dorsal[0] + [0.0, 0.0, 10.0]
        anchors = np.concatenate([dorsal, np.repeat(radial_anchor[None], L, 0), dorsal[::-1], np.repeat(ulnar_anchor[None], L, 0)])
        dirs = np.concatenate([up, side_dirs, -up, side_dirs[::-1] * [1.0, 1.0, -1.0]])
        grid.append(topo.add(anchors, dirs))
    grid = np.array(grid)  # (rings + 1, N)
    N = grid.shape[1]

    # Thumb hole: a patch of quads on the radial-palmar corner, as long (along x) as the thumb
    # root loop is wide; its boundary becomes that loop.
    p0, p2 = skeleton.pivots[0], skeleton.pivots[2]
    d_meta = _unit(p2 - p0)
    root_centre = p0 + THUMB_ROOT * (p2 - p0)
    root_radius = skeleton.radii[2, 0] + THUMB_ROOT * (skeleton.radii[2, 1] - skeleton.radii[2, 0]) + 3.0
    stations_x = (1 - tau) * x0 + tau * columns[-1, 0]
    ia, ib = (int(round(np.interp(root_centre[0] + sign * root_radius, stations_x, np.arange(rings + 1)))) for sign in (-1, 1))
    ja, jb = Q + 2, Q + 2 + THUMB_HOLE_ACROSS
    for i in range(rings):
        for j in range(N):
            if ia <= i < ib and ja <= j < jb:
                continue
            a0, a1, b0, b1 = grid[i, j], grid[i, (j + 1) % N], grid[i + 1, j], grid[i + 1, (j + 1) % N]
            topo.faces += [(a0, a1, b1), (a0, b1, b0)]
    hole = np.concatenate([grid[ia, ja:jb], grid[ia:ib, jb], grid[ib, jb:ja:-1], grid[ib:ia:-1, ja]])

    # Forearm cap: concentric rings on the cut face, then a pole; the cap is a tube that runs
    # from its pole towards +x, so its rings are zipped pole-side first.
    centre = np.array([FOREARM_CUT, -2.0, 0.0])
    inner = centre + [25.0, 0.0, 0.0]
    caps = 4
    cap_rings = []
    for m in range(caps, 0, -1):
        scale = m / (caps + 1)
        n = max(3, int(round(N * scale)))
        psi = 2 * np.pi * (np.arange(n) + 0.5) / n
        target = centre + scale * np.stack([np.zeros(n), 18.0 * np.cos(psi), 27.0 * np.sin(psi)], 1)
        cap_rings.append((topo.add(np.repeat(inner[None], n, 0), target - inner), psi / (2 * np.pi)))
    pole = topo.add(inner, centre - inner)
    points = _ray_cast(np.concatenate(topo.anchors), np.concatenate(topo.dirs), skeleton)
    # Rays from the palm axis would cross the thumb's root; instead wrap the hole's boundary
    # around the metacarpal, in the order and turning sense it already has, and drop it onto
    # the nearest skin.
    up, radial = skeleton.dorsal[2], np.cross(d_meta, skeleton.dorsal[2])
    u_hole = _ring_u(points[hole], root_centre, up, radial)
    sense = 1.0 if ((np.roll(u_hole, -1) - u_hole + 0.5) % 1.0 - 0.5).sum() > 0 else -1.0
    psi = 2 * np.pi * (u_hole[0] + sense * np.arange(len(hole)) / len(hole))
    points[hole] = _project(root_centre + root_radius * (np.cos(psi)[:, None] * up + np.sin(psi)[:, None] * radial), skeleton, steps=6)
    ring0_u = _ring_u(points[grid[0]], centre, np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0]))
    chain = [(pole, np.zeros(1))] + cap_rings[::-1] + [(grid[0], ring0_u)]
    for (a, ua), (b, ub) in zip(chain[:-1], chain[1:]):
        topo.faces += _zip(a, ua, b, ub)

    # Finger webs: a column of vertices down each crotch, from the back of the hand to the palm.
    web_cols = []
    slots = [3, 2, 1, 0]
    alpha = np.pi * np.arange(1, L + 1) / (L + 1)
    for s in range(3):
        # Shoot down the bisector of the two proximal phalanges, which spread apart.
        f_a, f_b = slots[s], slots[s + 1]
        ahead = _unit(sum(_unit(np.diff(skeleton.bones[5 + 3 * f][0], axis=0)[0]) for f in (f_a, f_b)))
        up = _unit(skeleton.dorsal[5 + 3 * f_a] + skeleton.dorsal[5 + 3 * f_b])
        anchor = 0.5 * (mcp[s] + mcp[s + 1]) - 6.0 * ahead
        dirs = np.sin(alpha)[:, None] * ahead + np.cos(alpha)[:, None] * up
        web_cols.append(topo.add(np.repeat(anchor[None], L, 0), dirs))
    last = grid[-1]
    points = np.concatenate([points, _ray_cast(np.concatenate(topo.anchors[-3:]), np.concatenate(topo.dirs[-3:]), skeleton)])

    digits = _digits(skeleton)
    for s, f in enumerate(slots):
        dorsal = last[s * PALM_K : (s + 1) * PALM_K + 1]
        palmar = np.array([last[Q + L + 1 + (Q - q)] for q in range((s + 1) * PALM_K, s * PALM_K - 1, -1)])
        radial_side = web_cols[s] if s < 3 else last[Q + 1 : Q + 1 + L]
        ulnar_side = web_cols[s - 1][::-1] if s > 0 else last[N - L :]
        loop = np.concatenate([dorsal, radial_side, palmar, ulnar_side])
        _tube(topo, points, loop, digits[1 + f], 0.65 * FINGERS[f].lengths[0])
    _tube(topo, points, hole, digits[0], 0.9 * np.linalg.norm(p2 - p0))

    new = len(points)
    anchors, dirs = np.concatenate(topo.anchors), np.concatenate(topo.dirs)
    points = np.concatenate([points, _ray_cast(anchors[new:], dirs[new:], skeleton)])
    # The vertices inside the thumb hole belong to no face: drop them and renumber.
    faces = np.array(topo.faces, dtype=np.int64)
    used = np.unique(faces)
    renumber = np.full(len(points), -1)
    renumber[used] = np.arange(len(used))
    faces = renumber[faces]
    return _relax(points[used], faces, skeleton), faces


def _sdf_and_gradient(points: np.ndarray, skeleton: Skeleton, h: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """hand_sdf and its forward-difference gradient at points (n, 3): (n,), (n, 3)."""
    n = len(points)
    stacked = np.concatenate([points, points + [h, 0, 0], points + [0, h, 0], points + [0, 0, h]])
    f = hand_sdf(stacked, skeleton).reshape(4, n)
    return f[0], (f[1:] - f[0]).T / h


def _project(points: np.ndarray, skeleton: Skeleton, steps: int = 2) -> np.ndarray:
    """Newton steps onto the zero level set along the SDF gradient."""
    for _ in range(steps):
        f, g = _sdf_and_gradient(points, skeleton)
        points = points - (f / np.maximum((g * g).sum(1), 1e-6))[:, None] * g
    return points


def _relax(points: np.ndarray, faces: np.ndarray, skeleton: Skeleton, iterations: int = 40) -> np.ndarray:
    """Even out the vertex spacing: tangential umbrella smoothing, re-projected onto the skin."""
    n = len(points)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    adjacency = scipy.sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64)
    mean = scipy.sparse.diags(1.0 / np.asarray(adjacency.sum(1)).ravel()) @ adjacency
    for _ in range(iterations):
        points = _project(points, skeleton, steps=1)
        normal = _unit(_sdf_and_gradient(points, skeleton)[1])
        step = mean @ points - points
        step -= (step * normal).sum(1, keepdims=True) * normal
        points = points + 0.5 * step
    return _project(points, skeleton)


# --------------------------------------------------------------------------------------------
# Skinning weights, landmarks, assembly
# --------------------------------------------------------------------------------------------

SKIN_SOFTNESS = 1.5  # mm; a vertex 1.5 mm nearer one bone than another weighs e (2.7) times more
PALM_CENTRE_SOFTNESS = 8.0  # the palm centre stands for a patch of palm, not one skin point
MAX_INFLUENCES = 3
MIN_WEIGHT = 1e-3


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - a - t[:, None] * ab, axis=1)


def bone_distances(points: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Distance (mm) of each point to the nearest bone segment of each skinning frame, (n, 17).

    Frame 0 (the root, the same transform as the wrist frame 1) has no bones: infinity.
    """
    out = np.full((len(points), NUM_SKINNING_FRAMES), np.inf)
    for frame, segments in enumerate(skeleton.bones):
        for a, b in segments:
            out[:, frame] = np.minimum(out[:, frame], _segment_distance(points, a, b))
    return out


def skinning_weights(points: np.ndarray, skeleton: Skeleton, softness: float = SKIN_SOFTNESS) -> np.ndarray:
    """Smooth LBS weights from bone distances, (n, 17), at most 3 non-zero, rows summing to 1.

    w_f ~ exp(-(d_f - d_min) / softness): across a joint the two bones' distances cross
    smoothly, so the weights blend over a few mm around the joint instead of jumping.
    """
    d = bone_distances(points, skeleton)
    w = np.exp(-(d - d.min(1, keepdims=True)) / softness)
    order = np.argsort(-w, axis=1, kind="stable")
    w[np.arange(len(w))[:, None], order[:, MAX_INFLUENCES:]] = 0.0
    w /= w.sum(1, keepdims=True)
    w[w < MIN_WEIGHT] = 0.0
    return w / w.sum(1, keepdims=True)


# Frame carrying each landmark (tips, wrist, thumb, per finger proximal/intermediate/distal);
# a landmark at a pivot rides on the frame before that joint, the proximal ones on the palm.
LANDMARK_FRAMES = (4, 7, 10, 13, 16, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 1, 14, 15)


def landmark_weights(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """(21, 3) weights and (21, 3) frame indices; padding has weight 0 and repeats an index.

    The palm centre blends the palm with the bones nearest it (from the same distance rule,
    softer), since the palm skin there is pulled by the MCP joints.
    """
    weights = np.zeros((NUM_LANDMARKS, 3))
    indices = np.zeros((NUM_LANDMARKS, 3), dtype=np.int64)
    weights[:20, 0] = 1.0
    indices[:20] = np.array(LANDMARK_FRAMES)[:, None]
    dense = skinning_weights(skeleton.landmarks[20:21], skeleton, PALM_CENTRE_SOFTNESS)[0]
    order = np.argsort(-dense, kind="stable")[:3]
    weights[20] = dense[order]
    indices[20] = np.where(dense[order] > 0, order, order[0])
    return weights, indices


def _topology() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """joint_parent, joint_first_child, joint_next_sibling of the UmeTrack model (255 = none)."""
    parent = np.full(NUM_JOINTS, NO_INDEX)
    first_child = np.full(NUM_JOINTS, NO_INDEX)
    next_sibling = np.full(NUM_JOINTS, NO_INDEX)
    for chain in [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11), (12, 13, 14, 15), (16, 17, 18, 19), (20, 21)]:
        for parent_dof, child in zip(chain[:-1], chain[1:]):
            parent[child] = parent_dof
            first_child[parent_dof] = child
    for root, sibling in zip((0, 4, 8, 12, 16), (4, 8, 12, 16, 20)):
        next_sibling[root] = sibling
    return parent, first_child, next_sibling


def build_hand_model() -> HandModel:
    """The project's hand model (metres, float32), built from scratch. Takes a few seconds."""
    skeleton = build_skeleton()
    vertices, triangles = build_mesh(skeleton)
    weights, indices = landmark_weights(skeleton)
    parent, first_child, next_sibling = _topology()

    def f32(a: np.ndarray, scale: float = 1.0) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float64) * scale, dtype=torch.float32)

    def i64(a) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=torch.int64)

    metres = 1.0 / MM_PER_M
    return HandModel(
        joint_rotation_axes=f32(skeleton.axes),
        joint_rest_positions=f32(skeleton.pivots, metres),
        joint_frame_index=i64(skinning_frame_of_joint()),
        joint_parent=i64(parent),
        joint_first_child=i64(first_child),
        joint_next_sibling=i64(next_sibling),
        landmark_rest_positions=f32(skeleton.landmarks, metres),
        landmark_rest_bone_weights=f32(weights),
        landmark_rest_bone_indices=i64(indices),
        hand_scale=1.0,
        mesh_vertices=f32(vertices, metres),
        mesh_triangles=i64(triangles),
        dense_bone_weights=f32(skinning_weights(vertices, skeleton)),
        joint_limits=f32(skeleton.limits),
    )


def demo_poses() -> dict[str, torch.Tensor]:
    """Named (22,) joint-angle vectors (radians, within the limits) for checks and pictures:
    a fist with the thumb over the fingers, pointing with the index, a thumb-index pinch."""
    fist = torch.zeros(NUM_JOINTS)
    fist[0:4] = torch.tensor([0.3, 0.3, 0.6, 0.6])
    for f in range(4):
        fist[5 + 4 * f : 8 + 4 * f] = torch.tensor([1.45, 1.65, 1.0])
    point = fist.clone()
    point[4:8] = 0.0
    pinch = torch.zeros(NUM_JOINTS)
    pinch[0:4] = torch.tensor([0.17, 0.14, 0.58, -0.05])
    pinch[5:8] = torch.tensor([0.55, 0.95, 0.55])
    for f in range(1, 4):
        pinch[5 + 4 * f : 8 + 4 * f] = torch.tensor([0.35, 0.5, 0.3])
    return {"fist": fist, "point": point, "pinch": pinch}
