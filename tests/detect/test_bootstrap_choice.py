"""Tracked crops start hands with the learned detector, or with GT when asked (``recording_bootstrap``)."""

from __future__ import annotations

import pytest
import torch

import umetrack.detect.bootstrap as bootstrap_module
from umetrack.detect.bootstrap import HandDetector
from umetrack.detect.network import HandDetectorNet
from umetrack.detect.train import export_detector_weights, DetectorTrainConfig
from umetrack.errors import FormatError
from umetrack.synth.recording import synthetic_recording
from umetrack.track.results import recording_bootstrap, track_recording
from umetrack.track.tracker import TrackerOptions
from umetrack.train.loop import make_network


@pytest.fixture(scope="module")
def recording(hand_model):
    return synthetic_recording(hand_model, 3, seed=21, num_views=2)


def test_gt_bootstrap_answers_the_frames_ground_truth(recording):
    detector, holder = recording_bootstrap(recording, recording.hand_model, "gt")
    holder["frame"] = 2
    poses = detector(recording.images(2), recording.cameras(2))
    assert set(poses) == {0, 1}
    assert torch.equal(torch.as_tensor(poses[1].T_world_from_wrist), torch.as_tensor(recording.gt_poses(2)[1].T_world_from_wrist))


def test_auto_and_detector_follow_the_weights_file(recording, tmp_path, monkeypatch):
    missing = tmp_path / "absent.pt"
    monkeypatch.setattr(bootstrap_module, "DEFAULT_WEIGHTS", missing)
    auto, _ = recording_bootstrap(recording, recording.hand_model, "auto")
    assert not isinstance(auto, HandDetector)  # no weights: GT
    with pytest.raises(FormatError):
        recording_bootstrap(recording, recording.hand_model, "detector")
    weights = tmp_path / "hand_detector.pt"
    export_detector_weights(HandDetectorNet().eval(), DetectorTrainConfig(), weights, step=0)
    monkeypatch.setattr(bootstrap_module, "DEFAULT_WEIGHTS", weights)
    for name in ("auto", "detector"):
        detector, _ = recording_bootstrap(recording, recording.hand_model, name)
        assert isinstance(detector, HandDetector)
    with pytest.raises(ValueError, match="bootstrap"):
        recording_bootstrap(recording, recording.hand_model, "oracle")


def test_track_recording_starts_tracked_crops_with_the_given_detector(recording):
    calls = []

    def detector(images, cameras):
        calls.append(len(images))
        return {}

    results = track_recording(make_network("light").eval(), recording, recording.hand_model, TrackerOptions(crops="tracked"), bootstrap=detector)
    assert calls == [2, 2, 2]  # asked every frame, as no hand was ever found
    assert results.num_frames == 3
