"""Whole-recording tracking results keep the predicted poses, consistent with the predicted landmarks."""

import numpy as np
import torch

from umetrack.hand import fk
from umetrack.synth.recording import synthetic_recording
from umetrack.track.results import track_recording
from umetrack.track.tracker import Tracker, TrackerOptions
from umetrack.train.loop import make_network


def test_predicted_poses_are_stored_and_skin_to_the_predicted_landmarks(hand_model, monkeypatch):
    """A 'network' that answers the GT pose (there are no trained weights to rely on) drives the real
    tracker; the stored poses must reproduce the stored landmarks."""
    original_step = Tracker.step

    def step(self, images, cameras, gt_poses=None):
        self.answer = gt_poses
        return original_step(self, images, cameras, gt_poses)

    def run_network(self, batch):
        return [(self.answer[hand].joint_angles, self.answer[hand].T_world_from_wrist, torch.zeros(21), None) for hand, *_ in batch]

    monkeypatch.setattr(Tracker, "step", step)
    monkeypatch.setattr(Tracker, "_run_network", run_network)
    recording = synthetic_recording(hand_model, 4, seed=21, num_views=2)
    results = track_recording(make_network("light").eval(), recording, recording.hand_model, TrackerOptions(crops="oracle"))
    tracked = np.isfinite(results.landmarks).all(axis=(-1, -2))
    assert tracked.sum() >= 4
    assert np.isfinite(results.joint_angles[tracked]).all() and np.isnan(results.joint_angles[~tracked]).all()
    assert np.isfinite(results.T_world_from_wrist[tracked]).all()
    model = recording.hand_model.to(torch.float64)
    for frame, hand in zip(*np.nonzero(tracked)):
        np.testing.assert_allclose(results.joint_angles[frame, hand], recording.gt.joint_angles[frame, hand], atol=1e-6)
        skinned = fk.landmarks(model, torch.as_tensor(results.joint_angles[frame, hand], dtype=torch.float64),
                               torch.as_tensor(results.T_world_from_wrist[frame, hand], dtype=torch.float64), int(hand))  # fmt: skip
        np.testing.assert_allclose(skinned.numpy(), results.landmarks[frame, hand], atol=1e-4)
