"""Tracked crops follow their own predictions; the periodic detector check restarts a track that drifted."""

from pathlib import Path

import numpy as np
import pytest
import torch

from umetrack.detect.bootstrap import HandDetector
from umetrack.hand import fk
from umetrack.recording import open_recording
from umetrack.track.tracker import LocatingDetector, Reason, Tracker, TrackerOptions

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "recording_00.mp4"


def _steady_options(**options) -> TrackerOptions:
    """The steady test network is never confident: let its tracks start (``min_start_confidence``)."""
    return TrackerOptions(min_start_confidence=0.0, **options)


@pytest.fixture(scope="module")
def sample():
    with open_recording(SAMPLE) as recording:
        yield recording


def _drifted_crop_error_px(sample, net, hand_model, frame, options):
    """Track ``frame``, push the left hand's track 30 cm sideways (a drifted track), track the next
    frame: how far (px) the true hand centre lands from the centre of its reference crop."""
    tracker = Tracker(net, hand_model, options, detector=HandDetector(hand_model=hand_model), camera_angles_deg=sample.camera_angles_deg)
    first = tracker.step(sample.images(frame), sample.cameras(frame))
    assert first.hands[0].reason is Reason.TRACKED
    shift = torch.tensor([0.3, 0.0, 0.0], dtype=torch.float64)
    drifted = tracker._previous[0]
    wrist = drifted.T_world_from_wrist.clone()
    wrist[:3, 3] += shift
    tracker._previous[0] = type(drifted)(0, drifted.joint_angles, wrist, drifted.confidence)
    tracker._previous_centre[0] = tracker._previous_centre[0] + shift.numpy()
    result = tracker.step(sample.images(frame + 1), sample.cameras(frame + 1)).hands[0]
    pose = sample.gt_poses(frame + 1)[0]
    truth = fk.landmarks(sample.hand_model.to(torch.float64), pose.joint_angles.double(), pose.T_world_from_wrist.double(), 0)
    if result.reason is not Reason.TRACKED and not result.crops:
        return np.inf, tracker
    crop = result.crops[0]
    centre = crop.project(truth.mean(0)[None, None].to(crop.focal.dtype))[0, 0]
    return float((centre - (crop.size - 1) / 2).norm()), tracker


def test_a_drifted_track_restarts_from_the_detector(sample, steady_light_network, two_view_hand_frames):
    model = sample.hand_model
    frames = sorted({f for h, f in two_view_hand_frames(sample, model, range(40, 120), hands=(0,))})
    frame = next(f for f in frames if f + 1 in frames)
    assert isinstance(HandDetector(hand_model=model), LocatingDetector)
    checked, tracker = _drifted_crop_error_px(sample, steady_light_network, model, frame, _steady_options(redetect_every=1))
    assert tracker.redetections >= 1
    unchecked, plain = _drifted_crop_error_px(sample, steady_light_network, model, frame, _steady_options(redetect_every=0))
    assert plain.redetections == 0
    assert checked < 20.0 < unchecked, (checked, unchecked)


def test_a_ground_truth_bootstrap_never_corrects_a_track(sample, steady_light_network):
    def gt_detector(images, cameras):
        return {h: p for h, p in sample.gt_poses(60).items()}

    assert not isinstance(gt_detector, LocatingDetector)
    tracker = Tracker(steady_light_network, sample.hand_model, _steady_options(redetect_every=1), detector=gt_detector, camera_angles_deg=sample.camera_angles_deg)
    for frame in range(60, 64):
        tracker.step(sample.images(frame), sample.cameras(frame))
    assert tracker.redetections == 0  # it starts hands, it never checks them


def test_a_low_confidence_prediction_is_checked_on_the_next_frame(sample, steady_light_network, two_view_hand_frames):
    """The steady test network is never confident (its sigmas are ~0.7 m): with a long period, only
    the confidence trigger can bring the check forward."""
    model = sample.hand_model
    frames = sorted({f for h, f in two_view_hand_frames(sample, model, range(40, 120), hands=(0,))})
    frame = next(f for f in frames if f + 1 in frames)
    soon, tracker = _drifted_crop_error_px(sample, steady_light_network, model, frame, _steady_options(redetect_every=50))
    assert tracker.redetections >= 1 and soon < 20.0
    late, patient = _drifted_crop_error_px(sample, steady_light_network, model, frame, _steady_options(redetect_every=50, redetect_below_confidence=0.0))
    assert patient.redetections == 0 and late > 20.0


class _BlindChecker:
    """Starts hands like the real detector, but its check finds nothing (a hand gone from the views)."""

    def __init__(self, detector: HandDetector, finds_hands: bool):
        self.detector, self.finds_hands = detector, finds_hands

    def __call__(self, images, cameras):
        return self.detector(images, cameras)

    def detect_hands(self, images, cameras):
        return self.detector.detect_hands(images, cameras) if self.finds_hands else {}


def test_an_unsure_track_the_check_cannot_place_is_dropped(sample, steady_light_network, two_view_hand_frames):
    """The steady test network is never confident: every track is unsure. One the check's detector
    does not find is ended and started again from the detector; one it finds is kept."""
    model = sample.hand_model
    frames = sorted({f for h, f in two_view_hand_frames(sample, model, range(40, 120), hands=(0,))})
    frame = next(f for f in frames if f + 1 in frames)

    def run(finds_hands: bool, options: TrackerOptions) -> tuple[Tracker, list[int]]:
        """Track ``frame`` and the next; the hands whose track ended during the second step."""
        tracker = Tracker(steady_light_network, model, options, detector=_BlindChecker(HandDetector(hand_model=model), finds_hands),
                          camera_angles_deg=sample.camera_angles_deg)  # fmt: skip
        assert tracker.step(sample.images(frame), sample.cameras(frame)).hands[0].reason is Reason.TRACKED
        assert tracker._previous[0].confidence < 0.2
        ended, forget = [], tracker._forget
        tracker._forget = lambda hand: (ended.append(hand), forget(hand))
        assert tracker.step(sample.images(frame + 1), sample.cameras(frame + 1)).hands[0].reason is Reason.TRACKED
        return tracker, ended

    assert isinstance(_BlindChecker(None, False), LocatingDetector)
    blind, ended = run(False, _steady_options(redetect_every=1))
    assert 0 in ended and blind.ended_tracks >= 1 and blind.redetections == 0
    seeing, ended = run(True, _steady_options(redetect_every=1, redetect_distance_m=10.0))  # placed where it is tracked
    assert 0 not in ended and seeing.redetections == 0
    patient, ended = run(False, _steady_options(redetect_every=1, redetect_below_confidence=0.0))
    assert 0 not in ended and patient.ended_tracks == 0
