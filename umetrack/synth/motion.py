"""Motion of the synthetic user: body, head (the headset) and both hands, with exact ground truth.

Frames (all metres, radians, right-handed):

* world: y up (the project's convention).
* body: the user's torso, **+x left, +y up, +z forward**, origin at the eyes' midpoint when the
  head is upright and looks straight ahead. It moves on the floor (yaw about world y, small
  translations); ``T_world_from_body``.
* device: the headset (``rig.py``), same axes as the body frame when the head is in its neutral
  posture. The head turns about a neck pivot below and behind the eyes; ``T_body_from_device``.
* hands: ``T_body_from_wrist`` in each hand's own convention (a proper rigid transform; the
  right hand's fingers point along its -x, see ``umetrack.hand.fk.left_hand_wrist``).

How the motion is made (everything a pure function of a numpy Generator):

* A shared **phase schedule** (3-8 s phases) says what each hand is doing: working in front of
  the user, reaching across the body above and in front of the other hand (crossings,
  occlusions), raised in front of the face, or out of every camera (hanging beside and a little
  behind the thigh, or behind the hip: the wide rig sees everything else).
* Each hand runs a sequence of **actions**: move the wrist (mostly a small adjustment, sometimes
  a reach anywhere in the phase's zone) and change the hand shape to a key pose from
  ``poses.PoseLibrary``, then hold. Every change is a minimum-jerk transition (zero velocity and
  acceleration at both ends, so C2) whose duration bounds the peak speed. Pinches (thumb-index
  contact poses) are quick clicks or longer holds, some of them dragged (the wrist moves while
  pinching), and always end with a release to a pose whose tips are >= 3 cm apart.
* Wrist orientation is **anatomical**: a two-link arm (shoulder -> elbow -> wrist, elbow hanging
  down and out) gives the elbow, the forearm direction and the elbow axis, and the hand frame
  follows from forearm pronation/supination (palm down .. palm facing in .. palm up) and wrist
  flexion and deviation, all interpolated as angles; the hand therefore never spins or takes a
  pose a forearm cannot produce. The right hand is generated in mirrored (left-hand) coordinates.
* **No interpenetration**: the two hands are planned interleaved in time and every reach is
  checked against the other arm's plan (resampled, or the wrist stays put); ``separate_hands``
  then pushes the exact skeletons (fingers, palm, forearm) apart and away from the face.
* The **head** makes fixations: mostly at the working hands (so they stay in view), sometimes
  glancing around (quick turns) or straight ahead; turns are minimum-jerk with bounded speed.
* The **body** stands or sits, sways a little, occasionally steps and turns.
* Small smooth noise (sums of low-frequency sinusoids) keeps wrists and the three outer fingers
  alive during holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import label, maximum_filter1d

from umetrack.hand.fk import landmarks
from umetrack.hand.model import NUM_JOINTS, SKELETON_BONES, HandModel
from umetrack.synth.poses import PoseLibrary

FPS = 30.0

# Phase modes of one hand.
WORK, WORK_FAR, CROSS, HIGH, OUT = range(5)
MODE_NAMES = ("work", "work_far", "cross", "high", "out")

_MIRROR = np.diag([-1.0, 1.0, 1.0])
"""Body-frame reflection x -> -x: maps the right side of the body onto the left."""
_RIGHT_HAND_FLIP = np.diag([-1.0, 1.0, 1.0])
"""A right hand's frame is the mirrored left frame with its x (finger) axis flipped back to stay proper."""

# Geometry of an average adult (metres, body frame, left side); scaled by the subject's scale.
_SHOULDER = np.array([0.17, -0.25, -0.09])
_UPPER_ARM, _FOREARM = 0.29, 0.26
_MAX_REACH = 0.9
"""Wrist targets stay within this fraction of the arm length from the shoulder, so the elbow never
locks straight (its axis, which orients the forearm, stays defined)."""
_ELBOW_SWIVEL = np.array([0.5, -1.0, -0.5]) / math.sqrt(1.5)
"""The elbow hangs towards this direction (out, down, back) from the shoulder-wrist line."""
_NECK_PIVOT = np.array([0.0, -0.10, -0.08])
"""Head rotation centre relative to the eyes (upper cervical spine), metres."""
_PALM_OFFSET = 0.08
"""Wrist -> middle of the hand along the fingers, metres (what the head looks at)."""

# Wrist target boxes per mode, body frame of the left hand (x, y, z ranges), metres.
_ZONES = {
    WORK: ((0.0, 0.30), (-0.50, -0.08), (0.22, 0.48)),
    WORK_FAR: ((0.0, 0.12), (-0.50, -0.30), (0.40, 0.52)),
    CROSS: ((-0.30, -0.12), (-0.32, -0.12), (0.22, 0.30)),
    HIGH: ((0.02, 0.25), (-0.12, 0.05), (0.30, 0.45)),
}
_OUT_ZONES = (
    ((0.20, 0.28), (-0.78, -0.66), (-0.16, -0.06)),  # arm hanging beside the thigh, a little behind
    ((0.08, 0.20), (-0.62, -0.45), (-0.22, -0.14)),  # hand behind the hip
)
"""Out of the cameras: the wide rig sees almost everything in front of and beside the user, so a
hand leaves every view only behind the body line (and only while the head is not bent down)."""

# Orientation ranges (degrees): forearm roll (0 palm down, 90 palm facing in, 180 palm up),
# wrist flexion (+ towards the palm), radial deviation (+ towards the thumb).
_ROLL_BY_POSE = {
    "open": (-20.0, 180.0),
    "relaxed": (-20.0, 180.0),
    "fist": (0.0, 130.0),
    "point": (0.0, 90.0),
    "thumbs_up": (70.0, 110.0),
    "grasp": (0.0, 130.0),
    "pinch": (20.0, 110.0),
    "ok_sign": (30.0, 120.0),
}
_OUT_ROLL = (60.0, 110.0)
_FLEXION = (-30.0, 40.0)
_DEVIATION = (-20.0, 12.0)
_ORIENTATION_BOUNDS = np.radians([[-20.0, _FLEXION[0], _DEVIATION[0]], [180.0, _FLEXION[1], _DEVIATION[1]]])

# Timing and speed limits of transitions.
_WRIST_SPEED = (0.25, 0.55)
"""Peak wrist speed of a reach, m/s (a min-jerk move of length d over T peaks at 1.875 d / T)."""
_WRIST_TURN_SPEED = (2.0, 4.4)
"""Peak rate of the orientation angles, rad/s (115..250 deg/s)."""
_MIN_MOVE_S = 0.35
_FINGER_MOVE_S = (0.25, 0.6)
_PINCH_MOVE_S = (0.2, 0.45)
_HOLD_S = (0.3, 2.0)
_CLICK_HOLD_S = (0.05, 0.3)
_LONG_PINCH_HOLD_S = (0.5, 2.0)
_OUT_HOLD_S = (1.0, 3.0)
_CONTACT_PROBABILITY = 0.65
_CLICK_PROBABILITY = 0.5
_DRAG_PROBABILITY = 0.3
_DRAG_STEP_M = 0.1
_LOCAL_MOVE_PROBABILITY = 0.6
"""Most actions adjust the hand a little; the others reach anywhere in the phase's zone."""
_LOCAL_STEP_M = 0.06
_REST_STEP_M = 0.02
_ARM_CLEARANCE = 0.1
"""Planned arms (``_arm_points``) stay this far apart (metres at scale 1) when possible;
``separate_hands`` then enforces the skeleton clearance."""
_AVOID_ATTEMPTS = 10

_HEAD_TURN_SPEED = (1.4, 4.4)
"""Peak head rotation rate, rad/s (80..250 deg/s; 8 deg per frame at 30 fps at most)."""
_FIXATION_S = (0.3, 2.0)
_HEAD_YAW_LIMIT = math.radians(80.0)
_HEAD_PITCH_LIMITS = (math.radians(-25.0), math.radians(55.0))


# ------------------------------------------------------------------------------------------------
# Interpolation and noise


def min_jerk(tau: np.ndarray) -> np.ndarray:
    """Minimum-jerk profile s(tau) = 10 tau^3 - 15 tau^4 + 6 tau^5, tau clipped to [0, 1].

    s(0) = 0, s(1) = 1, with zero velocity and acceleration at both ends.
    """
    t = np.clip(tau, 0.0, 1.0)
    return t * t * t * (10.0 + t * (-15.0 + 6.0 * t))


def keyframe_path(knot_times: np.ndarray, knot_values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Piecewise minimum-jerk path through keyframes (C2: it stops at every knot).

    Two consecutive knots with the same value make a hold. Before the first knot the path holds
    the first value, after the last knot the last value. The path stays inside the convex hull of
    neighbouring knots, so box constraints (joint limits) hold whenever the knots satisfy them.

    Args:
        knot_times: (K,) non-decreasing seconds (equal times: the later knot wins).
        knot_values: (K, D) values.
        times: (N,) query times, seconds.
    Returns:
        (N, D) float64.
    """
    knot_times = np.asarray(knot_times, dtype=np.float64)
    values = np.asarray(knot_values, dtype=np.float64)
    index = np.clip(np.searchsorted(knot_times, times, side="right") - 1, 0, len(knot_times) - 2)
    start, end = knot_times[index], knot_times[index + 1]
    span = np.maximum(end - start, 1e-9)
    s = min_jerk((times - start) / span)[:, None]
    return values[index] + s * (values[index + 1] - values[index])


def smooth_noise(
    rng: np.random.Generator, times: np.ndarray, amplitude: np.ndarray, max_frequency_hz: float, components: int = 4
) -> np.ndarray:
    """Smooth random wobble: per channel a sum of sinusoids with random frequencies and phases.

    Args:
        times: (N,) seconds.
        amplitude: (D,) peak amplitude per channel (the sum never exceeds it).
        max_frequency_hz: frequencies are drawn from [0.1, max] Hz, so the rate is at most
            2 pi max_frequency_hz amplitude per second.
    Returns:
        (N, D) float64.
    """
    amplitude = np.asarray(amplitude, dtype=np.float64)
    frequency = rng.uniform(0.1, max_frequency_hz, size=(components, amplitude.size))
    phase = rng.uniform(0.0, 2.0 * math.pi, size=(components, amplitude.size))
    weight = rng.uniform(0.5, 1.0, size=(components, amplitude.size))
    weight = weight / weight.sum(0)
    waves = np.sin(2.0 * math.pi * frequency[None] * times[:, None, None] + phase[None])
    return (waves * weight[None]).sum(1) * amplitude


# ------------------------------------------------------------------------------------------------
# Rotations (numpy, batched)


def axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices about unit axes.

    Args:
        axis: (..., 3) unit vectors. angle: (...,) radians.
    Returns:
        (..., 3, 3)
    """
    axis = np.broadcast_to(axis, np.broadcast_shapes(np.shape(axis), np.shape(angle) + (3,)))
    x, y, z = np.moveaxis(axis, -1, 0)
    c, s = np.cos(angle), np.sin(angle)
    C = 1.0 - c
    return np.stack(
        [
            np.stack([c + x * x * C, x * y * C - z * s, x * z * C + y * s], -1),
            np.stack([y * x * C + z * s, c + y * y * C, y * z * C - x * s], -1),
            np.stack([z * x * C - y * s, z * y * C + x * s, c + z * z * C], -1),
        ],
        -2,
    )


def yaw_pitch_roll(yaw: np.ndarray, pitch_down: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Head-style rotation in the body/device axes (x left, y up, z forward).

    R = R_y(yaw) R_x(pitch_down) R_z(roll): yaw > 0 turns left, pitch_down > 0 looks down,
    roll > 0 tilts the top of the head to the right (about the viewing direction).

    Returns:
        (..., 3, 3)
    """
    return (
        axis_angle(np.array([0.0, 1.0, 0.0]), yaw)
        @ axis_angle(np.array([1.0, 0.0, 0.0]), pitch_down)
        @ axis_angle(np.array([0.0, 0.0, 1.0]), roll)
    )


def _transform(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    out = np.zeros(rotation.shape[:-2] + (4, 4))
    out[..., :3, :3] = rotation
    out[..., :3, 3] = translation
    out[..., 3, 3] = 1.0
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# ------------------------------------------------------------------------------------------------
# Subject and arm


@dataclass(frozen=True)
class Subject:
    """The recorded person.

    Attributes:
        hand_scale: uniform scale of the hand model (0.85..1.15); body sizes scale with it.
        seated: sitting (lower eyes, no steps) or standing.
        eye_height_m: height of the eyes above the floor (world y) at rest.
    """

    hand_scale: float
    seated: bool
    eye_height_m: float

    @staticmethod
    def sample(rng: np.random.Generator) -> "Subject":
        scale = float(rng.uniform(0.85, 1.15))
        seated = bool(rng.random() < 0.4)
        height = rng.uniform(1.10, 1.30) if seated else rng.uniform(1.50, 1.75)
        return Subject(hand_scale=scale, seated=seated, eye_height_m=float(height * (0.9 + 0.1 * scale)))


def _reachable(points: np.ndarray, scale: float) -> np.ndarray:
    """Pull left-hand wrist targets (..., 3) inside the comfortable reach of the left shoulder."""
    shoulder = _SHOULDER * scale
    offset = points - shoulder
    distance = np.linalg.norm(offset, axis=-1, keepdims=True)
    limit = _MAX_REACH * (_UPPER_ARM + _FOREARM) * scale
    return shoulder + offset * np.minimum(1.0, limit / distance)


def left_arm_pose(
    wrist: np.ndarray, roll: np.ndarray, flexion: np.ndarray, deviation: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Hand orientation and elbow of a left arm whose wrist is at ``wrist``.

    A two-link arm from the left shoulder, elbow hanging out-down-back, gives the elbow, the
    forearm direction u and the elbow axis e (pointing laterally). At ``roll`` = 90 deg the back of
    the hand faces along e (thumb up when the forearm is horizontal); roll turns it about u (0 =
    palm down, 180 = palm up). Wrist flexion then bends the fingers towards the palm and deviation
    towards the thumb.

    Args:
        wrist: (N, 3) body frame (left side), metres, within ``_MAX_REACH``.
        roll, flexion, deviation: (N,) radians.
        scale: subject scale (arm lengths, shoulder position).
    Returns:
        rotation: (N, 3, 3) hand-local -> body in the model's (left-hand) convention: columns
            x = fingers, y = back of the hand, z = thumb side.
        elbow: (N, 3) body frame, metres.
    """
    shoulder = _SHOULDER * scale
    upper, fore = _UPPER_ARM * scale, _FOREARM * scale
    reach = wrist - shoulder
    distance = np.linalg.norm(reach, axis=-1, keepdims=True)
    direction = reach / distance
    along = (upper * upper - fore * fore + distance * distance) / (2.0 * distance)
    radius = np.sqrt(np.maximum(upper * upper - along * along, 0.0))
    swivel = _unit(_ELBOW_SWIVEL - (direction @ _ELBOW_SWIVEL)[:, None] * direction)
    elbow = shoulder + along * direction + radius * swivel
    forearm = _unit(wrist - elbow)
    lateral = _unit(np.cross(wrist - elbow, elbow - shoulder))
    back = (axis_angle(forearm, math.pi / 2 - roll) @ lateral[..., None])[..., 0]
    frame = np.stack([forearm, back, np.cross(forearm, back)], -1)
    flex = axis_angle(np.array([0.0, 0.0, 1.0]), -flexion)
    deviate = axis_angle(np.array([0.0, 1.0, 0.0]), -deviation)
    return frame @ flex @ deviate, elbow


# ------------------------------------------------------------------------------------------------
# Phases


@dataclass(frozen=True)
class PhaseSchedule:
    """What each hand does when. starts_s: (P,) phase start times (first 0); modes: (P, 2) mode per hand."""

    starts_s: np.ndarray
    modes: np.ndarray

    def mode_at(self, time_s: float, hand: int) -> int:
        return int(self.modes[np.searchsorted(self.starts_s, time_s, side="right") - 1, hand])


def sample_phases(rng: np.random.Generator, duration_s: float) -> PhaseSchedule:
    """Random 3-8 s phases; the first has both hands working in view."""
    starts, modes = [0.0], [(WORK, WORK)]
    t = rng.uniform(3.0, 8.0)
    while t < duration_s:
        r, hand = rng.random(), int(rng.integers(2))
        if r < 0.5:
            pair = [WORK, WORK]
        elif r < 0.62:
            pair = [WORK, WORK]
            pair[hand] = OUT
        elif r < 0.8:
            pair = [WORK_FAR, WORK_FAR]
            pair[hand] = CROSS
        elif r < 0.9:
            pair = [WORK, WORK]
            pair[hand] = HIGH
        else:
            pair = [OUT, OUT]  # resting: the head is free to look around
        starts.append(t)
        modes.append(tuple(pair))
        t += rng.uniform(3.0, 8.0)
    return PhaseSchedule(np.array(starts), np.array(modes, dtype=np.int64))


# ------------------------------------------------------------------------------------------------
# Hands


@dataclass(frozen=True, eq=False)
class HandPlan:
    """Keyframes of one hand in its own mirrored-to-left body coordinates.

    wrist_times: (K,), wrist: (K, 6) = position xyz (m), roll, flexion, deviation (rad).
    finger_times: (J,), fingers: (J, 22) joint angles (rad).
    """

    wrist_times: np.ndarray
    wrist: np.ndarray
    finger_times: np.ndarray
    fingers: np.ndarray


def _sample_box(rng: np.random.Generator, box: np.ndarray) -> np.ndarray:
    """Uniform point in a (3, 2) [min, max] box."""
    return rng.uniform(box[:, 0], box[:, 1])


def _wrist_target(
    rng: np.random.Generator, mode: int, position: np.ndarray, step_m: float | None, scale: float
) -> np.ndarray:
    """Next wrist position (left-hand body coordinates) in a mode's zone.

    Args:
        position: (3,) current wrist position.
        step_m: None for a fresh point anywhere in the zone (a reach), otherwise the standard
            deviation of a small move from ``position`` (adjusting, dragging), kept in the zone.
    """
    if mode == OUT:
        if step_m is not None:
            return _reachable(position + rng.normal(0.0, step_m, size=3), scale)
        return _reachable(_sample_box(rng, np.array(_OUT_ZONES[int(rng.integers(len(_OUT_ZONES)))]) * scale), scale)
    box = np.array(_ZONES[mode]) * scale
    if step_m is None:
        return _reachable(_sample_box(rng, box), scale)
    return _reachable(np.clip(position + rng.normal(0.0, step_m, size=3), box[:, 0], box[:, 1]), scale)


def _pose_family(name: str) -> str:
    return "pinch" if name.startswith("pinch") else "grasp" if name.startswith("grasp") else name


def _arm_points(wrist: np.ndarray, scale: float) -> np.ndarray:
    """(K, 5, 3) coarse stand-ins for an arm at (K, 6) wrist parameters (left-hand body
    coordinates): two forearm points, the wrist, the middle of the hand and the middle of the
    fingers."""
    position = _reachable(wrist[:, :3], scale)
    rotation, elbow = left_arm_pose(position, wrist[:, 3], wrist[:, 4], wrist[:, 5], scale)
    fingers = rotation[:, :, 0] * scale
    return np.stack([elbow + 0.5 * (position - elbow), elbow + 0.8 * (position - elbow), position,
                     position + _PALM_OFFSET * fingers, position + 0.15 * fingers], 1)  # fmt: skip


def _arm_path(
    start_s: float, move_s: float, span_s: float, wrist_from: np.ndarray, wrist_to: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """``_arm_points`` every 0.1 s over [start, start + span] of a min-jerk move of the 6 wrist
    parameters (left-hand coordinates). Returns times (K,) and points (K, 5, 3)."""
    times = np.arange(start_s, start_s + span_s + 1e-9, 0.1)
    wrist = wrist_from + min_jerk((times - start_s) / move_s)[:, None] * (wrist_to - wrist_from)
    return times, _arm_points(wrist, scale)


class _HandPlanner:
    """Plans one hand's actions one at a time, in its mirrored-to-left body coordinates.

    Mutable on purpose: ``plan_hands`` interleaves the two hands' planners in time so that each
    new action can steer clear of what the other hand is already planned to do.
    """

    def __init__(self, rng: np.random.Generator, library: PoseLibrary, phases: PhaseSchedule, hand: int, scale: float):
        self.rng, self.library, self.phases, self.hand, self.scale = rng, library, phases, hand, scale
        self.contact_poses, self.free_poses = library.indices(True), library.indices(False)
        self.relaxed_poses = np.array([i for i in self.free_poses if library.names[i] in ("relaxed", "open")])
        position = _reachable(_sample_box(rng, np.array(_ZONES[WORK]) * scale), scale)
        self.pose = int(rng.choice(self.free_poses))
        self.current = np.concatenate([position, np.radians([90.0, 0.0, 0.0])])  # wrist parameters
        self.wrist_times, self.wrist = [0.0], [self.current]
        self.finger_times, self.fingers = [0.0], [library.angles[self.pose].numpy()]
        self.end_s, self.previous_mode = 0.0, WORK
        self.click = False  # the current pinch is a quick click (released at once, never dragged)

    def arm_points(self, times: np.ndarray) -> np.ndarray:
        """(K, 5, 3) planned ``_arm_points`` at ``times`` in the *other* hand's coordinates
        (mirrored); after the last planned action the hand holds its last keyframe."""
        wrist = keyframe_path(np.array(self.wrist_times), np.array(self.wrist), times)
        return _arm_points(wrist, self.scale) @ _MIRROR

    def plan(self) -> HandPlan:
        return HandPlan(np.array(self.wrist_times), np.array(self.wrist), np.array(self.finger_times), np.array(self.fingers))

    def extend(self, other: "_HandPlanner") -> None:
        """Plan the next action (move + hold) starting at ``end_s``; a reach or hold that would
        bring this arm closer than ``_ARM_CLEARANCE`` to ``other`` (``_arm_points``) is resampled
        up to ``_AVOID_ATTEMPTS`` times, then the wrist stays where it is."""
        rng, library, scale, t = self.rng, self.library, self.scale, self.end_s
        mode = self.phases.mode_at(t, self.hand)
        in_contact = bool(library.contact[self.pose])
        drag = (in_contact and not self.click and mode == self.previous_mode and mode != OUT
                and rng.random() < _DRAG_PROBABILITY)  # fmt: skip
        if drag:
            next_pose = self.pose
        elif mode == OUT:
            next_pose = int(rng.choice(self.relaxed_poses))
        else:
            wants_contact = not in_contact and rng.random() < _CONTACT_PROBABILITY
            next_pose = int(rng.choice(self.contact_poses if wants_contact else self.free_poses))
        contact = bool(library.contact[next_pose])
        if contact:
            self.click = not drag and rng.random() < _CLICK_PROBABILITY
            hold = rng.uniform(*(_CLICK_HOLD_S if self.click else _LONG_PINCH_HOLD_S))
        else:
            hold = rng.uniform(*(_OUT_HOLD_S if mode == OUT else _HOLD_S))
        roll_range = _OUT_ROLL if mode == OUT else _ROLL_BY_POSE[_pose_family(library.names[next_pose])]

        # Staying put is always clear: the other hand's plan was checked against this hand holding
        # its last keyframe. It is the fallback when every sampled move would come too close.
        best = (self.current, _MIN_MOVE_S)
        for _ in range(_AVOID_ATTEMPTS):
            if drag:
                step = _DRAG_STEP_M * scale
                orientation = np.clip(self.current[3:] + np.radians(rng.normal(0.0, 8.0, size=3)), *_ORIENTATION_BOUNDS)
            else:
                local = mode == self.previous_mode and rng.random() < _LOCAL_MOVE_PROBABILITY
                step = (_REST_STEP_M if mode == OUT else _LOCAL_STEP_M) * scale if local else None
                orientation = np.radians([rng.uniform(*roll_range), rng.uniform(*_FLEXION), rng.uniform(*_DEVIATION)])
            target = np.concatenate([_wrist_target(rng, mode, self.current[:3], step, scale), orientation])
            move = max(
                _MIN_MOVE_S,
                1.875 * float(np.linalg.norm(target[:3] - self.current[:3])) / rng.uniform(*_WRIST_SPEED),
                1.875 * float(np.abs(target[3:] - self.current[3:]).max()) / rng.uniform(*_WRIST_TURN_SPEED),
            )
            times, points = _arm_path(t, move, move + hold, self.current, target, scale)
            clearance = float(np.linalg.norm(points[:, :, None] - other.arm_points(times)[:, None], axis=-1).min())
            if clearance >= _ARM_CLEARANCE * scale:
                best = (target, move)
                break
        target, move = best

        finger_move = rng.uniform(*(_PINCH_MOVE_S if contact != in_contact else _FINGER_MOVE_S))
        # A release starts with the action (a click lets go at once), a pinch closes as the reach
        # ends; other shape changes happen somewhere during the reach.
        if in_contact:
            finger_start = t
        elif contact:
            finger_start = t + max(move - finger_move, 0.0)
        else:
            finger_start = t + rng.uniform(0.0, max(move - finger_move, 0.0))

        self.wrist_times += [t, t + move]
        self.wrist += [self.current, target]
        self.finger_times += [finger_start, finger_start + finger_move]
        self.fingers += [library.angles[self.pose].numpy(), library.angles[next_pose].numpy()]
        self.current, self.pose, self.previous_mode = target, next_pose, mode
        self.end_s = max(t + move, finger_start + finger_move) + hold


def plan_hands(
    rng: np.random.Generator, library: PoseLibrary, phases: PhaseSchedule, duration_s: float, scale: float
) -> tuple[HandPlan, HandPlan]:
    """Keyframes of both hands' actions until ``duration_s`` (see the module docstring).

    The hand whose plan ends earlier plans its next action next, so every action is checked
    against the other hand's plan up to then (and its hold beyond); the other hand's later
    actions are in turn checked against this one.

    Args:
        scale: subject scale; zones and reach scale with it.
    Returns:
        (left, right) plans, each in its hand's mirrored-to-left body coordinates.
    """
    planners = [_HandPlanner(rng, library, phases, hand, scale) for hand in (0, 1)]
    start = np.zeros(1)
    while np.linalg.norm(planners[1].arm_points(start)[:, :, None] - _arm_points(planners[0].current[None], scale)[:, None],
                         axis=-1).min() < _ARM_CLEARANCE * scale:  # fmt: skip
        planners[1] = _HandPlanner(rng, library, phases, 1, scale)
    while min(p.end_s for p in planners) < duration_s:
        hand = 0 if planners[0].end_s <= planners[1].end_s else 1
        planners[hand].extend(planners[1 - hand])
    return planners[0].plan(), planners[1].plan()


@dataclass(frozen=True, eq=False)
class HandMotion:
    """Both hands over time, body frame.

    Attributes:
        joint_angles: (N, 2, 22) radians.
        T_body_from_wrist: (N, 2, 4, 4) each hand in its own convention (proper rigid).
        elbow_body: (N, 2, 3) elbows of the arm model, metres.
        palm_body: (N, 2, 3) middle of each hand (where the head looks), metres.
        mode: (N, 2) phase mode per frame and hand.
    """

    joint_angles: np.ndarray
    T_body_from_wrist: np.ndarray
    elbow_body: np.ndarray
    palm_body: np.ndarray
    mode: np.ndarray


_FINGER_NOISE_RAD = 0.04
_FINGER_NOISE_DOFS = slice(8, 20)
"""Middle, ring and pinky only: thumb and index carry the pinch contact and stay exact."""
_WRIST_NOISE = (0.012, 0.012, 0.012, math.radians(4.0), math.radians(5.0), math.radians(3.0))
_CLEARANCE = 0.03
"""Minimum distance between the two hands' skeletons (landmarks and points along the bones),
metres at scale 1: fingers are ~2 cm thick, so the skins stay about 1 cm apart."""
_FACE_CENTRE = np.array([0.0, -0.03, 0.03])
_FACE_CLEARANCE = 0.15
"""Hands keep this far (metres) from a point just ahead of and below the eyes, which covers the
headset's front (~0.1 m ahead of the eyes) as the head bends towards the hands."""
_SEPARATION_ITERATIONS = 8
_SEPARATION_RAMP_S = 1.5
"""The separating push fades in and out over this long (a 10 cm push moves <= 4 mm per frame)."""
_BONE_SAMPLES = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
_FOREARM_SAMPLES = torch.tensor([0.2, 0.45, 0.7], dtype=torch.float64)
_FOREARM_RADIUS = 0.025
"""Forearm points stand for a ~5 cm thick limb (hand points for the fingers' axes)."""


def hand_transforms(wrist: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Body-frame wrist transforms, hand centres and elbows of both hands from their wrist parameters.

    Args:
        wrist: (N, 2, 6) per hand in its mirrored-to-left coordinates: position (m), roll,
            flexion, deviation (rad).
        scale: subject scale.
    Returns:
        T_body_from_wrist (N, 2, 4, 4) in each hand's own convention, the middle of each hand
        (N, 2, 3) and the elbows (N, 2, 3), body frame.
    """
    transforms = np.zeros(wrist.shape[:2] + (4, 4))
    palm = np.zeros(wrist.shape[:2] + (3,))
    elbows = np.zeros(wrist.shape[:2] + (3,))
    for hand in range(2):
        position = _reachable(wrist[:, hand, :3], scale)
        rotation, elbow = left_arm_pose(position, wrist[:, hand, 3], wrist[:, hand, 4], wrist[:, hand, 5], scale)
        centre = position + _PALM_OFFSET * scale * rotation[:, :, 0]
        if hand == 1:
            position, centre, elbow = position @ _MIRROR, centre @ _MIRROR, elbow @ _MIRROR
            rotation = _MIRROR @ rotation @ _RIGHT_HAND_FLIP
        transforms[:, hand] = _transform(rotation, position)
        palm[:, hand] = centre
        elbows[:, hand] = elbow
    return transforms, palm, elbows


def skeleton_points(
    model: HandModel, joint_angles: np.ndarray, T_from_wrist: np.ndarray, elbows: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points that stand for both arms in clearance tests: landmarks, points along every bone and
    along the forearm (wrist -> elbow), each with the radius of the flesh around it.

    Args:
        joint_angles: (N, 2, 22). T_from_wrist: (N, 2, 4, 4) own convention. elbows: (N, 2, 3),
            same frame as the wrists.
    Returns:
        points (N, 2, P, 3) float64 and radii (P,) metres: the skins of two points touch when
        their distance is the sum of their radii (hand points count as 0 and are given the
        clearance ``_CLEARANCE`` instead).
    """
    points = landmarks(
        model.to(torch.float64), torch.as_tensor(joint_angles, dtype=torch.float64),
        torch.as_tensor(T_from_wrist, dtype=torch.float64), torch.tensor([0, 1]),
    )  # fmt: skip
    bones = torch.tensor(SKELETON_BONES)
    start, end = points[..., bones[:, 0], :], points[..., bones[:, 1], :]
    along = start[..., None, :] + _BONE_SAMPLES[:, None] * (end - start)[..., None, :]
    wrist = torch.as_tensor(T_from_wrist[..., :3, 3])
    forearm = wrist[..., None, :] + _FOREARM_SAMPLES[:, None] * (torch.as_tensor(elbows) - wrist)[..., None, :]
    radii = torch.cat([torch.zeros(points.shape[-2] + along.shape[-3] * along.shape[-2]),
                       torch.full((len(_FOREARM_SAMPLES),), _FOREARM_RADIUS)]).double()  # fmt: skip
    return torch.cat([points, along.flatten(-3, -2), forearm], dim=-2), radii


def _smooth_in_time(values: np.ndarray, window: np.ndarray) -> np.ndarray:
    """(N, D) values convolved along time with a normalised window (edges padded by repetition)."""
    pad = len(window)
    padded = np.pad(values, ((pad, pad), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, d], window, mode="same")[pad:-pad] for d in range(values.shape[1])], -1)


def _smooth_push(deficit: np.ndarray, away: np.ndarray, window: np.ndarray) -> np.ndarray:
    """(N, 3) push that removes a per-frame clearance ``deficit`` (N,) in the directions ``away``
    (N, 3), faded in and out over ``window``.

    The deficit is dilated by more than the window's half-width and then smoothed, so the push
    still covers every short frame and has no kinks. Each close encounter (a run of frames where
    the push is non-zero) is pushed in one direction, the deficit-weighted mean of ``away`` over
    it: a per-frame direction can turn quickly (the closest pair of points changes), which would
    make the push fast.
    """
    dilated = maximum_filter1d(deficit, size=int(1.5 * len(window)) + 1, mode="nearest")
    envelope = _smooth_in_time(dilated[:, None], window)[:, 0]
    labels, count = label(envelope > 0)
    weighted = deficit[:, None] * _unit(away)
    direction = np.zeros_like(weighted)
    for encounter in range(1, count + 1):
        frames = labels == encounter
        mean = weighted[frames].sum(0)
        direction[frames] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return envelope[:, None] * direction


def separate_hands(model: HandModel, joint_angles: np.ndarray, wrist: np.ndarray, scale: float) -> np.ndarray:
    """Push the hands apart where their skeletons come closer than ``_CLEARANCE``, and away from
    the face where they come closer than ``_FACE_CLEARANCE`` to ``_FACE_CENTRE``.

    Hands separate along the line between their closest points (half the deficit each), a hand
    leaves the face along the line from the face centre to its closest point. Pushes fade in and
    out over ``_SEPARATION_RAMP_S`` (see ``_smooth_push``). Repeated a few times, because moving a
    wrist also re-orients the hand (the arm model) and one push can cause another; the clearance
    is met to within a few millimetres.

    Args:
        joint_angles: (N, 2, 22). wrist: (N, 2, 6) as in ``hand_transforms``.
    Returns:
        (N, 2, 6) adjusted wrist parameters (orientation angles unchanged).
    """
    window = np.hanning(int(_SEPARATION_RAMP_S * FPS) + 2)[1:-1]
    window /= window.sum()
    offset = np.zeros((len(wrist), 2, 3))  # total push per hand, body frame

    def pushed() -> np.ndarray:
        adjusted = wrist.copy()
        adjusted[..., :3] += np.stack([offset[:, 0], offset[:, 1] @ _MIRROR], 1)  # right hand: mirrored
        return adjusted

    for _ in range(_SEPARATION_ITERATIONS):
        transforms, _, elbows = hand_transforms(pushed(), scale)
        points, radii = skeleton_points(model, joint_angles, transforms, elbows)
        frames = torch.arange(len(wrist))
        # Closest pair of points between the hands, and of each hand to the face centre.
        hand_gaps = (torch.cdist(points[:, 0], points[:, 1]) - radii[:, None] - radii).flatten(1)
        hand_gap, pair = hand_gaps.min(-1)
        first, second = pair // len(radii), pair % len(radii)
        hand_away = (points[frames, 0, first] - points[frames, 1, second]).numpy()
        face_offsets = points - torch.as_tensor(_FACE_CENTRE)
        face_gap, closest = (face_offsets.norm(dim=-1) - radii).min(-1)  # (N, 2)
        face_away = torch.gather(face_offsets, 2, closest[..., None, None].expand(-1, -1, 1, 3))[:, :, 0].numpy()
        hand_deficit = np.maximum(_CLEARANCE * scale - hand_gap.numpy(), 0.0)
        face_deficit = np.maximum(_FACE_CLEARANCE - face_gap.numpy(), 0.0)
        if max(hand_deficit.max(), face_deficit.max()) < 1e-3:
            break
        # Pushes overshoot a little (0.6 per hand, 1.2 from the face): the arm model turns a moved
        # hand, which gives some of the gain back.
        push = np.zeros((len(wrist), 2, 3))
        if hand_deficit.max() > 0:
            apart = 0.6 * _smooth_push(hand_deficit, hand_away, window)
            push[:, 0] += apart
            push[:, 1] -= apart
        for hand in range(2):
            if face_deficit[:, hand].max() > 0:
                push[:, hand] += 1.2 * _smooth_push(face_deficit[:, hand], face_away[:, hand], window)
        offset = offset + push
    return pushed()


def sample_hand_motion(
    rng: np.random.Generator,
    model: HandModel,
    library: PoseLibrary,
    phases: PhaseSchedule,
    times: np.ndarray,
    scale: float,
) -> HandMotion:
    """Trajectories of both hands at ``times`` (seconds): planned keyframes, smooth noise, and
    ``separate_hands`` so that the hands never interpenetrate.

    Args:
        model: the (scaled) hand model: joint limits, and its skeleton for the clearance test.
        scale: subject scale.
    """
    duration = float(times[-1]) + 1.0 / FPS
    lo, hi = (model.joint_limits.double().numpy()[:, k] for k in (0, 1))
    angles = np.zeros((len(times), 2, NUM_JOINTS))
    wrist = np.zeros((len(times), 2, 6))
    for hand, plan in enumerate(plan_hands(rng, library, phases, duration, scale)):
        path = keyframe_path(plan.wrist_times, plan.wrist, times)
        wrist[:, hand] = path + smooth_noise(rng, times, np.array(_WRIST_NOISE) * np.array([scale] * 3 + [1.0] * 3), 0.4)
        fingers = keyframe_path(plan.finger_times, plan.fingers, times)
        fingers[:, _FINGER_NOISE_DOFS] += smooth_noise(rng, times, np.full(12, _FINGER_NOISE_RAD), 0.5)
        angles[:, hand] = np.clip(fingers, lo, hi)
    wrist = separate_hands(model, angles, wrist, scale)
    transforms, palm, elbows = hand_transforms(wrist, scale)
    index = np.searchsorted(phases.starts_s, times, side="right") - 1
    return HandMotion(angles, transforms, elbows, palm, phases.modes[index])


# ------------------------------------------------------------------------------------------------
# Head and body


def _gaze_angles(target: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch_down) of the direction from the eyes (body origin) to a body-frame point."""
    return math.atan2(target[0], target[2]), math.atan2(-target[1], math.hypot(target[0], target[2]))


def _fixation(rng: np.random.Generator, hands: HandMotion, frame: int) -> np.ndarray:
    """(3,) head yaw, pitch-down, roll (radians, body frame) of the next fixation: mostly at the
    hands in view (the eyes do part of the turn, so the head turns ~70-80 %), sometimes a glance
    to the side, sometimes straight ahead."""
    visible = [h for h in range(2) if hands.mode[frame, h] != OUT]
    r = rng.random()
    if visible and r < 0.78:
        chosen = visible if (len(visible) == 1 or rng.random() < 0.6) else [int(rng.choice(visible))]
        yaw, pitch = _gaze_angles(hands.palm_body[frame, chosen].mean(0))
        angles = np.array([0.8 * yaw, 0.65 * pitch, 0.0]) + np.radians(rng.normal(0.0, [5.0, 5.0, 3.0]))
    elif r < 0.9:
        side = rng.choice([-1.0, 1.0])
        angles = np.radians([side * rng.uniform(25.0, 70.0), rng.uniform(-15.0, 15.0), rng.normal(0.0, 3.0)])
    else:
        angles = np.radians([rng.normal(0.0, 10.0), rng.uniform(0.0, 20.0), rng.normal(0.0, 3.0)])
    angles[0] = np.clip(angles[0], -_HEAD_YAW_LIMIT, _HEAD_YAW_LIMIT)
    angles[1] = np.clip(angles[1], *_HEAD_PITCH_LIMITS)
    return angles


def sample_head_in_body(rng: np.random.Generator, hands: HandMotion, times: np.ndarray) -> np.ndarray:
    """Head (device) pose in the body frame: fixations (``_fixation``) joined by min-jerk turns
    of bounded peak rate, plus a little smooth noise.

    Returns:
        (N, 4, 4) ``T_body_from_device``.
    """
    current = _fixation(rng, hands, 0)
    knot_times, knots = [0.0], [current]
    t = rng.uniform(*_FIXATION_S)
    while t < times[-1] + 1.0:
        angles = _fixation(rng, hands, int(min(round(t * FPS), len(times) - 1)))
        move = max(0.2, 1.875 * float(np.abs(angles - current).max()) / rng.uniform(*_HEAD_TURN_SPEED))
        knot_times += [t, t + move]
        knots += [current, angles]
        current = angles
        t += move + rng.uniform(*_FIXATION_S)
    angles = keyframe_path(np.array(knot_times), np.array(knots), times)
    angles = angles + smooth_noise(rng, times, np.radians([1.5, 1.5, 1.0]), 0.5)
    rotation = yaw_pitch_roll(angles[:, 0], angles[:, 1], angles[:, 2])
    # Rotation about the neck pivot p: x -> R (x - p) + p.
    return _transform(rotation, _NECK_PIVOT - rotation @ _NECK_PIVOT)


def sample_body_in_world(rng: np.random.Generator, subject: Subject, times: np.ndarray) -> np.ndarray:
    """The torso on the floor: start pose, sway, occasional turns and (standing) steps.

    Returns:
        (N, 4, 4) ``T_world_from_body`` (world y up; body yaw about world y only).
    """
    yaw0 = rng.uniform(-math.pi, math.pi)
    start = np.array([rng.uniform(-1.0, 1.0), subject.eye_height_m, rng.uniform(-1.0, 1.0)])
    knot_times, knots = [0.0], [np.array([yaw0, *start])]
    t = rng.uniform(2.0, 8.0)
    while t < times[-1] + 1.0:
        yaw, position = knots[-1][0], knots[-1][1:].copy()
        turn = rng.choice([-1.0, 1.0]) * math.radians(rng.uniform(10.0, 40.0 if subject.seated else 70.0))
        if rng.random() < 0.5:
            yaw += turn
        if not subject.seated and rng.random() < 0.4:
            heading = rng.uniform(-math.pi, math.pi)
            position[[0, 2]] += rng.uniform(0.1, 0.4) * np.array([math.sin(heading), math.cos(heading)])
        target = np.array([yaw, *position])
        # Peak turn rate <= 45 deg/s, peak step speed <= 0.3 m/s.
        move = max(1.0, 1.875 * abs(target[0] - knots[-1][0]) / math.radians(45.0),
                   1.875 * float(np.linalg.norm(target[1:] - knots[-1][1:])) / 0.3)  # fmt: skip
        knot_times += [t, t + move]
        knots += [knots[-1], target]
        t += move + rng.uniform(3.0, 12.0)
    path = keyframe_path(np.array(knot_times), np.array(knots), times)
    sway = 0.006 if subject.seated else 0.015
    path[:, 1:] += smooth_noise(rng, times, np.array([sway, 0.4 * sway, sway]), 0.3)
    path[:, 0] += smooth_noise(rng, times, np.array([math.radians(2.0)]), 0.2)[:, 0]
    rotation = axis_angle(np.array([0.0, 1.0, 0.0]), path[:, 0])
    return _transform(rotation, path[:, 1:])
