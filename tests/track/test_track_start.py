"""How a track starts: only from a confident enough first prediction (``min_start_confidence``), and
cropped again from the network's own first prediction (``refine_new_tracks``)."""

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from umetrack.hand import fk
from umetrack.recording import open_recording
from umetrack.resources import SAMPLE_RECORDING, TRACKER_WEIGHTS
from umetrack.track.tracker import Reason, Tracker, TrackerOptions

FRAME = 120


@pytest.fixture(scope="module")
def sample():
    with open_recording(SAMPLE_RECORDING) as recording:
        yield recording


def _offset_bootstrap(recording, frame, offsets_m, angles):
    """A bootstrap that finds each GT hand of ``frame`` with its wrist moved by ``offsets_m[hand]`` and
    the given finger angles: the kind of rough start pose a detector gives."""
    found = {}
    for hand, pose in recording.gt_poses(frame).items():
        wrist = pose.T_world_from_wrist.clone()
        wrist[:3, 3] += torch.as_tensor(offsets_m[hand], dtype=wrist.dtype)
        found[hand] = type(pose)(hand, angles.to(pose.joint_angles.dtype), wrist, pose.confidence)
    return lambda images, cameras: found


def _track(net, recording, frame, bootstrap, refine=0, frames=1, min_start_confidence=0.0):
    options = TrackerOptions(refine_new_tracks=refine, redetect_every=0, min_start_confidence=min_start_confidence)
    tracker = Tracker(net, recording.hand_model, options, detector=bootstrap,
                      camera_angles_deg=recording.camera_angles_deg)  # fmt: skip
    return [tracker.step(recording.images(f), recording.cameras(f)) for f in range(frame, frame + frames)]


def test_a_refined_start_is_the_network_run_on_crops_from_its_own_first_prediction(sample, steady_light_network):
    model = sample.hand_model
    bootstrap = _offset_bootstrap(sample, FRAME, {0: (0.04, 0.0, 0.0), 1: (0.0, -0.04, 0.0)}, model.neutral_angles)
    (first,) = _track(steady_light_network, sample, FRAME, bootstrap, refine=0)
    tracked = [hand for hand, result in first.hands.items() if result.reason is Reason.TRACKED]
    assert tracked
    # Starting a fresh, unrefined tracker from the first prediction is what one refinement does.
    from_prediction = {hand: first.hands[hand].pose for hand in tracked}
    (by_hand,) = _track(steady_light_network, sample, FRAME, lambda images, cameras: from_prediction, refine=0)
    (refined,) = _track(steady_light_network, sample, FRAME, bootstrap, refine=1)
    for hand in tracked:
        assert refined.hands[hand].reason is Reason.TRACKED
        np.testing.assert_allclose(refined.hands[hand].landmarks, by_hand.hands[hand].landmarks, atol=1e-6)
        assert not np.allclose(refined.hands[hand].landmarks, first.hands[hand].landmarks, atol=1e-3)
        assert [c.T_crop_from_world.tolist() for c in refined.hands[hand].crops] == [c.T_crop_from_world.tolist() for c in by_hand.hands[hand].crops]


def test_only_the_first_frame_of_a_track_is_refined(sample, steady_light_network):
    model = sample.hand_model
    bootstrap = _offset_bootstrap(sample, FRAME, {0: (0.04, 0.0, 0.0), 1: (0.0, -0.04, 0.0)}, model.neutral_angles)
    refining = Tracker(steady_light_network, model, TrackerOptions(refine_new_tracks=2, redetect_every=0, min_start_confidence=0.0), detector=bootstrap,
                       camera_angles_deg=sample.camera_angles_deg)  # fmt: skip
    refining.step(sample.images(FRAME), sample.cameras(FRAME))
    plain = copy.deepcopy(refining)
    plain.options = replace(plain.options, refine_new_tracks=0)
    for frame in (FRAME + 1, FRAME + 2):
        continued, unrefined = (t.step(sample.images(frame), sample.cameras(frame)) for t in (refining, plain))
        assert any(r.reason is Reason.TRACKED for r in continued.hands.values())
        for hand, result in continued.hands.items():
            assert result.reason is unrefined.hands[hand].reason
            if result.reason is Reason.TRACKED:
                np.testing.assert_array_equal(result.landmarks, unrefined.hands[hand].landmarks)


@pytest.mark.skipif(not TRACKER_WEIGHTS.is_file(), reason="needs the shipped tracker weights")
def test_refining_a_rough_start_brings_the_shipped_network_closer_to_the_hand(sample):
    from umetrack.train.loop import load_trained_network

    net, _config = load_trained_network(TRACKER_WEIGHTS)
    model = sample.hand_model.to(torch.float64)
    rng = np.random.default_rng(0)
    errors = {0: [], 1: []}
    for frame in range(30, 300, 15):
        bootstrap = _offset_bootstrap(sample, frame, {h: rng.normal(0.0, 0.03, 3) for h in (0, 1)}, model.neutral_angles)
        gt = sample.gt_poses(frame)
        for refine in (0, 1):
            (result,) = _track(net, sample, frame, bootstrap, refine)
            for hand, hand_result in result.hands.items():
                if hand_result.reason is Reason.TRACKED and hand in gt:
                    truth = fk.landmarks(model, gt[hand].joint_angles.double(), gt[hand].T_world_from_wrist.double(), hand).numpy()
                    errors[refine].append(np.linalg.norm(hand_result.landmarks - truth, axis=-1).mean())
    assert len(errors[0]) >= 20
    assert np.mean(errors[1]) < 0.9 * np.mean(errors[0]), (np.mean(errors[0]), np.mean(errors[1]))


def test_an_unsure_first_prediction_starts_no_track_and_the_detector_is_asked_again(sample, steady_light_network):
    model = sample.hand_model
    found = _offset_bootstrap(sample, FRAME, {0: (0.02, 0.0, 0.0), 1: (0.0, 0.02, 0.0)}, model.neutral_angles)
    calls = []

    def bootstrap(images, cameras):
        calls.append(len(calls))
        return found(images, cameras)

    (first,) = _track(steady_light_network, sample, FRAME, bootstrap)
    hand = next(h for h, r in first.hands.items() if r.reason is Reason.TRACKED)
    confidence = first.hands[hand].confidence
    assert 0.0 < confidence < 1.0

    calls.clear()
    started = _track(steady_light_network, sample, FRAME, bootstrap, frames=3, min_start_confidence=confidence - 1e-3)
    assert [r.hands[hand].reason for r in started] == [Reason.TRACKED] * 3
    assert len(calls) == 1  # the track, once started, follows its own predictions

    calls.clear()
    refused = _track(steady_light_network, sample, FRAME, bootstrap, frames=3, min_start_confidence=confidence + 1e-3)
    assert [r.hands[hand].reason for r in refused] == [Reason.LOW_CONFIDENCE] * 3
    assert all(r.hands[hand].landmarks is None and r.hands[hand].crops for r in refused)
    assert len(calls) == 3  # no track was started, so every frame asks the detector again
