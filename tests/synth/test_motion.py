"""Synthetic motion and sequences: interpolation, key poses, determinism, limits, smoothness, pinch
labels, visibility, hand-hand clearance."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from umetrack.geometry import rigidity_error
from umetrack.hand.model import NUM_JOINTS
from umetrack.metrics import (
    PINCH_ENTER_DISTANCE_M,
    PINCH_EXIT_DISTANCE_M,
    frames_to_events,
    thumb_index_distance,
)
from umetrack.synth import KEY_POSES, build_pose_library, generate_sequence, sequence_visibility
from umetrack.synth.motion import FPS, keyframe_path, min_jerk, skeleton_points, smooth_noise
from umetrack.synth.poses import CONTACT_DISTANCE_M, RELEASE_DISTANCE_M, thumb_index_distances

SECONDS = 60
MAX_STEP_M = 0.03
MAX_TURN_DEG = 15.0


@pytest.fixture(scope="module")
def minute(hand_model):
    """A 60 s recording (1800 frames) shared by the sequence tests."""
    return generate_sequence(hand_model, int(SECONDS * FPS), seed=0)


def _rotation_step_deg(T: torch.Tensor) -> torch.Tensor:
    """(N-1, ...) angle between consecutive rotations of (N, ..., 4, 4) transforms, degrees."""
    relative = T[1:, ..., :3, :3].transpose(-1, -2) @ T[:-1, ..., :3, :3]
    cosine = ((relative.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(cosine))


# --------------------------------------------------------------------------------------------
# Building blocks


def test_min_jerk_profile():
    tau = np.linspace(0.0, 1.0, 1001)
    s = min_jerk(tau)
    assert s[0] == 0.0 and s[-1] == 1.0 and (np.diff(s) >= 0).all()
    velocity = np.gradient(s, tau)
    assert abs(velocity[0]) < 1e-2 and abs(velocity[-1]) < 1e-2
    assert velocity.max() == pytest.approx(1.875, abs=1e-3)  # the peak-speed rule used for durations
    assert min_jerk(np.array([-1.0, 2.0])).tolist() == [0.0, 1.0]


def test_keyframe_path_holds_passes_through_knots_and_is_smooth():
    times = np.array([0.0, 1.0, 2.0, 3.0])
    values = np.array([[0.0], [1.0], [1.0], [-2.0]])
    t = np.linspace(-0.5, 3.5, 4001)
    path = keyframe_path(times, values, t)[:, 0]
    np.testing.assert_allclose(keyframe_path(times, values, times)[:, 0], values[:, 0], atol=1e-12)
    assert (path[(t >= 1.0) & (t <= 2.0)] == 1.0).all()  # equal knots hold
    assert path[0] == 0.0 and path[-1] == -2.0  # holds outside the knots
    assert path.min() >= -2.0 and path.max() <= 1.0  # never overshoots the knots
    velocity = np.diff(path) / np.diff(t)
    # C1 (even C2): velocity changes by at most |acceleration| dt <= 5.8 * 3 * 1e-3 between samples,
    # while a velocity jump at a knot would be of the order of the peak speed, 1.875 * 3.
    assert np.abs(np.diff(velocity)).max() < 0.02


def test_smooth_noise_is_bounded_and_slow():
    rng = np.random.default_rng(0)
    t = np.arange(3000) / FPS
    noise = smooth_noise(rng, t, np.array([0.01, 0.5]), max_frequency_hz=0.5)
    assert noise.shape == (3000, 2)
    assert (np.abs(noise) <= np.array([0.01, 0.5]) + 1e-12).all()
    assert (np.abs(np.diff(noise, axis=0)) <= 2 * math.pi * 0.5 * np.array([0.01, 0.5]) / FPS + 1e-12).all()


def test_pose_library_contacts_touch_and_others_release(hand_model):
    library = build_pose_library(hand_model.scaled(1.1), np.random.default_rng(0))
    assert {p.name for p in KEY_POSES} <= set(library.names)  # every key pose kept (nominal variants)
    distance = thumb_index_distances(hand_model.scaled(1.1), library.angles).numpy()
    assert library.contact.any() and (~library.contact).any()
    np.testing.assert_allclose(distance[library.contact], CONTACT_DISTANCE_M, atol=5e-4)
    assert (distance[~library.contact] >= RELEASE_DISTANCE_M).all()
    limits = hand_model.joint_limits.double()
    assert ((library.angles >= limits[:, 0]) & (library.angles <= limits[:, 1])).all()
    contact_names = {n for n, c in zip(library.names, library.contact) if c}
    assert contact_names == {"pinch_open", "pinch_relaxed", "pinch_closed", "ok_sign"}


# --------------------------------------------------------------------------------------------
# Sequences


def test_sequence_shapes_units_and_conventions(minute, hand_model):
    n = int(SECONDS * FPS)
    assert minute.num_frames == n and minute.num_views == 4
    assert minute.timestamps_ns.dtype == np.int64
    np.testing.assert_allclose(np.diff(minute.timestamps_ns), 1e9 / FPS, atol=1)
    assert minute.T_world_from_camera.shape == (n, 4, 4, 4)
    assert minute.joint_angles.shape == (n, 2, NUM_JOINTS)
    assert minute.T_world_from_wrist.shape == (n, 2, 4, 4)
    assert minute.camera_angles_deg.shape == (4,)
    assert (minute.confidence == 1).all() and minute.confidence.shape == (n, 2)
    assert minute.pinch.dtype == torch.bool and minute.pinch.shape == (n, 2)
    # Both wrists (the right one in its own convention) and all cameras are proper rigid transforms.
    assert rigidity_error(minute.T_world_from_wrist).max() < 1e-9
    assert rigidity_error(minute.T_world_from_camera).max() < 1e-9
    expected_cameras = minute.T_world_from_device[:, None] @ minute.rig.T_device_from_camera
    torch.testing.assert_close(minute.T_world_from_camera, expected_cameras)
    torch.testing.assert_close(minute.hand_model.landmark_rest_positions,
                               hand_model.landmark_rest_positions * minute.hand_scale)  # fmt: skip
    pose = minute.hand_pose(10, 1).validated()
    assert pose.hand_index == 1 and pose.confidence == 1.0
    assert len(minute.cameras(10)) == 4
    # World y is up: the eyes are 1.0-1.9 m above the floor, the hands below the eyes most of the time.
    eye_height = minute.T_world_from_device[:, 1, 3]
    assert (eye_height > 1.0).all() and (eye_height < 1.9).all()
    assert (minute.T_world_from_wrist[:, :, 1, 3] < eye_height[:, None]).float().mean() > 0.9


def test_same_seed_same_sequence_other_seed_differs(hand_model):
    a = generate_sequence(hand_model, 90, seed=7)
    b = generate_sequence(hand_model, 90, seed=7)
    c = generate_sequence(hand_model, 90, seed=8)
    for name in ("T_world_from_camera", "joint_angles", "T_world_from_wrist", "pinch", "T_world_from_device"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert a.hand_scale == b.hand_scale and np.array_equal(a.timestamps_ns, b.timestamps_ns)
    assert not torch.allclose(a.joint_angles, c.joint_angles)
    assert not torch.allclose(a.T_world_from_device, c.T_world_from_device)
    assert a.hand_scale != c.hand_scale


def test_hand_scale_varies_within_15_percent(hand_model):
    scales = [generate_sequence(hand_model, 1, seed=s).hand_scale for s in range(6)]
    assert all(0.85 <= s <= 1.15 for s in scales)
    assert max(scales) - min(scales) > 0.1


def test_joint_angles_stay_within_the_joint_limits(minute):
    limits = minute.hand_model.joint_limits.double()
    assert (minute.joint_angles >= limits[:, 0]).all() and (minute.joint_angles <= limits[:, 1]).all()
    assert (minute.joint_angles[..., 20:] == 0).all()  # FK ignores the wrist DOFs: orientation is in the wrist transform


def test_no_teleports(minute):
    """At 30 fps: wrists and head move < 3 cm and turn < 15 deg per frame."""
    wrist = minute.T_world_from_wrist
    assert (wrist[1:, :, :3, 3] - wrist[:-1, :, :3, 3]).norm(dim=-1).max() < MAX_STEP_M
    assert _rotation_step_deg(wrist).max() < MAX_TURN_DEG
    head = minute.T_world_from_device
    assert (head[1:, :3, 3] - head[:-1, :3, 3]).norm(dim=-1).max() < MAX_STEP_M
    assert _rotation_step_deg(head).max() < MAX_TURN_DEG
    # ... but they do move: tens of degrees of head rotation and tens of centimetres of hand travel.
    forward = head[:, :3, 2]
    assert math.degrees(math.acos(float((forward[:, None] * forward[None, ::30]).sum(-1).min()))) > 30.0
    assert (wrist[:, :, :3, 3].amax(0) - wrist[:, :, :3, 3].amin(0)).norm(dim=-1).min() > 0.3


def test_pinch_labels_agree_with_tip_distances(minute):
    distance = torch.as_tensor(thumb_index_distance(minute.landmarks()))  # (N, 2) metres
    pinch = minute.pinch
    assert (distance[pinch] < PINCH_EXIT_DISTANCE_M).all()
    assert pinch[distance < PINCH_ENTER_DISTANCE_M].all()
    for hand in range(2):
        events = frames_to_events(pinch[:, hand].numpy())
        for event in events:
            assert distance[event.start : event.end, hand].min() < 0.007  # the tips really touch
        for before, after in zip(events[:-1], events[1:]):
            assert distance[before.end : after.start, hand].max() > RELEASE_DISTANCE_M  # and release clearly


def test_pinches_happen_every_few_seconds(minute):
    for hand in range(2):
        events = frames_to_events(minute.pinch[:, hand].numpy())
        assert len(events) >= SECONDS / 10, hand  # at least one every 10 s on average
        lengths = np.array([e.end - e.start for e in events]) / FPS
        assert lengths.min() < 0.5 and lengths.max() > 1.0  # short clicks and long holds


def test_hands_are_mostly_seen_in_two_views_and_sometimes_in_none(minute):
    counts = sequence_visibility(minute)  # (N, V, 2)
    assert counts.shape == (minute.num_frames, 4, 2)
    two_views = ((counts >= 19).sum(1) >= 2).float().mean(0)
    assert (two_views >= 0.6).all(), two_views
    unseen = (counts == 0).all(1)  # (N, 2)
    assert unseen.any(), "a hand should leave every view at times"
    for hand in range(2):
        flags = unseen[:, hand].numpy()
        if flags.any():
            assert not flags.all() and (np.diff(flags.astype(int)) == -1).any(), "and come back"


def test_arms_keep_clear_of_each_other_and_of_the_face_and_sometimes_cross(minute):
    points, radii = skeleton_points(minute.hand_model, minute.joint_angles.numpy(), minute.T_world_from_wrist.numpy(),
                                    minute.elbow_positions.numpy())  # fmt: skip
    gap = (torch.cdist(points[:, 0], points[:, 1]) - radii[:, None] - radii).amin((-1, -2))
    assert gap.min() > 0.025  # finger axes >= 2.5 cm apart: the ~2 cm thick fingers never interpenetrate
    # Forearms: the elbow is a forearm's length behind the wrist.
    forearm = (minute.elbow_positions - minute.T_world_from_wrist[..., :3, 3]).norm(dim=-1)
    torch.testing.assert_close(forearm, torch.full_like(forearm, 0.26 * minute.hand_scale))
    # Nothing comes within 12 cm of the eyes (the headset's front is ~10 cm ahead of them).
    device_from_world = torch.linalg.inv(minute.T_world_from_device)
    eye_points = (device_from_world[:, None, None, :3, :3] @ points[..., None])[..., 0]
    eye_points = eye_points + device_from_world[:, None, None, :3, 3]
    assert (eye_points.norm(dim=-1) - radii).min() > 0.12
    # Crossing: in the device frame (+x = user's left) the left wrist passes right of the right wrist.
    wrists = (device_from_world[:, None] @ minute.T_world_from_wrist)[..., 0, 3]  # (N, 2) device x
    assert (wrists[:, 0] < wrists[:, 1]).any()


def test_generation_is_fast(hand_model):
    generate_sequence(hand_model, 10, seed=1)  # first call pays torch's one-time warm-up
    start = time.thread_time()  # this thread's CPU time: other processes and threads do not count
    generate_sequence(hand_model, 1000, seed=2)
    assert time.thread_time() - start < 5.0  # ~0.5 s
