"""Hand key poses from finger synergies; thumb-index contacts and grasp apertures solved through FK.

A key pose is a ``Synergy``: a few coordinated parameters (curl per finger, finger spread, thumb
opposition) that ``synergy_angles`` turns into the 22 joint angles of a model, always within its
joint limits. Where the thumb-index tip distance matters it cannot be written down per model, so
the synergy is only a starting point: ``solve_tip_distance`` moves the thumb and index angles
(L-BFGS with torch autograd through FK) until the two tip landmarks are at the wanted distance,
staying close to the start so the other fingers and the overall shape remain. Pinches and the OK
sign are solved to ``CONTACT_DISTANCE_M`` (the tips touch), grasps to their aperture.

``build_pose_library`` samples jittered variants of every key pose for one (scaled) hand model and
rejects non-contact variants whose thumb-index distance is below ``RELEASE_DISTANCE_M``, so every
pinch is released clearly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from umetrack.hand.fk import landmarks, skinning_frames
from umetrack.hand.model import INDEX_TIP, NUM_JOINTS, THUMB_TIP, HandModel

CONTACT_DISTANCE_M = 0.005
"""Thumb-index tip distance of a solved contact pose (the tips touch; pinch enters below 1 cm)."""
RELEASE_DISTANCE_M = 0.03
"""Minimum thumb-index tip distance of every non-contact key pose (pinch exits above 2 cm)."""

THUMB_DOFS = (0, 1, 2, 3)
INDEX_DOFS = (4, 5, 6, 7)

# Fractions of the joint range each synergy reaches (1.0 would hit the limits: real hands rarely do).
_MCP_REACH = 0.85
_PIP_REACH = 0.85
_DIP_REACH = 0.62
_SPREAD_REACH = 0.7
_SPREAD_DIRECTION = (1.0, 0.15, -1.0, -1.0)
"""Abduction direction of index..pinky when the hand fans out: index towards the thumb (the DOF's
positive side), middle barely, ring and pinky away from it (negative side)."""
_CURLED_CONVERGENCE = 0.7
"""Fraction of the spread removed from a fully curled finger (curled fingers close together)."""
_OPPOSITION_REACH = 0.7
_OPPOSITION_PALMAR = 0.35
"""CMC DOF 1 follows opposition towards the palm by this fraction of its range."""
_THUMB_FLEX_REACH = 0.8


@dataclass(frozen=True)
class Synergy:
    """Coordinated hand-shape parameters.

    Attributes:
        curl: (thumb, index, middle, ring, pinky). Long fingers: 0 straight, 1 fully curled (MCP,
            PIP and DIP together), negative = slight hyperextension. Thumb: MCP and IP flexion.
        spread: finger fan, -0.5 (squeezed) .. 1 (spread wide).
        opposition: thumb CMC, -1 (extended away from the palm) .. 0 (rest) .. 1 (across the palm).
    """

    curl: tuple[float, float, float, float, float]
    spread: float
    opposition: float

    def as_array(self) -> np.ndarray:
        """(7,) curl[5], spread, opposition."""
        return np.array([*self.curl, self.spread, self.opposition], dtype=np.float64)


@dataclass(frozen=True)
class KeyPose:
    """A named hand shape.

    Attributes:
        name: what it is ("fist", "pinch_open", ...).
        synergy: its nominal synergy (a contact or grasp pose: the start of the solve).
        jitter: standard deviation of the Gaussian noise added to each synergy parameter.
        tip_distance_m: None, or the thumb-index tip distance (metres) that ``solve_tip_distance``
            enforces: ``CONTACT_DISTANCE_M`` for pinches, the aperture for grasps.
    """

    name: str
    synergy: Synergy
    jitter: float = 0.08
    tip_distance_m: float | None = None

    @property
    def contact(self) -> bool:
        """The thumb and index tips touch in this pose."""
        return self.tip_distance_m is not None and self.tip_distance_m < RELEASE_DISTANCE_M


KEY_POSES: tuple[KeyPose, ...] = (
    KeyPose("open", Synergy((-0.1, -0.1, -0.08, -0.06, -0.05), 0.9, -0.6)),
    KeyPose("relaxed", Synergy((0.15, 0.18, 0.26, 0.34, 0.42), 0.25, 0.1), jitter=0.1),
    KeyPose("fist", Synergy((0.55, 1.0, 1.0, 1.0, 1.0), 0.0, 0.55), jitter=0.05),
    KeyPose("point", Synergy((0.5, 0.0, 1.0, 1.0, 1.0), 0.1, 0.5), jitter=0.05),
    KeyPose("thumbs_up", Synergy((-0.1, 1.0, 1.0, 1.0, 1.0), 0.0, -0.4), jitter=0.05),
    KeyPose("grasp_large", Synergy((0.15, 0.35, 0.38, 0.4, 0.42), 0.3, 0.3), tip_distance_m=0.085),
    KeyPose("grasp_medium", Synergy((0.2, 0.5, 0.52, 0.54, 0.56), 0.15, 0.35), tip_distance_m=0.06),
    KeyPose("grasp_small", Synergy((0.25, 0.62, 0.65, 0.68, 0.7), 0.05, 0.4), jitter=0.05, tip_distance_m=0.04),
    KeyPose("pinch_open", Synergy((0.3, 0.45, 0.2, 0.25, 0.3), 0.3, 0.6), tip_distance_m=CONTACT_DISTANCE_M),
    KeyPose("pinch_relaxed", Synergy((0.3, 0.45, 0.5, 0.55, 0.6), 0.15, 0.6), tip_distance_m=CONTACT_DISTANCE_M),
    KeyPose("pinch_closed", Synergy((0.3, 0.45, 0.85, 0.9, 0.95), 0.0, 0.6), tip_distance_m=CONTACT_DISTANCE_M),
    KeyPose("ok_sign", Synergy((0.35, 0.75, 0.05, 0.1, 0.15), 0.5, 0.7), jitter=0.05, tip_distance_m=CONTACT_DISTANCE_M),
)  # fmt: skip
"""The key pose library. Pinch variants differ in what the other three fingers do; grasps in their
aperture (the thumb-index tip distance, jittered by +-15 % per variant)."""
_APERTURE_JITTER = 0.15
_SOLVE_TOLERANCE_M = 0.001


def synergy_angles(model: HandModel, synergy: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Joint angles of synergies, clamped to the model's joint limits.

    Args:
        model: hand model (its ``joint_limits`` scale every DOF).
        synergy: (..., 7) ``Synergy.as_array`` rows.
    Returns:
        (..., 22) float64 radians; wrist DOFs 20, 21 are 0.
    """
    s = torch.as_tensor(synergy, dtype=torch.float64)
    lo, hi = model.joint_limits.to(torch.float64).unbind(-1)
    curl, spread, opposition = s[..., :5], s[..., 5], s[..., 6]
    angles = torch.zeros(*s.shape[:-1], NUM_JOINTS, dtype=torch.float64)

    def toward(fraction: torch.Tensor, dof: int) -> torch.Tensor:
        """fraction of the way from 0 to the upper limit (positive) or lower limit (negative)."""
        return torch.where(fraction >= 0, fraction * hi[dof], -fraction * lo[dof])

    for finger in range(1, 5):
        abd, mcp, pip, dip = 4 * finger, 4 * finger + 1, 4 * finger + 2, 4 * finger + 3
        c = curl[..., finger]
        bent = c.clamp_min(0.0)
        angles[..., mcp] = toward(c * _MCP_REACH, mcp)
        angles[..., pip] = bent * _PIP_REACH * hi[pip]
        angles[..., dip] = bent * _DIP_REACH * hi[dip]
        fan = spread * _SPREAD_DIRECTION[finger - 1] * _SPREAD_REACH * (1.0 - _CURLED_CONVERGENCE * bent)
        angles[..., abd] = toward(fan, abd)
    angles[..., 0] = toward(opposition * _OPPOSITION_REACH, 0)
    angles[..., 1] = toward(-opposition.clamp_min(0.0) * _OPPOSITION_PALMAR, 1)
    angles[..., 2] = toward(curl[..., 0] * _THUMB_FLEX_REACH, 2)
    angles[..., 3] = toward(curl[..., 0] * _THUMB_FLEX_REACH, 3)
    return angles.clamp(lo, hi)


def thumb_index_distances(model: HandModel, joint_angles: torch.Tensor) -> torch.Tensor:
    """(...,) thumb tip to index tip distance of poses under the identity wrist, model units."""
    points = landmarks(model.to(torch.float64), joint_angles.to(torch.float64), torch.eye(4, dtype=torch.float64))
    return (points[..., THUMB_TIP, :] - points[..., INDEX_TIP, :]).norm(dim=-1)


def _tip_positions(model: HandModel, joint_angles: torch.Tensor) -> torch.Tensor:
    """(B, 2, 3) thumb and index tips under the identity wrist: LBS of just those two landmarks
    (``fk.landmarks`` blends all 21, which dominates the cost of the solve's many small steps)."""
    frames = skinning_frames(model, joint_angles, torch.eye(4, dtype=joint_angles.dtype))  # (B, 17, 4, 4)
    tips = (THUMB_TIP, INDEX_TIP)
    rest = model.landmark_rest_positions[list(tips)].to(joint_angles.dtype)
    rest_h = torch.cat([rest, torch.ones_like(rest[:, :1])], -1)  # (2, 4)
    per_frame = (frames[:, None, :, :3, :] @ rest_h[None, :, None, :, None])[..., 0]  # (B, 2, 17, 3)
    weights = model.landmark_weights[list(tips)].to(joint_angles.dtype)  # (2, 17)
    return (per_frame * weights[None, :, :, None]).sum(2)


def solve_tip_distance(
    model: HandModel,
    start_angles: torch.Tensor,
    distance_m: torch.Tensor | float,
    iterations: int = 40,
) -> torch.Tensor:
    """Move thumb and index angles until their tips are ``distance_m`` apart (L-BFGS through FK).

    The eight angles live in logit space over the joint limits (so they never leave them); a weak
    pull towards the start pose keeps the solution next to the synergy's shape. All poses are
    solved together (their losses are independent, so the sum separates). Converges to ~0.1 mm.

    Args:
        model: hand model (metres).
        start_angles: (B, 22) starting poses.
        distance_m: (B,) or scalar target tip distances, metres.
        iterations: L-BFGS iterations.
    Returns:
        (B, 22) float64 angles; only DOFs 0..7 differ from ``start_angles``.
    """
    model64 = model.to(torch.float64)
    start = start_angles.to(torch.float64)
    target = torch.as_tensor(distance_m, dtype=torch.float64).expand(start.shape[0])
    lo, hi = model64.joint_limits.unbind(-1)
    dofs = torch.tensor(THUMB_DOFS + INDEX_DOFS)
    span = hi[dofs] - lo[dofs]
    fraction = ((start[:, dofs] - lo[dofs]) / span).clamp(0.02, 0.98)
    start_logit = torch.log(fraction / (1 - fraction))
    logit = start_logit.clone().requires_grad_(True)
    optimiser = torch.optim.LBFGS(
        [logit], max_iter=iterations, history_size=20, line_search_fn="strong_wolfe",
        tolerance_grad=1e-12, tolerance_change=1e-14,
    )  # fmt: skip

    def posed(logit: torch.Tensor) -> torch.Tensor:
        angles = start.clone()
        angles[:, dofs] = lo[dofs] + span * torch.sigmoid(logit)
        return angles

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        tips = _tip_positions(model64, posed(logit))
        distance = (tips[:, 0] - tips[:, 1]).norm(dim=-1)
        # Distances in units of 1 cm; the pull is in logit units, weak enough to let the distance win.
        loss = ((distance - target) / 0.01).square().sum() + 0.01 * (logit - start_logit).square().sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        return posed(logit)


@dataclass(frozen=True, eq=False)
class PoseLibrary:
    """Sampled key-pose variants for one hand model.

    Attributes:
        names: (K,) key pose name of each variant.
        angles: (K, 22) float64 radians, within the joint limits.
        contact: (K,) bool, thumb and index tips touch (``CONTACT_DISTANCE_M`` apart); every
            other variant keeps them at least ``RELEASE_DISTANCE_M`` apart.
    """

    names: tuple[str, ...]
    angles: torch.Tensor
    contact: np.ndarray

    def indices(self, contact: bool) -> np.ndarray:
        """Indices of the contact (or non-contact) variants."""
        return np.flatnonzero(self.contact == contact)


def build_pose_library(model: HandModel, rng: np.random.Generator, variants: int = 6) -> PoseLibrary:
    """Jittered variants of every ``KEY_POSES`` entry for one model.

    Contact and grasp variants are solved to their tip distance and kept if the solve got within
    ``_SOLVE_TOLERANCE_M``; every non-contact variant must keep the tips at least
    ``RELEASE_DISTANCE_M`` apart. The first variant of each key pose is the nominal one (no
    jitter), which must pass: a key pose that fails on this model is a bug in ``KEY_POSES`` and
    raises ValueError naming it.

    Args:
        model: the (scaled) hand model the poses are for.
        rng: random generator; the library is a pure function of the model and the rng state.
        variants: variants per key pose (>= 1).
    """
    synergies, names, targets = [], [], []
    for pose in KEY_POSES:
        noise = rng.normal(0.0, pose.jitter, size=(variants, 7))
        noise[0] = 0.0
        synergies.append(pose.synergy.as_array() + noise)
        names += [pose.name] * variants
        if pose.tip_distance_m is None:
            targets += [np.nan] * variants
        elif pose.contact:
            targets += [pose.tip_distance_m] * variants
        else:
            scale = 1.0 + rng.uniform(-_APERTURE_JITTER, _APERTURE_JITTER, size=variants)
            scale[0] = 1.0
            targets += list(pose.tip_distance_m * scale)
    angles = synergy_angles(model, np.concatenate(synergies))
    target = np.array(targets)
    solved = np.flatnonzero(np.isfinite(target))
    if solved.size:
        index = torch.as_tensor(solved)
        angles[index] = solve_tip_distance(model, angles[index], torch.as_tensor(target[solved]))
    contact = np.nan_to_num(target, nan=np.inf) < RELEASE_DISTANCE_M
    distance = thumb_index_distances(model, angles).numpy()
    reached = ~np.isfinite(target) | (np.abs(distance - np.nan_to_num(target)) < _SOLVE_TOLERANCE_M)
    keep = reached & (contact | (distance >= RELEASE_DISTANCE_M))
    rejected = [names[i] for i in range(0, len(names), variants) if not keep[i]]
    if rejected:
        raise ValueError(
            f"key poses {rejected} miss their thumb-index distance or bring the tips closer than {RELEASE_DISTANCE_M} m"
        )
    kept = np.flatnonzero(keep)
    return PoseLibrary(names=tuple(names[i] for i in kept), angles=angles[torch.as_tensor(kept)], contact=contact[kept])
