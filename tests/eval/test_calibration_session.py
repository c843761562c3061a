"""Calibration sessions without Qt: frame-by-frame calibration from a source and the generic vs
calibrated skeleton comparison, on the bundled sample with a network that tracks without training."""

from pathlib import Path

import numpy as np
import pytest

from umetrack.eval.calibration_session import (
    CalibrationOptions,
    calibrate,
    compare_skeletons,
    live_source,
    recording_source,
    true_scale,
)
from umetrack.eval.runner import track_keypoints
from umetrack.metrics import mpjpe, per_joint_error
from umetrack.recording import open_recording
from umetrack.track.calibration import ScaleCalibration, scale_relative_to
from umetrack.track.results import Cancelled
from umetrack.track.tracker import Reason

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "recording_00.mp4"
FRAMES = range(45, 57)
"""Left hand in 2+ views throughout, right hand in 2 views on 45-51 and then out of view."""


@pytest.fixture(scope="module")
def sample():
    with open_recording(SAMPLE) as recording:
        yield recording


def test_every_hand_seen_in_two_views_is_one_sample(sample, hand_model, steady_light_network, steady_network_scale, two_view_hand_frames):
    steps = []
    outcome = calibrate(steady_light_network, hand_model, recording_source(sample, FRAMES), CalibrationOptions(), on_step=steps.append)
    expected = two_view_hand_frames(sample, hand_model, FRAMES)
    assert 0 < len(expected) < 30  # the range ends before the paper's 30 samples
    assert outcome.status.samples == len(expected)
    assert [(h, s.frame) for s in steps for h in (0, 1) if s.sampled[h]] == sorted(expected, key=lambda hf: (hf[1], hf[0]))
    for step in steps:  # the views shown agree with the samples taken
        for hand in (0, 1):
            assert step.sampled[hand] == (step.views_now[hand] >= 2)
            assert step.reasons[hand] is (Reason.TRACKED if step.sampled[hand] else Reason.TOO_FEW_VIEWS)
    assert [s.frame for s in steps] == list(FRAMES)
    assert (outcome.frames_done, outcome.first_frame, outcome.last_frame) == (len(FRAMES), FRAMES.start, FRAMES.stop - 1)
    assert steps[-1].samples == tuple(outcome.calibration.samples)
    assert steps[-1].status == outcome.status
    assert outcome.status.mean == pytest.approx(steady_network_scale, abs=2e-3)
    assert not outcome.status.converged
    message = outcome.shortfall_message()
    assert f"only {len(expected)} of 30 samples" in message and "frames 45-56" in message


def test_calibration_stops_once_complete_and_pools_only_the_chosen_hands(sample, hand_model, steady_light_network, two_view_hand_frames):
    both = two_view_hand_frames(sample, hand_model, FRAMES)
    outcome = calibrate(steady_light_network, hand_model, recording_source(sample, FRAMES), CalibrationOptions(required=10))
    assert outcome.status.converged and outcome.status.samples == 10 and outcome.shortfall_message() == ""
    # It stops at the frame whose samples complete it: the 10th two-view observation's frame.
    assert outcome.last_frame == sorted(frame for _hand, frame in both)[9]

    left = calibrate(steady_light_network, hand_model, recording_source(sample, FRAMES), CalibrationOptions(hands=(0,)))
    assert left.status.samples == len(two_view_hand_frames(sample, hand_model, FRAMES, hands=(0,)))


def test_true_scale_is_the_subjects_scale_and_cancel_stops(sample, hand_model, steady_light_network):
    source = recording_source(sample, FRAMES)
    assert true_scale(source, hand_model) == pytest.approx(scale_relative_to(sample.hand_model, hand_model))
    assert 0.85 <= true_scale(source, hand_model) <= 1.15
    with pytest.raises(Cancelled):
        calibrate(steady_light_network, hand_model, source, should_stop=lambda: True)
    with pytest.raises(ValueError, match="forward range"):
        recording_source(sample, range(290, 310))


def test_comparison_scores_both_skeletons_on_the_same_slots(sample, hand_model, steady_light_network):
    calibrated = hand_model.scaled(1.06)
    frames = range(45, 51)
    done = []
    comparison = compare_skeletons(steady_light_network, sample, hand_model, calibrated, frames, progress=lambda d, n: done.append((d, n)))
    assert done[-1] == (12, 12)
    generic_points, truth, valid, generic_tracked = track_keypoints(steady_light_network, sample, hand_model, "oracle", frames=frames)
    calibrated_points, _, _, calibrated_tracked = track_keypoints(steady_light_network, sample, calibrated, "oracle", frames=frames)
    scored = valid & generic_tracked & calibrated_tracked
    assert comparison.scored_slots == int(scored.sum()) == 12
    assert comparison.generic.mpjpe_mm == pytest.approx(mpjpe(truth, generic_points, scored))
    assert comparison.calibrated.mpjpe_mm == pytest.approx(mpjpe(truth, calibrated_points, scored))
    np.testing.assert_allclose(comparison.calibrated.per_joint_mm, np.nanmean(per_joint_error(truth, calibrated_points, scored), axis=(0, 1)))
    assert comparison.generic.mpjpe_mm != pytest.approx(comparison.calibrated.mpjpe_mm)
    left_only = compare_skeletons(steady_light_network, sample, hand_model, calibrated, frames, hands=(0,))
    assert left_only.scored_slots == int(scored[0].sum())


def test_a_source_without_enough_two_view_frames_reports_the_samples_it_got(sample, hand_model, steady_light_network, two_view_hand_frames):
    frames = range(200, 206)  # left hand in one view only, right hand in two
    outcome = calibrate(steady_light_network, hand_model, recording_source(sample, frames), CalibrationOptions(hands=(0,)))
    assert outcome.status.samples == 0 == len(two_view_hand_frames(sample, hand_model, frames, hands=(0,)))
    assert "only 0 of 30 samples" in outcome.shortfall_message()
    with pytest.raises(ValueError, match="no scale samples"):
        ScaleCalibration().calibrated_model(hand_model)


def test_a_live_source_calibrates_on_its_newest_frames_and_is_closed(hand_model, steady_light_network):
    from umetrack.live import SimulatedHeadset

    headset = SimulatedHeadset(hand_model, seed=3, num_views=4, loop_s=2.0)
    closed = []
    headset.close, close = (lambda: closed.append(True) or close()), headset.close
    source = live_source(headset, frames=20)
    assert source.has_ground_truth and source.recording is None and source.frame_range is None
    assert true_scale(source, hand_model) == pytest.approx(scale_relative_to(headset.rig.hand_model, hand_model))
    steps = []
    outcome = calibrate(steady_light_network, hand_model, source, CalibrationOptions(required=4), on_step=steps.append)
    assert outcome.status.converged and outcome.status.samples == 4
    assert [s.frame for s in steps] == sorted({s.frame for s in steps})  # newest frames, in order
    assert closed == [True]  # the calibration owned the source


def test_oracle_crops_need_ground_truth(hand_model, steady_light_network):
    from dataclasses import replace

    with open_recording(SAMPLE) as recording:
        without_gt = replace(recording_source(recording, range(0, 2)), has_ground_truth=False)
        with pytest.raises(ValueError, match="no ground truth"):
            calibrate(steady_light_network, hand_model, without_gt, CalibrationOptions(crops="oracle"))
