"""The eval runner's bookkeeping on a rendered synthetic recording (accuracy needs trained weights)."""

import json
import math

import pytest
import torch

from umetrack.cli import main
from umetrack.eval.runner import evaluate_recording, overall
from umetrack.model.checkpoint import save_checkpoint
from umetrack.resources import SAMPLE_RECORDING
from umetrack.synth.recording import synthetic_recording
from umetrack.track.tracker import TrackerOptions
from umetrack.train.loop import TrainConfig, make_network

SAMPLE = SAMPLE_RECORDING
DISTANCE = TrackerOptions().redetect_distance_m


@pytest.fixture(scope="module")
def recording(hand_model):
    return synthetic_recording(hand_model, 10, seed=11, num_views=2)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return make_network("light").eval()


def test_slots_add_up_and_gt_reference_is_finite(net, recording, hand_model):
    result = evaluate_recording(net, recording, hand_model, "known", "oracle", keep_keypoints=True)
    assert result.frames == 10
    assert 0 < result.valid_slots <= 20
    assert result.tracked_slots + result.track_losses == result.valid_slots
    assert math.isfinite(result.gt_mpjpa) and result.gt_mpjpa < 5.0  # smooth synthetic motion, mm/frame^2
    assert result.true_scale == pytest.approx(
        float((recording.hand_model.landmark_rest_positions[2] - recording.hand_model.landmark_rest_positions[5]).norm()
              / (hand_model.landmark_rest_positions[2] - hand_model.landmark_rest_positions[5]).norm()), rel=1e-6)  # fmt: skip
    total = overall([result, result])
    assert total["tracked_slots"] == 2 * result.tracked_slots


def test_unknown_skeleton_runs_calibration_first(net, recording, hand_model):
    result = evaluate_recording(net, recording, hand_model, "unknown", "tracked", baselines=True)
    assert result.true_scale is not None
    assert (result.calibrated_scale is None) == (result.scale_error is None)


def test_eval_command_writes_json_and_csv(net, recording, hand_model, tmp_path, capsys):
    from umetrack.recording import write_umetrack_raw

    video, _ = write_umetrack_raw(recording, tmp_path / "rec" / "recording_00", crf=18)
    weights = tmp_path / "weights.pt"
    save_checkpoint(weights, {"model": net.state_dict(), "config": TrainConfig(encoder="light").to_json()})
    assert main(["eval", str(video), "--model", str(weights), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "overall" in printed and "MPJPE" in printed
    document = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert document["options"] == {"skeleton": "known", "crops": "oracle", "model": str(weights), "precision": "fp32"}
    assert document["recordings"][0]["frames"] == 10
    assert (tmp_path / "out" / "eval.csv").read_text().startswith("name,frames,valid_slots")


def test_tracked_eval_counts_drift_check_restarts_and_records_its_settings(steady_light_network, hand_model, tmp_path, capsys):
    """The steady test network always predicts the same hand 40 cm in front of its crop camera and is
    never confident, so with the shipped detector checking every frame its tracks get restarted."""
    from umetrack.detect.bootstrap import DEFAULT_WEIGHTS
    from umetrack.recording import open_recording

    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("needs the shipped hand detector")
    sample = open_recording(SAMPLE)
    def tracked(**drift_check):
        options = TrackerOptions(min_start_confidence=0.0, **drift_check)  # the steady network is never confident
        return evaluate_recording(steady_light_network, sample, hand_model, "known", "tracked", tracking=options, bootstrap="detector", frames=range(60, 72))

    checked = tracked(redetect_every=1, redetect_below_confidence=0.2, redetect_distance_m=DISTANCE)
    unchecked = tracked(redetect_every=0, redetect_below_confidence=0.0, redetect_distance_m=DISTANCE)
    # Checked every frame, but a track is restarted only when it is 10 m off its detection: never.
    lenient = tracked(redetect_every=1, redetect_below_confidence=0.2, redetect_distance_m=10.0)
    assert checked.track_restarts > 0 and unchecked.track_restarts == 0 and lenient.track_restarts == 0
    assert overall([checked, checked])["track_restarts"] == 2 * checked.track_restarts
    assert unchecked.ended_tracks == 0  # never checked, so never ended
    assert overall([checked, checked])["ended_tracks"] == 2 * checked.ended_tracks
