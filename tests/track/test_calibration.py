import json

import pytest

from umetrack.hand.io import load_hand_model
from umetrack.track.calibration import ScaleCalibration
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
