"""The format-free Recording model: validation, per-frame accessors, trajectories and pinch labels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from umetrack.errors import FormatError
from umetrack.hand.pose import HandPose
from umetrack.metrics import PinchEvent
from umetrack.recording import ArrayFrameSource, HandTrajectory, NoFrameSource, PinchLabels

from ..conftest import UNTRACKED_FRAME


def test_accessors(make_recording):
    recording = make_recording()
    assert recording.num_frames == 20 and recording.num_views == 2 and recording.has_images
    assert recording.cameras(UNTRACKED_FRAME) is None
    cameras = recording.cameras(0)
    assert len(cameras) == 2 and cameras[0].T_world_from_camera.dtype == torch.float64
    assert [im.shape for im in recording.images(3)] == [(120, 160), (120, 160)]
    assert set(recording.gt_poses(0)) == {0} and set(recording.gt_poses(3)) == {0, 1}
    assert recording.gt.pose(0, 1) is None
    with pytest.raises(IndexError):
        recording.image(20, 0)


def test_arrays_are_read_only_copies(make_recording):
    recording = make_recording()
    with pytest.raises(ValueError):
        recording.T_world_from_camera[0, 0, 0, 0] = 2.0
    with pytest.raises(ValueError):
        recording.image(0, 0)[0, 0] = 0
    with pytest.raises(ValueError):
        recording.gt.joint_angles[0, 0, 0] = 1.0


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda r: {"timestamps_ns": r.timestamps_ns[::-1].copy()}, "timestamps_ns"),
        (lambda r: {"T_world_from_camera": r.T_world_from_camera[:-1]}, "T_world_from_camera"),
        (lambda r: {"view_labels": ("only one",)}, "view_labels"),
        (lambda r: {"camera_angles_deg": (0.0, float("nan"))}, "camera_angles_deg"),
        (lambda r: {"headset_tracked": np.ones(20, dtype=np.int8)}, "headset_tracked"),
        (lambda r: {"frames": ArrayFrameSource([np.zeros((20, 120, 160), np.uint8)] * 2 + [np.zeros((20, 1, 1), np.uint8)])}, "frames"),
        (lambda r: {"frames": ArrayFrameSource([np.zeros((20, 100, 160), np.uint8)] * 2)}, "frames"),
        (lambda r: {"frames": NoFrameSource(19, [(160, 120)] * 2)}, "frames"),
        (lambda r: {"pinch": PinchLabels(np.zeros((3, 2), bool))}, "pinch"),
    ],
)
def test_inconsistent_recordings_are_rejected(make_recording, change, field):
    recording = make_recording()
    with pytest.raises(FormatError) as error:
        dataclasses.replace(recording, **change(recording))
    assert error.value.field == field


def test_non_rigid_tracked_camera_is_rejected_but_untracked_zeros_are_fine(make_recording):
    recording = make_recording()
    T = recording.T_world_from_camera.copy()
    T[2, 1, :3, :3] *= 2.0
    with pytest.raises(FormatError, match="rigid") as error:
        dataclasses.replace(recording, T_world_from_camera=T)
    assert error.value.field == "T_world_from_camera[2, 1]"
    T = recording.T_world_from_camera.copy()
    T[UNTRACKED_FRAME, 0, 0, 0] = 123.0  # meaningless where untracked: not checked
    dataclasses.replace(recording, T_world_from_camera=T)


def test_hand_trajectory_validation():
    angles, T, confidence = np.zeros((4, 2, 22)), np.tile(np.eye(4), (4, 2, 1, 1)), np.ones((4, 2))
    HandTrajectory(angles, T, confidence)
    bad = T.copy()
    bad[1, 0, 3, 3] = 0.0
    with pytest.raises(FormatError, match="rigid") as error:
        HandTrajectory(angles, bad, confidence)
    assert error.value.field == "gt.T_world_from_wrist[1, 0]"
    confidence[1, 0] = 0.0  # an absent hand's transform is not checked
    HandTrajectory(angles, bad, confidence)
    with pytest.raises(FormatError, match="NaN"):
        HandTrajectory(np.full((4, 2, 22), np.nan), T, confidence)
    with pytest.raises(FormatError, match="shape"):
        HandTrajectory(np.zeros((4, 2, 20)), T, confidence)


def test_hand_trajectory_from_poses_round_trips():
    T = torch.eye(4, dtype=torch.float64)
    T[:3, 3] = torch.tensor([0.1, 0.2, 0.3])
    frames = [{}, {1: HandPose(1, torch.linspace(0, 1, 22, dtype=torch.float64), T, 0.7)}]
    trajectory = HandTrajectory.from_poses(frames)
    assert trajectory.poses(0) == {}
    pose = trajectory.pose(1, 1)
    assert pose.confidence == 0.7 and torch.equal(pose.T_world_from_wrist, T) and torch.equal(pose.joint_angles, frames[1][1].joint_angles)


def test_pinch_labels_events():
    labels = PinchLabels.from_events({0: [(1, 3), PinchEvent(5, 6)], 1: []}, 8)
    assert labels.frames[:, 0].tolist() == [False, True, True, False, False, True, False, False]
    assert labels.events(0) == (PinchEvent(1, 3), PinchEvent(5, 6)) and labels.events(1) == ()
    with pytest.raises(FormatError):
        PinchLabels(np.zeros((8, 2)))
    with pytest.raises(ValueError):
        PinchLabels.from_events({0: [(6, 9)]}, 8)
