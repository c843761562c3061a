import json

import numpy as np
import pytest

from umetrack.hand.io import load_hand_model
from umetrack.track.calibration import MAX_RELATIVE_STANDARD_ERROR, ScaleCalibration, scale_relative_to
from umetrack.track.tracker import HandResult, Reason


def _tracked(scale, views=(0, 1)):
    return HandResult(0, Reason.TRACKED, views=views, hand_scale=scale)


def test_running_mean_spread_and_convergence():
    calibration = ScaleCalibration(required=4)
    assert calibration.status.mean is None and not calibration.status.converged
    assert calibration.add(_tracked(1.0)) and calibration.add(_tracked(1.2))
    status = calibration.status
    assert status.samples == 2 and status.mean == pytest.approx(1.1) and status.spread == pytest.approx(0.1414, abs=1e-4)
    assert not calibration.add(_tracked(2.0, views=(0,)))  # one view: scale is not observable
    assert not calibration.add(HandResult(0, Reason.LOST_TRACK))
    assert not calibration.add(_tracked(None))
    calibration.add(_tracked(1.1))
    calibration.add(_tracked(1.1))
    assert calibration.status.converged and calibration.status.mean == pytest.approx(1.1)
    assert not calibration.add(_tracked(5.0))  # frozen once complete
    assert calibration.status.mean == pytest.approx(1.1)


def test_profile_is_the_scaled_generic_model(hand_model, tmp_path):
    calibration = ScaleCalibration(required=2)
    calibration.add(_tracked(0.9))
    calibration.add(_tracked(0.92))
    path = tmp_path / "profile.json"
    calibration.save_profile(path, hand_model)
    assert "hand_model" in json.loads(path.read_text())
    loaded = load_hand_model(path)
    ratio = (loaded.landmark_rest_positions[2] - loaded.landmark_rest_positions[5]).norm() / (
        hand_model.landmark_rest_positions[2] - hand_model.landmark_rest_positions[5]
    ).norm()
    assert float(ratio) == pytest.approx(0.91, abs=1e-5)


def test_no_samples_cannot_calibrate(hand_model):
    with pytest.raises(ValueError, match="no scale samples"):
        ScaleCalibration().calibrated_model(hand_model)


def test_history_is_the_running_mean_and_spread_of_each_prefix():
    samples = [1.0, 1.2, 0.95, 1.05, 1.1]
    calibration = ScaleCalibration(required=5)
    for scale in samples:
        calibration.add(_tracked(scale))
    history = calibration.history()
    assert [s.samples for s in history] == [1, 2, 3, 4, 5]
    for n, status in enumerate(history, start=1):
        prefix = np.array(samples[:n])
        assert status.mean == pytest.approx(prefix.mean(), abs=1e-12)
        if n == 1:
            assert status.spread is None and status.standard_error is None
        else:
            assert status.spread == pytest.approx(prefix.std(ddof=1), abs=1e-12)
            assert status.standard_error == pytest.approx(prefix.std(ddof=1) / np.sqrt(n), abs=1e-12)
    assert history[-1] == calibration.status
    assert ScaleCalibration().history() == []


def test_settled_needs_the_required_samples_and_a_precise_mean():
    # 30 samples alternating 1.00 / 1.04: mean 1.02, std 0.0203, standard error 0.0037 = 0.36 % of the mean.
    steady = ScaleCalibration(required=30)
    for k in range(30):
        steady.add(_tracked(1.0 + 0.04 * (k % 2)))
        if k < 29:
            assert not steady.status.settled()  # not complete yet, however precise
    status = steady.status
    assert status.converged and status.settled()
    assert status.relative_standard_error == pytest.approx(np.std([1.0, 1.04] * 15, ddof=1) / np.sqrt(30) / 1.02, rel=1e-9)
    assert not status.settled(max_relative_standard_error=0.003)

    # Same count, samples 0.8 / 1.2: the mean is known only to ~3.7 %: complete but not converged.
    scattered = ScaleCalibration(required=30)
    for k in range(30):
        scattered.add(_tracked(0.8 + 0.4 * (k % 2)))
    assert scattered.status.converged and not scattered.status.settled()
    assert scattered.status.relative_standard_error > MAX_RELATIVE_STANDARD_ERROR


def test_scale_relative_to_recovers_the_scale_of_a_scaled_model(hand_model):
    assert scale_relative_to(hand_model.scaled(1.07), hand_model) == pytest.approx(1.07, abs=1e-6)
    assert scale_relative_to(hand_model, hand_model) == pytest.approx(1.0)
